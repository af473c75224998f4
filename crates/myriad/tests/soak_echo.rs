//! Soak (issue 9): 5,000 loopback connections echoing checksummed random
//! data for a bounded time, with 0 bytes lost or reordered; 10 % of the
//! client threads panic at a random point, another 10 % reset their
//! connection (SO_LINGER 0) at a random point. Everything is decided by a
//! seeded PRNG, so the expected counts are exact.
//!
//! Short form: 15 s (CI). Long form: `MYRIAD_SOAK=long`, 10 minutes.
//! `MYRIAD_TEST_SCALE` shrinks the connection count (under valgrind).

mod probe_support;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::net::{TcpListener, TcpStream};
use myriad::thread;
use probe_support::{open_fds, scaled, soak_duration, Rng};

/// FNV-1a over a byte stream, in pieces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// What a client does, decided up front from the seed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fate {
    /// Echo until the deadline, then half-close and check the totals.
    Clean,
    /// Panic after this many exchanges.
    Panic(u32),
    /// Reset the connection (SO_LINGER 0, then close) after this many.
    Reset(u32),
}

/// What the server side of one connection saw.
#[derive(Debug)]
struct Served {
    id: u64,
    bytes: u64,
    checksum: Fnv,
    /// Ended by an error (reset) rather than a clean EOF.
    error: Option<io::ErrorKind>,
}

fn serve(mut stream: TcpStream) -> Served {
    let mut id = [0u8; 8];
    if let Err(e) = stream.read_exact(&mut id) {
        return Served { id: u64::MAX, bytes: 0, checksum: Fnv::new(), error: Some(e.kind()) };
    }
    let id = u64::from_le_bytes(id);
    let mut buf = vec![0u8; 16 * 1024];
    let mut served = Served { id, bytes: 0, checksum: Fnv::new(), error: None };
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return served,
            Ok(n) => n,
            Err(e) => {
                served.error = Some(e.kind());
                return served;
            }
        };
        served.checksum.update(&buf[..n]);
        served.bytes += n as u64;
        if let Err(e) = stream.write_all(&buf[..n]) {
            served.error = Some(e.kind());
            return served;
        }
    }
}

/// One client: exchanges random chunks until `deadline` (or its fate);
/// returns the bytes it sent and their checksum.
fn client(addr: std::net::SocketAddr, id: u64, fate: Fate, deadline: Instant, echoed: Arc<AtomicU64>) -> (u64, Fnv) {
    let mut rng = Rng::new(id + 1);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(&id.to_le_bytes()).unwrap();
    let (mut sent, mut checksum) = (0u64, Fnv::new());
    let mut chunk = vec![0u8; 16 * 1024];
    let mut back = vec![0u8; 16 * 1024];
    let mut exchanges = 0u32;
    while Instant::now() < deadline {
        match fate {
            Fate::Panic(at) if exchanges == at => std::panic::panic_any(id),
            Fate::Reset(at) if exchanges == at => {
                stream.set_linger(Some(Duration::ZERO)).unwrap();
                return (sent, checksum);
            }
            _ => {}
        }
        let len = 1 + rng.below(chunk.len() as u64) as usize;
        rng.fill(&mut chunk[..len]);
        stream.write_all(&chunk[..len]).unwrap();
        stream.read_exact(&mut back[..len]).unwrap();
        assert!(back[..len] == chunk[..len], "connection {id}: bytes lost or reordered");
        checksum.update(&chunk[..len]);
        sent += len as u64;
        echoed.fetch_add(len as u64, Ordering::Relaxed);
        exchanges += 1;
        // Between exchanges, sometimes sleep, so that connections idle too.
        if rng.below(8) == 0 {
            thread::sleep(Duration::from_millis(rng.below(20)));
        }
    }
    if let Fate::Panic(_) = fate {
        // The deadline came first: panic now, so the count stays exact.
        std::panic::panic_any(id);
    }
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "connection {id}: {} unexpected bytes after the last echo", rest.len());
    (sent, checksum)
}

#[test]
fn five_thousand_connections_echo_checksummed_data_with_panics_and_resets() {
    let connections = scaled(5_000, 20);
    // The planned panics (a `u64` payload) are not news; others are.
    myriad::thread::spawn(|| ()).join().unwrap();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<u64>().is_none() {
            previous(info);
        }
    }));
    let duration = soak_duration(Duration::from_secs(15), Duration::from_secs(600));
    let fds_before = open_fds();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let handlers: Vec<_> = (0..connections)
            .map(|_| {
                let (stream, _) = listener.accept().unwrap();
                thread::spawn(move || serve(stream))
            })
            .collect();
        handlers.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    let mut seed = Rng::new(0x50a6);
    let fates: Vec<Fate> = (0..connections)
        .map(|_| match seed.below(10) {
            0 => Fate::Panic(seed.below(200) as u32),
            1 => Fate::Reset(seed.below(200) as u32),
            _ => Fate::Clean,
        })
        .collect();
    let echoed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let clients: Vec<_> = fates
        .iter()
        .enumerate()
        .map(|(id, &fate)| {
            let echoed = echoed.clone();
            thread::spawn(move || client(addr, id as u64, fate, deadline, echoed))
        })
        .collect();
    let mut results = Vec::new();
    let mut panicked = 0;
    for (id, c) in clients.into_iter().enumerate() {
        match c.join() {
            Ok(r) => results.push(Some(r)),
            Err(payload) => {
                assert_eq!(*payload.downcast::<u64>().expect("only the planned panics"), id as u64);
                assert!(matches!(fates[id], Fate::Panic(_)), "connection {id} panicked unplanned");
                panicked += 1;
                results.push(None);
            }
        }
    }
    let mut served = server.join().unwrap();
    let elapsed = start.elapsed();
    served.sort_by_key(|s| s.id);
    assert_eq!(served.len(), connections);
    let (mut clean, mut resets, mut reset_errors) = (0, 0, 0);
    let mut clean_bytes = 0u64;
    for (id, fate) in fates.iter().enumerate() {
        let s = &served[id];
        assert_eq!(s.id, id as u64, "every connection identified itself once");
        match fate {
            Fate::Clean => {
                let (sent, checksum) = results[id].unwrap();
                assert_eq!(s.error, None, "connection {id}");
                assert_eq!((s.bytes, s.checksum), (sent, checksum), "connection {id}: server saw other bytes");
                clean += 1;
                clean_bytes += sent;
            }
            Fate::Reset(_) => {
                let (sent, checksum) = results[id].unwrap();
                // Everything the client had sent arrived, in order, before
                // the reset; the server then saw the reset (or, if it was
                // not reading at that moment, a plain end).
                assert_eq!((s.bytes, s.checksum), (sent, checksum), "connection {id}");
                assert!(matches!(s.error, None | Some(io::ErrorKind::ConnectionReset)), "{:?}", s.error);
                resets += 1;
                reset_errors += usize::from(s.error.is_some());
            }
            Fate::Panic(_) => {
                // A panicking client's stream was dropped mid-run: the server
                // saw at least the bytes the client got back.
                assert!(s.error.is_none() || s.error == Some(io::ErrorKind::ConnectionReset), "{:?}", s.error);
            }
        }
    }
    let planned_panics = fates.iter().filter(|f| matches!(f, Fate::Panic(_))).count();
    assert_eq!(panicked, planned_panics);
    let total = echoed.load(Ordering::Relaxed);
    println!(
        "SOAK-ECHO {connections} connections, {elapsed:.1?}: {total} bytes echoed and verified \
         ({clean_bytes} on {clean} clean connections), {panicked} threads panicked, {resets} resets \
         ({reset_errors} seen as ECONNRESET by the server)"
    );
    assert!(clean > connections / 2);
    assert!(total > 0);
    // Every connection's descriptors (10,000 at the peak) were closed. The
    // slack is for the runtime's own, made lazily: a worker's io_uring ring,
    // a spare worker's poller (2 each) if the stall monitor started one.
    let fds_after = open_fds();
    assert!(fds_after <= fds_before + 64, "descriptors leaked: {fds_before} -> {fds_after}");
}

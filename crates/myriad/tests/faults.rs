//! Fault cases (issue 9), each with its exact expected outcome:
//!
//! * the open-file limit reached during `connect` and `accept` (a child
//!   process lowers `RLIMIT_NOFILE`): clear `EMFILE` errors, then recovery
//!   once descriptors are freed;
//! * a `myriad::net` echo exchange completes while a worker is stalled by
//!   `std::thread::sleep`;
//! * peers that send nothing: the read timeout fires (never early), and
//!   the connection still works afterwards.
//!
//! Covered elsewhere: the mapping limit with the mprotect fallback
//! (`stack_limits.rs`), io_uring unavailable (`fs_suite.rs` re-runs the
//! suite with `MYRIAD_IO_URING=0`), a worker stalled by a blocking call
//! or a long computation (`stalls.rs`).

mod probe_support;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::net::{TcpListener, TcpStream};
use myriad::thread;
use probe_support::{child_mode, open_fds, run_child, scaled, Rng};

fn is_emfile(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMFILE)
}

/// Sets the soft and hard open-file limits to `n` (a hard limit lowered
/// cannot be raised again: the runtime's start-up raise is a no-op then).
fn limit_open_files(n: u64) {
    let limit = libc::rlimit { rlim_cur: n, rlim_max: n };
    // SAFETY: setrlimit with a valid, initialised struct.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
}

fn echo_once(stream: &mut TcpStream, msg: &[u8]) -> io::Result<()> {
    stream.write_all(msg)?;
    let mut back = vec![0u8; msg.len()];
    stream.read_exact(&mut back)?;
    assert_eq!(back, msg);
    Ok(())
}

fn child_open_file_limit() {
    // Start the runtime (workers, pollers) before lowering the limit.
    thread::spawn(|| ()).join().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let headroom = 24;
    limit_open_files((open_fds() + headroom) as u64);
    let result = thread::spawn(move || {
        // connect: each client costs one descriptor; the kernel completes
        // the handshakes into the backlog without any for the server side.
        let mut clients = Vec::new();
        let connect_err = loop {
            match TcpStream::connect(addr) {
                Ok(s) => clients.push(s),
                Err(e) => break e,
            }
            assert!(clients.len() <= 2 * headroom, "the limit was never reached");
        };
        println!("CHILD-CONNECT emfile={} after {} clients: {connect_err}", is_emfile(&connect_err), clients.len());
        // accept: connections are pending, but there is no descriptor for one.
        let accept_err = listener.accept().unwrap_err();
        println!("CHILD-ACCEPT emfile={}: {accept_err}", is_emfile(&accept_err));
        // Recovery: free descriptors; accept and connect work again, and an
        // echo over a new connection goes through.
        let pending = clients.len();
        clients.truncate(pending - 4);
        let (accepted, _) = listener.accept().expect("accept after descriptors were freed");
        drop(accepted);
        let mut client = TcpStream::connect(addr).expect("connect after descriptors were freed");
        // The backlog is FIFO: skip the older pending connections.
        let mut server = loop {
            let (s, peer) = listener.accept().unwrap();
            if peer == client.local_addr().unwrap() {
                break s;
            }
        };
        let echo = thread::spawn(move || {
            let mut buf = [0u8; 64];
            let n = server.read(&mut buf).unwrap();
            server.write_all(&buf[..n]).unwrap();
        });
        echo_once(&mut client, b"recovered").unwrap();
        echo.join().unwrap();
        println!("CHILD-RECOVERED");
    });
    result.join().unwrap();
}

#[test]
fn open_file_limit_during_accept_and_connect_gives_emfile_then_recovers() {
    if child_mode().as_deref() == Some("nofile") {
        child_open_file_limit();
        return;
    }
    let out = run_child("open_file_limit_during_accept_and_connect_gives_emfile_then_recovers", "nofile", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    let line = |tag: &str| stdout.lines().find(|l| l.contains(tag)).unwrap_or_else(|| panic!("no {tag}: {stdout}"));
    assert!(line("CHILD-CONNECT").contains("emfile=true"), "{stdout}");
    assert!(line("CHILD-CONNECT").contains("Too many open files"), "{stdout}");
    assert!(line("CHILD-ACCEPT").contains("emfile=true"), "{stdout}");
    assert!(stdout.contains("CHILD-RECOVERED"), "{stdout}");
}

#[test]
fn net_echo_works_while_a_worker_is_stalled_by_std_sleep() {
    let stalled = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let staller = {
        let (stalled, release) = (stalled.clone(), release.clone());
        thread::Builder::new()
            .name("std-sleeper".into())
            .spawn(move || {
                stalled.store(true, Ordering::Release);
                let start = Instant::now();
                // Blocks its worker (std's sleep) until released (or 60 s).
                while !release.load(Ordering::Acquire) && start.elapsed() < Duration::from_secs(60) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                release.load(Ordering::Acquire)
            })
            .unwrap()
    };
    while !stalled.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let connections = scaled(50, 4);
    const LEN: usize = 64 * 1024;
    let exchange = thread::spawn(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let handlers: Vec<_> = (0..connections)
                .map(|_| {
                    let (mut stream, _) = listener.accept().unwrap();
                    thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        let mut total = 0;
                        loop {
                            let n = stream.read(&mut buf).unwrap();
                            if n == 0 {
                                return total;
                            }
                            stream.write_all(&buf[..n]).unwrap();
                            total += n;
                        }
                    })
                })
                .collect();
            handlers.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
        });
        let clients: Vec<_> = (0..connections)
            .map(|i| {
                thread::spawn(move || {
                    let mut data = vec![0u8; LEN];
                    Rng::new(i as u64).fill(&mut data);
                    let mut stream = TcpStream::connect(addr).unwrap();
                    let reader = stream.try_clone().unwrap();
                    let back = thread::spawn(move || {
                        let mut back = Vec::new();
                        (&reader).read_to_end(&mut back).unwrap();
                        back
                    });
                    stream.write_all(&data).unwrap();
                    stream.shutdown(std::net::Shutdown::Write).unwrap();
                    assert!(back.join().unwrap() == data, "connection {i}: echo differs");
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap()
    });
    let echoed = exchange.join().unwrap();
    // The staller is released only now: the whole exchange ran while its
    // worker was blocked in std's sleep.
    assert!(!staller.is_finished(), "the stalled thread ended before the exchange did");
    release.store(true, Ordering::Release);
    assert!(staller.join().unwrap(), "the staller gave up after 60 s");
    assert_eq!(echoed, connections * LEN);
}

#[test]
fn peers_that_send_nothing_get_read_timeouts_then_still_work() {
    let peers = scaled(1_000, 10);
    let timeout = Duration::from_millis(150);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The silent peers: connect, say nothing until told, then send one byte.
    let speak = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..peers)
        .map(|_| {
            let speak = speak.clone();
            thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                while !speak.load(Ordering::Acquire) {
                    thread::park();
                }
                stream.write_all(b"!").unwrap();
                let mut ack = [0u8; 1];
                stream.read_exact(&mut ack).unwrap();
                ack[0]
            })
        })
        .collect();
    let timed_out = Arc::new(AtomicUsize::new(0));
    let servers: Vec<_> = (0..peers)
        .map(|_| {
            let (mut stream, _) = listener.accept().unwrap();
            let timed_out = timed_out.clone();
            thread::spawn(move || {
                stream.set_read_timeout(Some(timeout)).unwrap();
                let start = Instant::now();
                let mut buf = [0u8; 16];
                let err = stream.read(&mut buf).unwrap_err();
                let waited = start.elapsed();
                assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
                assert!(waited >= timeout, "timed out early: {waited:?}");
                timed_out.fetch_add(1, Ordering::SeqCst);
                // The connection survives the timeout.
                stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                assert_eq!(stream.read(&mut buf).unwrap(), 1);
                assert_eq!(buf[0], b'!');
                stream.write_all(b"k").unwrap();
            })
        })
        .collect();
    // The peers speak only once every server's first read has timed out.
    let deadline = Instant::now() + Duration::from_secs(120);
    while timed_out.load(Ordering::SeqCst) < peers {
        assert!(Instant::now() < deadline, "only {} of {peers} reads timed out", timed_out.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(10));
    }
    speak.store(true, Ordering::Release);
    for c in &clients {
        c.thread().unpark();
    }
    for s in servers {
        s.join().unwrap();
    }
    for c in clients {
        assert_eq!(c.join().unwrap(), b'k');
    }
}

//! Thousands of concurrent connections echoing checksummed data, both ends
//! myriad threads in this one process: nothing may be lost or mixed up.
//!
//! The count is sized from the open-file limit found after the runtime has
//! raised it (two descriptors per connection, since both ends live here),
//! capped at 9,000 so the test stays within ~30 s in a debug build on two
//! cores.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use myriad::net::{TcpListener, TcpStream};
use myriad::sync::Barrier;

const CAP: usize = 9_000;
const ROUNDS: usize = 4;
const CHUNK: usize = 1024;

fn open_file_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into a valid struct.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    limit.rlim_cur as usize
}

fn fill(id: usize, round: usize, buf: &mut [u8]) -> u64 {
    let mut x = ((id * 31 + round) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut sum = 0u64;
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
        sum = sum.wrapping_mul(31).wrapping_add(*b as u64);
    }
    sum
}

fn checksum(buf: &[u8]) -> u64 {
    buf.iter().fold(0u64, |sum, b| sum.wrapping_mul(31).wrapping_add(*b as u64))
}

#[test]
fn thousands_of_concurrent_connections_echo_without_loss() {
    // Start the runtime first: it raises the soft limit to the hard limit.
    myriad::thread::spawn(|| ()).join().unwrap();
    let limit = open_file_limit();
    let n = (limit.saturating_sub(256) / 2).min(CAP);
    assert!(n >= 100, "open-file limit {limit} is too low for this test");
    eprintln!("open-file limit {limit}: {n} concurrent connections");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let server = {
        let served = served.clone();
        myriad::thread::spawn(move || {
            let mut handlers = Vec::with_capacity(n);
            for _ in 0..n {
                let (mut stream, _) = listener.accept().expect("accept");
                let served = served.clone();
                handlers.push(myriad::thread::spawn(move || {
                    let mut buf = [0u8; CHUNK];
                    loop {
                        let k = stream.read(&mut buf).expect("server read");
                        if k == 0 {
                            break;
                        }
                        stream.write_all(&buf[..k]).expect("server write");
                        served.fetch_add(k, Ordering::Relaxed);
                    }
                }));
            }
            for h in handlers {
                h.join().unwrap();
            }
        })
    };

    // Every client connects and echoes once, then waits until all are
    // connected at the same time, then echoes the remaining rounds.
    let all_open = Arc::new(Barrier::new(n));
    let clients: Vec<_> = (0..n)
        .map(|id| {
            let all_open = all_open.clone();
            myriad::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                let mut out = [0u8; CHUNK];
                let mut back = [0u8; CHUNK];
                for round in 0..ROUNDS {
                    if round == 1 {
                        all_open.wait();
                    }
                    let sum = fill(id, round, &mut out);
                    stream.write_all(&out).expect("client write");
                    stream.read_exact(&mut back).expect("client read");
                    assert_eq!(checksum(&back), sum, "connection {id} round {round}: corrupted echo");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    assert_eq!(served.load(Ordering::Relaxed), n * ROUNDS * CHUNK);
}

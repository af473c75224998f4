//! What interception costs, in one run (issue 15): with 5,000 myriad
//! threads, unmodified std calls against myriad's own.
//!
//! `cargo run --release -p myriad-bench --features intercept --example intercept`
//!
//! (An example rather than a measure of the bench binary: the feature
//! would put every libc call of the other measures through interception.)
//!
//! * sleep: 5,000 threads each sleep 100 ms, with `std::thread::sleep`
//!   (intercepted) and with `myriad::thread::sleep`;
//! * request/reply: 5,000 client threads each make 20 round trips of 64
//!   bytes to an echo server on myriad threads, through `std::net`
//!   (intercepted) and through `myriad::net`;
//! * echo throughput: 500 client threads each stream 4 MiB through the
//!   echo server, through each kind of stream;
//! * and, during each, how late a thread sleeping 1 ms in a loop wakes.
//!
//! Every figure is the median of 3 trials, and each pair is reported as a
//! ratio (std through interception over myriad); the machine is shared,
//! so only the ratios of one run mean much.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::thread;

const THREADS: usize = 5_000;
const ROUND_TRIPS: usize = 20;
const STREAMERS: usize = 500;
const STREAM_BYTES: usize = 4 << 20;

/// An echo server on myriad threads (`myriad::net`); its address.
fn echo_server() -> std::net::SocketAddr {
    let listener = myriad::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    if stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A thread that sleeps 1 ms at a time and records its worst lateness
/// until `stop`.
fn ticker(stop: Arc<AtomicBool>) -> thread::JoinHandle<Duration> {
    thread::spawn(move || {
        let mut worst = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            let start = Instant::now();
            thread::sleep(Duration::from_millis(1));
            worst = worst.max(start.elapsed().saturating_sub(Duration::from_millis(1)));
        }
        worst
    })
}

/// Runs `work` with a ticker beside it: (work's figure, worst lateness).
fn with_ticker<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let tick = ticker(stop.clone());
    thread::sleep(Duration::from_millis(5));
    let out = work();
    stop.store(true, Ordering::Relaxed);
    (out, tick.join().unwrap())
}

fn sleeps(std_sleep: bool) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            thread::spawn(move || {
                if std_sleep {
                    std::thread::sleep(Duration::from_millis(100));
                } else {
                    thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

trait Stream: Read + Write + Send + 'static {}
impl<T: Read + Write + Send + 'static> Stream for T {}

fn connect(addr: std::net::SocketAddr, std_net: bool) -> Box<dyn Stream> {
    if std_net {
        let s = std::net::TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Box::new(s)
    } else {
        let s = myriad::net::TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Box::new(s)
    }
}

/// Per round trip, over all clients.
fn request_reply(addr: std::net::SocketAddr, std_net: bool) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            thread::spawn(move || {
                let mut s = connect(addr, std_net);
                let mut buf = [7u8; 64];
                for _ in 0..ROUND_TRIPS {
                    s.write_all(&buf).unwrap();
                    s.read_exact(&mut buf).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed() / (THREADS * ROUND_TRIPS) as u32
}

/// MiB/s echoed, over all clients.
fn throughput(addr: std::net::SocketAddr, std_net: bool) -> f64 {
    let moved = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..STREAMERS)
        .map(|_| {
            let moved = moved.clone();
            thread::spawn(move || {
                let mut s = connect(addr, std_net);
                let chunk = vec![1u8; 16 << 10];
                let mut back = vec![0u8; 16 << 10];
                let mut sent = 0;
                while sent < STREAM_BYTES {
                    s.write_all(&chunk).unwrap();
                    s.read_exact(&mut back).unwrap();
                    sent += chunk.len();
                }
                moved.fetch_add(sent as u64, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    moved.load(Ordering::Relaxed) as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let addr = echo_server();
    // `-- throughput std` (or `myriad`): one run of one measure, for
    // profiling.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [measure, kind] = &args[..] {
        let std_kind = kind == "std";
        match measure.as_str() {
            "throughput" => println!("{:.1} MiB/s", throughput(addr, std_kind)),
            "request-reply" => println!("{:?} per round trip", request_reply(addr, std_kind)),
            "one-client" => {
                let t = thread::spawn(move || {
                    let mut s = connect(addr, std_kind);
                    let mut buf = [7u8; 64];
                    let start = Instant::now();
                    for _ in 0..20_000 {
                        s.write_all(&buf).unwrap();
                        s.read_exact(&mut buf).unwrap();
                    }
                    start.elapsed() / 20_000
                });
                println!("{:?} per round trip, one client", t.join().unwrap());
            }
            _ => println!("{:?} for the sleeps", sleeps(std_kind)),
        }
        return;
    }
    let trials = 3;
    let mut rows = Vec::new();
    for (label, f) in [
        ("sleep 100 ms, 5,000 threads (wall ms)", 0),
        ("request/reply 64 B, 5,000 clients (µs per round trip)", 1),
        ("echo 16 KiB chunks, 500 clients (MiB/s)", 2),
    ] {
        let mut figures = [Vec::new(), Vec::new()];
        let mut late = [Duration::ZERO; 2];
        for _ in 0..trials {
            for (k, std_kind) in [true, false].into_iter().enumerate() {
                let (figure, worst) = with_ticker(|| match f {
                    0 => sleeps(std_kind).as_secs_f64() * 1e3,
                    1 => request_reply(addr, std_kind).as_secs_f64() * 1e6,
                    _ => throughput(addr, std_kind),
                });
                figures[k].push(figure);
                late[k] = late[k].max(worst);
            }
        }
        let (ours, theirs) = (median(figures[0].clone()), median(figures[1].clone()));
        rows.push((label, ours, theirs, ours / theirs, late));
    }
    println!("| measure | std (intercepted) | myriad | ratio std/myriad | 1 ms ticker worst lateness (std / myriad) |");
    println!("|---|---|---|---|---|");
    for (label, ours, theirs, ratio, late) in rows {
        println!(
            "| {label} | {ours:.1} | {theirs:.1} | {ratio:.2} | {:.1} ms / {:.1} ms |",
            late[0].as_secs_f64() * 1e3,
            late[1].as_secs_f64() * 1e3
        );
    }
}

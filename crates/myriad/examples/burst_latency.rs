//! How late a thread sleeping 1 ms wakes while a burst of threads connect
//! to an echo backend in the same process and exchange a line each.
//!
//! `cargo run --release -p myriad --example burst_latency -- [N] [ROUNDS]`

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::net::{TcpListener, TcpStream};
use myriad::thread;

fn backend() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::Builder::new().name("accept".into()).spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::Builder::new().name("conn".into()).spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if (&stream).write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            }).unwrap();
        }
    }).unwrap();
    addr
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let n = args.first().copied().unwrap_or(2000);
    let rounds = args.get(1).copied().unwrap_or(5);
    let addr = backend();
    for _ in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let ticker = thread::Builder::new().name("ticker".into()).spawn(move || {
            let mut late = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                let start = Instant::now();
                thread::sleep(Duration::from_millis(1));
                let l = start.elapsed().saturating_sub(Duration::from_millis(1));

                late.push(l);
            }
            late
        }).unwrap();
        let stop3 = stop.clone();
        let os_ticker = std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !stop3.load(Ordering::Relaxed) {
                let start = Instant::now();
                std::thread::sleep(Duration::from_millis(1));
                worst = worst.max(start.elapsed().saturating_sub(Duration::from_millis(1)));
            }
            worst
        });
        thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        let burst = thread::Builder::new().name("burst".into()).spawn(move || {
            let clients: Vec<_> = (0..n)
                .map(|i| {
                    thread::Builder::new().name("client".into()).spawn(move || {
                        let stream = TcpStream::connect(addr).unwrap();
                        (&stream).write_all(format!("hello {i}\n").as_bytes()).unwrap();
                        let mut line = String::new();
                        BufReader::new(&stream).read_line(&mut line).unwrap();
                        assert!(line.starts_with("hello"));
                    }).unwrap()
                })
                .collect();
            for c in clients {
                c.join().unwrap();
            }
        }).unwrap();
        burst.join().unwrap();
        let took = start.elapsed();
        thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::Relaxed);
        let mut late = ticker.join().unwrap();
        let os_worst = os_ticker.join().unwrap();
        late.sort();
        let p99 = late[late.len() * 99 / 100];
        println!(
            "n={n} burst {:.1} ms: ticks {} worst {:.2} ms p99 {:.2} ms (OS-thread ticker worst {:.2} ms)",
            took.as_secs_f64() * 1e3,
            late.len(),
            late.last().unwrap().as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            os_worst.as_secs_f64() * 1e3
        );
    }
}

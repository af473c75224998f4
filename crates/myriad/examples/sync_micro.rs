//! Micro-measurements of myriad::sync against std, in one run (ratios are
//! what to compare; timings drift between runs on shared machines).
//!
//! `cargo run --release -p myriad --example sync_micro`
//!
//! * uncontended `Mutex` lock+unlock, myriad vs std, on one thread;
//! * one-way handoff in a ping-pong over a rendezvous channel between two
//!   myriad threads, and over `Mutex` + `Condvar`; beside std's
//!   `sync_channel(0)` between two OS threads.

use std::hint::black_box;
use std::time::{Duration, Instant};

fn per_op(start: Instant, ops: u64) -> Duration {
    start.elapsed() / u32::try_from(ops).expect("op count fits")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn uncontended() {
    const N: u64 = 20_000_000;
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..5 {
        let m = myriad::sync::Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..N {
            *black_box(&m).lock().unwrap() += 1;
        }
        ours.push(per_op(start, N));
        let m = std::sync::Mutex::new(0u64);
        let start = Instant::now();
        for _ in 0..N {
            *black_box(&m).lock().unwrap() += 1;
        }
        theirs.push(per_op(start, N));
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "uncontended Mutex lock+unlock: myriad {ours:?}, std {theirs:?} (ratio {:.2})",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

fn ping_pong_channels() {
    const N: u64 = 200_000;
    let (tx1, rx1) = myriad::sync::channel::bounded::<u64>(0);
    let (tx2, rx2) = myriad::sync::channel::bounded::<u64>(0);
    let h = myriad::thread::spawn(move || {
        let start = Instant::now();
        for i in 0..N {
            tx1.send(i).unwrap();
            rx2.recv().unwrap();
        }
        per_op(start, 2 * N)
    });
    let echo = myriad::thread::spawn(move || {
        for v in rx1.iter() {
            tx2.send(v).unwrap();
        }
    });
    let ours = h.join().unwrap();
    echo.join().unwrap();

    const M: u64 = 20_000;
    let (tx1, rx1) = std::sync::mpsc::sync_channel::<u64>(0);
    let (tx2, rx2) = std::sync::mpsc::sync_channel::<u64>(0);
    let echo = std::thread::spawn(move || {
        for v in rx1.iter() {
            tx2.send(v).unwrap();
        }
    });
    let start = Instant::now();
    for i in 0..M {
        tx1.send(i).unwrap();
        rx2.recv().unwrap();
    }
    let theirs = per_op(start, 2 * M);
    drop(tx1);
    echo.join().unwrap();
    println!("rendezvous ping-pong one-way handoff: myriad threads {ours:?}, std OS threads {theirs:?}");
}

fn ping_pong_condvar() {
    use myriad::sync::{Arc, Condvar, Mutex};
    const N: u64 = 200_000;
    let state = Arc::new((Mutex::new(0u64), Condvar::new()));
    let s = state.clone();
    let other = myriad::thread::spawn(move || {
        let (m, cv) = &*s;
        let mut g = m.lock().unwrap();
        while *g < 2 * N {
            if *g % 2 == 1 {
                *g += 1;
                cv.notify_one();
            }
            g = cv.wait(g).unwrap();
        }
    });
    let s = state.clone();
    let ours = myriad::thread::spawn(move || {
        let (m, cv) = &*s;
        let start = Instant::now();
        let mut g = m.lock().unwrap();
        while *g < 2 * N {
            if *g % 2 == 0 {
                *g += 1;
                cv.notify_one();
            }
            g = cv.wait_timeout(g, Duration::from_millis(10)).unwrap().0;
        }
        cv.notify_all();
        per_op(start, 2 * N)
    })
    .join()
    .unwrap();
    state.1.notify_all();
    other.join().unwrap();
    println!("Mutex+Condvar ping-pong one-way handoff: myriad threads {ours:?}");
}

fn main() {
    uncontended();
    ping_pong_channels();
    ping_pong_condvar();
}

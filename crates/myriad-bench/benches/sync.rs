//! Criterion micro-benchmarks of `myriad::sync` beside std's, in one run
//! (compare within a run: timings drift between runs on shared machines):
//!
//! - `sync_uncontended/mutex/{myriad,std}`: lock and unlock a `Mutex` no
//!   other thread touches.
//! - `sync_handoff/rendezvous_channel/{myriad_threads,std_os_threads}`: a
//!   ping-pong over two zero-capacity channels (`myriad::sync::channel::
//!   bounded(0)`, std's `sync_channel(0)`); one iteration is a round trip,
//!   two one-way handoffs.
//! - `sync_handoff/mutex_condvar/myriad_threads`: two myriad threads take
//!   turns on a counter under a `Mutex`, waking each other through a
//!   `Condvar`; one iteration is two one-way handoffs.
//!
//! As in `hot_paths.rs`, the runtime runs with one worker: the same-core
//! path. (Formerly `myriad/examples/sync_micro.rs`, with its own median.)

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};

/// Runs `f` on a myriad thread and returns its result.
fn on_myriad<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    myriad::thread::spawn(f).join().expect("benchmark thread panicked")
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_uncontended/mutex");
    let m = myriad::sync::Mutex::new(0u64);
    g.bench_function("myriad", |b| b.iter(|| *black_box(&m).lock().unwrap() += 1));
    let m = std::sync::Mutex::new(0u64);
    g.bench_function("std", |b| b.iter(|| *black_box(&m).lock().unwrap() += 1));
    g.finish();
}

/// Times `iters` round trips: send `i`, wait for its echo.
fn round_trips(iters: u64, send: impl Fn(u64), recv: impl Fn() -> u64) -> Duration {
    let t = Instant::now();
    for i in 0..iters {
        send(i);
        black_box(recv());
    }
    t.elapsed()
}

fn rendezvous(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_handoff/rendezvous_channel");
    g.bench_function("myriad_threads", |b| {
        b.iter_custom(|iters| {
            on_myriad(move || {
                let (to_echo, from_main) = myriad::sync::channel::bounded::<u64>(0);
                let (to_main, from_echo) = myriad::sync::channel::bounded::<u64>(0);
                let echo = myriad::thread::spawn(move || from_main.iter().for_each(|v| to_main.send(v).unwrap()));
                let elapsed = round_trips(iters, |i| to_echo.send(i).unwrap(), || from_echo.recv().unwrap());
                drop(to_echo);
                echo.join().unwrap();
                elapsed
            })
        })
    });
    g.bench_function("std_os_threads", |b| {
        b.iter_custom(|iters| {
            let (to_echo, from_main) = std::sync::mpsc::sync_channel::<u64>(0);
            let (to_main, from_echo) = std::sync::mpsc::sync_channel::<u64>(0);
            let echo = std::thread::spawn(move || from_main.iter().for_each(|v| to_main.send(v).unwrap()));
            let elapsed = round_trips(iters, |i| to_echo.send(i).unwrap(), || from_echo.recv().unwrap());
            drop(to_echo);
            echo.join().unwrap();
            elapsed
        })
    });
    g.finish();
}

fn mutex_condvar(c: &mut Criterion) {
    use myriad::sync::{Arc, Condvar, Mutex};
    c.bench_function("sync_handoff/mutex_condvar/myriad_threads", |b| {
        b.iter_custom(|iters| {
            on_myriad(move || {
                // The count of handoffs: even, the measuring thread's turn;
                // odd, the other's; it stops at `2 * iters`.
                let state = Arc::new((Mutex::new(0u64), Condvar::new()));
                let end = 2 * iters;
                let s = state.clone();
                let other = myriad::thread::spawn(move || {
                    let (m, cv) = &*s;
                    let mut turn = m.lock().unwrap();
                    while *turn < end {
                        if *turn % 2 == 1 {
                            *turn += 1;
                            cv.notify_one();
                        } else {
                            turn = cv.wait(turn).unwrap();
                        }
                    }
                });
                let (m, cv) = &*state;
                let t = Instant::now();
                let mut turn = m.lock().unwrap();
                while *turn < end {
                    if *turn % 2 == 0 {
                        *turn += 1;
                        cv.notify_one();
                    } else {
                        turn = cv.wait(turn).unwrap();
                    }
                }
                drop(turn);
                let elapsed = t.elapsed();
                other.join().unwrap();
                elapsed
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = uncontended, rendezvous, mutex_condvar
}

fn main() {
    myriad::rt::Builder::new().workers(1).start().expect("start the myriad runtime with one worker");
    benches();
    Criterion::default().configure_from_args().final_summary();
}

//! Criterion micro-benchmarks of myriad's hot paths, so regressions show in
//! `cargo bench -p myriad-bench`:
//!
//! - `spawn_join/*`: spawn a thread that returns at once and join it, from
//!   a myriad thread and from the main OS thread.
//! - `spawn_batch/1000`: spawn 1,000 threads, then join them all (run-queue
//!   push and pop, stack pool reuse); time per batch.
//! - `handoff/round_trip`: two threads take turns with `park`/`unpark`; one
//!   iteration is a round trip, i.e. two one-way handoffs.
//! - `yield_now/two_threads`: two threads on one worker call `yield_now` in
//!   turn; one iteration is one yield of each, i.e. two switches.
//!
//! The runtime runs with one worker so that every figure is the same-core
//! path (with two workers the second thread may be stolen, and a yield with
//! nothing else to run is a no-op). The cross-worker and peer comparisons
//! live in the bench binary (`cargo run --release -p myriad-bench`).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use myriad::thread;

/// Runs `f` on a myriad thread and returns its result.
fn on_myriad<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::spawn(f).join().expect("benchmark thread panicked")
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    g.bench_function("from_myriad_thread", |b| {
        b.iter_custom(|iters| {
            on_myriad(move || {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(thread::spawn(|| black_box(1u64)).join().unwrap());
                }
                t.elapsed()
            })
        })
    });
    g.bench_function("from_os_thread", |b| b.iter(|| thread::spawn(|| black_box(1u64)).join().unwrap()));
    g.finish();
}

fn spawn_batch(c: &mut Criterion) {
    c.bench_function("spawn_batch/1000", |b| {
        b.iter_custom(|iters| {
            on_myriad(move || {
                let mut handles = Vec::with_capacity(1000);
                let t = Instant::now();
                for _ in 0..iters {
                    handles.extend((0..1000u64).map(|i| thread::spawn(move || black_box(i))));
                    for h in handles.drain(..) {
                        black_box(h.join().unwrap());
                    }
                }
                t.elapsed()
            })
        })
    });
}

fn handoff(c: &mut Criterion) {
    c.bench_function("handoff/round_trip", |b| {
        b.iter_custom(|iters| {
            on_myriad(move || {
                // 0: the measuring thread's turn; 1: the other's; 2: stop.
                let turn = Arc::new(AtomicU32::new(0));
                let me = thread::current();
                let t2 = turn.clone();
                let other = thread::spawn(move || loop {
                    let v = loop {
                        let v = t2.load(Ordering::Acquire);
                        if v != 0 {
                            break v;
                        }
                        thread::park();
                    };
                    if v == 2 {
                        return;
                    }
                    t2.store(0, Ordering::Release);
                    me.unpark();
                });
                let o = other.thread().clone();
                let t = Instant::now();
                for _ in 0..iters {
                    turn.store(1, Ordering::Release);
                    o.unpark();
                    while turn.load(Ordering::Acquire) != 0 {
                        thread::park();
                    }
                }
                let elapsed = t.elapsed();
                turn.store(2, Ordering::Release);
                o.unpark();
                other.join().unwrap();
                elapsed
            })
        })
    });
}

fn yield_switch(c: &mut Criterion) {
    c.bench_function("yield_now/two_threads", |b| {
        b.iter_custom(|iters| {
            on_myriad(move || {
                let other = thread::spawn(move || {
                    for _ in 0..iters {
                        thread::yield_now();
                    }
                });
                let t = Instant::now();
                for _ in 0..iters {
                    thread::yield_now();
                }
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
    targets = spawn_join, spawn_batch, handoff, yield_switch
}

fn main() {
    myriad::rt::Builder::new().workers(1).start().expect("start the myriad runtime with one worker");
    benches();
    Criterion::default().configure_from_args().final_summary();
}

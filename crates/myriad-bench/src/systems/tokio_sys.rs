//! tokio: async tasks on the multi-thread or the current-thread runtime.
//! Every workload runs inside a spawned task, as a server's would.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::Runtime;
use tokio::sync::Notify;

use super::{emit_round, emit_samples, progress, BulkTimes, SPACING};
use crate::calib::Calib;
use crate::machine::Mem;

/// The multi-thread runtime (one worker per core) or the current-thread
/// one; with the timer only for workloads that sleep.
pub fn runtime(multi_thread: bool, timer: bool) -> Runtime {
    let mut b = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    if timer {
        b.enable_time();
    }
    b.build().expect("build the tokio runtime")
}

fn run_in_task<T: Send + 'static>(rt: &Runtime, f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    rt.block_on(async move { tokio::spawn(f).await.expect("controller task panicked") })
}

pub fn spawn_join(rt: &Runtime, mut cal: Calib) {
    let cal = run_in_task(rt, async move {
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                black_box(tokio::spawn(async { black_box(1u64) }).await.unwrap());
            }
            cal.record(n, t.elapsed());
        }
        cal
    });
    emit_samples(&cal);
}

/// Ping-pong over two `Notify`s (a `notify_one` with no waiter leaves a
/// permit, so no wake-up is lost).
pub fn handoff(rt: &Runtime, mut cal: Calib) {
    let cal = run_in_task(rt, async move {
        let ping = Arc::new(Notify::new());
        let pong = Arc::new(Notify::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ping2, pong2, stop2) = (ping.clone(), pong.clone(), stop.clone());
        let ponger = tokio::spawn(async move {
            loop {
                pong2.notified().await;
                if stop2.load(Ordering::Acquire) {
                    return;
                }
                ping2.notify_one();
            }
        });
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                pong.notify_one();
                ping.notified().await;
            }
            cal.record(n, t.elapsed());
        }
        stop.store(true, Ordering::Release);
        pong.notify_one();
        ponger.await.unwrap();
        cal
    });
    emit_samples(&cal);
}

/// `spawn_blocking(|| ()).await` from a task, back to back.
pub fn blocking_round_trip(rt: &Runtime, mut cal: Calib) {
    let cal = run_in_task(rt, async move {
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                tokio::task::spawn_blocking(|| black_box(())).await.expect("the blocking task ran");
            }
            cal.record(n, t.elapsed());
        }
        cal
    });
    emit_samples(&cal);
}

/// `spawn_blocking(|| ()).await` once every `SPACING` (a tokio sleep,
/// rounded up to tokio's 1 ms timer); only the calls are timed.
pub fn blocking_spaced(rt: &Runtime, mut cal: Calib) {
    let cal = run_in_task(rt, async move {
        while let Some(n) = cal.next() {
            let mut calls = std::time::Duration::ZERO;
            for _ in 0..n {
                tokio::time::sleep(SPACING).await;
                let t = Instant::now();
                tokio::task::spawn_blocking(|| black_box(())).await.expect("the blocking task ran");
                calls += t.elapsed();
            }
            cal.record(n, calls);
        }
        cal
    });
    emit_samples(&cal);
}

struct Gate {
    arrived: AtomicUsize,
    all_parked: Notify,
    open: Notify,
    n: usize,
}

async fn bulk_round(n: usize) -> (BulkTimes, Mem) {
    let gate = Arc::new(Gate { arrived: AtomicUsize::new(0), all_parked: Notify::new(), open: Notify::new(), n });
    let mut handles = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let g = gate.clone();
        handles.push(tokio::spawn(async move {
            let opened = g.open.notified();
            tokio::pin!(opened);
            // Registered as a waiter before announcing itself, so
            // `notify_waiters` below reaches it.
            opened.as_mut().enable();
            if g.arrived.fetch_add(1, Ordering::AcqRel) + 1 == g.n {
                g.all_parked.notify_one();
            }
            opened.await;
        }));
        progress(i + 1);
    }
    while gate.arrived.load(Ordering::Acquire) < n {
        gate.all_parked.notified().await;
    }
    let up = t0.elapsed();
    let parked = Mem::now();
    let t1 = Instant::now();
    gate.open.notify_waiters();
    for h in handles {
        h.await.unwrap();
    }
    (BulkTimes { up, down: t1.elapsed() }, parked)
}

pub fn bulk(rt: &Runtime, n: usize, rounds: usize) {
    run_in_task(rt, async move {
        let baseline = Mem::now();
        for r in 0..rounds {
            let (t, parked) = bulk_round(n).await;
            emit_round(r, t, parked, baseline);
        }
    });
}

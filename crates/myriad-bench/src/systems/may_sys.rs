//! may: stackful coroutines; `spawn` is `unsafe` because a coroutine may
//! move between OS threads (so thread-locals are unsound in it). The
//! closures here touch no thread-local and hold no guard across a park.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use may::coroutine;

use super::{emit_round, emit_samples, fail, progress, BulkTimes};
use crate::calib::Calib;
use crate::machine::Mem;

/// Sets the number of may workers (before any other use).
pub fn start(workers: usize) {
    may::config().set_workers(workers);
}

fn run_in_coroutine<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    // SAFETY: the closures passed here use no thread-local storage and
    // hold nothing tied to an OS thread across a park; may's docs require
    // exactly that of a coroutine.
    let h = unsafe { coroutine::spawn(f) };
    h.join().expect("controller coroutine panicked")
}

pub fn spawn_join(mut cal: Calib) {
    let cal = run_in_coroutine(move || {
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                // SAFETY: as in `run_in_coroutine`.
                black_box(unsafe { coroutine::spawn(|| black_box(1u64)) }.join().unwrap());
            }
            cal.record(n, t.elapsed());
        }
        cal
    });
    emit_samples(&cal);
}

pub fn handoff(mut cal: Calib) {
    let cal = run_in_coroutine(move || {
        let turn = Arc::new(AtomicU32::new(0));
        let pinger = coroutine::current();
        let t2 = turn.clone();
        // SAFETY: as in `run_in_coroutine`.
        let ponger = unsafe {
            coroutine::spawn(move || loop {
                let v = loop {
                    let v = t2.load(Ordering::Acquire);
                    if v != 0 {
                        break v;
                    }
                    coroutine::park();
                };
                if v == 2 {
                    return;
                }
                t2.store(0, Ordering::Release);
                pinger.unpark();
            })
        };
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                turn.store(1, Ordering::Release);
                ponger.coroutine().unpark();
                while turn.load(Ordering::Acquire) != 0 {
                    coroutine::park();
                }
            }
            cal.record(n, t.elapsed());
        }
        turn.store(2, Ordering::Release);
        ponger.coroutine().unpark();
        ponger.join().unwrap();
        cal
    });
    emit_samples(&cal);
}

struct Gate {
    arrived: AtomicUsize,
    open: AtomicBool,
    n: usize,
    controller: coroutine::Coroutine,
}

fn bulk_round(n: usize, parked: &mut Mem) -> BulkTimes {
    let gate = Arc::new(Gate {
        arrived: AtomicUsize::new(0),
        open: AtomicBool::new(false),
        n,
        controller: coroutine::current(),
    });
    let mut handles = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let g = gate.clone();
        // SAFETY: as in `run_in_coroutine`.
        let spawned = unsafe {
            coroutine::Builder::new().spawn(move || {
                if g.arrived.fetch_add(1, Ordering::AcqRel) + 1 == g.n {
                    g.controller.unpark();
                }
                while !g.open.load(Ordering::Acquire) {
                    coroutine::park();
                }
            })
        };
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => fail(&format!("may: spawn of coroutine #{} failed: {e}", i + 1)),
        }
        progress(i + 1);
    }
    while gate.arrived.load(Ordering::Acquire) < n {
        coroutine::park();
    }
    let up = t0.elapsed();
    *parked = Mem::now();
    let t1 = Instant::now();
    gate.open.store(true, Ordering::Release);
    for h in &handles {
        h.coroutine().unpark();
    }
    for h in handles {
        h.join().unwrap();
    }
    BulkTimes { up, down: t1.elapsed() }
}

pub fn bulk(n: usize, rounds: usize) {
    run_in_coroutine(move || {
        let baseline = Mem::now();
        for r in 0..rounds {
            let mut parked = Mem::default();
            let t = bulk_round(n, &mut parked);
            emit_round(r, t, parked, baseline);
        }
    });
}

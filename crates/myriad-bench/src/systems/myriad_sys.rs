//! myriad: user-space threads with std::thread's API.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::thread;

use super::{emit_round, emit_samples, fail, progress, BulkTimes, SPACING};
use crate::calib::Calib;
use crate::machine::Mem;

/// Starts the runtime with `workers` workers (before any other use).
pub fn start(workers: usize) {
    myriad::rt::Builder::new().workers(workers).start().expect("start the myriad runtime");
}

/// Runs `f` on a myriad thread, or on this (main OS) thread if `from_os`.
fn run_on<T: Send + 'static>(from_os: bool, f: impl FnOnce() -> T + Send + 'static) -> T {
    if from_os {
        f()
    } else {
        thread::spawn(f).join().expect("controller thread panicked")
    }
}

fn print_metrics() {
    let m = myriad::rt::metrics();
    let steals: u64 = m.workers.iter().map(|w| w.steals).sum();
    let sleeps: u64 = m.workers.iter().map(|w| w.sleeps).sum();
    let started: Vec<String> = m.workers.iter().map(|w| w.started.to_string()).collect();
    println!(
        "INFO myriad: spawned {} (from OS threads {}), started per worker [{}], switches {}, steals {steals}, sleeps {sleeps}",
        m.threads_spawned(),
        m.spawned_from_os_threads,
        started.join(", "),
        m.context_switches()
    );
}

pub fn spawn_join(mut cal: Calib, from_os: bool) {
    let cal = run_on(from_os, move || {
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                black_box(thread::spawn(|| black_box(1u64)).join().unwrap());
            }
            cal.record(n, t.elapsed());
        }
        cal
    });
    emit_samples(&cal);
    print_metrics();
}

pub fn handoff(mut cal: Calib) {
    let cal = run_on(false, move || {
        // turn: 0 = the pinger's, 1 = the ponger's, 2 = stop.
        let turn = Arc::new(AtomicU32::new(0));
        let pinger = thread::current();
        let t2 = turn.clone();
        let ponger = thread::spawn(move || loop {
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
            pinger.unpark();
        });
        let other = ponger.thread().clone();
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                turn.store(1, Ordering::Release);
                other.unpark();
                while turn.load(Ordering::Acquire) != 0 {
                    thread::park();
                }
            }
            cal.record(n, t.elapsed());
        }
        turn.store(2, Ordering::Release);
        other.unpark();
        ponger.join().unwrap();
        cal
    });
    emit_samples(&cal);
    print_metrics();
}

/// `myriad::blocking(|| ())` from a myriad thread, back to back.
pub fn blocking_round_trip(mut cal: Calib) {
    let cal = run_on(false, move || {
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                myriad::blocking(|| black_box(()));
            }
            cal.record(n, t.elapsed());
        }
        cal
    });
    emit_samples(&cal);
    print_metrics();
}

/// `myriad::blocking(|| ())` once every `SPACING` (a myriad sleep); only
/// the calls are timed.
pub fn blocking_spaced(mut cal: Calib) {
    let cal = run_on(false, move || {
        while let Some(n) = cal.next() {
            let mut calls = Duration::ZERO;
            for _ in 0..n {
                thread::sleep(SPACING);
                let t = Instant::now();
                myriad::blocking(|| black_box(()));
                calls += t.elapsed();
            }
            cal.record(n, calls);
        }
        cal
    });
    emit_samples(&cal);
    print_metrics();
}

/// `myriad::compat::tokio::run` from a myriad thread, back to back: of a
/// ready future (`hop` false: the bridge's own cost), or of a task spawned
/// on the tokio runtime (`hop` true: a round trip through a tokio worker,
/// what a bridge that spawned every future would cost).
pub fn tokio_run_round_trip(mut cal: Calib, hop: bool) {
    let cal = run_on(false, move || {
        let handle = myriad::compat::tokio::handle();
        while let Some(n) = cal.next() {
            let t = Instant::now();
            if hop {
                for _ in 0..n {
                    myriad::compat::tokio::run(handle.spawn(async { black_box(()) })).expect("the task ran");
                }
            } else {
                for _ in 0..n {
                    myriad::compat::tokio::run(async { black_box(()) });
                }
            }
            cal.record(n, t.elapsed());
        }
        cal
    });
    emit_samples(&cal);
    print_metrics();
}

struct Gate {
    arrived: AtomicUsize,
    open: AtomicBool,
    n: usize,
    controller: thread::Thread,
}

fn bulk_round(n: usize, parked: &mut Mem) -> BulkTimes {
    let gate =
        Arc::new(Gate { arrived: AtomicUsize::new(0), open: AtomicBool::new(false), n, controller: thread::current() });
    let mut handles = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let g = gate.clone();
        let spawned = thread::Builder::new().spawn(move || {
            if g.arrived.fetch_add(1, Ordering::AcqRel) + 1 == g.n {
                g.controller.unpark();
            }
            while !g.open.load(Ordering::Acquire) {
                thread::park();
            }
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => fail(&format!("myriad: spawn of thread #{} failed: {e}", i + 1)),
        }
        progress(i + 1);
    }
    while gate.arrived.load(Ordering::Acquire) < n {
        thread::park();
    }
    let up = t0.elapsed();
    *parked = Mem::now();
    let t1 = Instant::now();
    gate.open.store(true, Ordering::Release);
    for h in &handles {
        h.thread().unpark();
    }
    for h in handles {
        h.join().unwrap();
    }
    BulkTimes { up, down: t1.elapsed() }
}

pub fn bulk(n: usize, rounds: usize, from_os: bool) {
    run_on(from_os, move || {
        let baseline = Mem::now();
        for r in 0..rounds {
            let mut parked = Mem::default();
            let t = bulk_round(n, &mut parked);
            emit_round(r, t, parked, baseline);
        }
    });
    print_metrics();
}

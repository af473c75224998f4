//! std::thread: one OS thread per thread; the baseline.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use super::{emit_round, emit_samples, fail, progress, BulkTimes};
use crate::calib::Calib;
use crate::machine::Mem;

/// Pins this process (and the threads it spawns after) to CPU 0.
pub fn pin_to_one_core() {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write into it,
    // and sched_setaffinity reads it for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(0, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            fail(&format!("sched_setaffinity: {}", std::io::Error::last_os_error()));
        }
    }
}

pub fn spawn_join(mut cal: Calib) {
    while let Some(n) = cal.next() {
        let t = Instant::now();
        for _ in 0..n {
            black_box(thread::spawn(|| black_box(1u64)).join().unwrap());
        }
        cal.record(n, t.elapsed());
    }
    emit_samples(&cal);
}

pub fn handoff(mut cal: Calib) {
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
    emit_samples(&cal);
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
            Err(e) => fail(&format!("std: spawn of thread #{} failed: {e}", i + 1)),
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

pub fn bulk(n: usize, rounds: usize) {
    let baseline = Mem::now();
    for r in 0..rounds {
        let mut parked = Mem::default();
        let t = bulk_round(n, &mut parked);
        emit_round(r, t, parked, baseline);
    }
}

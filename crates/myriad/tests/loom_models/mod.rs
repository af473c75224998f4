//! Test-only copies of myriad's wake-up protocols, over loom's atomics, for
//! the model checks in `tests/loom_*.rs` (issue 9).
//!
//! The production types (`rt/wait.rs`, `rt/worker.rs`)
//! use std's atomics directly and reach into the runtime (`Task`, worker
//! queues, the poller), so they cannot be compiled under loom without
//! invasive changes. These are line-by-line transcriptions of the protocol
//! parts — same state encoding, same operations, same orderings — with the
//! runtime around them reduced to what the protocol observes: "schedule the
//! task" becomes a counter, "the worker sleeps in epoll" becomes a loom
//! `Condvar` wait on an eventfd-like counter.
//!
//! One deliberate difference, forced by loom: loom treats `SeqCst` loads
//! and stores as `AcqRel` (loom README, "Unsupported features"), so a
//! Dekker pattern built from `SeqCst` accesses — which C11 guarantees —
//! would be reported as a lost wake-up. Where production code relies on
//! `SeqCst` store→load ordering between two locations, the model puts a
//! `fence(SeqCst)` between them (which loom does model). In C11 a `SeqCst`
//! store followed by a `SeqCst` load is ordered at least as strongly for
//! this store-buffering pattern, so the models check the same guarantee.
//! Each such place is marked `// MODEL: SeqCst store->load`.
#![allow(dead_code)]

use loom::sync::atomic::{fence, AtomicU64, Ordering};

pub const WOKEN: u64 = 0;
pub const TIMED_OUT: u64 = 1;
pub const BLOCKED: u64 = 2;
pub const BLOCKED_IN_PARK: u64 = 3;
pub const STATUS: u64 = 3;

/// `rt/wait.rs` `WaitState`: `epoch << 2 | status` in one word.
pub struct WaitState(pub AtomicU64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woken {
    Woken,
    TimedOut,
}

impl WaitState {
    pub fn new() -> WaitState {
        WaitState(AtomicU64::new(0))
    }

    /// As `WaitState::begin` (SeqCst for a park, which pairs it with the
    /// token in a Dekker handshake; Release otherwise).
    pub fn begin(&self, in_park: bool) -> u64 {
        let epoch = (self.0.load(Ordering::Relaxed) >> 2) + 1;
        if in_park {
            self.0.store(epoch << 2 | BLOCKED_IN_PARK, Ordering::SeqCst);
        } else {
            self.0.store(epoch << 2 | BLOCKED, Ordering::Release);
        }
        epoch
    }

    /// As `WaitState::end`.
    pub fn end(&self, epoch: u64, outcome: Woken) -> bool {
        let status = match outcome {
            Woken::Woken => WOKEN,
            Woken::TimedOut => TIMED_OUT,
        };
        let mut current = self.0.load(Ordering::Acquire);
        while current >> 2 == epoch && current & STATUS >= BLOCKED {
            match self.0.compare_exchange_weak(current, epoch << 2 | status, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
        false
    }

    /// As `WaitState::end_once` (the only waker of a `block_once` wait).
    pub fn end_once(&self, epoch: u64) {
        self.0.store(epoch << 2 | WOKEN, Ordering::Release);
    }

    /// As `WaitState::wake_parked`.
    pub fn wake_parked(&self) -> bool {
        let s = self.0.load(Ordering::SeqCst);
        s & STATUS == BLOCKED_IN_PARK
            && self.0.compare_exchange(s, s & !STATUS | WOKEN, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// As `WaitState::is_current`.
    pub fn is_current(&self, epoch: u64) -> bool {
        let s = self.0.load(Ordering::Acquire);
        s >> 2 == epoch && s & STATUS >= BLOCKED
    }

    /// As `WaitState::outcome`.
    pub fn outcome(&self) -> Woken {
        if self.0.load(Ordering::Acquire) & STATUS == TIMED_OUT {
            Woken::TimedOut
        } else {
            Woken::Woken
        }
    }

    /// What the worker does before resuming a scheduled task: it took the
    /// task from a queue after the waker's `end` (here: waits, yielding to
    /// loom, until the episode is over, with Acquire like `outcome`).
    pub fn wait_until_ended(&self, epoch: u64) {
        while self.is_current(epoch) {
            loom::thread::yield_now();
        }
    }
}

/// SeqCst fence standing in for the `SeqCst` store→load order (see above).
pub fn seqcst_store_load() {
    fence(Ordering::SeqCst);
}

/// `loom::model` with at most 3 preemptions unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise: for checks with three threads, which explore every
/// interleaving in minutes (loom's documented way to scale; 2 finds most
/// bugs). TESTING.md's deeper run sets the variable.
pub fn bounded_model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

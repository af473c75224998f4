//! A myriad thread's wait state: one atomic word, `epoch << 2 | status`,
//! that exactly one party moves out of a blocked status per wait episode.
//!
//! This file is the protocol on its own, with no scheduler behind it, so
//! that the loom models check this very code (see `tests/loom_wait.rs`):
//! it takes its atomics from `rt::sync`. `mod.rs` builds the waits on top
//! of it, `token.rs` `park` and `unpark`.

use crate::rt::sync::{AtomicU64, Ordering};

const WOKEN: u64 = 0;
const TIMED_OUT: u64 = 1;
const BLOCKED: u64 = 2;
/// Blocked in `park`: `unpark` may wake it too.
const BLOCKED_IN_PARK: u64 = 3;
const STATUS: u64 = 3;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names, reason = "`Woken::Woken`: ended by its `Wake`")]
pub enum Woken {
    /// A `Wake` was used.
    Woken,
    /// The deadline passed first.
    TimedOut,
    /// The deadlock detector ended an OS thread's wait that had no
    /// deadline (`OnDeadlock::Panic`). The caller cleans up as after a
    /// time-out — whatever `register` queued may point into its frame —
    /// restores its invariants, and then calls [`panic_deadlocked`].
    Abandoned,
}

/// A myriad thread's wait state.
pub struct WaitState(AtomicU64);

impl WaitState {
    pub fn new() -> WaitState {
        WaitState(AtomicU64::new(0))
    }

    /// Starts a wait episode. Only the thread itself calls this.
    pub fn begin(&self, in_park: bool) -> u64 {
        let epoch = (self.0.load(Ordering::Relaxed) >> 2) + 1;
        let status = if in_park { BLOCKED_IN_PARK } else { BLOCKED };
        // A waker learns the epoch through whatever `register` published it
        // with (after this store in program order), so release ordering
        // suffices. `park` pairs this store with its look at the token
        // through a fence (`token.rs`).
        self.0.store(epoch << 2 | status, Ordering::Release);
        epoch
    }

    /// Ends episode `epoch` if it is still the current, blocked one.
    pub(super) fn end(&self, epoch: u64, outcome: Woken) -> bool {
        let status = match outcome {
            Woken::Woken => WOKEN,
            // (`Abandoned` is what `block_os` makes of a time-out.)
            Woken::TimedOut | Woken::Abandoned => TIMED_OUT,
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

    /// Ends episode `epoch`, which nothing but the caller can end (see
    /// `block_once`): a plain store, no compare-and-swap.
    pub(super) fn end_once(&self, epoch: u64) {
        debug_assert!(self.is_current(epoch), "a block_once wait ends once");
        self.0.store(epoch << 2 | WOKEN, Ordering::Release);
    }

    /// Ends the current episode if the thread is blocked in `park`; true
    /// if this call ended it.
    pub(super) fn wake_parked(&self) -> bool {
        // `unpark` orders this look after its token with a fence (`token.rs`).
        let s = self.0.load(Ordering::Acquire);
        s & STATUS == BLOCKED_IN_PARK
            && self.0.compare_exchange(s, s & !STATUS | WOKEN, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Whether the thread is in a wait episode.
    pub fn is_blocked(&self) -> bool {
        self.0.load(Ordering::Acquire) & STATUS >= BLOCKED
    }

    /// Whether episode `epoch` is the current one and still blocked.
    pub(super) fn is_current(&self, epoch: u64) -> bool {
        let s = self.0.load(Ordering::Acquire);
        s >> 2 == epoch && s & STATUS >= BLOCKED
    }

    pub fn outcome(&self) -> Woken {
        if self.0.load(Ordering::Acquire) & STATUS == TIMED_OUT {
            Woken::TimedOut
        } else {
            Woken::Woken
        }
    }
}

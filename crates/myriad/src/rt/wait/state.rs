//! A myriad thread's wait state: one atomic word, `epoch << 3 | status`,
//! that exactly one party moves out of a blocked status per wait episode.
//!
//! The status is `BLOCKED` plus two bits saying who else may end the
//! episode (`IN_PARK`: `unpark`; `INTERRUPTIBLE`: `Thread::interrupt`),
//! or, once it ended, how: `WOKEN`, `TIMED_OUT` or `INTERRUPTED`.
//!
//! This file is the protocol on its own, with no scheduler behind it, so
//! that the loom models check this very code (see `tests/loom_wait.rs`):
//! it takes its atomics from `rt::sync`. `mod.rs` builds the waits on top
//! of it, `token.rs` `park` and `unpark`.

use crate::rt::sync::{fence, AtomicU64, Ordering};

const WOKEN: u64 = 0;
const TIMED_OUT: u64 = 1;
const INTERRUPTED: u64 = 2;
/// Set while an episode goes on; the two bits below it then say how.
const BLOCKED: u64 = 4;
/// With `BLOCKED`: in `park`, so `unpark` may wake it too.
const IN_PARK: u64 = 1;
/// With `BLOCKED`: an interruptible call, so an interrupt may end it.
const INTERRUPTIBLE: u64 = 2;
const STATUS: u64 = 7;
const SHIFT: u32 = 3;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names, reason = "`Woken::Woken`: ended by its `Wake`")]
pub enum Woken {
    /// A `Wake` was used.
    Woken,
    /// The deadline passed first.
    TimedOut,
    /// An interrupt ended an interruptible wait (`interrupt.rs`).
    Interrupted,
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

    /// Starts a wait episode. Only the thread itself calls this. Inline:
    /// every wait begins here (called, it cost a park about 7 instructions).
    #[inline]
    pub fn begin(&self, in_park: bool) -> u64 {
        let epoch = (self.0.load(Ordering::Relaxed) >> SHIFT) + 1;
        let status = if in_park { BLOCKED | IN_PARK } else { BLOCKED };
        // A waker learns the epoch through whatever `register` published it
        // with (after this store in program order), so release ordering
        // suffices. `park` pairs this store with its look at the token
        // through a fence (`token.rs`).
        self.0.store(epoch << SHIFT | status, Ordering::Release);
        epoch
    }

    /// Starts an interruptible wait episode. Only the thread itself calls
    /// this, and then looks at its interrupt flag. The interrupter raises
    /// the flag before it looks at this word (`interrupt`): a Dekker
    /// handshake, each side's store and load split by a `fence(SeqCst)`
    /// (which loom models, unlike a SeqCst store and load: `rt/sync.rs`),
    /// so one of the two sees the other (tests/loom_wait.rs,
    /// `an_interrupt_as_the_wait_begins_is_never_lost`). (`park` is not an
    /// interruptible episode: an interrupt unparks it, `token.rs`.)
    pub fn begin_interruptible(&self) -> u64 {
        let epoch = (self.0.load(Ordering::Relaxed) >> SHIFT) + 1;
        self.0.store(epoch << SHIFT | BLOCKED | INTERRUPTIBLE, Ordering::Release);
        fence(Ordering::SeqCst);
        epoch
    }

    /// Ends the current episode as interrupted if it is an interruptible
    /// one; true if this call ended it. The caller set the interrupt flag
    /// first (see `begin_interruptible`).
    pub(super) fn interrupt(&self) -> bool {
        // The handshake (see `begin_interruptible`): the flag is raised,
        // now look.
        fence(Ordering::SeqCst);
        let mut current = self.0.load(Ordering::Acquire);
        while current & (BLOCKED | INTERRUPTIBLE) == BLOCKED | INTERRUPTIBLE {
            let ended = current & !STATUS | INTERRUPTED;
            match self.0.compare_exchange_weak(current, ended, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
        false
    }

    /// Ends episode `epoch` if it is still the current, blocked one.
    pub(super) fn end(&self, epoch: u64, outcome: Woken) -> bool {
        let status = match outcome {
            Woken::Woken => WOKEN,
            // (`Abandoned` is what `block_os` makes of a time-out.)
            Woken::TimedOut | Woken::Abandoned => TIMED_OUT,
            Woken::Interrupted => INTERRUPTED,
        };
        let mut current = self.0.load(Ordering::Acquire);
        while current >> SHIFT == epoch && current & BLOCKED != 0 {
            match self.0.compare_exchange_weak(current, epoch << SHIFT | status, Ordering::AcqRel, Ordering::Acquire) {
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
        self.0.store(epoch << SHIFT | WOKEN, Ordering::Release);
    }

    /// Ends the current episode if the thread is blocked in `park`; true
    /// if this call ended it.
    pub(super) fn wake_parked(&self) -> bool {
        // `unpark` orders this look after its token with a fence (`token.rs`).
        let s = self.0.load(Ordering::Acquire);
        s & (BLOCKED | IN_PARK) == BLOCKED | IN_PARK
            && self.0.compare_exchange(s, s & !STATUS | WOKEN, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Whether the thread is in a wait episode.
    pub fn is_blocked(&self) -> bool {
        self.0.load(Ordering::Acquire) & BLOCKED != 0
    }

    /// Whether episode `epoch` is the current one and still blocked.
    pub(super) fn is_current(&self, epoch: u64) -> bool {
        let s = self.0.load(Ordering::Acquire);
        s >> SHIFT == epoch && s & BLOCKED != 0
    }

    pub fn outcome(&self) -> Woken {
        match self.0.load(Ordering::Acquire) & STATUS {
            TIMED_OUT => Woken::TimedOut,
            INTERRUPTED => Woken::Interrupted,
            _ => Woken::Woken,
        }
    }
}

//! `park` and `unpark` for a myriad thread: std's token, kept beside the
//! thread's wait state, and the handshake that never loses a wake-up.
//!
//! `unpark` on a parked thread ends its wait (`WaitState::wake_parked`)
//! and leaves no token; on a thread not parked, it leaves the token, which
//! the next `park` consumes instead of waiting. The race is an `unpark`
//! that finds the thread not parked yet while `park` has already looked
//! for the token. Both sides publish, then look at what the other
//! published, with a `SeqCst` fence between (a Dekker handshake):
//!
//! * `park` begins a park episode in the wait state, fences, and looks at
//!   the token: if one arrived, it ends its own wait at once;
//! * `unpark` sets the token, fences, and looks at the wait state: if the
//!   thread parked meanwhile, it ends the wait.
//!
//! At least one of them sees the other, and the wait state's
//! compare-and-swap lets only one end the episode (a deadline's timer may
//! race them too), so the thread is scheduled exactly once.
//!
//! This file uses nothing of the runtime but `rt::sync` and the wait
//! state, so that `tests/loom_wait.rs` checks it as compiled; the
//! scheduler's part comes in as closures.

use super::state::{WaitState, Woken};
use crate::rt::sync::{fence, AtomicBool, Ordering};

/// A myriad thread's `park` token, as std's: set by `unpark`, consumed by
/// `park`.
#[repr(transparent)]
pub struct ParkToken(AtomicBool);

impl ParkToken {
    pub fn new() -> ParkToken {
        ParkToken(AtomicBool::new(false))
    }

    /// `park` for the running thread, whose wait state is `wait`: returns
    /// at once if a token is waiting (consuming it), else waits until an
    /// `unpark` or the deadline ends the wait.
    ///
    /// `begin` begins the wait episode with `wait.begin(true)` and returns
    /// its epoch (arming the deadline's timer, if any); `schedule` queues
    /// the thread when `park` ends the episode itself; `suspend` gives up
    /// the worker until the thread is queued again.
    ///
    /// Inline, so that the closures cost nothing over writing the steps in
    /// `park_task` (outlined, a handoff round trip took 15 instructions
    /// more under callgrind).
    #[inline]
    pub fn park(&self, wait: &WaitState, begin: impl FnOnce() -> u64, schedule: impl FnOnce(), suspend: impl FnOnce()) {
        // Look before swapping: a token is rarely waiting, and one that
        // arrives after this look is seen below, once the wait has begun.
        if self.0.load(Ordering::Relaxed) && self.0.swap(false, Ordering::Acquire) {
            return;
        }
        let epoch = begin();
        // The handshake (see the module comment): the wait began, now look.
        fence(Ordering::SeqCst);
        // An `unpark` that came before the wait began (and so saw no parked
        // epoch) left the token set: end the wait at once.
        if self.0.load(Ordering::Relaxed) && wait.end(epoch, Woken::Woken) {
            schedule();
        }
        suspend();
        // Consume a token that an `unpark` left while we were waking up.
        // Only by reading it: a blind `store(false)` could erase a token set
        // after our wake-up without synchronising with its unparker, whose
        // writes we might then not see before parking again for ever
        // (tests/loom_wait.rs, `an_unpark_racing_the_wake_up_by_another_is_not_lost`).
        if self.0.load(Ordering::Relaxed) {
            self.0.swap(false, Ordering::Acquire);
        }
    }

    /// `unpark` for the thread whose wait state is `wait`; true if this
    /// call ended its park wait, and the caller must queue it.
    #[must_use = "a thread whose wait was ended must be scheduled"]
    #[inline]
    pub fn unpark(&self, wait: &WaitState) -> bool {
        // Parked already (a ping-pong's usual case): wake it with no token,
        // which its `park` would clear on waking anyway. Otherwise leave the
        // token (Release: the parker that takes it sees what we wrote),
        // then look again.
        if wait.wake_parked() {
            return true;
        }
        if self.0.swap(true, Ordering::Release) {
            // A token was there already: its `unpark` did the rest.
            return false;
        }
        // The handshake (see the module comment): the token is set, now look.
        fence(Ordering::SeqCst);
        wait.wake_parked()
    }
}

impl Default for ParkToken {
    fn default() -> ParkToken {
        ParkToken::new()
    }
}

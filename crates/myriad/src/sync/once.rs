//! `Once`: std's one-time initialization, parking the threads that wait.
//!
//! # How
//!
//! One byte: `INCOMPLETE`, `RUNNING`, `COMPLETE` or `POISONED`, plus a
//! `QUEUED` bit meaning "threads are parked on this address". The first
//! thread to move the state to `RUNNING` runs the closure; others set
//! `QUEUED` and park (validated: still `RUNNING | QUEUED`). The runner
//! stores the final state (`COMPLETE`, or `POISONED` if the closure
//! panicked — done by a drop guard) and unparks everyone if `QUEUED` was
//! set. Completion is published with Release and read with Acquire, so
//! whatever the closure wrote is visible to every thread that sees
//! `COMPLETE`.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use super::parking_lot::{self, TOKEN_NORMAL};

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;
const POISONED: u8 = 3;
const STATE: u8 = 3;
const QUEUED: u8 = 4;

/// A one-time global initialization, as [`std::sync::Once`].
///
/// ```
/// use myriad::sync::Once;
/// static INIT: Once = Once::new();
/// static mut VALUE: u32 = 0;
///
/// let handles: Vec<_> = (0..10)
///     .map(|_| myriad::thread::spawn(|| INIT.call_once(|| unsafe { VALUE += 1 })))
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert!(INIT.is_completed());
/// assert_eq!(unsafe { VALUE }, 1);
/// ```
pub struct Once {
    state: AtomicU8,
}

/// The state passed to [`Once::call_once_force`]'s closure (std's
/// `OnceState`, which has no public constructor).
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initialization panicked.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl fmt::Debug for OnceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceState").field("poisoned", &self.poisoned).finish()
    }
}

/// Stores the final state and wakes the waiters, also when the closure
/// panics.
struct Completion<'a> {
    once: &'a Once,
    set_state_to: u8,
}

impl Drop for Completion<'_> {
    fn drop(&mut self) {
        let previous = self.once.state.swap(self.set_state_to, Ordering::Release);
        if previous & QUEUED != 0 {
            parking_lot::unpark_all(self.once.addr(), TOKEN_NORMAL);
        }
    }
}

impl Once {
    /// A new `Once`.
    pub const fn new() -> Once {
        Once { state: AtomicU8::new(INCOMPLETE) }
    }

    fn addr(&self) -> usize {
        self as *const Once as usize
    }

    /// Runs `f` if no call on this `Once` has completed; otherwise waits for
    /// the running one to finish. Panics if an earlier call panicked.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(false, &mut |_| (f.take().expect("runs once"))());
    }

    /// As [`call_once`](Once::call_once), but also runs after an earlier
    /// call panicked (the state says so).
    ///
    /// ```
    /// let once = myriad::sync::Once::new();
    /// let _ = std::panic::catch_unwind(|| once.call_once(|| panic!("first")));
    /// once.call_once_force(|state| assert!(state.is_poisoned()));
    /// assert!(once.is_completed());
    /// ```
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(true, &mut |state| (f.take().expect("runs once"))(state));
    }

    /// Whether a call has completed successfully.
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Blocks until a call has completed. Panics if a call panicked.
    ///
    /// ```
    /// let once = myriad::sync::Once::new();
    /// once.call_once(|| {});
    /// once.wait();
    /// ```
    pub fn wait(&self) {
        self.wait_inner(false);
    }

    /// Blocks until a call has completed, as [`wait`](Once::wait), but
    /// does not panic when an earlier call panicked: it keeps waiting for
    /// a later call (such as a [`call_once_force`](Once::call_once_force))
    /// to complete. As std's `Once::wait_force`.
    ///
    /// ```
    /// use myriad::sync::{Arc, Once};
    /// let once = Arc::new(Once::new());
    /// let _ = std::panic::catch_unwind(|| once.call_once(|| panic!("poisons")));
    /// let o = once.clone();
    /// let h = myriad::thread::spawn(move || o.wait_force());
    /// once.call_once_force(|state| assert!(state.is_poisoned()));
    /// h.join().unwrap();
    /// assert!(once.is_completed());
    /// ```
    pub fn wait_force(&self) {
        self.wait_inner(true);
    }

    /// Waits for completion; with `ignore_poison`, keeps waiting through
    /// poisoned states for a successful call.
    pub(crate) fn wait_inner(&self, ignore_poison: bool) {
        loop {
            let state = self.state.load(Ordering::Acquire);
            match state & STATE {
                COMPLETE => return,
                POISONED if !ignore_poison => panic!("Once instance has previously been poisoned"),
                _ => self.park(state),
            }
        }
    }

    /// Parks until the state leaves `state` (which is not `COMPLETE`).
    fn park(&self, state: u8) {
        if state & QUEUED == 0
            && self.state.compare_exchange(state, state | QUEUED, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let expected = state | QUEUED;
        let parked = parking_lot::park(self.addr(), "Once", || self.state.load(Ordering::Relaxed) == expected, None);
        if parked == parking_lot::ParkResult::Abandoned {
            // A waiter: the `QUEUED` bit only makes the runner unpark.
            crate::rt::wait::panic_deadlocked();
        }
    }

    #[cold]
    fn call(&self, ignore_poison: bool, f: &mut dyn FnMut(&OnceState)) {
        loop {
            let state = self.state.load(Ordering::Acquire);
            match state & STATE {
                COMPLETE => return,
                POISONED if !ignore_poison => panic!("Once instance has previously been poisoned"),
                INCOMPLETE | POISONED => {
                    // Keep `QUEUED`: threads may wait through a poisoned state.
                    let running = state & QUEUED | RUNNING;
                    if self.state.compare_exchange(state, running, Ordering::Acquire, Ordering::Acquire).is_err() {
                        continue;
                    }
                    let mut completion = Completion { once: self, set_state_to: POISONED };
                    let once_state = OnceState { poisoned: state & STATE == POISONED };
                    f(&once_state);
                    completion.set_state_to = COMPLETE;
                    return;
                }
                _ => self.park(state),
            }
        }
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

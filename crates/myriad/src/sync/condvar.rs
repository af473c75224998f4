//! `Condvar`: std's condition variable over [`Mutex`], parking threads.
//!
//! # How
//!
//! A sequence number counts notifications. `wait` reads it while holding
//! the mutex, unlocks, and parks on the condvar's address with the check
//! "the number has not changed". `notify_*` bumps the number and unparks.
//! Since the check runs under the parking-lot bucket lock that `notify_*`
//! also takes after bumping, a notification between the unlock and the park
//! makes the park return at once: no lost wake-up. As with std, waits may
//! also end spuriously, so callers loop (or use `wait_while`).

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::parking_lot::{self, ParkResult, TOKEN_NORMAL};
use super::poison::{self, LockResult, PoisonError};
use crate::rt::wait;

/// Whether a timed wait on a [`Condvar`] timed out (std's
/// `WaitTimeoutResult`, which has no public constructor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because the timeout passed.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable, as [`std::sync::Condvar`], used with a
/// [`Mutex`](super::Mutex).
///
/// ```
/// use myriad::sync::{Arc, Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = pair.clone();
/// myriad::thread::spawn(move || {
///     let (lock, cvar) = &*pair2;
///     *lock.lock().unwrap() = true;
///     cvar.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let started = cvar.wait_while(lock.lock().unwrap(), |started| !*started).unwrap();
/// assert!(*started);
/// ```
pub struct Condvar {
    seq: AtomicUsize,
}

impl Condvar {
    /// Creates a condition variable.
    pub const fn new() -> Condvar {
        Condvar { seq: AtomicUsize::new(0) }
    }

    fn addr(&self) -> usize {
        self as *const Condvar as usize
    }

    /// Unlocks, waits for a notification (or a spurious wake-up) or the
    /// deadline, and locks again. Returns whether the deadline passed.
    fn wait_until_inner<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        let (guard, result) = self.wait_inner(guard, deadline, false);
        (guard, result == ParkResult::TimedOut)
    }

    /// Unlocks, parks (interruptibly or not) and locks again.
    fn wait_inner<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
        interruptible: bool,
    ) -> (MutexGuard<'a, T>, ParkResult) {
        let mutex = guard.lock;
        // While the lock is given up the guard must not unlock it, even if
        // taking it back panics (the deadlock detector can make the main
        // thread's `lock` panic): the lock would then be someone else's.
        let guard = ManuallyDrop::new(guard);
        let seq = self.seq.load(Ordering::Relaxed);
        // SAFETY: the guard proves this thread holds the lock. The guard is
        // not used (nor dropped) until the lock is taken again below.
        unsafe { mutex.raw.unlock() };
        let unchanged = || self.seq.load(Ordering::Relaxed) == seq;
        let result = if interruptible {
            parking_lot::park_interruptible(self.addr(), "Condvar", unchanged, deadline)
        } else {
            parking_lot::park(self.addr(), "Condvar", unchanged, deadline)
        };
        mutex.raw.lock();
        let guard = ManuallyDrop::into_inner(guard);
        if result == ParkResult::Abandoned {
            // Out of the queue and holding the lock again, as the caller's
            // guard says: now the deadlock panic may unwind through it.
            wait::panic_deadlocked();
        }
        (guard, result)
    }

    fn poisoned<G>(guard: G, poisoned: bool) -> LockResult<G> {
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Blocks until notified, releasing the mutex meanwhile. May wake
    /// spuriously: call it in a loop that checks the condition.
    ///
    /// `Err` (with the re-locked guard) if the mutex is poisoned.
    ///
    /// ```
    /// use myriad::sync::{Arc, Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let p = pair.clone();
    /// myriad::thread::spawn(move || {
    ///     *p.0.lock().unwrap() = 1;
    ///     p.1.notify_all();
    /// });
    /// let mut n = pair.0.lock().unwrap();
    /// while *n == 0 {
    ///     n = pair.1.wait(n).unwrap();
    /// }
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let (guard, _) = self.wait_until_inner(guard, None);
        let poisoned = guard.lock.poison.get();
        Self::poisoned(guard, poisoned)
    }

    /// Waits while `condition` returns true for the data.
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`wait`](Self::wait), but an interrupt of the calling thread
    /// ([`Thread::interrupt`](crate::thread::Thread::interrupt), or its
    /// deadline) ends the wait too: the mutex is locked again either way,
    /// and the second value says whether the wait was interrupted. `wait`
    /// keeps std's signature, which has no room for that.
    ///
    /// ```
    /// use myriad::sync::{Condvar, Mutex};
    /// use myriad::thread;
    /// let pair = (Mutex::new(false), Condvar::new());
    /// thread::current().interrupt();
    /// let (guard, outcome) = pair.1.wait_interruptible(pair.0.lock().unwrap()).unwrap();
    /// assert!(outcome.is_err() && !*guard);
    /// # drop(guard);
    /// # thread::current().clear_interrupt();
    /// ```
    pub fn wait_interruptible<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
    ) -> LockResult<(MutexGuard<'a, T>, Result<(), crate::thread::Interrupted>)> {
        if let Some(interrupted) = wait::current_interrupt() {
            let poisoned = guard.lock.poison.get();
            return poison::map_result(Self::poisoned(guard, poisoned), |g| (g, Err(interrupted)));
        }
        let (guard, result) = self.wait_inner(guard, None, true);
        let outcome = match result {
            ParkResult::Interrupted => Err(crate::rt::wait::Interrupted::current()),
            _ => Ok(()),
        };
        let poisoned = guard.lock.poison.get();
        poison::map_result(Self::poisoned(guard, poisoned), |g| (g, outcome))
    }

    /// As [`wait`](Condvar::wait), but for `dur` at most.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = myriad::sync::Mutex::new(());
    /// let cv = myriad::sync::Condvar::new();
    /// let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(1)).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = Instant::now().checked_add(dur);
        let (guard, timed_out) = self.wait_until_inner(guard, deadline);
        let poisoned = guard.lock.poison.get();
        poison::map_result(Self::poisoned(guard, poisoned), |g| (g, WaitTimeoutResult(timed_out)))
    }

    /// Waits while `condition` returns true, for `dur` at most; the result
    /// says whether it timed out with the condition still true.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = myriad::sync::Mutex::new(false);
    /// let cv = myriad::sync::Condvar::new();
    /// let (g, r) = cv.wait_timeout_while(m.lock().unwrap(), Duration::from_millis(1), |ready| !*ready).unwrap();
    /// assert!(r.timed_out() && !*g);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let Some(timeout) = dur.checked_sub(start.elapsed()) else {
                return Ok((guard, WaitTimeoutResult(true)));
            };
            guard = self.wait_timeout(guard, timeout)?.0;
        }
    }

    /// Wakes one thread waiting on this condvar, if any.
    pub fn notify_one(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        parking_lot::unpark_one(self.addr(), |_| TOKEN_NORMAL);
        // Let the woken thread run now and then if we never block.
        crate::rt::coop::spend();
    }

    /// Wakes every thread waiting on this condvar.
    pub fn notify_all(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        parking_lot::unpark_all(self.addr(), TOKEN_NORMAL);
        crate::rt::coop::spend();
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

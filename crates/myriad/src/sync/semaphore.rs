//! `Semaphore`: a counting semaphore (std has none; the shape follows the
//! common crates: `acquire` returns a guard that gives the permit back).
//!
//! # How
//!
//! One word: the number of free permits, shifted left by one, and a
//! `WAITERS` bit. Acquire decrements with a compare-and-swap while permits
//! are free; otherwise it sets `WAITERS` and parks (validated: no permits,
//! `WAITERS` set). Release adds permits and, if `WAITERS` is set, unparks as
//! many threads as permits were added, clearing `WAITERS` under the bucket
//! lock when the last parked thread leaves. Woken threads compete for the
//! permits again (a running thread may take one first; then the woken one
//! parks again).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::parking_lot::{self, ParkResult, TOKEN_NORMAL};

const WAITERS: usize = 1;
const ONE: usize = 2;

/// A counting semaphore whose waits park only the calling thread.
///
/// ```
/// use myriad::sync::{Arc, Semaphore};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let sem = Arc::new(Semaphore::new(2));
/// let inside = Arc::new(AtomicUsize::new(0));
/// let handles: Vec<_> = (0..20)
///     .map(|_| {
///         let (sem, inside) = (sem.clone(), inside.clone());
///         myriad::thread::spawn(move || {
///             let _permit = sem.acquire();
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///             myriad::thread::yield_now();
///             inside.fetch_sub(1, Ordering::SeqCst);
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: AtomicUsize,
}

/// A permit of a [`Semaphore`], given back when dropped.
#[must_use = "the permit is given back at once if unused"]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds `usize::MAX / 2`.
    pub const fn new(permits: usize) -> Semaphore {
        assert!(permits <= usize::MAX / ONE, "too many permits");
        Semaphore { state: AtomicUsize::new(permits * ONE) }
    }

    fn addr(&self) -> usize {
        self as *const Semaphore as usize
    }

    /// The number of free permits now.
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) / ONE
    }

    /// Takes a permit if one is free now.
    ///
    /// ```
    /// let sem = myriad::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        let mut state = self.state.load(Ordering::Relaxed);
        while state >= ONE {
            match self.state.compare_exchange_weak(state, state - ONE, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(SemaphoreGuard { sem: self }),
                Err(now) => state = now,
            }
        }
        None
    }

    /// Takes a permit, parking until one is free.
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.acquire_until(None).expect("no deadline")
    }

    /// Takes a permit, waiting for `timeout` at most.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = myriad::sync::Semaphore::new(0);
    /// assert!(sem.acquire_timeout(Duration::from_millis(1)).is_none());
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.acquire_until(Instant::now().checked_add(timeout))
    }

    /// Takes a permit, parking until one is free or the calling thread is
    /// interrupted ([`Thread::interrupt`](crate::thread::Thread::interrupt),
    /// or its deadline): then `Err`, holding no permit.
    ///
    /// ```
    /// let sem = myriad::sync::Semaphore::new(0);
    /// myriad::thread::current().interrupt();
    /// assert!(sem.acquire_interruptible().is_err());
    /// # myriad::thread::current().clear_interrupt();
    /// ```
    pub fn acquire_interruptible(&self) -> Result<SemaphoreGuard<'_>, crate::thread::Interrupted> {
        if let Some(interrupted) = crate::rt::wait::current_interrupt() {
            return Err(interrupted);
        }
        self.acquire_inner(None, true).map(|guard| guard.expect("no deadline"))
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<SemaphoreGuard<'_>> {
        self.acquire_inner(deadline, false).unwrap_or_else(|_| unreachable!("not interruptible"))
    }

    fn acquire_inner(
        &self,
        deadline: Option<Instant>,
        interruptible: bool,
    ) -> Result<Option<SemaphoreGuard<'_>>, crate::thread::Interrupted> {
        loop {
            if let Some(guard) = self.try_acquire() {
                return Ok(Some(guard));
            }
            let state = self.state.load(Ordering::Relaxed);
            if state >= ONE {
                continue;
            }
            if state & WAITERS == 0
                && self.state.compare_exchange_weak(state, WAITERS, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            let validate = || self.state.load(Ordering::Relaxed) == WAITERS;
            let parked = if interruptible {
                parking_lot::park_interruptible(self.addr(), "Semaphore", validate, deadline)
            } else {
                parking_lot::park(self.addr(), "Semaphore", validate, deadline)
            };
            match parked {
                ParkResult::TimedOut => return Ok(self.try_acquire()),
                ParkResult::Interrupted => return Err(crate::rt::wait::Interrupted::current()),
                ParkResult::Abandoned => crate::rt::wait::panic_deadlocked(),
                _ => {}
            }
        }
    }

    /// Adds `n` permits (also beyond the initial count), waking up to `n`
    /// waiting threads.
    ///
    /// ```
    /// let sem = myriad::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        if n == 0 {
            return;
        }
        let add = n.checked_mul(ONE).expect("too many permits");
        let state = self.state.fetch_add(add, Ordering::Release);
        assert!(state.checked_add(add).is_some(), "too many permits");
        if state & WAITERS != 0 {
            for _ in 0..n {
                let result = parking_lot::unpark_one(self.addr(), |result| {
                    if !result.have_more {
                        self.state.fetch_and(!WAITERS, Ordering::Relaxed);
                    }
                    TOKEN_NORMAL
                });
                if !result.have_more {
                    break;
                }
            }
        }
    }
}

impl SemaphoreGuard<'_> {
    /// Keeps the permit taken: it is not given back on drop.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("available_permits", &self.available_permits()).finish()
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}

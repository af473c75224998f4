//! `Mutex`: std's mutual-exclusion lock, parking threads instead of workers.
//!
//! # Why
//!
//! `std::sync::Mutex::lock` on a contended lock blocks the OS thread, which
//! inside a myriad thread stalls every thread pinned to that worker (and can
//! deadlock if the holder is one of them). This one parks only the caller.
//!
//! # How
//!
//! [`RawMutex`] is one byte, the algorithm of the `parking_lot` crate:
//! `LOCKED` and `PARKED` bits. Lock is a compare-and-swap `0 → LOCKED`;
//! unlock a compare-and-swap `LOCKED → 0` — one atomic each, no syscall, no
//! allocation. On contention a locker spins briefly, sets `PARKED` and
//! parks on the mutex's address (validated: still `LOCKED|PARKED`). An
//! unlock that sees `PARKED` unparks one thread and, under the bucket lock,
//! writes the new state (`PARKED` only if others still wait). Locking is
//! normally barging — a running thread may take the lock before the woken one
//! runs, which keeps throughput — but about every half millisecond the
//! unlock hands the lock directly to the woken thread (eventual fairness), so
//! no waiter starves.
//!
//! [`Mutex`] wraps it with std's API and poisoning (written here rather than
//! with `lock_api`, which has no poisoning).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::parking_lot::{self, ParkResult, TOKEN_HANDOFF, TOKEN_NORMAL};
use super::poison::{self, LockResult, PoisonError, TryLockError, TryLockResult};
use crate::rt::{wait, LOCK_WAITS};

const LOCKED: u8 = 1;
const PARKED: u8 = 2;
/// Spin rounds (each twice as long as the last) before parking.
const SPIN_ROUNDS: u32 = 4;

/// The lock word underneath [`Mutex`], without data or poisoning.
pub(crate) struct RawMutex {
    state: AtomicU8,
    /// The id of the thread holding the lock (0: none) — a diagnostic for
    /// `rt::dump` and the lock-cycle detector, read without synchronisation
    /// by threads about to park, so it may be a moment out of date.
    owner: AtomicU64,
}

impl RawMutex {
    pub(crate) const fn new() -> RawMutex {
        RawMutex { state: AtomicU8::new(0), owner: AtomicU64::new(0) }
    }

    #[inline]
    pub(crate) fn lock(&self) {
        if self.state.compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_slow();
        }
        self.owner.store(crate::thread::current_id_u64(), Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        // A loop polling `try_lock` must let its worker's other threads
        // run now and then (`rt/coop.rs`). (A free `lock` needs no such
        // care: see `unlock_slow`.)
        crate::rt::coop::spend();
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(state, state | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => {
                    self.owner.store(crate::thread::current_id_u64(), Ordering::Relaxed);
                    return true;
                }
                Err(now) => state = now,
            }
        }
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// The lock must be held, by the caller's critical section.
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        self.owner.store(0, Ordering::Relaxed);
        if self.state.compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.unlock_slow();
        }
    }

    fn addr(&self) -> usize {
        self as *const RawMutex as usize
    }

    #[cold]
    fn lock_slow(&self) {
        let mut spins = 0;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED == 0 {
                match self.state.compare_exchange_weak(state, state | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return,
                    Err(now) => state = now,
                }
                continue;
            }
            // Spin a little while nobody is parked: the holder may be about
            // to unlock on another core. (Not long: on this worker it cannot
            // run until we park.)
            if state & PARKED == 0 && spins < SPIN_ROUNDS {
                spins += 1;
                for _ in 0..(1 << spins) {
                    std::hint::spin_loop();
                }
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            if state & PARKED == 0 {
                if let Err(now) =
                    self.state.compare_exchange_weak(state, state | PARKED, Ordering::Relaxed, Ordering::Relaxed)
                {
                    state = now;
                    continue;
                }
            }
            let validate = || self.state.load(Ordering::Relaxed) == LOCKED | PARKED;
            let holder = crate::thread::ThreadId::from_u64(self.owner.load(Ordering::Relaxed));
            LOCK_WAITS.fetch_add(1, Ordering::Relaxed);
            let parked = parking_lot::park_holding(self.addr(), "Mutex", holder, validate, None);
            LOCK_WAITS.fetch_sub(1, Ordering::Relaxed);
            match parked {
                // The unlocker left `LOCKED` set for us.
                ParkResult::Unparked(TOKEN_HANDOFF) => return,
                // Out of the queue; a `PARKED` bit left behind only sends
                // the next unlock down its slow path, which clears it.
                ParkResult::Abandoned => wait::panic_deadlocked(),
                _ => {}
            }
            spins = 0;
            state = self.state.load(Ordering::Relaxed);
        }
    }

    #[cold]
    fn unlock_slow(&self) {
        // The state is `LOCKED | PARKED` and stays so while we hold the
        // bucket lock: only we may clear `LOCKED`, and parkers set `PARKED`
        // only while it is clear... or already set.
        parking_lot::unpark_one(self.addr(), |result| {
            if result.unparked && result.be_fair {
                if !result.have_more {
                    self.state.store(LOCKED, Ordering::Relaxed);
                }
                return TOKEN_HANDOFF;
            }
            self.state.store(if result.have_more { PARKED } else { 0 }, Ordering::Release);
            TOKEN_NORMAL
        });
        // We may have just woken a thread pinned to our worker; if we never
        // block, it runs only when the budget says so (`rt/coop.rs`). The
        // uncontended `lock` needs no budget: a thread we keep from the
        // lock gets it handed over within a millisecond (eventual
        // fairness), and our next `lock` then parks.
        crate::rt::coop::spend();
    }
}

/// A mutual-exclusion lock protecting a `T`, as [`std::sync::Mutex`].
///
/// Blocking in [`lock`](Mutex::lock) parks only the calling myriad thread
/// (or blocks the calling OS thread); the lock can be shared freely between
/// myriad threads and OS threads. An uncontended lock+unlock costs one
/// compare-and-swap each, like std's.
///
/// If a thread panics while holding the lock, the lock is *poisoned*: later
/// `lock`s return [`PoisonError`], from which the guard can still be taken.
///
/// ```
/// use myriad::sync::{Arc, Mutex};
///
/// let counter = Arc::new(Mutex::new(0));
/// let handles: Vec<_> = (0..100)
///     .map(|_| {
///         let counter = counter.clone();
///         myriad::thread::spawn(move || *counter.lock().unwrap() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 100);
/// ```
pub struct Mutex<T: ?Sized> {
    pub(crate) raw: RawMutex,
    pub(crate) poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `data` to one thread at a time, so
// sending it or sharing it between threads needs only `T: Send` (as std).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

// As std: poisoning reports a panic in a critical section, so the lock may
// cross `catch_unwind`.
impl<T: ?Sized> UnwindSafe for Mutex<T> {}
impl<T: ?Sized> RefUnwindSafe for Mutex<T> {}

/// The access a locked [`Mutex`] gives; unlocks when dropped.
///
/// As [`std::sync::MutexGuard`]: not `Send`, since the lock must be released
/// on the thread that took it.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    pub(crate) lock: &'a Mutex<T>,
    pub(crate) poison: poison::Guard,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`, so sharing it needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex.
    ///
    /// ```
    /// static LOCK: myriad::sync::Mutex<u32> = myriad::sync::Mutex::new(0);
    /// *LOCK.lock().unwrap() += 1;
    /// ```
    pub const fn new(t: T) -> Mutex<T> {
        Mutex { raw: RawMutex::new(), poison: poison::Flag::new(), data: UnsafeCell::new(t) }
    }

    /// Consumes the mutex, returning the data (`Err` if poisoned).
    ///
    /// ```
    /// let m = myriad::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner().unwrap(), 5);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        let data = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, parking the calling thread until it is free.
    ///
    /// Returns `Err` if the lock is poisoned; the guard is inside the error.
    /// Locking a mutex the calling thread already holds deadlocks.
    ///
    /// ```
    /// let m = myriad::sync::Mutex::new(vec![1]);
    /// m.lock().unwrap().push(2);
    /// assert_eq!(*m.lock().unwrap(), [1, 2]);
    /// ```
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.raw.lock();
        // SAFETY: we just took the lock.
        unsafe { self.guard() }
    }

    /// Acquires the lock if it is free now, without blocking.
    ///
    /// ```
    /// use std::sync::TryLockError;
    /// let m = myriad::sync::Mutex::new(1);
    /// let held = m.lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(held);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            // SAFETY: we just took the lock.
            Ok(unsafe { self.guard() }?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// # Safety
    ///
    /// The caller holds the lock, and hands it to the guard.
    unsafe fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        poison::map_result(self.poison.guard(), |poison| MutexGuard { lock: self, poison, _not_send: PhantomData })
    }

    /// Whether the mutex is poisoned.
    ///
    /// ```
    /// let m = myriad::sync::Mutex::new(0);
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    ///
    /// ```
    /// let m = myriad::sync::Mutex::new(0);
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// A mutable reference to the data; no locking is needed since the
    /// borrow is exclusive. `Err` if poisoned.
    ///
    /// ```
    /// let mut m = myriad::sync::Mutex::new(0);
    /// *m.get_mut().unwrap() = 10;
    /// assert_eq!(*m.lock().unwrap(), 10);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.poison.get();
        let data = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Mutex<T> {
        Mutex::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get()).finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so nobody else accesses `data`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, so nobody else accesses `data`.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        // SAFETY: the guard holds the lock, and gives it up here.
        unsafe { self.lock.raw.unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

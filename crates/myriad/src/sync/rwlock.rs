//! `RwLock`: std's reader-writer lock, writer-fair, parking threads.
//!
//! # How
//!
//! One word: `WRITE` (a writer owns the lock or is waiting for the readers
//! inside to leave), `READERS_PARKED`, `WRITERS_PARKED`, and the count of
//! readers inside above those bits. Uncontended read or write lock and
//! unlock are one atomic each.
//!
//! Writer fairness: a writer that cannot get in at once still takes `WRITE`
//! as soon as no other writer holds it, and from then on no new reader gets
//! in; it parks on `addr + 1` until the last reader inside leaves (that
//! reader unparks it). So a steady stream of readers cannot starve writers.
//! Readers that find `WRITE` set park on `addr`; writers that find another
//! writer park on `addr + 2` (the three addresses are distinct keys in the
//! parking lot; the lock is at least 8 bytes so they stay inside it). A
//! write unlock releases `WRITE`, wakes all parked readers and one parked
//! writer, which then compete.
//!
//! `downgrade` turns the write lock into one read lock in a single
//! compare-and-swap (`WRITE` off, one reader in), so no writer can get in
//! between; it then wakes whoever a write unlock would wake. A woken
//! writer takes `WRITE` and waits for that reader to leave, as usual.
//!
//! The read guard holds a pointer to the data and a reference to the raw
//! lock only (std's layout), not `&RwLock<T>`: that keeps it covariant in
//! `T`, like the `&T` it stands for.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::parking_lot::{self, ParkResult, TOKEN_NORMAL};
use super::poison::{self, LockResult, PoisonError, TryLockError, TryLockResult};
use crate::rt::wait;

const WRITE: usize = 1;
const READERS_PARKED: usize = 2;
const WRITERS_PARKED: usize = 4;
const ONE_READER: usize = 8;

struct RawRwLock {
    state: AtomicUsize,
}

impl RawRwLock {
    const fn new() -> RawRwLock {
        RawRwLock { state: AtomicUsize::new(0) }
    }

    fn addr(&self) -> usize {
        self as *const RawRwLock as usize
    }

    #[inline]
    fn try_read(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & WRITE != 0 {
                return false;
            }
            let new = state.checked_add(ONE_READER).expect("too many readers of one RwLock");
            match self.state.compare_exchange_weak(state, new, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    #[inline]
    fn read(&self) {
        let state = self.state.load(Ordering::Relaxed);
        if state & WRITE != 0
            || self
                .state
                .compare_exchange_weak(state, state + ONE_READER, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            self.read_slow();
        }
    }

    #[cold]
    fn read_slow(&self) {
        loop {
            if self.try_read() {
                return;
            }
            let state = self.state.load(Ordering::Relaxed);
            if state & WRITE == 0 {
                continue;
            }
            if state & READERS_PARKED == 0
                && self
                    .state
                    .compare_exchange_weak(state, state | READERS_PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let validate = || {
                let s = self.state.load(Ordering::Relaxed);
                s & WRITE != 0 && s & READERS_PARKED != 0
            };
            // A `READERS_PARKED` bit left behind by an abandoned wait only
            // sends the next write unlock down its slow path.
            if parking_lot::park(self.addr(), "RwLock (read)", validate, None) == ParkResult::Abandoned {
                wait::panic_deadlocked();
            }
        }
    }

    /// # Safety
    ///
    /// The caller holds a read lock and gives it up.
    #[inline]
    unsafe fn read_unlock(&self) {
        let state = self.state.fetch_sub(ONE_READER, Ordering::Release);
        if state & WRITE != 0 && state / ONE_READER == 1 {
            // The last reader out lets the waiting writer in.
            parking_lot::unpark_one(self.addr() + 1, |_| TOKEN_NORMAL);
        }
    }

    #[inline]
    fn try_write(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & WRITE != 0 || state >= ONE_READER {
                return false;
            }
            match self.state.compare_exchange_weak(state, state | WRITE, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    #[inline]
    fn write(&self) {
        if self.state.compare_exchange_weak(0, WRITE, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.write_slow();
        }
    }

    #[cold]
    fn write_slow(&self) {
        // First, own `WRITE`.
        loop {
            let state = self.state.load(Ordering::Relaxed);
            if state & WRITE == 0 {
                if self.state.compare_exchange_weak(state, state | WRITE, Ordering::Acquire, Ordering::Relaxed).is_ok()
                {
                    break;
                }
                continue;
            }
            if state & WRITERS_PARKED == 0
                && self
                    .state
                    .compare_exchange_weak(state, state | WRITERS_PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            let validate = || {
                let s = self.state.load(Ordering::Relaxed);
                s & WRITE != 0 && s & WRITERS_PARKED != 0
            };
            if parking_lot::park(self.addr() + 2, "RwLock (write)", validate, None) == ParkResult::Abandoned {
                wait::panic_deadlocked();
            }
        }
        // Then wait for the readers inside to leave; no new ones come in.
        while self.state.load(Ordering::Acquire) >= ONE_READER {
            let parked = parking_lot::park(
                self.addr() + 1,
                "RwLock (write, draining readers)",
                || self.state.load(Ordering::Relaxed) >= ONE_READER,
                None,
            );
            if parked == ParkResult::Abandoned {
                // We own `WRITE` but no guard does yet: give it back.
                // SAFETY: this thread set `WRITE` above.
                unsafe { self.write_unlock() };
                wait::panic_deadlocked();
            }
        }
    }

    /// # Safety
    ///
    /// The caller holds the write lock and gives it up.
    #[inline]
    unsafe fn write_unlock(&self) {
        if self.state.compare_exchange(WRITE, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.write_unlock_slow();
        }
    }

    #[cold]
    fn write_unlock_slow(&self) {
        let state = self.state.fetch_and(!(WRITE | READERS_PARKED), Ordering::Release);
        self.wake_after_write(state);
    }

    /// # Safety
    ///
    /// The caller holds the write lock and, from here on, one read lock
    /// instead.
    unsafe fn downgrade(&self) {
        // The writer drained the readers before it got in, so the count is
        // 0 here; one step takes `WRITE` away and lets this reader in.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let new = (state & !(WRITE | READERS_PARKED)) + ONE_READER;
            match self.state.compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        self.wake_after_write(state);
    }

    /// Wakes the threads parked behind a writer that just left (`state` is
    /// the word before it left): all readers, and one writer.
    fn wake_after_write(&self, state: usize) {
        if state & READERS_PARKED != 0 {
            parking_lot::unpark_all(self.addr(), TOKEN_NORMAL);
        }
        if state & WRITERS_PARKED != 0 {
            parking_lot::unpark_one(self.addr() + 2, |result| {
                if !result.have_more {
                    self.state.fetch_and(!WRITERS_PARKED, Ordering::Relaxed);
                }
                TOKEN_NORMAL
            });
        }
    }
}

/// A reader-writer lock, as [`std::sync::RwLock`]: many readers or one
/// writer at a time.
///
/// Writer-fair: once a writer waits, new readers wait behind it, so writers
/// are never starved by a stream of readers. (As with std, taking a read
/// lock twice on one thread can therefore deadlock.) Blocking parks only the
/// calling thread. A panic while holding the write lock poisons it.
///
/// ```
/// use myriad::sync::{Arc, RwLock};
///
/// let lock = Arc::new(RwLock::new(5));
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// let l = lock.clone();
/// myriad::thread::spawn(move || *l.write().unwrap() += 1).join().unwrap();
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: as std: the lock hands out `&mut T` to one thread (needs `Send`)
// or `&T` to many at once (needs `Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

// As std: poisoning reports a panic while writing.
impl<T: ?Sized> UnwindSafe for RwLock<T> {}
impl<T: ?Sized> RefUnwindSafe for RwLock<T> {}

/// Shared access to a [`RwLock`]'s data; releases the read lock when dropped.
///
/// Covariant in `T`, as std's (a read guard of `RwLock<&'long U>` can be
/// used as one of `RwLock<&'short U>`): it stands for a `&'a T`. Not
/// `Send`, as std's (`NonNull` is neither `Send` nor `Sync`).
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    /// The data; valid for reads for `'a`, while the read lock is held.
    data: NonNull<T>,
    raw: &'a RawRwLock,
}

// SAFETY: a shared read guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

/// Exclusive access to a [`RwLock`]'s data; releases the write lock when
/// dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    poison: poison::Guard,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared write guard only gives `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// Creates an unlocked lock.
    ///
    /// ```
    /// static CONFIG: myriad::sync::RwLock<u32> = myriad::sync::RwLock::new(1);
    /// assert_eq!(*CONFIG.read().unwrap(), 1);
    /// ```
    pub const fn new(t: T) -> RwLock<T> {
        RwLock { raw: RawRwLock::new(), poison: poison::Flag::new(), data: UnsafeCell::new(t) }
    }

    /// Consumes the lock, returning the data (`Err` if poisoned).
    ///
    /// ```
    /// assert_eq!(myriad::sync::RwLock::new(3).into_inner().unwrap(), 3);
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

impl<T: ?Sized> RwLock<T> {
    /// Locks for shared reading, parking while a writer holds or awaits the
    /// lock. `Err` (with the guard inside) if poisoned.
    ///
    /// ```
    /// let lock = myriad::sync::RwLock::new(1);
    /// assert_eq!(*lock.read().unwrap(), 1);
    /// ```
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.raw.read();
        self.read_guard()
    }

    /// Locks for reading if possible without blocking.
    ///
    /// ```
    /// let lock = myriad::sync::RwLock::new(1);
    /// let w = lock.write().unwrap();
    /// assert!(lock.try_read().is_err());
    /// drop(w);
    /// assert!(lock.try_read().is_ok());
    /// ```
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.raw.try_read() {
            Ok(self.read_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Wraps a read lock the caller holds in a guard.
    fn read_guard(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        // SAFETY: `UnsafeCell::get` on a live cell never returns null.
        let data = unsafe { NonNull::new_unchecked(self.data.get()) };
        let guard = RwLockReadGuard { data, raw: &self.raw };
        if self.poison.get() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Locks for exclusive writing, parking until readers and writers have
    /// left. `Err` (with the guard inside) if poisoned.
    ///
    /// ```
    /// let lock = myriad::sync::RwLock::new(1);
    /// *lock.write().unwrap() += 1;
    /// assert_eq!(*lock.read().unwrap(), 2);
    /// ```
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.raw.write();
        self.write_guard()
    }

    /// Locks for writing if possible without blocking.
    ///
    /// ```
    /// let lock = myriad::sync::RwLock::new(1);
    /// let r = lock.read().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// assert!(lock.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if self.raw.try_write() {
            Ok(self.write_guard()?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    fn write_guard(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        poison::map_result(self.poison.guard(), |poison| RwLockWriteGuard {
            lock: self,
            poison,
            _not_send: PhantomData,
        })
    }

    /// Whether the lock is poisoned.
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// A mutable reference to the data, without locking. `Err` if poisoned.
    ///
    /// ```
    /// let mut lock = myriad::sync::RwLock::new(0);
    /// *lock.get_mut().unwrap() = 7;
    /// assert_eq!(*lock.read().unwrap(), 7);
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

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> RwLock<T> {
        RwLock::new(t)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get()).finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the lock, which outlives the guard,
        // and a read lock is held: no writer exists while the guard does.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard holds a read lock and gives it up here.
        unsafe { self.raw.read_unlock() };
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock without letting any writer in
    /// between, as std's `RwLockWriteGuard::downgrade`: what this thread
    /// wrote is what it reads. Readers waiting for the write lock to go
    /// get in at once.
    ///
    /// ```
    /// use myriad::sync::{RwLock, RwLockWriteGuard};
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write().unwrap();
    /// *w = 2;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert_eq!(*r, 2);
    /// assert!(lock.try_write().is_err());
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// ```
    pub fn downgrade(s: RwLockWriteGuard<'a, T>) -> RwLockReadGuard<'a, T> {
        let lock = s.lock;
        // A panic since the guard was made poisons the lock, as its drop
        // would have.
        lock.poison.done(&s.poison);
        // The write guard's drop would release the write lock: skip it
        // (its fields need no drop: a reference, a flag, a marker).
        std::mem::forget(s);
        // SAFETY: the forgotten guard held the write lock; from here on the
        // read guard below holds the read lock `downgrade` leaves.
        unsafe { lock.raw.downgrade() };
        // SAFETY: `UnsafeCell::get` on a live cell never returns null.
        let data = unsafe { NonNull::new_unchecked(lock.data.get()) };
        RwLockReadGuard { data, raw: &lock.raw }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held: nobody else accesses the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held: nobody else accesses the data.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        // SAFETY: the guard holds the write lock and gives it up here.
        unsafe { self.lock.raw.write_unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

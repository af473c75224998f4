//! Poisoning, as std's locks do it.
//!
//! A lock is *poisoned* when a thread panics while holding it (for
//! `RwLock`, while holding it for writing), so that others learn the data
//! may be half-updated. The error types are std's own
//! ([`PoisonError`], [`TryLockError`], [`LockResult`], [`TryLockResult`]),
//! so code matching on them ports unchanged.
//!
//! `std::thread::panicking()` is per OS thread; it is exact for myriad
//! threads too because a thread that is unwinding never gives up its worker
//! (docs/DESIGN.md, soundness point 5).

use std::sync::atomic::{AtomicBool, Ordering};

pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

/// The poison flag of one lock.
pub(crate) struct Flag(AtomicBool);

/// Remembers whether the holder was already panicking when it locked.
pub(crate) struct Guard {
    panicking: bool,
}

impl Flag {
    #[inline]
    pub(crate) const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    /// Starts a critical section: `Err` (still carrying the guard) if the
    /// lock is poisoned.
    #[inline]
    pub(crate) fn guard(&self) -> LockResult<Guard> {
        let guard = Guard { panicking: std::thread::panicking() };
        if self.get() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Ends a critical section, poisoning the lock if a panic began in it.
    #[inline]
    pub(crate) fn done(&self, guard: &Guard) {
        if !guard.panicking && std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Maps the value inside a `LockResult`, keeping it poisoned or not.
#[inline]
pub(crate) fn map_result<T, U>(result: LockResult<T>, f: impl FnOnce(T) -> U) -> LockResult<U> {
    match result {
        Ok(t) => Ok(f(t)),
        Err(e) => Err(PoisonError::new(f(e.into_inner()))),
    }
}

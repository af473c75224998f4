//! `WaitGroup`: wait until a group of threads is done, in the shape of
//! crossbeam's `WaitGroup` (clone one per thread; each drops its clone when
//! done; `wait` returns when every clone is gone).
//!
//! A shared counter of live clones; the drop that brings it to zero unparks
//! everyone parked on its address. A waiter parks validated on "the count is
//! not zero", so the last drop cannot slip past it.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::parking_lot::{self, TOKEN_NORMAL};

/// Enables threads to synchronize the end of some work.
///
/// ```
/// use myriad::sync::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let wg = WaitGroup::new();
/// let done = Arc::new(AtomicUsize::new(0));
/// for _ in 0..10 {
///     let (wg, done) = (wg.clone(), done.clone());
///     myriad::thread::spawn(move || {
///         done.fetch_add(1, Ordering::SeqCst);
///         drop(wg);
///     });
/// }
/// wg.wait();
/// assert_eq!(done.load(Ordering::SeqCst), 10);
/// ```
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    count: AtomicUsize,
}

impl Inner {
    fn addr(&self) -> usize {
        self as *const Inner as usize
    }
}

impl WaitGroup {
    /// A new group with one member: this handle.
    pub fn new() -> WaitGroup {
        WaitGroup { inner: Arc::new(Inner { count: AtomicUsize::new(1) }) }
    }

    /// Drops this handle and waits until all other clones are dropped.
    pub fn wait(self) {
        let inner = self.inner.clone();
        drop(self);
        while inner.count.load(Ordering::Acquire) != 0 {
            let parked =
                parking_lot::park(inner.addr(), "WaitGroup", || inner.count.load(Ordering::Relaxed) != 0, None);
            if parked == parking_lot::ParkResult::Abandoned {
                crate::rt::wait::panic_deadlocked();
            }
        }
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl Clone for WaitGroup {
    fn clone(&self) -> WaitGroup {
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        WaitGroup { inner: self.inner.clone() }
    }
}

impl Drop for WaitGroup {
    fn drop(&mut self) {
        if self.inner.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            parking_lot::unpark_all(self.inner.addr(), TOKEN_NORMAL);
        }
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup").field("count", &self.inner.count.load(Ordering::Relaxed)).finish()
    }
}

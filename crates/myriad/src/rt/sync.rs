//! The runtime's synchronisation facade: the atomics, fences and
//! poison-free `Mutex` that the runtime's lock-free protocols are written
//! with, from one place, so that the loom model checks compile those
//! protocols as they are.
//!
//! The files that hold a cross-thread protocol — `task_state.rs` (join
//! and reference count), `wait/state.rs` (the wait-state word),
//! `wait/token.rs` (`park`/`unpark`) and `inbox.rs` (handing woken threads
//! to a worker, and waking it) — take their atomics and locks only from
//! here, as `crate::rt::sync`, and nothing else from the runtime but each
//! other. The model checks (`tests/loom_*.rs`) include this file and
//! those with `#[path]`; in a test crate built with `--cfg loom` this file
//! hands out loom's types instead of std's, and loom then runs the real
//! code in every interleaving (tokio's `crate::loom` does the same).
//!
//! The library itself always gets std's (the switch also needs `test`):
//! a program that loom-checks its own code with `--cfg loom` and myriad as
//! a dependency still gets a working myriad. (The library's own unit tests
//! built with `--cfg loom` would get loom's, and fail outside a model: CI
//! builds only the three model checks that way.)
//!
//! loom models a `SeqCst` load or store as acquire/release only (its
//! README, "Unsupported features"), while `fence(SeqCst)` is modelled
//! fully. So where a protocol needs a store and a later load of another
//! location to be seen in order by another thread (a Dekker handshake),
//! the code says so with an explicit `fence(SeqCst)` between them, which
//! C11 and loom agree on; on x86-64 the fence after a plain store costs
//! what the `SeqCst` store did (`lock or` instead of `xchg`).

#[cfg(not(all(loom, test)))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(all(loom, test)))]
pub(crate) use crate::rt::lock::Mutex;

#[cfg(all(loom, test))]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

#[cfg(all(loom, test))]
pub(crate) use loom_lock::Mutex;

/// `rt::lock::Mutex`'s interface (no poisoning) over loom's mutex.
#[cfg(all(loom, test))]
mod loom_lock {
    use std::sync::PoisonError;

    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }
}

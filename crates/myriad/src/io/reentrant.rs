//! A lock that the thread holding it may take again: what std's
//! `Stdout::lock` is, keyed by myriad thread instead of OS thread.
//!
//! Why: std's reentrant lock belongs to an OS thread, and every myriad
//! thread on a worker shares that OS thread, so it cannot tell them apart
//! (and a thread parking while holding it would block the others on its
//! worker, not park them). How: an owner (a myriad `ThreadId`, which OS
//! threads have too) and a depth under a `myriad::sync::Mutex`, with a
//! `Condvar` that parks waiters.

use crate::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use crate::thread::ThreadId;

/// The owner and how many times it holds the lock.
type Owner = Option<(ThreadId, usize)>;

pub(super) struct ReentrantLock {
    owner: Mutex<Owner>,
    released: Condvar,
}

/// Proof that the current thread holds a [`ReentrantLock`].
pub(super) struct ReentrantGuard {
    lock: &'static ReentrantLock,
}

impl ReentrantLock {
    pub(super) const fn new() -> ReentrantLock {
        ReentrantLock { owner: Mutex::new(None), released: Condvar::new() }
    }

    fn owner(&self) -> MutexGuard<'_, Owner> {
        self.owner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the lock, parking while another thread holds it.
    pub(super) fn lock(&'static self) -> ReentrantGuard {
        let me = crate::thread::current().id();
        let mut owner = self.owner();
        loop {
            match &mut *owner {
                None => {
                    *owner = Some((me, 1));
                    break;
                }
                Some((holder, depth)) if *holder == me => {
                    *depth += 1;
                    break;
                }
                Some(_) => owner = self.released.wait(owner).unwrap_or_else(PoisonError::into_inner),
            }
        }
        ReentrantGuard { lock: self }
    }
}

impl Drop for ReentrantGuard {
    fn drop(&mut self) {
        let mut owner = self.lock.owner();
        if let Some((_, depth)) = &mut *owner {
            *depth -= 1;
            if *depth == 0 {
                *owner = None;
                drop(owner);
                self.lock.released.notify_one();
            }
        }
    }
}

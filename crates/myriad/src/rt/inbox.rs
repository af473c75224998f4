//! A worker's inbox: how other OS threads hand it the threads they woke,
//! and the worker's announcement that it sleeps, which tells them to wake
//! it.
//!
//! A thread pinned to a worker and woken from another OS thread (a wake-up
//! from a thread on another worker, a timer of the stall monitor, an
//! offload job) cannot go in the worker's own ready queue, which only the
//! worker touches: it is posted here, under a mutex, and the worker takes
//! the whole batch whenever it looks outside its queues.
//!
//! No post may be left here while the worker sleeps with no notification
//! coming. Both sides publish, then look at the other's flag, with a
//! `SeqCst` fence between (a Dekker handshake):
//!
//! * the poster pushes, sets `has_mail`, fences, and notifies the worker
//!   if its `sleeping` announcement is up (taking it down, so that one
//!   poster notifies);
//! * the worker, out of work, puts up `sleeping`, fences, and looks at
//!   `has_mail` (and at whatever else others hand it) once more before it
//!   sleeps.
//!
//! So either the worker sees the mail, or the poster sees the announcement.
//! Notifying (an eventfd write in the worker's poller) is the caller's.
//!
//! This file uses nothing of the runtime but `rt::sync`, so that
//! `tests/loom_inbox.rs` checks it as compiled, over loom's atomics.

use crate::rt::sync::{fence, AtomicBool, Mutex, Ordering};

/// What other threads hand a worker, and its sleep announcement.
pub struct Inbox<T> {
    mail: Mutex<Vec<T>>,
    has_mail: AtomicBool,
    /// Up while the worker is about to sleep or sleeps in its poller.
    sleeping: AtomicBool,
}

impl<T> Inbox<T> {
    pub fn new() -> Inbox<T> {
        Inbox { mail: Mutex::new(Vec::new()), has_mail: AtomicBool::new(false), sleeping: AtomicBool::new(false) }
    }

    /// Hands `item` to the worker; true if the worker sleeps and the
    /// caller must notify it.
    #[must_use = "a sleeping worker must be notified"]
    pub fn post(&self, item: T) -> bool {
        self.mail.lock().push(item);
        self.has_mail.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.take_sleeper()
    }

    /// Takes down the worker's sleep announcement if it is up; true if
    /// this call did, and the caller must then notify the worker (for work
    /// handed over elsewhere, published before a `SeqCst` fence).
    #[must_use = "a sleeping worker must be notified"]
    pub fn take_sleeper(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst)
    }

    /// Whether items wait here (after an announcement: see `Asleep`).
    pub fn has_mail(&self) -> bool {
        self.has_mail.load(Ordering::SeqCst)
    }

    /// Whether the worker announced that it sleeps (a hint for the
    /// monitor: it may change at once).
    pub fn is_sleeping(&self) -> bool {
        self.sleeping.load(Ordering::Relaxed)
    }

    /// Moves every posted item into `into` (the worker).
    pub fn take_mail(&self, into: &mut impl Extend<T>) {
        if self.has_mail.load(Ordering::Acquire) {
            self.has_mail.store(false, Ordering::SeqCst);
            into.extend(self.mail.lock().drain(..));
        }
    }

    /// Announces that the worker is about to sleep (the worker). It must
    /// then look at `has_mail` once more, and sleep only if there is none;
    /// dropping the guard takes the announcement down if no poster did.
    pub fn announce_sleep(&self) -> Asleep<'_, T> {
        // A swap, not a store, though the value read is not needed: as a
        // read-modify-write it is ordered after a poster's `swap(false)`
        // of the previous announcement in loom too (whose modification
        // order otherwise lets a later load see that `false` over this
        // `true`); it compiles to the same `xchg` as a `SeqCst` store.
        self.sleeping.swap(true, Ordering::SeqCst);
        // Between the announcement and the look at `has_mail`: see the
        // module comment.
        fence(Ordering::SeqCst);
        Asleep(self)
    }
}

impl<T> Default for Inbox<T> {
    fn default() -> Inbox<T> {
        Inbox::new()
    }
}

/// The worker's sleep announcement, up until dropped.
#[must_use = "the announcement is taken down when this is dropped"]
pub struct Asleep<'a, T>(&'a Inbox<T>);

impl<T> Drop for Asleep<'_, T> {
    fn drop(&mut self) {
        // A swap for the reason `announce_sleep` gives.
        self.0.sleeping.swap(false, Ordering::SeqCst);
    }
}

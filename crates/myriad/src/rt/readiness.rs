//! What epoll says about a registered descriptor: its readiness word and
//! the threads waiting on it (a `Source`), and the dispatch of a worker's
//! events to them.
//!
//! Each registered descriptor has one `Source`, shared between its
//! registration (`reactor.rs`) and the epoll instance of one worker, whose
//! event data is a pointer to it (`into_event_data`). `dispatch` sets the
//! readiness bits an event reports and wakes the threads waiting in that
//! direction; an operation that finds the descriptor not ready clears them
//! again (`Source::clear`), but only if no event came meanwhile: the word
//! carries a tick that every event advances (see `reactor.rs` for the
//! whole protocol).
//!
//! No edge is lost: a waiting thread stores its `Wake` first and then looks
//! at the readiness bits (`Source::wait_for`); an event sets the bits first
//! and then takes the `Wake`s, both under the waiter list's mutex.
//! Whichever comes second sees the other's write, so either the thread
//! wakes itself and retries, or the event wakes it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::lock::Mutex;
use super::wait::Wake;

/// Which way an operation moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Read,
    Write,
}

const READABLE: u32 = 1;
const WRITABLE: u32 = 2;
/// Hang-up or error, one bit per direction: an operation in that direction
/// is tried (and reports what happened) until it says `EAGAIN` (a datagram
/// socket still does after a hang-up; then the bit is cleared like the
/// others, so that waits do not turn into a busy loop).
const READ_CLOSED: u32 = 4;
const WRITE_CLOSED: u32 = 8;
/// One step of the event tick in the upper bits of the readiness word.
const TICK: u32 = 1 << 8;

/// The "may be ready" bit of `direction`.
pub fn ready_bit(direction: Direction) -> u32 {
    match direction {
        Direction::Read => READABLE,
        Direction::Write => WRITABLE,
    }
}

/// The bits that let an operation in `direction` go ahead.
pub fn ready_mask(direction: Direction) -> u32 {
    match direction {
        Direction::Read => READABLE | READ_CLOSED,
        Direction::Write => WRITABLE | WRITE_CLOSED,
    }
}

/// What epoll's event data points to.
pub struct Source {
    readiness: AtomicU32,
    /// The threads waiting to read and to write: usually none or one, but
    /// several threads may wait on one socket (say, acceptors sharing a
    /// listener), and an event wakes them all to retry.
    readers: Mutex<Vec<Wake>>,
    writers: Mutex<Vec<Wake>>,
}

impl Source {
    /// A source with no readiness seen and nobody waiting.
    pub fn new() -> Source {
        Source { readiness: AtomicU32::new(0), readers: Mutex::new(Vec::new()), writers: Mutex::new(Vec::new()) }
    }

    /// The readiness word now: bits and tick (read it before the syscall
    /// whose `EAGAIN` would `clear` the bits).
    pub fn readiness(&self) -> u32 {
        self.readiness.load(Ordering::Acquire)
    }

    /// Clears `bits` if no event has been dispatched since `seen` was read
    /// (before the syscall that found the descriptor not ready).
    pub fn clear(&self, seen: u32, bits: u32) {
        let _ = self.readiness.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            (now & !(TICK - 1) == seen & !(TICK - 1)).then_some(now & !bits)
        });
    }

    /// Makes `wake` wait for readiness in `direction`: stores it, then
    /// uses it at once if the bits already say ready (an event before the
    /// store took no `Wake`: see the module comment). Entries of waits that
    /// ended go first; they could wake nothing anyway. An entry this wait
    /// leaves behind, ended, goes at the next store.
    pub fn wait_for(&self, direction: Direction, wake: &Wake) {
        {
            let mut waiters = self.waiters(direction).lock();
            waiters.retain(Wake::is_pending);
            waiters.push(wake.clone());
        }
        if self.readiness() & ready_mask(direction) != 0 {
            wake.wake();
        }
    }

    /// Wakes every thread waiting in `direction` (to retry its operation).
    pub fn wake(&self, direction: Direction) {
        let waiters = std::mem::take(&mut *self.waiters(direction).lock());
        for wake in waiters {
            wake.wake();
        }
    }

    fn waiters(&self, direction: Direction) -> &Mutex<Vec<Wake>> {
        match direction {
            Direction::Read => &self.readers,
            Direction::Write => &self.writers,
        }
    }

    /// The event data that names `source` to epoll: a reference epoll
    /// holds until `release` gives it back.
    pub fn into_event_data(source: Arc<Source>) -> u64 {
        Arc::into_raw(source) as u64
    }

    /// The event data `into_event_data` made of `source`, to give back
    /// with `release` once epoll no longer holds it.
    pub fn event_data(source: &Arc<Source>) -> u64 {
        Arc::as_ptr(source) as u64
    }

    /// Gives back epoll's reference to a source.
    ///
    /// # Safety
    ///
    /// `data` comes from `into_event_data`, is released once, and no event
    /// naming it is still to be dispatched (or epoll never took it).
    pub unsafe fn release(data: u64) {
        // SAFETY: the caller's obligations: a pointer from `Arc::into_raw`
        // whose reference nothing else will use.
        drop(unsafe { Arc::from_raw(data as *const Source) });
    }
}

/// Handles a batch of epoll events of one worker.
///
/// # Safety
///
/// The data of every event is from `Source::into_event_data`, not yet
/// released (a worker releases the sources removed from its epoll
/// instance only before its next wait: see `io_driver.rs`).
pub unsafe fn dispatch(events: &[libc::epoll_event]) {
    for event in events {
        let flags = event.events;
        // SAFETY: the caller's obligations: a live source.
        let source = unsafe { &*(event.u64 as *const Source) };
        let mut bits = 0;
        if flags & (libc::EPOLLIN | libc::EPOLLPRI) as u32 != 0 {
            bits |= READABLE;
        }
        if flags & libc::EPOLLOUT as u32 != 0 {
            bits |= WRITABLE;
        }
        if flags & (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32 != 0 {
            bits |= READ_CLOSED | WRITE_CLOSED;
        }
        // Set the bits and advance the tick in one step (see `Source::clear`).
        let _ = source
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| Some((now | bits).wrapping_add(TICK)));
        if bits & ready_mask(Direction::Read) != 0 {
            source.wake(Direction::Read);
        }
        if bits & ready_mask(Direction::Write) != 0 {
            source.wake(Direction::Write);
        }
    }
}

//! A worker's IO: the epoll instance it sleeps in (`poller.rs`), the
//! descriptors registered there (`readiness.rs`'s sources), and its
//! io_uring ring (`uring.rs`); and the poll step that turns what they
//! report into wake-ups.
//!
//! The worker polls when it looks outside its queues (without waiting)
//! and when it runs out of work (waiting until a timer, an event or a
//! notification); the stall monitor polls for a worker held by a thread
//! that does not give it back, so that the other threads' IO still
//! completes. `poll_lock` keeps the two from dispatching at once.
//!
//! A registration removed from epoll (`deregister`) may still be named
//! by an event of a batch being dispatched, so its source is *retired*:
//! released just before the next wait, when every event that could name
//! it has been handled.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::lock::Mutex;
use super::poller::Poller;
use super::readiness::{self, Source};
use super::uring::{self, Ring, WorkerRing};

/// The epoll token of a worker's io_uring completion eventfd (socket
/// tokens are addresses, which never come this close to the top).
const RING_TOKEN: u64 = u64::MAX - 1;

/// One worker's IO.
pub struct WorkerIo {
    poller: Poller,
    /// Held while `poller` is waited on and its events dispatched (by the
    /// worker, or by the stall monitor while the worker is stalled).
    poll_lock: Mutex<()>,
    /// Descriptors registered with `poller`.
    registrations: AtomicUsize,
    /// Event data of sources removed from `poller`, to release before its
    /// next wait.
    retired: Mutex<Vec<u64>>,
    /// The worker's io_uring ring, made on first use.
    ring: WorkerRing,
}

impl WorkerIo {
    pub fn new(poller: Poller) -> WorkerIo {
        WorkerIo {
            poller,
            poll_lock: Mutex::new(()),
            registrations: AtomicUsize::new(0),
            retired: Mutex::new(Vec::new()),
            ring: WorkerRing::new(RING_TOKEN),
        }
    }

    /// Makes this worker's ring the one file IO on this OS thread uses.
    /// The worker calls this when its OS thread starts.
    pub fn install_ring(&'static self) {
        // SAFETY: `self` lives as long as the process ('static).
        unsafe { uring::install(&self.ring, &self.poller) };
    }

    /// Wakes the worker from its wait in the poller (or makes its next
    /// wait return at once).
    pub fn notify(&self) {
        self.poller.notify();
    }

    /// Adds `fd` to the poller (edge-triggered, both directions), its
    /// events to go to `source`.
    pub fn register(&self, fd: RawFd, source: Arc<Source>) -> io::Result<()> {
        let flags = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        let data = Source::into_event_data(source);
        if let Err(err) = self.poller.add(fd, flags as u32, data) {
            // SAFETY: epoll did not take the reference made just above.
            unsafe { Source::release(data) };
            return Err(err);
        }
        self.registrations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Removes `fd`, registered for `source`, from the poller; epoll's
    /// reference to `source` is released before the next wait.
    pub fn deregister(&self, fd: RawFd, source: &Arc<Source>) {
        self.poller.delete(fd);
        self.retired.lock().push(Source::event_data(source));
        self.registrations.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether descriptors are registered here.
    pub fn has_registrations(&self) -> bool {
        self.registrations.load(Ordering::Relaxed) > 0
    }

    /// Whether something may arrive on this poller that nobody else would
    /// notice: readiness of its descriptors, or completions of its
    /// io_uring ring. A busy worker polls (without waiting) only then.
    pub fn has_io_to_poll(&self) -> bool {
        self.has_registrations() || self.ring.made().is_some_and(Ring::has_in_flight)
    }

    /// Waits for IO events, wake-ups or `timeout`, and dispatches the
    /// events (making their threads runnable); returns whether it waited
    /// or found events (a wake-up, for the metrics). `try_only`: give up
    /// at once if someone else is polling.
    pub fn poll(&self, timeout: Option<Duration>, try_only: bool) -> bool {
        let _guard = if try_only {
            match self.poll_lock.try_lock() {
                Some(guard) => guard,
                None => return false,
            }
        } else {
            self.poll_lock.lock()
        };
        for data in std::mem::take(&mut *self.retired.lock()) {
            // SAFETY: from `register`, retired once; every event of the
            // previous wait on this poller has been dispatched (under
            // `poll_lock`), so none can name it.
            unsafe { Source::release(data) };
        }
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut n = self.poller.wait(timeout, &mut events);
        let woke = n > 0 || timeout != Some(Duration::ZERO);
        if let Some(at) = events[..n].iter().position(|e| e.u64 == RING_TOKEN) {
            events.copy_within(at + 1..n, at);
            n -= 1;
            if let Some(ring) = self.ring.made() {
                ring.reap();
            }
        }
        // SAFETY: the other events are of registered sources, whose
        // references are released only before the next wait (above).
        unsafe { readiness::dispatch(&events[..n]) };
        woke
    }
}

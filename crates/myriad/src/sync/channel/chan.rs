//! The core every channel shares: a buffer and two wait queues under one
//! short-held lock.
//!
//! # Why a lock
//!
//! Rendezvous handoffs and `select!` need "take this waiting peer and hand
//! it the message" to be atomic with respect to the peer's own decision to
//! stop waiting (it may have been chosen by another channel of its select,
//! or timed out). A small critical section per channel, plus one atomic
//! *claim* per waiting select, gives that with little code to get wrong;
//! nothing blocks while the lock is held and no user code runs under it
//! (messages are dropped only after unlocking).
//!
//! # How
//!
//! A channel has a `VecDeque` buffer (capacity `None`: unbounded;
//! `Some(0)`: rendezvous) and queues of waiting senders and receivers. A
//! waiter is `(ctx, op, slot)`: `ctx` is the waiting select (see
//! `select.rs`), `op` the index of this operation in it, `slot` where the
//! message passes: a blocked sender's message sits in its slot until a
//! receiver takes it; a blocked receiver's slot is where a sender puts one.
//! A peer completes a waiter's operation only after winning `ctx.claim(op)`,
//! under this channel's lock, and wakes it after unlocking. Entries whose
//! select already ended are skipped and dropped. Invariants: receivers
//! wait only while the buffer is empty; senders wait only while it is full
//! (always, for a rendezvous channel).
//!
//! Disconnection: when the last sender (receiver) goes, every waiting
//! receiver (sender) is claimed with `RETRY` and woken, to look again and
//! find the channel disconnected. Messages still buffered can be received
//! after the senders are gone; when the last receiver goes they are dropped.

use std::collections::VecDeque;
use std::sync::mpsc::{TryRecvError, TrySendError};
use std::sync::Arc;

use crate::rt::lock::{Mutex as StdMutex, MutexGuard as StdMutexGuard};

use super::select::{Ctx, RETRY};

/// Where a message passes between a waiting operation and its peer.
pub(crate) type Slot<T> = Arc<StdMutex<Option<T>>>;

pub(crate) fn take_slot<T>(slot: &Slot<T>) -> Option<T> {
    slot.lock().take()
}

fn fill_slot<T>(slot: &Slot<T>, value: T) {
    *slot.lock() = Some(value);
}

pub(crate) struct Waiter<T> {
    pub ctx: Arc<Ctx>,
    pub op: usize,
    pub slot: Slot<T>,
}

pub(crate) struct Inner<T> {
    queue: VecDeque<T>,
    pub senders: usize,
    pub receivers: usize,
    send_waiters: VecDeque<Waiter<T>>,
    recv_waiters: VecDeque<Waiter<T>>,
}

/// A channel, shared by its `Sender`s and `Receiver`s.
#[doc(hidden)]
pub struct Chan<T> {
    inner: StdMutex<Inner<T>>,
    cap: Option<usize>,
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver counted.
    pub(crate) fn new(cap: Option<usize>) -> Chan<T> {
        Chan {
            inner: StdMutex::new(Inner {
                queue: VecDeque::with_capacity(cap.unwrap_or(0).min(1024)),
                senders: 1,
                receivers: 1,
                send_waiters: VecDeque::new(),
                recv_waiters: VecDeque::new(),
            }),
            cap,
        }
    }

    pub(crate) fn lock(&self) -> StdMutexGuard<'_, Inner<T>> {
        // No user code runs under the lock; a poisoned one is still sound.
        self.inner.lock()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    fn has_room(&self, inner: &Inner<T>) -> bool {
        self.cap.is_none_or(|cap| inner.queue.len() < cap)
    }

    /// Sends without blocking.
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut inner = self.lock();
        if inner.receivers == 0 {
            return Err(TrySendError::Disconnected(value));
        }
        // A waiting receiver means the buffer is empty: hand it over.
        while let Some(w) = inner.recv_waiters.pop_front() {
            if w.ctx.claim(w.op) {
                fill_slot(&w.slot, value);
                drop(inner);
                w.ctx.wake();
                return Ok(());
            }
        }
        if self.has_room(&inner) {
            inner.queue.push_back(value);
            return Ok(());
        }
        Err(TrySendError::Full(value))
    }

    /// Receives without blocking.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut inner = self.lock();
        if let Some(value) = inner.queue.pop_front() {
            // Room now: let the first waiting sender's message in.
            while let Some(w) = inner.send_waiters.pop_front() {
                if w.ctx.claim(w.op) {
                    let message = take_slot(&w.slot).expect("a waiting sender's slot holds its message");
                    inner.queue.push_back(message);
                    drop(inner);
                    w.ctx.wake();
                    break;
                }
            }
            return Ok(value);
        }
        if self.cap == Some(0) {
            while let Some(w) = inner.send_waiters.pop_front() {
                if w.ctx.claim(w.op) {
                    let message = take_slot(&w.slot).expect("a waiting sender's slot holds its message");
                    drop(inner);
                    w.ctx.wake();
                    return Ok(message);
                }
            }
        }
        if inner.senders == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Queues a waiting receiver unless receiving could succeed now (then
    /// returns false).
    pub(crate) fn register_recv(&self, ctx: &Arc<Ctx>, op: usize, slot: &Slot<T>) -> bool {
        let mut inner = self.lock();
        let ready = !inner.queue.is_empty()
            || inner.senders == 0
            || (self.cap == Some(0) && inner.send_waiters.iter().any(|w| w.is_live_peer_of(ctx)));
        if !ready {
            inner.recv_waiters.push_back(Waiter { ctx: ctx.clone(), op, slot: slot.clone() });
        }
        !ready
    }

    /// Queues a waiting sender (its message in `slot`) unless sending could
    /// succeed now (then returns false).
    pub(crate) fn register_send(&self, ctx: &Arc<Ctx>, op: usize, slot: &Slot<T>) -> bool {
        let mut inner = self.lock();
        let ready =
            inner.receivers == 0 || self.has_room(&inner) || inner.recv_waiters.iter().any(|w| w.is_live_peer_of(ctx));
        if !ready {
            inner.send_waiters.push_back(Waiter { ctx: ctx.clone(), op, slot: slot.clone() });
        }
        !ready
    }

    /// Removes the waiters of `ctx`, if still queued.
    pub(crate) fn unregister(&self, ctx: &Arc<Ctx>) {
        let mut inner = self.lock();
        inner.recv_waiters.retain(|w| !Arc::ptr_eq(&w.ctx, ctx));
        inner.send_waiters.retain(|w| !Arc::ptr_eq(&w.ctx, ctx));
    }

    /// Counts a new sender handle.
    pub(crate) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    /// Counts a new receiver handle.
    pub(crate) fn add_receiver(&self) {
        self.lock().receivers += 1;
    }

    /// Uncounts a sender; the last one disconnects the receivers.
    pub(crate) fn drop_sender(&self) {
        let mut inner = self.lock();
        inner.senders -= 1;
        if inner.senders == 0 {
            let waiters = std::mem::take(&mut inner.recv_waiters);
            drop(inner);
            retry_all(waiters);
        }
    }

    /// Uncounts a receiver; the last one disconnects the senders and drops
    /// the buffered messages.
    pub(crate) fn drop_receiver(&self) {
        let mut inner = self.lock();
        inner.receivers -= 1;
        if inner.receivers == 0 {
            let waiters = std::mem::take(&mut inner.send_waiters);
            let messages = std::mem::take(&mut inner.queue);
            drop(inner);
            retry_all(waiters);
            drop(messages);
        }
    }
}

impl<T> Waiter<T> {
    /// Whether this is another select's operation that is still waiting.
    fn is_live_peer_of(&self, ctx: &Arc<Ctx>) -> bool {
        !Arc::ptr_eq(&self.ctx, ctx) && self.ctx.is_waiting()
    }
}

fn retry_all<T>(waiters: VecDeque<Waiter<T>>) {
    for w in waiters {
        if w.ctx.claim(RETRY) {
            w.ctx.wake();
        }
    }
}

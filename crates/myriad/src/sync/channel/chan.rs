//! The core every channel shares: a buffer and two wait queues under one
//! short-held lock, and the blocking `send`/`recv` (a select of one).
//!
//! # Why a lock, and why no allocation
//!
//! Rendezvous handoffs and `select!` need "take this waiting peer and hand
//! it the message" to be atomic with respect to the peer's own decision to
//! stop waiting (it may have been chosen by another channel of its select,
//! or timed out). A small critical section per channel, plus one atomic
//! *claim* per waiting select, gives that with little code to get wrong;
//! nothing blocks while the lock is held and no user code runs under it
//! (messages are only moved under it, and dropped after unlocking). The
//! lock is a spin lock (`spin.rs`), as crossbeam-channel's is: one atomic
//! read-modify-write per lock/unlock pair.
//!
//! The buffer of a bounded or unbounded channel stays under that lock
//! too, on measurement: a version that kept it outside, in
//! crossbeam-queue's lock-free `ArrayQueue`/`SegQueue` as
//! crossbeam-channel's array and list flavours do, with the wait queues
//! touched only when a flag word said someone waited (a Dekker handshake
//! against lost wake-ups), was not faster here (tried in December 2026,
//! issue 18). Uncontended, the spin lock costs one locked
//! read-modify-write per operation; `ArrayQueue` costs one
//! compare-and-swap plus the handshake's `SeqCst` fence (or a reliance on
//! the queue's internal orderings), and `SegQueue` two read-modify-writes
//! per push and per pop. And the two ends of a stream usually share a
//! worker, so the lock is seldom contended. Per message, alternating the
//! builds on one pinned core: `try_send`+`try_recv` 17–28 ns locked
//! against 25 ns lock-free; a `sync_channel(64)` stream 33–44 against
//! 44–49 ns; an unbounded one 25–26 against 36–44 ns (callgrind: 20–38 %
//! more instructions lock-free); myriad-bench `chan-stream` medians 18 and
//! 27 ns against 19 and 30 ns (two sets of alternated runs); eight
//! producers on two workers into one channel, and two OS threads streaming
//! through a `sync_channel(1024)` on two cores, did not gain either.
//!
//! A blocked operation allocates nothing, as crossbeam-channel's do: its
//! select context (`Ctx`: outcome word and `Wake`) and its packet (where
//! the message passes) live on the waiting thread's stack (`waiter.rs`),
//! and the channel queues an `Entry` pointing to them — a `VecDeque` that
//! keeps its capacity, so a queue allocates only when it grows past its
//! largest size so far.
//!
//! # How
//!
//! A channel has a `VecDeque` buffer (capacity `None`: unbounded;
//! `Some(0)`: rendezvous) and queues of waiting senders and receivers.
//! Invariants: receivers wait only while the buffer is empty; senders wait
//! only while it is full (always, for a rendezvous channel).
//!
//! A blocking `send` or `recv` (`send_until`/`recv_until`, the one entry
//! point of every blocking API, with its deadline in a `Mode`) takes the
//! lock once: it completes at once if it can (handing its message to a
//! waiting receiver, or taking one from a waiting sender, or using the
//! buffer); otherwise, still under the same lock, it begins its wait
//! (`wait_for_claim`), stores the `Wake` in its `Ctx`, queues its entry
//! and unlocks, then gives up its worker. `select.rs` does the same for
//! several operations, one lock at a time, after a first pass that tries
//! each without blocking.
//!
//! A peer completes a waiting operation only after winning `claim` on its
//! `Ctx` (moving the outcome word from `WAITING` to the operation's index:
//! a compare-and-swap for a select, whose claimers hold different
//! channels' locks; a look and a store for a blocking `send`/`recv`, all of
//! whose claims — its own `TIMEOUT` included — are made under its one
//! channel's lock), under this channel's lock, with the entry just popped
//! from the queue. The winner moves the message into or out of the
//! packet, takes the `Wake` out of the `Ctx`, unlocks, and only then wakes
//! the waiter with its own `Wake` (so the woken thread never contends on
//! the lock its waker holds, and the waker touches nothing of the waiter's
//! stack after unlocking). Entries whose claim fails (their select was
//! decided elsewhere) are dropped from the queue.
//!
//! The wait itself is `rt::wait::block`, or — with no deadline, on a
//! myriad thread, where only the claimer can end it — `wait::block_once`,
//! which spares the reference count on the waiting thread and the
//! compare-and-swap that ends the wait.
//!
//! Disconnection: when the last sender (receiver) goes, every waiting
//! receiver (sender) is claimed with `RETRY`, removed, and woken after
//! unlocking, to look again and find the channel disconnected. Messages
//! still buffered can be received after the senders are gone; when the
//! last receiver goes they are dropped, after unlocking.
//!
//! # Why the pointers to a waiter's stack never dangle
//!
//! *Invariant*: an entry is in a queue only while its `Ctx` and packet are
//! alive; and whoever reads through an entry holds the lock of the channel
//! whose queue held it when that lock was taken.
//!
//! The waiting thread leaves its frame only after one of:
//!
//! - it was woken by its `Wake` (`Woken::Woken`). Only a claimer has the
//!   `Wake`, and it wakes after it unlocked, having already popped that
//!   entry, filled or emptied the packet and taken the `Wake`: all the
//!   claimer's accesses happen before the wake-up, and the waker holds no
//!   pointer into the frame any more. The waiter then removes its other
//!   entries (a select of several), each under its channel's lock.
//! - its wait ended otherwise: the deadline's timer, or the deadlock
//!   detector abandoning an OS thread's wait (`Woken::Abandoned`). It
//!   claims itself with `TIMEOUT` — which fails if a peer claimed it first
//!   — and removes every one of its entries, under each of their
//!   channels' locks. A claimer does all its work on a waiter's stack
//!   under one of those locks, so once the waiter has taken them all,
//!   every claimer is done and no entry is left: the frame may go. If a
//!   peer did claim it, the operation completed (an abandoned wait then
//!   returns normally: the message was not lost), else the wait times out
//!   or panics with `wait::panic_deadlocked` — only now, outside every
//!   queue.
//!
//! Between queuing its entries and removing them the waiter runs no code
//! that can unwind (the runtime's wait, queue edits, and no user code),
//! so no panic can leave an entry behind. Nor can any other code queue
//! one: `SelectOp`, whose `register` queues entries, is sealed, and its
//! `Ctx` can be neither named nor made outside this module; the engine
//! holds `&mut` to each operation from before it is queued until after it
//! is removed, so an operation (and its packet) can neither move nor be
//! dropped meanwhile. `tests/sync_channels.rs`
//! (`blocking_timeouts_racing_handoffs_lose_nothing`) poisons the frames
//! of timed-out waits to catch an entry left behind.
//!
//! Panics: no user code runs under the lock. Messages are only moved
//! there; those that a failed or disconnected operation hands back, or
//! that the last receiver's going leaves in the buffer, are dropped by the
//! caller after unlocking.

use std::collections::VecDeque;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError, TrySendError};
use std::time::Instant;

use super::select::Mode;
use super::spin::{SpinGuard, SpinLock};
use super::waiter::{Ctx, Entry, Packet, RETRY, TIMEOUT};
use super::SendTimeoutError;
use crate::rt::wait::{self, Wake, Woken};
use crate::rt::WaitReason;

pub(crate) struct Inner<T> {
    queue: VecDeque<T>,
    pub senders: usize,
    pub receivers: usize,
    send_waiters: VecDeque<Entry<T>>,
    recv_waiters: VecDeque<Entry<T>>,
}

/// A channel, shared by its `Sender`s and `Receiver`s.
#[doc(hidden)]
pub struct Chan<T> {
    inner: SpinLock<Inner<T>>,
    cap: Option<usize>,
}

/// Wakes the waiter a completed operation claimed, if any (after the
/// channel was unlocked).
#[inline]
fn wake(wake: Option<Wake>) {
    if let Some(wake) = wake {
        wake.wake();
    }
}

/// Blocks the calling thread until the claimer of its `Ctx` wakes it (with
/// the `Wake` that `register` stores there) or `deadline` passes: the one
/// wait every channel operation goes through.
///
/// With no deadline, on a myriad thread, only the claimer can end the
/// wait, and it uses the `Wake` once: `wait::block_once`'s contract, which
/// spares the reference count on the waiting thread (two atomic
/// operations) and the compare-and-swap that ends the wait. A wait that
/// anything else may end — a deadline, or on an OS thread the deadlock
/// detector — goes through `wait::block_in_section`, as does one that an
/// interrupt may end (`interruptible.rs` gives its waits a deadline).
pub(crate) fn wait_for_claim(reason: WaitReason, deadline: Option<Instant>, register: impl FnOnce(Wake)) -> Woken {
    if deadline.is_none() && crate::rt::context::on_myriad_thread() {
        // SAFETY: the caller stores the Wake in its `Ctx` before queuing
        // any entry, and only the single winner of `Ctx::claim` takes it
        // out, to use it once and drop it; no timer exists (no deadline),
        // and a myriad thread's wait is never abandoned.
        unsafe { wait::block_once(reason, register) };
        Woken::Woken
    } else {
        // Interruptible inside `wait::interruptibly` (the `*_interruptible`
        // operations, `interruptible.rs`), where an interrupt ends the wait
        // as a time-out would.
        wait::block_in_section(reason, deadline, register)
    }
}

/// How a wait of a blocking operation ended, once its entry is gone.
enum Waited {
    /// A peer completed the operation.
    Done,
    /// Look again (the channel became ready or was disconnected).
    Retry,
    /// The deadline passed.
    TimedOut,
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver counted.
    pub(crate) fn new(cap: Option<usize>) -> Chan<T> {
        Chan {
            inner: SpinLock::new(Inner {
                queue: VecDeque::with_capacity(cap.unwrap_or(0).min(1024)),
                senders: 1,
                receivers: 1,
                send_waiters: VecDeque::new(),
                recv_waiters: VecDeque::new(),
            }),
            cap,
        }
    }

    pub(crate) fn lock(&self) -> SpinGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    #[inline]
    fn has_room(&self, inner: &Inner<T>) -> bool {
        self.cap.is_none_or(|cap| inner.queue.len() < cap)
    }

    fn addr(&self) -> usize {
        self as *const Chan<T> as usize
    }

    /// Sends without blocking, under the lock; on success, the `Wake` of
    /// the receiver that was handed the message, to use after unlocking.
    #[inline]
    fn try_send_locked(&self, inner: &mut Inner<T>, value: T) -> Result<Option<Wake>, TrySendError<T>> {
        if inner.receivers == 0 {
            return Err(TrySendError::Disconnected(value));
        }
        // A waiting receiver means the buffer is empty: hand it over.
        while let Some(w) = inner.recv_waiters.pop_front() {
            // SAFETY: we hold the lock of the queue `w` was in.
            if let Some(wake) = unsafe { w.claim() } {
                // SAFETY: as above, and we won the claim.
                unsafe { w.put(value) };
                return Ok(Some(wake));
            }
        }
        if self.has_room(inner) {
            inner.queue.push_back(value);
            return Ok(None);
        }
        Err(TrySendError::Full(value))
    }

    /// Takes the message of the first waiting sender that can still be
    /// claimed, with its `Wake`.
    #[inline]
    fn take_from_waiting_sender(inner: &mut Inner<T>) -> Option<(T, Wake)> {
        while let Some(w) = inner.send_waiters.pop_front() {
            // SAFETY: we hold the lock of the queue `w` was in.
            if let Some(wake) = unsafe { w.claim() } {
                // SAFETY: as above, and we won the claim.
                let message = unsafe { w.take() }.expect("a waiting sender's packet holds its message");
                return Some((message, wake));
            }
        }
        None
    }

    /// Receives without blocking, under the lock; with the message, the
    /// `Wake` of a sender whose message was taken, to use after unlocking.
    #[inline]
    fn try_recv_locked(&self, inner: &mut Inner<T>) -> Result<(T, Option<Wake>), TryRecvError> {
        if let Some(value) = inner.queue.pop_front() {
            // Room now: let the first waiting sender's message in.
            let wake = Self::take_from_waiting_sender(inner).map(|(message, wake)| {
                inner.queue.push_back(message);
                wake
            });
            return Ok((value, wake));
        }
        if self.cap == Some(0) {
            if let Some((message, wake)) = Self::take_from_waiting_sender(inner) {
                return Ok((message, Some(wake)));
            }
        }
        if inner.senders == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Sends without blocking.
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut inner = self.lock();
        let sent = self.try_send_locked(&mut inner, value);
        drop(inner);
        wake(sent?);
        Ok(())
    }

    /// Receives without blocking.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut inner = self.lock();
        let received = self.try_recv_locked(&mut inner);
        drop(inner);
        let (value, woken) = received?;
        wake(woken);
        Ok(value)
    }

    /// Sends, parking while the channel is full (rendezvous: until a
    /// receiver takes the message), within `mode`. The one blocking send
    /// every API (`send`, `send_timeout`, `mpsc`) goes through.
    pub(crate) fn send_until(&self, message: T, mode: Mode) -> Result<(), SendTimeoutError<T>> {
        let mut message = message;
        loop {
            let mut inner = self.lock();
            let message_back = match self.try_send_locked(&mut inner, message) {
                Ok(woken) => {
                    drop(inner);
                    wake(woken);
                    // Done without blocking: spend from the turn's budget
                    // (`rt/coop.rs`; a wait refills it anyway).
                    crate::rt::coop::spend();
                    return Ok(());
                }
                Err(TrySendError::Disconnected(m)) => {
                    drop(inner);
                    crate::rt::coop::spend();
                    return Err(SendTimeoutError::Disconnected(m));
                }
                Err(TrySendError::Full(m)) => m,
            };
            let Some(deadline) = mode.wait_deadline() else {
                drop(inner);
                crate::rt::coop::spend();
                return Err(SendTimeoutError::Timeout(message_back));
            };
            // SAFETY: its one entry goes into this channel's queue, where
            // claims are made under the lock, and `end_wait` claims under
            // it too.
            let ctx = unsafe { Ctx::under_one_lock() };
            let mut packet = Packet::new(Some(message_back));
            let reason = WaitReason::Channel { op: "send", addr: self.addr() };
            let woken = wait_for_claim(reason, deadline, |wake| {
                // SAFETY: `ctx` is not queued anywhere yet.
                unsafe { ctx.set_wake(wake) };
                inner.send_waiters.push_back(Entry::new(&ctx, 0, &packet));
                drop(inner);
            });
            let waited = self.end_wait(&ctx, woken);
            // Every claimer is done with the packet (`end_wait`).
            let unsent = packet.get_mut().take();
            match waited {
                Waited::Done => {
                    debug_assert!(unsent.is_none(), "the receiver that claimed us took the message");
                    return Ok(());
                }
                Waited::Retry => message = unsent.expect("an unclaimed sender keeps its message"),
                Waited::TimedOut => {
                    let unsent = unsent.expect("an unclaimed sender keeps its message");
                    if woken == Woken::Abandoned {
                        drop(unsent);
                        wait::panic_deadlocked();
                    }
                    return Err(SendTimeoutError::Timeout(unsent));
                }
            }
        }
    }

    /// Receives, parking until a message comes, within `mode`. The one
    /// blocking receive every API (`recv`, `recv_timeout`, `mpsc`, the
    /// iterators) goes through.
    pub(crate) fn recv_until(&self, mode: Mode) -> Result<T, RecvTimeoutError> {
        loop {
            let mut inner = self.lock();
            match self.try_recv_locked(&mut inner) {
                Ok((value, woken)) => {
                    drop(inner);
                    wake(woken);
                    // As in `send_until`.
                    crate::rt::coop::spend();
                    return Ok(value);
                }
                Err(TryRecvError::Disconnected) => {
                    drop(inner);
                    crate::rt::coop::spend();
                    return Err(RecvTimeoutError::Disconnected);
                }
                Err(TryRecvError::Empty) => {}
            }
            let Some(deadline) = mode.wait_deadline() else {
                drop(inner);
                crate::rt::coop::spend();
                return Err(RecvTimeoutError::Timeout);
            };
            // SAFETY: as in `send_until`.
            let ctx = unsafe { Ctx::under_one_lock() };
            let mut packet = Packet::new(None);
            let reason = WaitReason::Channel { op: "recv", addr: self.addr() };
            let woken = wait_for_claim(reason, deadline, |wake| {
                // SAFETY: `ctx` is not queued anywhere yet.
                unsafe { ctx.set_wake(wake) };
                inner.recv_waiters.push_back(Entry::new(&ctx, 0, &packet));
                drop(inner);
            });
            match self.end_wait(&ctx, woken) {
                // Every claimer is done with the packet (`end_wait`).
                Waited::Done => {
                    return Ok(packet.get_mut().take().expect("the sender that claimed us filled the packet"))
                }
                Waited::Retry => {}
                Waited::TimedOut if woken == Woken::Abandoned => wait::panic_deadlocked(),
                Waited::TimedOut => return Err(RecvTimeoutError::Timeout),
            }
        }
    }

    /// Ends the wait of a blocking operation (operation 0 of `ctx`): on
    /// return no entry of `ctx` is queued and no claimer is still at work
    /// on its packet (see the module comment).
    #[inline]
    fn end_wait(&self, ctx: &Ctx, woken: Woken) -> Waited {
        if woken != Woken::Woken {
            self.end_unwoken_wait(ctx);
        }
        match ctx.outcome() {
            0 => Waited::Done,
            RETRY => Waited::Retry,
            outcome => {
                debug_assert_eq!(outcome, TIMEOUT);
                Waited::TimedOut
            }
        }
    }

    /// `end_wait` for a wait that ended without its `Wake` (deadline,
    /// deadlock detector).
    #[cold]
    fn end_unwoken_wait(&self, ctx: &Ctx) {
        // Our entry may still be queued, or a claimer may be at work under
        // the lock: taking the lock settles both. Under it, claim ourselves
        // (the `Ctx` is `under_one_lock`); the winner decides, and the
        // Wake, if ours, is dropped after unlocking.
        let mut inner = self.lock();
        let wake = ctx.claim(TIMEOUT);
        inner.recv_waiters.retain(|w| !w.is_of(ctx));
        inner.send_waiters.retain(|w| !w.is_of(ctx));
        drop(inner);
        drop(wake);
    }

    /// Queues a waiting receiver for operation `op` of `ctx`, unless
    /// receiving could succeed now (then returns false).
    ///
    /// The caller must remove the entry (`unregister`) before `ctx` or
    /// `packet` goes away, unless a claimer popped it.
    pub(crate) fn register_recv(&self, ctx: &Ctx, op: usize, packet: &Packet<T>) -> bool {
        let mut inner = self.lock();
        let ready = !inner.queue.is_empty()
            || inner.senders == 0
            || (self.cap == Some(0) && inner.send_waiters.iter().any(|w| is_live_peer_of(w, ctx)));
        if !ready {
            inner.recv_waiters.push_back(Entry::new(ctx, op, packet));
        }
        !ready
    }

    /// Queues a waiting sender (its message in `packet`) for operation `op`
    /// of `ctx`, unless sending could succeed now (then returns false).
    /// Same contract as `register_recv`.
    pub(crate) fn register_send(&self, ctx: &Ctx, op: usize, packet: &Packet<T>) -> bool {
        let mut inner = self.lock();
        let ready =
            inner.receivers == 0 || self.has_room(&inner) || inner.recv_waiters.iter().any(|w| is_live_peer_of(w, ctx));
        if !ready {
            inner.send_waiters.push_back(Entry::new(ctx, op, packet));
        }
        !ready
    }

    /// Removes the entries of `ctx`, if still queued. Once it returns, no
    /// claimer of `ctx` is at work under this channel's lock either.
    pub(crate) fn unregister(&self, ctx: &Ctx) {
        let mut inner = self.lock();
        inner.recv_waiters.retain(|w| !w.is_of(ctx));
        inner.send_waiters.retain(|w| !w.is_of(ctx));
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
            let wakes = claim_all_to_retry(&mut inner.recv_waiters);
            drop(inner);
            for w in wakes {
                w.wake();
            }
        }
    }

    /// Uncounts a receiver; the last one disconnects the senders and drops
    /// the buffered messages.
    pub(crate) fn drop_receiver(&self) {
        let mut inner = self.lock();
        inner.receivers -= 1;
        if inner.receivers == 0 {
            let wakes = claim_all_to_retry(&mut inner.send_waiters);
            let messages = std::mem::take(&mut inner.queue);
            drop(inner);
            for w in wakes {
                w.wake();
            }
            drop(messages);
        }
    }
}

/// Whether `w` is another select's operation that is still waiting.
fn is_live_peer_of<T>(w: &Entry<T>, ctx: &Ctx) -> bool {
    // SAFETY: `w` is in a queue whose lock the caller holds.
    !w.is_of(ctx) && unsafe { w.ctx() }.is_waiting()
}

/// Empties a wait queue, claiming each entry's select with `RETRY`; the
/// `Wake`s won, to use after unlocking.
fn claim_all_to_retry<T>(waiters: &mut VecDeque<Entry<T>>) -> Vec<Wake> {
    // SAFETY: the caller holds the lock of `waiters`, and the entries are
    // claimed before the lock is released.
    waiters.drain(..).filter_map(|w| unsafe { w.claim_as(RETRY) }).collect()
}

impl Mode {
    /// The deadline to wait until (`Some(None)`: for ever), or `None` if
    /// the operation may not wait (any more).
    #[inline]
    pub(crate) fn wait_deadline(self) -> Option<Option<Instant>> {
        match self {
            Mode::NonBlocking => None,
            Mode::Block | Mode::Deadline(None) => Some(None),
            Mode::Deadline(Some(deadline)) => (Instant::now() < deadline).then_some(Some(deadline)),
        }
    }
}

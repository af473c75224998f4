//! A blocked channel operation, kept on its own stack: the select's
//! context (`Ctx`: its outcome word and its `Wake`), one packet per
//! operation (`Packet`: where the message passes), and the queue entry
//! that points to both (`Entry`). Nothing here allocates; `chan.rs`
//! explains the protocol and why these pointers never dangle.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::rt::wait::Wake;

/// The outcome of a select still waiting.
const WAITING: usize = usize::MAX;
/// Claimed to make the select look again (a channel became ready, or was
/// disconnected).
pub(crate) const RETRY: usize = usize::MAX - 1;
/// Claimed by the select itself when its wait ended without a `Wake`
/// (deadline, or the deadlock detector).
pub(crate) const TIMEOUT: usize = usize::MAX - 2;

/// One blocked select (a blocking `send`/`recv` is a select of one), on
/// the stack of the thread that waits. (`pub` for `SelectOp`'s signature,
/// in a private module: outside this crate it can be neither named nor
/// made.)
pub struct Ctx {
    /// `WAITING`, then the index of the operation that completed, `RETRY`
    /// or `TIMEOUT`: moved once, by whoever wins `claim`.
    state: AtomicUsize,
    /// Every claim of this `Ctx` is made under one and the same channel
    /// lock (a blocking `send`/`recv`: its one entry is in one queue, and
    /// it claims `TIMEOUT` under that lock too): the lock then orders the
    /// claims, and `claim` needs no compare-and-swap.
    under_one_lock: bool,
    /// The wait's `Wake`: set before any entry is published, then taken
    /// by the winner of `claim` alone.
    wake: UnsafeCell<Option<Wake>>,
}

impl Ctx {
    /// The context of a select, whose claims may come from several
    /// channels at once.
    pub(crate) fn new() -> Ctx {
        Ctx { state: AtomicUsize::new(WAITING), under_one_lock: false, wake: UnsafeCell::new(None) }
    }

    /// The context of a blocking `send` or `recv` on one channel.
    ///
    /// # Safety
    ///
    /// Every `claim` of it is made under that channel's lock.
    pub(crate) unsafe fn under_one_lock() -> Ctx {
        Ctx { state: AtomicUsize::new(WAITING), under_one_lock: true, wake: UnsafeCell::new(None) }
    }

    /// Stores the wait's `Wake`.
    ///
    /// # Safety
    ///
    /// Only the waiting thread calls this, before any entry pointing to
    /// this `Ctx` is queued (no other thread can reach it yet).
    #[inline]
    pub(crate) unsafe fn set_wake(&self, wake: Wake) {
        // SAFETY: by the contract, nothing else can access `wake` now.
        unsafe { *self.wake.get() = Some(wake) };
    }

    /// Decides the select's outcome if it is still open; the winner gets
    /// the `Wake`, to use once it has done its part (after unlocking the
    /// channel). At most one call per `Ctx` wins.
    #[inline]
    pub(crate) fn claim(&self, outcome: usize) -> Option<Wake> {
        if self.under_one_lock {
            // The lock every claim holds makes this look-then-store atomic
            // with respect to the other claims (`under_one_lock`'s
            // contract); release, for the waiter's look after its wake-up.
            if self.state.load(Ordering::Relaxed) != WAITING {
                return None;
            }
            self.state.store(outcome, Ordering::Release);
        } else {
            self.state.compare_exchange(WAITING, outcome, Ordering::AcqRel, Ordering::Acquire).ok()?;
        }
        // SAFETY: the move from WAITING succeeds once, so only this call
        // reaches here; `set_wake` happened before the `Ctx` was
        // published (under a channel lock this caller took after it, or on
        // this very thread), and the waiting thread reads `wake` only
        // through a `claim` of its own — which just lost — or by dropping
        // the `Ctx` after every claimer is done (see `chan.rs`).
        unsafe { (*self.wake.get()).take() }
    }

    /// Whether no outcome has been decided yet.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// The outcome (`WAITING` while undecided).
    #[inline]
    pub(crate) fn outcome(&self) -> usize {
        self.state.load(Ordering::Acquire)
    }
}

/// Where one waiting operation's message passes: a waiting sender's
/// message sits here until a receiver takes it; a waiting receiver's
/// stays empty until a sender puts one. Lives in the operation, on the
/// waiting thread's stack.
pub(crate) struct Packet<T>(UnsafeCell<Option<T>>);

impl<T> Packet<T> {
    #[inline]
    pub(crate) fn new(message: Option<T>) -> Packet<T> {
        Packet(UnsafeCell::new(message))
    }

    /// The message, by the owner of the packet.
    #[inline]
    pub(crate) fn get_mut(&mut self) -> &mut Option<T> {
        self.0.get_mut()
    }

    /// Puts a message into the packet of a waiting receiver.
    ///
    /// # Safety
    ///
    /// The caller won the `claim` of the packet's `Ctx` for this packet's
    /// operation, and still holds the lock under which it did.
    #[inline]
    unsafe fn put(&self, message: T) {
        // SAFETY: by the contract, the claimer has the packet to itself:
        // its owner reads it only after the claimer is done.
        unsafe { *self.0.get() = Some(message) };
    }

    /// Takes the message out of the packet of a waiting sender.
    ///
    /// # Safety
    ///
    /// As for `put`.
    #[inline]
    unsafe fn take(&self) -> Option<T> {
        // SAFETY: as in `put`.
        unsafe { (*self.0.get()).take() }
    }
}

/// A waiting operation in a channel's queue: its select, its index there,
/// and its packet. Exists only in a queue of a channel (or just popped
/// from it, under the same lock hold): see `chan.rs` for why the pointers
/// are valid then.
pub(crate) struct Entry<T> {
    ctx: *const Ctx,
    op: usize,
    packet: *const Packet<T>,
}

// SAFETY: an entry is a message-passing handle between threads: `Ctx` is
// accessed only through its atomic state and the claim protocol, and the
// packet moves a `T` (which is `Send`) from one thread to another.
unsafe impl<T: Send> Send for Entry<T> {}

impl<T> Entry<T> {
    /// An entry for operation `op` of `ctx`, passing messages through
    /// `packet`. Queue it only under the channel's lock, and remove it
    /// before `ctx` or `packet` goes away (see `chan.rs`).
    #[inline]
    pub(crate) fn new(ctx: &Ctx, op: usize, packet: &Packet<T>) -> Entry<T> {
        Entry { ctx, op, packet }
    }

    /// Whether this entry belongs to `ctx`.
    #[inline]
    pub(crate) fn is_of(&self, ctx: &Ctx) -> bool {
        std::ptr::eq(self.ctx, ctx)
    }

    /// The select this entry belongs to.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the channel whose queue held this
    /// entry when that lock was taken (the select then cannot have left).
    #[inline]
    pub(crate) unsafe fn ctx(&self) -> &Ctx {
        // SAFETY: by the contract and `chan.rs`'s invariant, the select is
        // still blocked or still has to take this lock to leave.
        unsafe { &*self.ctx }
    }

    /// Claims the entry's select for this operation; the `Wake` if won.
    ///
    /// # Safety
    ///
    /// As for `ctx`.
    #[inline]
    pub(crate) unsafe fn claim(&self) -> Option<Wake> {
        // SAFETY: forwarded.
        unsafe { self.ctx() }.claim(self.op)
    }

    /// Claims the entry's select with `outcome` (`RETRY`).
    ///
    /// # Safety
    ///
    /// As for `ctx`.
    #[inline]
    pub(crate) unsafe fn claim_as(&self, outcome: usize) -> Option<Wake> {
        // SAFETY: forwarded.
        unsafe { self.ctx() }.claim(outcome)
    }

    /// Puts a message into a waiting receiver's packet.
    ///
    /// # Safety
    ///
    /// As for `ctx`, and the caller won `claim` on this entry.
    #[inline]
    pub(crate) unsafe fn put(&self, message: T) {
        // SAFETY: forwarded: the claim makes the packet ours, the lock
        // keeps it alive.
        unsafe { (*self.packet).put(message) }
    }

    /// Takes a waiting sender's message out of its packet.
    ///
    /// # Safety
    ///
    /// As for `put`.
    #[inline]
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: forwarded.
        unsafe { (*self.packet).take() }
    }
}

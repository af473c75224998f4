//! Waiting on several channel operations at once: the engine under
//! `select!`. (A blocking `send`/`recv` is a select of one, which
//! `chan.rs` runs with a single lock hold instead.)
//!
//! # How
//!
//! 1. *Try*: attempt each operation without blocking, starting at a random
//!    one so that among ready operations each is equally likely to be
//!    chosen (fairness). A disconnected channel counts as ready (the
//!    operation completes with an error).
//! 2. If none is ready (and the caller wants to wait), block through
//!    `chan.rs`'s `wait_for_claim`: its `register` step stores the `Wake` in the
//!    select's `Ctx` (on this stack, `waiter.rs`), and queues an entry for
//!    each operation in its channel, pointing to the `Ctx` and to the
//!    operation's packet (in the operation, also on the caller's stack).
//!    If a channel turns out ready meanwhile, the select claims itself
//!    with `RETRY` instead and wakes at once.
//! 3. A peer that finds an entry completes the operation for it only after
//!    winning `claim(op)` (a compare-and-swap from `WAITING`); so exactly
//!    one operation of a select completes, or none (`RETRY`, `TIMEOUT`).
//! 4. Woken, the select removes its remaining entries from all channels,
//!    each under its channel's lock — after which no peer can reach its
//!    `Ctx` or packets (`chan.rs` has the argument) — then reads the
//!    outcome: an operation index (done: collect the result), `RETRY` (go
//!    to 1), or — if its wait ended without a `Wake` and it claimed itself
//!    with `TIMEOUT` first — none.

use std::cell::Cell;
use std::sync::mpsc::{RecvError, SendError, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use super::chan::{wait_for_claim, Chan};
use super::waiter::{Ctx, Packet, RETRY, TIMEOUT};
use crate::rt::wait::{self, Woken};
use crate::rt::WaitReason;

/// How long a select may wait.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Until an operation completes.
    Block,
    /// Not at all.
    NonBlocking,
    /// Until the deadline (`None`: too far to represent, i.e. forever).
    Deadline(Option<Instant>),
}

impl Mode {
    /// Waits for `timeout` at most.
    pub fn timeout(timeout: Duration) -> Mode {
        Mode::Deadline(Instant::now().checked_add(timeout))
    }
}

/// Keeps `SelectOp` implemented by this module's operations only: the
/// engine's soundness rests on how they queue and remove entries pointing
/// into their own memory.
mod sealed {
    pub trait Sealed {}
}

impl<T> sealed::Sealed for RecvOp<'_, T> {}
impl<T> sealed::Sealed for SendOp<'_, T> {}

/// One operation of a select, as the engine sees it (implemented by
/// [`RecvOp`] and [`SendOp`] only).
pub trait SelectOp: sealed::Sealed {
    /// Completes the operation now if it can (also with a disconnection
    /// error); returns whether it did.
    fn try_complete(&mut self) -> bool;
    /// Queues a waiter for operation `index` of `ctx`; false if the
    /// operation could complete now (nothing queued). The entry points to
    /// `ctx` and to this operation's packet: the caller removes it with
    /// `unregister` before either goes away or moves, and touches the
    /// operation in no other way meanwhile.
    #[doc(hidden)]
    fn register(&mut self, ctx: &Ctx, index: usize) -> bool;
    /// Removes this operation's entry, if still queued.
    #[doc(hidden)]
    fn unregister(&mut self, ctx: &Ctx);
    /// Collects the result of this operation, which a peer completed
    /// while it waited (after `unregister`, or after the peer's wake-up).
    #[doc(hidden)]
    fn complete(&mut self);
    /// The operation's name and its channel's address, for `rt::dump`.
    fn describe(&self) -> (&'static str, usize);
}

/// Something `select!` can receive from: a channel receiver (either kind),
/// or a reference to one.
pub trait RecvSource<T> {
    /// The channel.
    #[doc(hidden)]
    fn chan(&self) -> &Chan<T>;
}

/// Something `select!` can send into: a channel sender (any kind), or a
/// reference to one.
pub trait SendSource<T> {
    /// The channel.
    #[doc(hidden)]
    fn chan(&self) -> &Chan<T>;
}

impl<T, R: RecvSource<T> + ?Sized> RecvSource<T> for &R {
    fn chan(&self) -> &Chan<T> {
        (**self).chan()
    }
}

impl<T, S: SendSource<T> + ?Sized> SendSource<T> for &S {
    fn chan(&self) -> &Chan<T> {
        (**self).chan()
    }
}

/// A receive operation of a select.
pub struct RecvOp<'a, T> {
    chan: &'a Chan<T>,
    /// Where a sender puts the message while this waits.
    packet: Packet<T>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvOp<'a, T> {
    /// A receive from `source`.
    pub fn new<S: RecvSource<T> + ?Sized>(source: &'a S) -> RecvOp<'a, T> {
        RecvOp { chan: source.chan(), packet: Packet::new(None), result: None }
    }

    /// The received message, or `RecvError` if the channel is empty and
    /// disconnected. Call only for the selected operation.
    pub fn into_result(self) -> Result<T, RecvError> {
        self.result.expect("the selected operation completed")
    }
}

impl<T> SelectOp for RecvOp<'_, T> {
    fn describe(&self) -> (&'static str, usize) {
        ("recv", self.chan as *const Chan<T> as usize)
    }

    fn try_complete(&mut self) -> bool {
        match self.chan.try_recv() {
            Ok(value) => self.result = Some(Ok(value)),
            Err(TryRecvError::Disconnected) => self.result = Some(Err(RecvError)),
            Err(TryRecvError::Empty) => return false,
        }
        true
    }

    fn register(&mut self, ctx: &Ctx, index: usize) -> bool {
        self.chan.register_recv(ctx, index, &self.packet)
    }

    fn unregister(&mut self, ctx: &Ctx) {
        self.chan.unregister(ctx);
    }

    fn complete(&mut self) {
        let value = self.packet.get_mut().take().expect("the sender that claimed us filled the packet");
        self.result = Some(Ok(value));
    }
}

/// A send operation of a select.
pub struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    /// The message until it is sent; a receiver takes it from here while
    /// this waits.
    packet: Packet<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendOp<'a, T> {
    /// A send of `message` into `source`.
    pub fn new<S: SendSource<T> + ?Sized>(source: &'a S, message: T) -> SendOp<'a, T> {
        SendOp { chan: source.chan(), packet: Packet::new(Some(message)), result: None }
    }

    /// `Ok` if sent; `SendError` with the message if the channel is
    /// disconnected. Call only for the selected operation.
    pub fn into_result(self) -> Result<(), SendError<T>> {
        self.result.expect("the selected operation completed")
    }
}

impl<T> SelectOp for SendOp<'_, T> {
    fn describe(&self) -> (&'static str, usize) {
        ("send", self.chan as *const Chan<T> as usize)
    }

    fn try_complete(&mut self) -> bool {
        let Some(message) = self.packet.get_mut().take() else { return false };
        match self.chan.try_send(message) {
            Ok(()) => self.result = Some(Ok(())),
            Err(TrySendError::Disconnected(message)) => self.result = Some(Err(SendError(message))),
            Err(TrySendError::Full(message)) => {
                *self.packet.get_mut() = Some(message);
                return false;
            }
        }
        true
    }

    fn register(&mut self, ctx: &Ctx, index: usize) -> bool {
        self.chan.register_send(ctx, index, &self.packet)
    }

    fn unregister(&mut self, ctx: &Ctx) {
        self.chan.unregister(ctx);
    }

    fn complete(&mut self) {
        debug_assert!(self.packet.get_mut().is_none(), "the receiver that claimed us took the message");
        self.result = Some(Ok(()));
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A random index below `n` (xorshift64*, seeded per OS thread).
fn random_below(n: usize) -> usize {
    RNG.with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            x = (rng as *const Cell<u64> as u64) ^ now.as_nanos() as u64 ^ 0x9E37_79B9_7F4A_7C15;
            x |= 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    })
}

/// Runs a select over `ops`: the index of the operation that completed, or
/// `None` if none could within `mode`.
pub fn select(ops: &mut [&mut dyn SelectOp], mode: Mode) -> Option<usize> {
    // A thread that only ever sends, or polls with `try_recv`, must still
    // let the threads it wakes on its worker run (`rt/coop.rs`).
    crate::rt::coop::spend();
    let n = ops.len();
    loop {
        if n > 0 {
            let start = random_below(n);
            for k in 0..n {
                let i = (start + k) % n;
                if ops[i].try_complete() {
                    return Some(i);
                }
            }
        }
        let deadline = match mode {
            Mode::NonBlocking => return None,
            Mode::Block | Mode::Deadline(None) => None,
            Mode::Deadline(Some(deadline)) => {
                if Instant::now() >= deadline {
                    return None;
                }
                Some(deadline)
            }
        };
        let reason = match ops {
            [op] => {
                let (op, addr) = op.describe();
                WaitReason::Channel { op, addr }
            }
            _ => WaitReason::Channel { op: "select", addr: ops.first().map_or(0, |op| op.describe().1) },
        };
        let ctx = Ctx::new();
        let mut registered = 0;
        let woken = wait_for_claim(reason, deadline, |wake| {
            // SAFETY: `ctx` is not queued anywhere yet.
            unsafe { ctx.set_wake(wake) };
            for (i, op) in ops.iter_mut().enumerate() {
                if !op.register(&ctx, i) {
                    // Ready meanwhile: end the wait at once and look again.
                    if let Some(wake) = ctx.claim(RETRY) {
                        wake.wake();
                    }
                    break;
                }
                registered = i + 1;
            }
        });
        if woken != Woken::Woken {
            // Whoever wins decides; the Wake (if ours) is dropped.
            drop(ctx.claim(TIMEOUT));
        }
        let outcome = ctx.outcome();
        // Remove every entry still queued. Woken by its claimer, the
        // selected operation's entry is gone and the claimer done; else
        // its channel's lock too must be taken, to wait for a claimer
        // still at work (see `chan.rs`).
        for (i, op) in ops[..registered].iter_mut().enumerate() {
            if woken != Woken::Woken || i != outcome {
                op.unregister(&ctx);
            }
        }
        match outcome {
            // Abandoned by the deadlock detector, and now out of every
            // queue (an operation that won the race went ahead instead).
            TIMEOUT if woken == Woken::Abandoned => wait::panic_deadlocked(),
            TIMEOUT => return None,
            i if i < n => {
                ops[i].complete();
                return Some(i);
            }
            _ => {}
        }
    }
}

/// For `select!` without a `default` arm, which never times out.
pub fn unreachable_select() -> ! {
    unreachable!("a select without a default case returned without an operation")
}

//! Waiting on several channel operations at once: the engine under
//! `select!` and under every blocking `send`/`recv` (a select of one).
//!
//! # How
//!
//! 1. *Try*: attempt each operation without blocking, starting at a random
//!    one so that among ready operations each is equally likely to be
//!    chosen (fairness). A disconnected channel counts as ready (the
//!    operation completes with an error).
//! 2. If none is ready (and the caller wants to wait), block through
//!    `rt::wait::block`: its `register` step creates a `Ctx` holding the
//!    `Wake` and a state word (`WAITING`), and queues a waiter in each
//!    channel. If a channel turns out ready meanwhile, the select claims
//!    itself with `RETRY` instead and wakes at once.
//! 3. A peer that finds the waiter completes the operation for it only after
//!    `claim(op)` (a compare-and-swap from `WAITING`) succeeds; so exactly
//!    one operation of a select completes, or none (`RETRY`, `TIMEOUT`).
//! 4. Woken, the select removes its remaining waiters from all channels
//!    (after which no peer can touch its slots), then reads the outcome:
//!    an operation index (done: collect the result), `RETRY` (go to 1), or
//!    — if the deadline passed and it claimed itself with `TIMEOUT` first —
//!    none.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{RecvError, SendError, TryRecvError, TrySendError};
use std::sync::Arc;

use crate::rt::lock::Mutex as StdMutex;
use std::time::{Duration, Instant};

use super::chan::{take_slot, Chan, Slot};
use crate::rt::wait::{self, Wake, Woken};
use crate::rt::WaitReason;

const WAITING: usize = usize::MAX;
/// Claimed to make the select look again (a channel became ready, or was
/// disconnected).
pub(crate) const RETRY: usize = usize::MAX - 1;
const TIMEOUT: usize = usize::MAX - 2;

/// One blocked select.
pub struct Ctx {
    state: AtomicUsize,
    wake: Wake,
}

impl Ctx {
    /// Decides the select's outcome, if it is still open.
    pub(crate) fn claim(&self, outcome: usize) -> bool {
        self.state.compare_exchange(WAITING, outcome, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    pub(crate) fn wake(&self) {
        self.wake.wake();
    }
}

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

/// One operation of a select, as the engine sees it.
pub trait SelectOp {
    /// Completes the operation now if it can (also with a disconnection
    /// error); returns whether it did.
    fn try_complete(&mut self) -> bool;
    /// Queues a waiter for operation `index` of `ctx`; false if the
    /// operation could complete now (nothing queued).
    fn register(&mut self, ctx: &Arc<Ctx>, index: usize) -> bool;
    /// Removes this operation's waiter; `selected` says whether a peer
    /// completed it.
    fn unregister(&mut self, ctx: &Arc<Ctx>, selected: bool);
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
    slot: Option<Slot<T>>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvOp<'a, T> {
    /// A receive from `source`.
    pub fn new<S: RecvSource<T> + ?Sized>(source: &'a S) -> RecvOp<'a, T> {
        RecvOp { chan: source.chan(), slot: None, result: None }
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

    fn register(&mut self, ctx: &Arc<Ctx>, index: usize) -> bool {
        let slot = Arc::new(StdMutex::new(None));
        let queued = self.chan.register_recv(ctx, index, &slot);
        self.slot = Some(slot);
        queued
    }

    fn unregister(&mut self, ctx: &Arc<Ctx>, selected: bool) {
        if let Some(slot) = self.slot.take() {
            self.chan.unregister(ctx);
            if selected {
                let value = take_slot(&slot).expect("the sender that claimed us filled the slot");
                self.result = Some(Ok(value));
            }
        }
    }
}

/// A send operation of a select.
pub struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    message: Option<T>,
    slot: Option<Slot<T>>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendOp<'a, T> {
    /// A send of `message` into `source`.
    pub fn new<S: SendSource<T> + ?Sized>(source: &'a S, message: T) -> SendOp<'a, T> {
        SendOp { chan: source.chan(), message: Some(message), slot: None, result: None }
    }

    /// `Ok` if sent; `SendError` with the message if the channel is
    /// disconnected. Call only for the selected operation.
    pub fn into_result(self) -> Result<(), SendError<T>> {
        self.result.expect("the selected operation completed")
    }

    /// The message back, if it was not sent.
    pub(crate) fn take_message(&mut self) -> Option<T> {
        self.message.take()
    }
}

impl<T> SelectOp for SendOp<'_, T> {
    fn describe(&self) -> (&'static str, usize) {
        ("send", self.chan as *const Chan<T> as usize)
    }

    fn try_complete(&mut self) -> bool {
        let Some(message) = self.message.take() else { return false };
        match self.chan.try_send(message) {
            Ok(()) => self.result = Some(Ok(())),
            Err(TrySendError::Disconnected(message)) => self.result = Some(Err(SendError(message))),
            Err(TrySendError::Full(message)) => {
                self.message = Some(message);
                return false;
            }
        }
        true
    }

    fn register(&mut self, ctx: &Arc<Ctx>, index: usize) -> bool {
        let slot = Arc::new(StdMutex::new(self.message.take()));
        let queued = self.chan.register_send(ctx, index, &slot);
        self.slot = Some(slot);
        queued
    }

    fn unregister(&mut self, ctx: &Arc<Ctx>, selected: bool) {
        if let Some(slot) = self.slot.take() {
            self.chan.unregister(ctx);
            // No peer can reach the slot any more.
            self.message = take_slot(&slot);
            if selected {
                debug_assert!(self.message.is_none(), "the receiver that claimed us took the message");
                self.result = Some(Ok(()));
            }
        }
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
        let mut blocked: Option<Arc<Ctx>> = None;
        let reason = match ops {
            [op] => {
                let (op, addr) = op.describe();
                WaitReason::Channel { op, addr }
            }
            _ => WaitReason::Channel { op: "select", addr: ops.first().map_or(0, |op| op.describe().1) },
        };
        let woken = wait::block(reason, deadline, |wake| {
            let ctx = Arc::new(Ctx { state: AtomicUsize::new(WAITING), wake });
            for (i, op) in ops.iter_mut().enumerate() {
                if !op.register(&ctx, i) {
                    if ctx.claim(RETRY) {
                        ctx.wake();
                    }
                    break;
                }
            }
            blocked = Some(ctx);
        });
        let ctx = blocked.expect("register ran");
        if woken != Woken::Woken {
            ctx.claim(TIMEOUT);
        }
        let outcome = ctx.state.load(Ordering::Acquire);
        for (i, op) in ops.iter_mut().enumerate() {
            op.unregister(&ctx, outcome == i);
        }
        match outcome {
            // Abandoned by the deadlock detector, and now out of every
            // queue (an operation that won the race went ahead instead).
            TIMEOUT if woken == Woken::Abandoned => wait::panic_deadlocked(),
            TIMEOUT => return None,
            i if i < n => return Some(i),
            _ => {}
        }
    }
}

/// For `select!` without a `default` arm, which never times out.
pub fn unreachable_select() -> ! {
    unreachable!("a select without a default case returned without an operation")
}

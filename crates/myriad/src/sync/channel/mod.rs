//! Multi-producer multi-consumer channels with `select!`, in the shape of
//! crossbeam-channel, parking threads instead of blocking workers.
//!
//! [`bounded`] and [`unbounded`] create a channel; both [`Sender`] and
//! [`Receiver`] can be cloned. `bounded(0)` is a rendezvous channel: each
//! send waits for a receive. When every sender is gone, receivers drain what
//! is buffered and then get an error; when every receiver is gone, sends fail
//! and return the message. [`select!`](crate::select) waits on several
//! operations at once.
//!
//! The error types are std's (`std::sync::mpsc`) where they fit, plus
//! [`SendTimeoutError`].
//!
//! ```
//! use myriad::sync::channel;
//!
//! let (tx, rx) = channel::bounded(0);
//! let rx2 = rx.clone();
//! let h = myriad::thread::spawn(move || rx2.recv().unwrap() * 2);
//! tx.send(21).unwrap();
//! assert_eq!(h.join().unwrap(), 42);
//! ```
//!
//! See the module files: `chan.rs` (the core, and the design), `select.rs`
//! (the engine of `select!`), `waiter.rs` (a blocked operation's context
//! and packet, on its own stack), `spin.rs` (the channel's lock).

mod chan;
mod interruptible;
mod select;
mod spin;
mod waiter;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

#[doc(hidden)]
pub use chan::Chan;
pub use interruptible::{RecvInterruptError, SendInterruptError};
use select::Mode;

pub use crate::select;

/// What `select!` expands to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use super::select::{select, unreachable_select, Mode, RecvOp, RecvSource, SelectOp, SendOp, SendSource};
}

/// An error of [`Sender::send_timeout`]: the message comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The channel stayed full (or, for a rendezvous channel, no receiver
    /// came) until the timeout.
    Timeout(T),
    /// All receivers are gone.
    Disconnected(T),
}

impl<T> SendTimeoutError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(t) | SendTimeoutError::Disconnected(t) => t,
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on send operation"),
            SendTimeoutError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl<T> std::error::Error for SendTimeoutError<T> {}

/// A channel with room for `cap` messages; `cap == 0` makes a rendezvous
/// channel, where each send waits for a receiver to take the message.
///
/// ```
/// let (tx, rx) = myriad::sync::channel::bounded(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).is_err()); // full
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(Some(cap)));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// A channel of unlimited capacity: sends never block.
///
/// ```
/// let (tx, rx) = myriad::sync::channel::unbounded();
/// for i in 0..3 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(None));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending side of a channel; clone it for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving side of a channel; clone it for more consumers (each
/// message goes to one of them).
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// The blocking send every sending API ends in (see `chan.rs`).
pub(crate) fn send_until<T>(chan: &Chan<T>, message: T, mode: Mode) -> Result<(), SendTimeoutError<T>> {
    chan.send_until(message, mode)
}

/// The blocking receive every receiving API ends in (see `chan.rs`).
pub(crate) fn recv_until<T>(chan: &Chan<T>, mode: Mode) -> Result<T, RecvTimeoutError> {
    chan.recv_until(mode)
}

pub(crate) fn chan_of_receiver<T>(rx: &Receiver<T>) -> &Chan<T> {
    &rx.chan
}

pub(crate) fn chan_of_sender<T>(tx: &Sender<T>) -> &Chan<T> {
    &tx.chan
}

fn deadline_mode(deadline: Instant) -> Mode {
    Mode::Deadline(Some(deadline))
}

impl<T> Sender<T> {
    /// Sends a message, parking while the channel is full (or, for a
    /// rendezvous channel, until a receiver takes it). Fails, returning the
    /// message, if every receiver is gone.
    pub fn send(&self, message: T) -> Result<(), SendError<T>> {
        send_until(&self.chan, message, Mode::Block).map_err(|e| SendError(e.into_inner()))
    }

    /// Sends if possible without blocking.
    ///
    /// A myriad thread that calls it in a loop yields its worker now and
    /// then (`rt/coop.rs`), so a receiver pinned to the same worker runs.
    pub fn try_send(&self, message: T) -> Result<(), TrySendError<T>> {
        let sent = self.chan.try_send(message);
        // After the message (or the one handed back) has left the lock.
        crate::rt::coop::spend();
        sent
    }

    /// Sends, waiting for `timeout` at most.
    ///
    /// ```
    /// use myriad::sync::channel::{bounded, SendTimeoutError};
    /// use std::time::Duration;
    /// let (tx, _rx) = bounded(0);
    /// assert_eq!(tx.send_timeout(1, Duration::from_millis(1)), Err(SendTimeoutError::Timeout(1)));
    /// ```
    pub fn send_timeout(&self, message: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        send_until(&self.chan, message, Mode::timeout(timeout))
    }

    /// Sends, waiting until `deadline` at most.
    pub fn send_deadline(&self, message: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        send_until(&self.chan, message, deadline_mode(deadline))
    }

    /// Whether no message is buffered.
    pub fn is_empty(&self) -> bool {
        self.chan.len() == 0
    }

    /// Whether the buffer is full (always true for a rendezvous channel).
    pub fn is_full(&self) -> bool {
        self.chan.capacity().is_some_and(|cap| self.chan.len() >= cap)
    }

    /// The number of buffered messages.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// The capacity; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives a message, parking until one comes. Fails once the channel
    /// is empty and every sender is gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        recv_until(&self.chan, Mode::Block).map_err(|_| RecvError)
    }

    /// Receives if a message is there now.
    ///
    /// ```
    /// use myriad::sync::channel::{unbounded, TryRecvError};
    /// let (tx, rx) = unbounded::<i32>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    ///
    /// A myriad thread that polls it yields its worker now and then
    /// (`rt/coop.rs`), so a sender pinned to the same worker runs.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let received = self.chan.try_recv();
        crate::rt::coop::spend();
        received
    }

    /// Receives, waiting for `timeout` at most.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        recv_until(&self.chan, Mode::timeout(timeout))
    }

    /// Receives, waiting until `deadline` at most.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        recv_until(&self.chan, deadline_mode(deadline))
    }

    /// A blocking iterator over messages; ends when the channel is empty and
    /// disconnected.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages there now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Whether no message is buffered.
    pub fn is_empty(&self) -> bool {
        self.chan.len() == 0
    }

    /// The number of buffered messages.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// The capacity; `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether both handles belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> __private::RecvSource<T> for Receiver<T> {
    fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

impl<T> __private::SendSource<T> for Sender<T> {
    fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.add_sender();
        Sender { chan: self.chan.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        self.chan.add_receiver();
        Receiver { chan: self.chan.clone() }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// A blocking iterator over a [`Receiver`]'s messages.
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// A non-blocking iterator over a [`Receiver`]'s messages.
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// An owning blocking iterator over a [`Receiver`]'s messages.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

/// Waits on several channel operations and runs the arm of the one that
/// completes, as crossbeam-channel's `select!`.
///
/// Arms: `recv(receiver) -> result => body`, `send(sender, message) -> result
/// => body`, and at most one of `default => body` (do not wait) or
/// `default(timeout) => body` (wait that long). `result` is a pattern for
/// `Result<T, RecvError>` or `Result<(), SendError<T>>`; an operation on a
/// disconnected channel is ready and gives the error. Among operations that
/// are ready at once, one is chosen at random. The messages of `send` arms
/// are evaluated up front; those of arms not chosen are dropped. Works with
/// both this module's channels and [`mpsc`](crate::sync::mpsc)'s; at most 32
/// operations.
///
/// ```
/// use myriad::select;
/// use myriad::sync::channel::{bounded, unbounded};
/// use std::time::Duration;
///
/// let (tx1, rx1) = unbounded();
/// let (tx2, rx2) = bounded::<&str>(0);
/// myriad::thread::spawn(move || tx1.send(7).unwrap());
/// select! {
///     recv(rx1) -> msg => assert_eq!(msg, Ok(7)),
///     recv(rx2) -> msg => panic!("nobody sends on rx2: {msg:?}"),
/// }
/// let got = select! {
///     send(tx2, "hi") -> _ => "sent",
///     default(Duration::from_millis(5)) => "timed out",
/// };
/// assert_eq!(got, "timed out");
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!(
            @ops []
            @mode [$crate::sync::channel::__private::Mode::Block]
            @default [{ $crate::sync::channel::__private::unreachable_select() }]
            @ids [
                (__op0 0) (__op1 1) (__op2 2) (__op3 3) (__op4 4) (__op5 5) (__op6 6) (__op7 7)
                (__op8 8) (__op9 9) (__op10 10) (__op11 11) (__op12 12) (__op13 13) (__op14 14) (__op15 15)
                (__op16 16) (__op17 17) (__op18 18) (__op19 19) (__op20 20) (__op21 21) (__op22 22) (__op23 23)
                (__op24 24) (__op25 25) (__op26 26) (__op27 27) (__op28 28) (__op29 29) (__op30 30) (__op31 31)
            ]
            @rest $($tokens)*
        )
    };
}

/// The parser behind [`select!`]; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // Done: generate.
    (@ops [$( ($op:ident $idx:tt [$($ctor:tt)*] $res:tt $body:tt) )*]
     @mode [$($mode:tt)*] @default [$default:tt] @ids [$($ids:tt)*] @rest) => {{
        $( let mut $op = $($ctor)*; )*
        let selected = $crate::sync::channel::__private::select(
            &mut [$( &mut $op as &mut dyn $crate::sync::channel::__private::SelectOp ),*],
            $($mode)*,
        );
        match selected {
            $( ::core::option::Option::Some($idx) => {
                let $res = $op.into_result();
                $body
            } )*
            _ => $default,
        }
    }};
    // A separating comma.
    (@ops $ops:tt @mode $mode:tt @default $default:tt @ids $ids:tt @rest , $($rest:tt)*) => {
        $crate::__select_parse!(@ops $ops @mode $mode @default $default @ids $ids @rest $($rest)*)
    };
    // recv(r) -> res => body
    (@ops [$($ops:tt)*] @mode $mode:tt @default $default:tt @ids [($op:ident $idx:tt) $($ids:tt)*]
     @rest recv($r:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(
            @ops [$($ops)* ($op $idx [$crate::sync::channel::__private::RecvOp::new(&$r)] $res $body)]
            @mode $mode @default $default @ids [$($ids)*] @rest $($rest)*
        )
    };
    (@ops [$($ops:tt)*] @mode $mode:tt @default $default:tt @ids [($op:ident $idx:tt) $($ids:tt)*]
     @rest recv($r:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(
            @ops [$($ops)* ($op $idx [$crate::sync::channel::__private::RecvOp::new(&$r)] $res {$body})]
            @mode $mode @default $default @ids [$($ids)*] @rest $($($rest)*)?
        )
    };
    // send(s, message) -> res => body
    (@ops [$($ops:tt)*] @mode $mode:tt @default $default:tt @ids [($op:ident $idx:tt) $($ids:tt)*]
     @rest send($s:expr, $m:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(
            @ops [$($ops)* ($op $idx [$crate::sync::channel::__private::SendOp::new(&$s, $m)] $res $body)]
            @mode $mode @default $default @ids [$($ids)*] @rest $($rest)*
        )
    };
    (@ops [$($ops:tt)*] @mode $mode:tt @default $default:tt @ids [($op:ident $idx:tt) $($ids:tt)*]
     @rest send($s:expr, $m:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(
            @ops [$($ops)* ($op $idx [$crate::sync::channel::__private::SendOp::new(&$s, $m)] $res {$body})]
            @mode $mode @default $default @ids [$($ids)*] @rest $($($rest)*)?
        )
    };
    // default => body
    (@ops $ops:tt @mode $mode:tt @default $default:tt @ids $ids:tt @rest default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(
            @ops $ops @mode [$crate::sync::channel::__private::Mode::NonBlocking] @default [$body]
            @ids $ids @rest $($rest)*
        )
    };
    (@ops $ops:tt @mode $mode:tt @default $default:tt @ids $ids:tt @rest default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(
            @ops $ops @mode [$crate::sync::channel::__private::Mode::NonBlocking] @default [{$body}]
            @ids $ids @rest $($($rest)*)?
        )
    };
    // default(timeout) => body
    (@ops $ops:tt @mode $mode:tt @default $default:tt @ids $ids:tt
     @rest default($t:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(
            @ops $ops @mode [$crate::sync::channel::__private::Mode::timeout($t)] @default [$body]
            @ids $ids @rest $($rest)*
        )
    };
    (@ops $ops:tt @mode $mode:tt @default $default:tt @ids $ids:tt
     @rest default($t:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(
            @ops $ops @mode [$crate::sync::channel::__private::Mode::timeout($t)] @default [{$body}]
            @ids $ids @rest $($($rest)*)?
        )
    };
}

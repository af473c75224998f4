//! std's `mpsc` API (multi-producer, single-consumer FIFO queues) over the
//! channels of [`sync::channel`](mod@super::channel), so that receiving or sending on
//! a full `sync_channel` parks only the calling thread.
//!
//! Same names, signatures, error types (std's own) and disconnection
//! semantics as [`std::sync::mpsc`]: `channel()` is unbounded,
//! `sync_channel(0)` a rendezvous channel. These receivers also work in
//! [`select!`](crate::select).
//!
//! ```
//! use myriad::sync::mpsc;
//!
//! let (tx, rx) = mpsc::sync_channel(0);
//! let h = myriad::thread::spawn(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap(); // waits for each receive
//!     }
//! });
//! assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
//! h.join().unwrap();
//! ```

use std::fmt;
use std::time::{Duration, Instant};

pub use super::channel::{RecvInterruptError, SendInterruptError};
pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use super::channel::{self, __private::RecvSource, __private::SendSource, chan_of_receiver, chan_of_sender};

/// Creates an unbounded channel: sends never block.
///
/// ```
/// let (tx, rx) = myriad::sync::mpsc::channel();
/// myriad::thread::spawn(move || tx.send("hello").unwrap());
/// assert_eq!(rx.recv(), Ok("hello"));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = channel::unbounded();
    (Sender { inner: tx }, Receiver { inner: rx })
}

/// Creates a channel holding at most `bound` messages; with `bound == 0`
/// every send waits until a receiver takes the message (rendezvous).
///
/// ```
/// let (tx, rx) = myriad::sync::mpsc::sync_channel(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).is_err());
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (tx, rx) = channel::bounded(bound);
    (SyncSender { inner: tx }, Receiver { inner: rx })
}

/// The sending half of [`channel()`], as [`std::sync::mpsc::Sender`].
pub struct Sender<T> {
    inner: channel::Sender<T>,
}

/// The sending half of [`sync_channel`], as [`std::sync::mpsc::SyncSender`].
pub struct SyncSender<T> {
    inner: channel::Sender<T>,
}

/// The receiving half, as [`std::sync::mpsc::Receiver`] (not `Clone`).
pub struct Receiver<T> {
    inner: channel::Receiver<T>,
}

impl<T> Sender<T> {
    /// Sends a message; never blocks. Fails, returning it, if the receiver
    /// is gone.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.inner.send(t)
    }
}

impl<T> SyncSender<T> {
    /// Sends a message, parking while the buffer is full (for a rendezvous
    /// channel: until the receiver takes it). Fails if the receiver is gone.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.inner.send(t)
    }

    /// Sends if possible without blocking.
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(t)
    }

    /// As [`send`](Self::send), unless the calling thread is interrupted
    /// (or its deadline passes) first: see
    /// [`channel::Sender::send_interruptible`](super::channel::Sender::send_interruptible).
    pub fn send_interruptible(&self, t: T) -> Result<(), SendInterruptError<T>> {
        self.inner.send_interruptible(t)
    }
}

impl<T> Receiver<T> {
    /// Receives a message, parking until one comes; fails once the channel
    /// is empty and all senders are gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.inner.recv()
    }

    /// Receives if a message is there now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// As [`recv`](Self::recv), unless the calling thread is interrupted
    /// (or its deadline passes) first: see
    /// [`channel::Receiver::recv_interruptible`](super::channel::Receiver::recv_interruptible).
    ///
    /// ```
    /// use myriad::sync::mpsc::{channel, RecvInterruptError};
    /// let (tx, rx) = channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv_interruptible(), Ok(1));
    /// drop(tx);
    /// assert_eq!(rx.recv_interruptible(), Err(RecvInterruptError::Disconnected));
    /// ```
    pub fn recv_interruptible(&self) -> Result<T, RecvInterruptError> {
        self.inner.recv_interruptible()
    }

    /// Receives, waiting for `timeout` at most.
    ///
    /// ```
    /// use myriad::sync::mpsc::{channel, RecvTimeoutError};
    /// use std::time::Duration;
    /// let (_tx, rx) = channel::<()>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.inner.recv_timeout(timeout)
    }

    /// Receives, waiting until `deadline` at most.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.inner.recv_deadline(deadline)
    }

    /// A blocking iterator; ends when all senders are gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages there now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender { inner: self.inner.clone() }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> SyncSender<T> {
        SyncSender { inner: self.inner.clone() }
    }
}

impl<T> RecvSource<T> for Receiver<T> {
    fn chan(&self) -> &channel::Chan<T> {
        chan_of_receiver(&self.inner)
    }
}

impl<T> SendSource<T> for Sender<T> {
    fn chan(&self) -> &channel::Chan<T> {
        chan_of_sender(&self.inner)
    }
}

impl<T> SendSource<T> for SyncSender<T> {
    fn chan(&self) -> &channel::Chan<T> {
        chan_of_sender(&self.inner)
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
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

//! The interruptible channel operations: `recv_interruptible` and
//! `send_interruptible`, which an interrupt of the calling thread
//! ([`Thread::interrupt`](crate::thread::Thread::interrupt), or its
//! deadline) ends with an error the caller can match.
//!
//! std's `recv` and `send` keep their signatures, which have no room for
//! an interrupt (an interrupt reported as `RecvError` would read as "all
//! senders are gone"), hence separate methods rather than an
//! "interruptible scope" around the std-shaped ones. They are a thin layer
//! over the deadline operations: run inside `rt::wait::interruptibly`,
//! the channel's one wait (`chan.rs`'s `wait_for_claim`, through
//! `wait::block_in_section`) becomes interruptible and ends as a time-out
//! would, which is told apart here by the thread's interrupt flag. A
//! deadline far ahead keeps the wait on that path (without one, a myriad
//! thread's wait is `block_once`, which only a peer may end).

use std::fmt;
use std::time::{Duration, Instant};

use super::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use crate::rt::wait;
use crate::thread::Interrupted;

/// Why [`Receiver::recv_interruptible`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvInterruptError {
    /// The calling thread was interrupted (or its deadline passed).
    Interrupted(Interrupted),
    /// The channel is empty and every sender is gone.
    Disconnected,
}

impl fmt::Display for RecvInterruptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvInterruptError::Interrupted(why) => write!(f, "receiving was interrupted: {why}"),
            RecvInterruptError::Disconnected => f.write_str("receiving on an empty and disconnected channel"),
        }
    }
}

impl std::error::Error for RecvInterruptError {}

/// Why [`Sender::send_interruptible`] did not send; the message comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendInterruptError<T> {
    /// The calling thread was interrupted (or its deadline passed).
    Interrupted(T, Interrupted),
    /// Every receiver is gone.
    Disconnected(T),
}

impl<T> SendInterruptError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendInterruptError::Interrupted(message, _) | SendInterruptError::Disconnected(message) => message,
        }
    }
}

impl<T> fmt::Debug for SendInterruptError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendInterruptError::Interrupted(_, why) => write!(f, "Interrupted(.., {why:?})"),
            SendInterruptError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendInterruptError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendInterruptError::Interrupted(_, why) => write!(f, "sending was interrupted: {why}"),
            SendInterruptError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl<T> std::error::Error for SendInterruptError<T> {}

/// The far deadline the waits run with (see the module comment).
fn far() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(365 * 86_400)).unwrap_or(now)
}

impl<T> Receiver<T> {
    /// As [`recv`](Self::recv), but an interrupt of the calling thread (or
    /// its deadline) ends the wait: `Err(Interrupted)`. An interrupted
    /// thread fails at once, even with a message waiting, which stays in
    /// the channel.
    ///
    /// ```
    /// use myriad::sync::channel::{unbounded, RecvInterruptError};
    /// use myriad::thread;
    /// use std::time::Duration;
    /// let (_tx, rx) = unbounded::<u32>();
    /// let waiter = thread::spawn(move || rx.recv_interruptible());
    /// thread::sleep(Duration::from_millis(5));
    /// waiter.thread().interrupt();
    /// assert!(matches!(waiter.join().unwrap(), Err(RecvInterruptError::Interrupted(_))));
    /// ```
    pub fn recv_interruptible(&self) -> Result<T, RecvInterruptError> {
        loop {
            if let Some(why) = wait::current_interrupt() {
                return Err(RecvInterruptError::Interrupted(why));
            }
            match wait::interruptibly(|| self.recv_deadline(far())) {
                Ok(message) => return Ok(message),
                Err(RecvTimeoutError::Disconnected) => return Err(RecvInterruptError::Disconnected),
                // Interrupted (seen at the top of the loop), or a year passed.
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

impl<T> Sender<T> {
    /// As [`send`](Self::send), but an interrupt of the calling thread (or
    /// its deadline) ends the wait for room: `Err(Interrupted)`, with the
    /// message back. An interrupted thread fails at once.
    ///
    /// ```
    /// use myriad::sync::channel::{bounded, SendInterruptError};
    /// use myriad::thread;
    /// let (tx, _rx) = bounded(0);
    /// thread::current().interrupt();
    /// assert!(matches!(tx.send_interruptible(7), Err(SendInterruptError::Interrupted(7, _))));
    /// # thread::current().clear_interrupt();
    /// ```
    pub fn send_interruptible(&self, mut message: T) -> Result<(), SendInterruptError<T>> {
        loop {
            if let Some(why) = wait::current_interrupt() {
                return Err(SendInterruptError::Interrupted(message, why));
            }
            match wait::interruptibly(|| self.send_deadline(message, far())) {
                Ok(()) => return Ok(()),
                Err(SendTimeoutError::Disconnected(back)) => return Err(SendInterruptError::Disconnected(back)),
                Err(SendTimeoutError::Timeout(back)) => message = back,
            }
        }
    }
}

//! The common core of every socket type in `myriad::net`: a non-blocking
//! descriptor that parks the calling thread, plus std's per-handle settings.
//!
//! Why it exists: TCP, UDP and Unix sockets all need the same three things —
//! an operation that parks on `EAGAIN` (the reactor's [`IoFd`]), read and
//! write timeouts, and std's `set_nonblocking` — so they live here once.
//!
//! How it works:
//!
//! - The descriptor is always `O_NONBLOCK`. A read-side operation runs under
//!   [`Socket::read_op`], a write-side one under [`Socket::write_op`]: the
//!   syscall is tried, and on `WouldBlock` the calling thread waits for
//!   readiness (a myriad thread parks; an OS thread polls) until the
//!   handle's timeout, which ends the call with `WouldBlock` as std's
//!   socket timeouts do on Unix.
//! - Timeouts and the non-blocking flag are stored **per handle** (atomics,
//!   since std sets them through `&self`). std keeps them in the socket
//!   (`SO_RCVTIMEO`, `O_NONBLOCK`), shared by `try_clone`d handles; here a
//!   clone starts with the original's settings and then has its own. This
//!   lets a reader clone have a timeout that the writer clone does not.
//!   Converting into a std type writes them back into the socket.
//! - The syscalls themselves go through a *borrowed std view*
//!   ([`Socket::with_std`]): the descriptor wrapped, without taking
//!   ownership, in the matching std type, whose methods do the work. That
//!   keeps behaviour identical to std — `MSG_NOSIGNAL` on sends, `EINTR`
//!   handling, address types, error values — with no hand-written FFI.
//! - Socket options std lacks or keeps unstable (listen backlog, linger,
//!   `SO_REUSEADDR`, non-blocking creation) go through `socket2`'s
//!   `SockRef` ([`Socket::sock`]): a well-kept crate that wraps each
//!   `setsockopt` safely. socket2 is not used for sends because its `send`
//!   does not pass `MSG_NOSIGNAL`.

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::SockRef;

use crate::rt::reactor::{Direction, IoFd};

fn op_once<R>(fd: RawFd, mut op: impl FnMut(RawFd) -> io::Result<R>) -> io::Result<R> {
    op(fd)
}

/// A non-blocking descriptor with std's per-handle settings.
pub(crate) struct Socket {
    io: IoFd,
    /// Nanoseconds; 0 means no timeout.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    /// std's `set_nonblocking(true)`: fail with `WouldBlock` instead of
    /// waiting.
    nonblocking: AtomicBool,
}

impl Socket {
    /// Takes ownership of `fd`, making it non-blocking.
    pub fn new(fd: OwnedFd) -> io::Result<Socket> {
        Ok(Socket::from_io(IoFd::new(fd)?))
    }

    /// Takes ownership of `fd`, created with `SOCK_NONBLOCK`.
    pub fn from_nonblocking(fd: OwnedFd) -> Socket {
        Socket::from_io(IoFd::new_nonblocking(fd))
    }

    fn from_io(io: IoFd) -> Socket {
        Socket {
            io,
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
            nonblocking: AtomicBool::new(false),
        }
    }

    /// Takes ownership of a descriptor that a std type owned; panics only
    /// if `fcntl` fails on a valid descriptor, which it does not.
    pub fn from_std(fd: OwnedFd) -> Socket {
        Socket::new(fd).expect("fcntl(F_SETFL, O_NONBLOCK) failed on an open descriptor")
    }

    /// socket2's view of the descriptor, for socket options.
    pub fn sock(&self) -> SockRef<'_> {
        SockRef::from(&self.io)
    }

    /// Runs `f` on the descriptor wrapped in the std type `T`, without
    /// giving `T` ownership.
    pub fn with_std<T: FromRawFd, R>(&self, f: impl FnOnce(&T) -> R) -> R {
        with_std(self.io.as_raw_fd(), f)
    }

    /// Runs a read-side operation, waiting for readiness as needed.
    pub fn read_op<R>(&self, op: impl FnMut(RawFd) -> io::Result<R>) -> io::Result<R> {
        self.op(Direction::Read, &self.read_timeout, op)
    }

    /// Runs a write-side operation, waiting for readiness as needed.
    pub fn write_op<R>(&self, op: impl FnMut(RawFd) -> io::Result<R>) -> io::Result<R> {
        self.op(Direction::Write, &self.write_timeout, op)
    }

    /// Runs a read from a stream into `len` bytes (see
    /// [`IoFd::do_stream_read`]: a short read lets the next one wait for an
    /// event without asking the kernel first).
    pub fn stream_read_op(&self, len: usize, op: impl FnMut(RawFd) -> io::Result<usize>) -> io::Result<usize> {
        match self.blocking_deadline(&self.read_timeout) {
            None => op_once(self.io.as_raw_fd(), op),
            Some(deadline) => self.io.do_stream_read(len, deadline, op),
        }
    }

    fn op<R>(
        &self,
        direction: Direction,
        timeout: &AtomicU64,
        op: impl FnMut(RawFd) -> io::Result<R>,
    ) -> io::Result<R> {
        match self.blocking_deadline(timeout) {
            None => op_once(self.io.as_raw_fd(), op),
            Some(deadline) => self.io.do_io(direction, deadline, op),
        }
    }

    /// `None` in std's non-blocking mode, else the deadline of an operation
    /// starting now under `timeout` (`Some(None)`: no deadline).
    fn blocking_deadline(&self, timeout: &AtomicU64) -> Option<Option<Instant>> {
        if self.nonblocking.load(Ordering::Relaxed) {
            return None;
        }
        Some(match timeout.load(Ordering::Relaxed) {
            0 => None,
            nanos => Instant::now().checked_add(Duration::from_nanos(nanos)),
        })
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting for
    /// readiness in `direction` in between, until `deadline` (then
    /// `WouldBlock`); ignores the handle's timeouts and non-blocking mode.
    pub fn do_io<R>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        op: impl FnMut(RawFd) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.do_io(direction, deadline, op)
    }

    /// Whether std's non-blocking mode is on for this handle.
    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// Wakes this handle's waiting threads so that they retry.
    pub fn wake_waiters(&self) {
        self.io.wake_waiters();
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.read_timeout, timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        store_timeout(&self.write_timeout, timeout)
    }

    pub fn read_timeout(&self) -> Option<Duration> {
        load_timeout(&self.read_timeout)
    }

    pub fn write_timeout(&self) -> Option<Duration> {
        load_timeout(&self.write_timeout)
    }

    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
    }

    /// A new handle to the same socket (`dup`), with this one's settings.
    pub fn try_clone(&self) -> io::Result<Socket> {
        let fd = self.io.as_fd().try_clone_to_owned()?;
        let clone = Socket::from_nonblocking(fd);
        clone.read_timeout.store(self.read_timeout.load(Ordering::Relaxed), Ordering::Relaxed);
        clone.write_timeout.store(self.write_timeout.load(Ordering::Relaxed), Ordering::Relaxed);
        clone.set_nonblocking(self.is_nonblocking());
        Ok(clone)
    }

    /// Gives the descriptor to a std type: back in blocking mode (unless
    /// this handle was set non-blocking), with this handle's timeouts as
    /// `SO_RCVTIMEO`/`SO_SNDTIMEO`, so the std type behaves as it would
    /// have had it been configured directly.
    pub fn into_std_fd(self) -> OwnedFd {
        let sock = self.sock();
        // Errors are ignored: the options only fail on a descriptor that is
        // not a socket, and the conversion itself is infallible in std.
        if !self.is_nonblocking() {
            let _ = sock.set_nonblocking(false);
        }
        if let Some(t) = self.read_timeout() {
            let _ = sock.set_read_timeout(Some(t));
        }
        if let Some(t) = self.write_timeout() {
            let _ = sock.set_write_timeout(Some(t));
        }
        self.into_fd()
    }

    /// The owned descriptor (still non-blocking), deregistered.
    pub fn into_fd(self) -> OwnedFd {
        OwnedFd::from(self.io)
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

/// Runs `f` on `fd` wrapped in the std type `T`, without giving `T`
/// ownership. `fd` must stay open during the call.
pub(crate) fn with_std<T: FromRawFd, R>(fd: RawFd, f: impl FnOnce(&T) -> R) -> R {
    // SAFETY: the callers pass a descriptor they own (an `IoFd` borrowed
    // for the duration of the call), so it is open until `f` returns; the
    // `ManuallyDrop` never closes it, and `f` only gets a shared reference,
    // so it cannot move the wrapper out and close it either.
    let view = ManuallyDrop::new(unsafe { T::from_raw_fd(fd) });
    f(&view)
}

fn store_timeout(slot: &AtomicU64, timeout: Option<Duration>) -> io::Result<()> {
    let nanos = match timeout {
        None => 0,
        Some(d) if d.is_zero() => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout"))
        }
        Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
    };
    slot.store(nanos, Ordering::Relaxed);
    Ok(())
}

fn load_timeout(slot: &AtomicU64) -> Option<Duration> {
    match slot.load(Ordering::Relaxed) {
        0 => None,
        nanos => Some(Duration::from_nanos(nanos)),
    }
}

/// The error of std's `connect_timeout` when the time runs out.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection timed out")
}

/// Implements the descriptor traits and the std conversions for a socket
/// type `$ty` (a struct whose field `inner` is a [`Socket`]) mirroring the
/// std type `$std`.
macro_rules! fd_traits {
    ($ty:ident, $std:ty) => {
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl std::os::fd::FromRawFd for $ty {
            /// Takes ownership of `fd` and makes it non-blocking.
            ///
            /// # Safety
            ///
            /// `fd` must be an open socket of the right kind that nothing
            /// else owns, as for the std type.
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $ty {
                // SAFETY: the caller's obligations, passed on.
                $ty::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            /// Gives up the descriptor (still in non-blocking mode).
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.inner.into_fd().into_raw_fd()
            }
        }

        impl From<std::os::fd::OwnedFd> for $ty {
            /// Takes ownership of a socket descriptor and makes it
            /// non-blocking.
            fn from(fd: std::os::fd::OwnedFd) -> $ty {
                $ty { inner: $crate::net::socket::Socket::from_std(fd) }
            }
        }

        impl From<$ty> for std::os::fd::OwnedFd {
            /// Gives up the descriptor (still in non-blocking mode).
            fn from(socket: $ty) -> std::os::fd::OwnedFd {
                socket.inner.into_fd()
            }
        }

        impl From<$std> for $ty {
            /// Wraps a std socket, switching it to non-blocking mode (myriad
            /// waits for readiness itself; the type still blocks the calling
            /// thread as std's does). Timeouts set on the std socket are not
            /// carried over: set them again on the result.
            fn from(socket: $std) -> $ty {
                $ty::from(std::os::fd::OwnedFd::from(socket))
            }
        }

        impl From<$ty> for $std {
            /// Gives the socket to std, back in blocking mode with this
            /// handle's timeouts set on the socket.
            fn from(socket: $ty) -> $std {
                <$std>::from(socket.inner.into_std_fd())
            }
        }
    };
}

pub(crate) use fd_traits;

/// Implements the per-handle options every socket type `$ty` (a struct
/// whose field `inner` is a [`Socket`]) has, as std's: read and write
/// timeouts, the non-blocking flag and the pending error. `$setup` is the
/// doc-test code that makes `s`, a socket of the type.
macro_rules! socket_options {
    ($ty:ident, $setup:literal) => {
        impl $ty {
            /// Sets the read timeout: a read (or `peek`, `recv`) that waits
            /// longer fails with `WouldBlock`, as std's does on Unix. `None`
            /// waits for ever; a zero duration is an `InvalidInput` error.
            /// Applies to this handle, not to its clones.
            ///
            /// ```
            /// use std::time::Duration;
            ///
            #[doc = $setup]
            /// s.set_read_timeout(Some(Duration::from_millis(10)))?;
            /// assert_eq!(s.read_timeout()?, Some(Duration::from_millis(10)));
            /// assert!(s.set_read_timeout(Some(Duration::ZERO)).is_err());
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> std::io::Result<()> {
                self.inner.set_read_timeout(timeout)
            }

            /// Sets the write timeout (see
            /// [`set_read_timeout`](Self::set_read_timeout)).
            ///
            /// ```
            /// use std::time::Duration;
            ///
            #[doc = $setup]
            /// s.set_write_timeout(Some(Duration::from_secs(1)))?;
            /// assert_eq!(s.write_timeout()?, Some(Duration::from_secs(1)));
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> std::io::Result<()> {
                self.inner.set_write_timeout(timeout)
            }

            /// The read timeout of this handle.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(s.read_timeout()?, None);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.read_timeout())
            }

            /// The write timeout of this handle.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(s.write_timeout()?, None);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.write_timeout())
            }

            /// With `true`, operations on this handle that would wait fail
            /// with `WouldBlock` instead. Applies to this handle, not to its
            /// clones.
            ///
            /// ```
            #[doc = $setup]
            /// s.set_nonblocking(true)?;
            /// s.set_nonblocking(false)?;
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
                self.inner.set_nonblocking(nonblocking);
                Ok(())
            }

            /// Takes the pending socket error (`SO_ERROR`), if any.
            ///
            /// ```
            #[doc = $setup]
            /// assert!(s.take_error()?.is_none());
            /// # Ok::<(), std::io::Error>(())
            /// ```
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.inner.sock().take_error()
            }
        }
    };
}

pub(crate) use socket_options;

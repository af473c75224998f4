//! `TcpStream`: std's stream whose reads, writes and connects park the
//! calling thread instead of blocking its worker.
//!
//! Why it exists: it is the type a thread-per-connection program spends its
//! time in. Each call tries the non-blocking syscall first and parks only
//! on `EAGAIN` (see `socket.rs`), so a busy stream costs one syscall per
//! call, like std.
//!
//! How it works:
//!
//! - `connect` creates the socket with `SOCK_NONBLOCK`, starts the connect
//!   (`EINPROGRESS`), waits for writability with the optional deadline, and
//!   reads the outcome from `SO_ERROR`, trying each resolved address in
//!   turn as std does.
//! - Reads, writes and `peek` run std's own implementation on a borrowed
//!   view of the descriptor, under the handle's timeouts.
//! - **Closing and waking readers.** `shutdown` is what ends a blocked
//!   read: the kernel marks the *socket* shut, which every descriptor
//!   (`try_clone`) shares, and epoll reports it to every waiter, so a
//!   thread parked in `read` on any clone returns (`Ok(0)` after
//!   `Shutdown::Read`/`Both`). Dropping a handle only closes *its*
//!   descriptor, exactly as in std and POSIX: the socket lives on while
//!   another clone holds it. That keeps the common split pattern working —
//!   a writer clone dropped in one thread must not cut off the reader in
//!   another. To stop a reader, call `shutdown(Shutdown::Both)` (or `Read`)
//!   from any clone before dropping it.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr};

use super::resolve;
use super::socket::{fd_traits, socket_options, timed_out, Socket};
use super::tcp_listener::stream_type;
use crate::rt::reactor::Direction;

/// A TCP connection: [`std::net::TcpStream`] whose blocking calls park only
/// the calling myriad thread (and block an OS thread as std's would).
///
/// ```
/// use myriad::net::{TcpListener, TcpStream};
/// use std::io::{BufRead, BufReader, Write};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut client = TcpStream::connect(listener.local_addr()?)?;
/// let (mut server, _) = listener.accept()?;
/// server.write_all(b"one line\n")?;
/// let mut line = String::new();
/// BufReader::new(&mut client).read_line(&mut line)?;
/// assert_eq!(line, "one line\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    inner: Socket,
}

impl TcpStream {
    pub(crate) fn from_socket(inner: Socket) -> TcpStream {
        TcpStream { inner }
    }

    /// Opens a connection to `addr`, trying each address it resolves to
    /// until one connects (the last error otherwise), as std does. Host
    /// names are resolved off the workers.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let port = listener.local_addr()?.port();
    /// let stream = TcpStream::connect(("127.0.0.1", port))?;
    /// assert_eq!(stream.peer_addr()?.port(), port);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs + Send>(addr: A) -> io::Result<TcpStream> {
        resolve::each_addr(addr, |addr| connect(addr, None))
    }

    /// Opens a connection to `addr`, failing with `TimedOut` if it is not
    /// established within `timeout`. A zero `timeout` is an `InvalidInput`
    /// error, as in std.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect_timeout(&listener.local_addr()?, Duration::from_secs(5))?;
    /// # drop(stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout"));
        }
        connect(addr, Some(Instant::now().checked_add(timeout).unwrap_or_else(far_future)))
    }

    /// The address of the remote end.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &std::net::TcpStream| s.peer_addr())
    }

    /// The address of the local end.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &std::net::TcpStream| s.local_addr())
    }

    /// Shuts down the read half, the write half or both. The socket is
    /// shared by every clone, so this wakes threads blocked on any of them:
    /// readers then see end of file (after `Read`/`Both`), and the peer sees
    /// end of file after `Write`/`Both`. See the module docs on closing.
    ///
    /// ```
    /// use myriad::net::{Shutdown, TcpListener, TcpStream};
    /// use std::io::Read;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let _client = TcpStream::connect(listener.local_addr()?)?;
    /// let (stream, _) = listener.accept()?;
    /// let mut reader = stream.try_clone()?;
    /// let blocked = myriad::thread::spawn(move || reader.read(&mut [0; 16]));
    /// stream.shutdown(Shutdown::Both)?;
    /// assert_eq!(blocked.join().unwrap()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let result = self.inner.with_std(|s: &std::net::TcpStream| s.shutdown(how));
        // The kernel wakes epoll waiters on every clone; this also wakes the
        // ones parked on this very handle without waiting for the event.
        self.inner.wake_waiters();
        result
    }

    /// Another handle to the same connection (a `dup` of the descriptor).
    /// Reads and writes on either act on the one socket. The clone starts
    /// with this handle's timeouts and non-blocking flag, then keeps its
    /// own (std shares them; see the module docs of `myriad::net`).
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    /// use std::io::{Read, Write};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// let mut writer = client.try_clone()?;
    /// writer.write_all(b"hi")?;
    /// drop(writer); // the client handle still holds the connection
    /// let mut buf = [0; 2];
    /// server.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # drop(client);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream { inner: self.inner.try_clone()? })
    }

    /// Reads what is available without consuming it (`MSG_PEEK`), waiting
    /// for data like `read`.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    /// use std::io::{Read, Write};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// client.write_all(b"peek")?;
    /// let mut buf = [0; 4];
    /// let n = server.peek(&mut buf)?;
    /// assert_eq!(&buf[..n], &b"peek"[..n]);
    /// server.read_exact(&mut buf)?; // still there
    /// assert_eq!(&buf, b"peek");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_op(|_| self.inner.with_std(|s: &std::net::TcpStream| s.peek(buf)))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.sock().set_tcp_nodelay(nodelay)
    }

    /// The value of `TCP_NODELAY`.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert!(!stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.sock().tcp_nodelay()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes dropping the stream
    /// reset the connection (the peer's reads fail with `ConnectionReset`)
    /// instead of closing it gracefully. (Unstable in std; stable here.)
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_linger(Some(Duration::ZERO))?;
    /// assert_eq!(stream.linger()?, Some(Duration::ZERO));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.inner.sock().set_linger(linger)
    }

    /// The value of `SO_LINGER`.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.linger()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.sock().linger()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_ttl(42)?;
    /// assert_eq!(stream.ttl()?, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.sock().set_ttl_v4(ttl)
    }

    /// The value of `IP_TTL`.
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.sock().ttl_v4()
    }
}

/// Connects a new non-blocking socket to `addr`, waiting until `deadline`.
fn connect(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(Domain::for_address(*addr), stream_type(), None)?;
    let stream = TcpStream { inner: Socket::from_nonblocking(OwnedFd::from(socket)) };
    match stream.inner.sock().connect(&SockAddr::from(*addr)) {
        Ok(()) => return Ok(stream),
        // EINTR: the connection goes on asynchronously; wait for it as for
        // EINPROGRESS.
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::Interrupted => {}
        Err(e) => return Err(e),
    }
    // Connected once the socket has no error and a peer; until then (the
    // handshake goes on) the check says `WouldBlock` and waits for
    // writability.
    let connected = stream.inner.do_io(Direction::Write, deadline, |_| {
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        match stream.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Err(io::Error::from(io::ErrorKind::WouldBlock)),
            Err(e) => Err(e),
        }
    });
    match connected {
        Ok(()) => Ok(stream),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(timed_out()),
        Err(e) => Err(e),
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.inner.stream_read_op(len, |_| self.inner.with_std(|mut s: &std::net::TcpStream| s.read(buf)))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.inner.stream_read_op(len, |_| self.inner.with_std(|mut s: &std::net::TcpStream| s.read_vectored(bufs)))
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_op(|_| self.inner.with_std(|mut s: &std::net::TcpStream| s.write(buf)))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_op(|_| self.inner.with_std(|mut s: &std::net::TcpStream| s.write_vectored(bufs)))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(addr) = self.local_addr() {
            d.field("addr", &addr);
        }
        if let Ok(peer) = self.peer_addr() {
            d.field("peer", &peer);
        }
        d.field("fd", &self.inner.as_raw_fd()).finish()
    }
}

socket_options!(TcpStream, "let listener = myriad::net::TcpListener::bind(\"127.0.0.1:0\")?; let s = myriad::net::TcpStream::connect(listener.local_addr()?)?;");
fd_traits!(TcpStream, std::net::TcpStream);

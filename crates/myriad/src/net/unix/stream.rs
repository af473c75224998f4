//! `UnixStream`: std's Unix stream socket whose reads, writes and connects
//! park the calling thread.
//!
//! Why it exists and how it works: as `TcpStream` (see `tcp_stream.rs`),
//! including the close semantics — `shutdown` wakes threads blocked on any
//! clone; dropping a clone closes only its own descriptor. `connect` is
//! immediate on Unix sockets, except that Linux answers `EAGAIN` when the
//! listener's backlog is full; there is no readiness event for that, so
//! `connect` retries after sleeps growing from 1 ms to 50 ms (a blocking
//! connect would wait the same way, inside the kernel).

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, SockAddr, Type};

use super::{sock_addr, SocketAddr};
use crate::net::socket::{fd_traits, socket_options, Socket};
use crate::rt::reactor::Direction;

/// A Unix stream socket: [`std::os::unix::net::UnixStream`] whose blocking
/// calls park only the calling myriad thread.
///
/// ```
/// use myriad::net::unix::UnixStream;
/// use std::io::{Read, Write};
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// let echo = myriad::thread::spawn(move || -> std::io::Result<()> {
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf)?;
///     b.write_all(&buf)
/// });
/// a.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// a.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// echo.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    inner: Socket,
}

impl UnixStream {
    /// Connects to the socket at the file system path `path`.
    ///
    /// ```
    /// use myriad::net::unix::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("myriad-doc-sconnect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _listener = UnixListener::bind(&path)?;
    /// let stream = UnixStream::connect(&path)?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        connect(&SockAddr::unix(path)?)
    }

    /// Connects to `addr` (a path or, on Linux, an abstract name).
    ///
    /// ```
    /// use myriad::net::unix::{SocketAddr, UnixListener, UnixStream};
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// let addr = SocketAddr::from_abstract_name(format!("myriad-doc-sca-{}", std::process::id()))?;
    /// let _listener = UnixListener::bind_addr(&addr)?;
    /// let stream = UnixStream::connect_addr(&addr)?;
    /// assert!(stream.peer_addr()?.as_abstract_name().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        connect(&sock_addr(addr)?)
    }

    /// A connected pair of sockets.
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (mut a, mut b) = myriad::net::unix::UnixStream::pair()?;
    /// a.write_all(b"x")?;
    /// let mut buf = [0; 1];
    /// b.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"x");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = StdUnixStream::pair()?;
        Ok((UnixStream::from(a), UnixStream::from(b)))
    }

    /// Another handle to the same socket, starting with this handle's
    /// timeouts.
    ///
    /// ```
    /// let (a, _b) = myriad::net::unix::UnixStream::pair()?;
    /// let clone = a.try_clone()?;
    /// assert!(clone.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream { inner: self.inner.try_clone()? })
    }

    /// The address of the local end.
    ///
    /// ```
    /// let (a, _b) = myriad::net::unix::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &StdUnixStream| s.local_addr())
    }

    /// The address of the remote end.
    ///
    /// ```
    /// let (a, _b) = myriad::net::unix::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &StdUnixStream| s.peer_addr())
    }

    /// Shuts down the read half, the write half or both; wakes threads
    /// blocked on any clone of this socket.
    ///
    /// ```
    /// use myriad::net::Shutdown;
    /// use std::io::Read;
    ///
    /// let (a, mut b) = myriad::net::unix::UnixStream::pair()?;
    /// a.shutdown(Shutdown::Write)?;
    /// assert_eq!(b.read(&mut [0; 4])?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let result = self.inner.with_std(|s: &StdUnixStream| s.shutdown(how));
        self.inner.wake_waiters();
        result
    }
}

fn connect(addr: &SockAddr) -> io::Result<UnixStream> {
    let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
    let stream = UnixStream { inner: Socket::from_nonblocking(OwnedFd::from(socket)) };
    let mut backoff = Duration::from_millis(1);
    loop {
        match stream.inner.sock().connect(addr) {
            Ok(()) => return Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The listener's backlog is full: no event will say when it
                // has room, so sleep (parking a myriad thread) and retry.
                crate::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(50));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::Interrupted => {
                // Connected once the socket has no error and a peer.
                stream.inner.do_io(Direction::Write, None, |_| {
                    if let Some(e) = stream.take_error()? {
                        return Err(e);
                    }
                    match stream.peer_addr() {
                        Ok(_) => Ok(()),
                        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                            Err(io::Error::from(io::ErrorKind::WouldBlock))
                        }
                        Err(e) => Err(e),
                    }
                })?;
                return Ok(stream);
            }
            Err(e) => return Err(e),
        }
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.inner.stream_read_op(len, |_| self.inner.with_std(|mut s: &StdUnixStream| s.read(buf)))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.inner.stream_read_op(len, |_| self.inner.with_std(|mut s: &StdUnixStream| s.read_vectored(bufs)))
    }
}

impl Write for UnixStream {
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

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_op(|_| self.inner.with_std(|mut s: &StdUnixStream| s.write(buf)))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_op(|_| self.inner.with_std(|mut s: &StdUnixStream| s.write_vectored(bufs)))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixStream");
        if let Ok(addr) = self.local_addr() {
            d.field("local", &addr);
        }
        if let Ok(addr) = self.peer_addr() {
            d.field("peer", &addr);
        }
        d.field("fd", &self.inner.as_raw_fd()).finish()
    }
}

socket_options!(UnixStream, "let (s, _peer) = myriad::net::unix::UnixStream::pair()?;");
fd_traits!(UnixStream, StdUnixStream);

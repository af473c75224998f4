//! `UnixDatagram`: std's Unix datagram socket whose sends and receives park
//! the calling thread.
//!
//! Why it exists and how it works: as `UdpSocket` (see `udp.rs`) for local
//! datagrams. A send to a peer whose receive queue is full waits for
//! writability (Linux reports it when the peer drains its queue), so it
//! parks rather than fails, like std's blocking send.
//!
//! One kernel difference needs care: after `shutdown(Shutdown::Read)` a
//! *blocking* receive on an empty queue returns 0 at once, but a
//! non-blocking one (ours) keeps answering `EAGAIN`. So a receive that gets
//! `EAGAIN` checks with a zero-timeout `poll` for `POLLRDHUP` (the
//! read-shutdown mark) and then returns 0, as std's blocking socket would —
//! which is how a thread blocked in `recv` on a clone is woken for good.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::Path;

use socket2::{Domain, SockAddr, Type};

use super::{sock_addr, SocketAddr};
use crate::net::socket::{fd_traits, socket_options, Socket};

/// A Unix datagram socket: [`std::os::unix::net::UnixDatagram`] whose
/// blocking calls park only the calling myriad thread.
///
/// ```
/// use myriad::net::unix::UnixDatagram;
///
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"datagram")?;
/// let mut buf = [0; 16];
/// let n = b.recv(&mut buf)?;
/// assert_eq!(&buf[..n], b"datagram");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    inner: Socket,
}

impl UnixDatagram {
    /// Creates a socket bound to the file system path `path`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-dbind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = myriad::net::unix::UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_sock(&SockAddr::unix(path)?)
    }

    /// Creates a socket bound to `addr` (a path or an abstract name).
    ///
    /// ```
    /// use myriad::net::unix::{SocketAddr, UnixDatagram};
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// let addr = SocketAddr::from_abstract_name(format!("myriad-doc-dba-{}", std::process::id()))?;
    /// let socket = UnixDatagram::bind_addr(&addr)?;
    /// assert!(socket.local_addr()?.as_abstract_name().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_sock(&sock_addr(addr)?)
    }

    fn bind_sock(addr: &SockAddr) -> io::Result<UnixDatagram> {
        let socket = UnixDatagram::unbound()?;
        socket.inner.sock().bind(addr)?;
        Ok(socket)
    }

    /// Creates a socket bound to no address.
    ///
    /// ```
    /// let socket = myriad::net::unix::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::DGRAM.nonblocking(), None)?;
        Ok(UnixDatagram { inner: Socket::from_nonblocking(OwnedFd::from(socket)) })
    }

    /// A connected pair of sockets.
    ///
    /// ```
    /// let (a, b) = myriad::net::unix::UnixDatagram::pair()?;
    /// b.send(b"1")?;
    /// assert_eq!(a.recv(&mut [0; 4])?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = StdUnixDatagram::pair()?;
        Ok((UnixDatagram::from(a), UnixDatagram::from(b)))
    }

    /// Connects the socket to the path `path`: `send` goes there, `recv`
    /// takes datagrams only from there.
    ///
    /// ```
    /// use myriad::net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("myriad-doc-dconn-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// client.send(b"hi")?;
    /// assert_eq!(server.recv(&mut [0; 8])?, 2);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.sock().connect(&SockAddr::unix(path)?)
    }

    /// Connects the socket to `addr` (a path or an abstract name).
    ///
    /// ```
    /// use myriad::net::unix::{SocketAddr, UnixDatagram};
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// let addr = SocketAddr::from_abstract_name(format!("myriad-doc-dca-{}", std::process::id()))?;
    /// let server = UnixDatagram::bind_addr(&addr)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect_addr(&addr)?;
    /// client.send(b"abc")?;
    /// assert_eq!(server.recv(&mut [0; 8])?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.inner.sock().connect(&sock_addr(addr)?)
    }

    /// Another handle to the same socket, starting with this handle's
    /// timeouts.
    ///
    /// ```
    /// let (a, b) = myriad::net::unix::UnixDatagram::pair()?;
    /// a.try_clone()?.send(b"c")?;
    /// assert_eq!(b.recv(&mut [0; 4])?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { inner: self.inner.try_clone()? })
    }

    /// The address this socket is bound to.
    ///
    /// ```
    /// let socket = myriad::net::unix::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &StdUnixDatagram| s.local_addr())
    }

    /// The address of the connected peer.
    ///
    /// ```
    /// let (a, _b) = myriad::net::unix::UnixDatagram::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &StdUnixDatagram| s.peer_addr())
    }

    /// Receives a datagram, waiting for one; returns its length and sender.
    ///
    /// ```
    /// use myriad::net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("myriad-doc-drf-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let a = UnixDatagram::bind(&path)?;
    /// let b = UnixDatagram::unbound()?;
    /// b.send_to(b"to a", &path)?;
    /// let mut buf = [0; 8];
    /// let (n, from) = a.recv_from(&mut buf)?;
    /// assert_eq!(&buf[..n], b"to a");
    /// assert!(from.is_unnamed());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_op(|| Ok((0, unnamed()?)), |s| s.recv_from(buf))
    }

    /// Receives a datagram from the connected peer, waiting for one.
    ///
    /// ```
    /// let (a, b) = myriad::net::unix::UnixDatagram::pair()?;
    /// let reader = myriad::thread::spawn(move || b.recv(&mut [0; 8]));
    /// a.send(b"late")?;
    /// assert_eq!(reader.join().unwrap()?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_op(|| Ok(0), |s| s.recv(buf))
    }

    /// Runs a receive; once the read side is shut down and the queue is
    /// empty, returns `shut()` instead of waiting (see the module comment).
    fn recv_op<R>(
        &self,
        shut: impl Fn() -> io::Result<R>,
        mut op: impl FnMut(&StdUnixDatagram) -> io::Result<R>,
    ) -> io::Result<R> {
        self.inner.read_op(|fd| match self.inner.with_std(&mut op) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && read_shut_down(fd) => shut(),
            result => result,
        })
    }

    /// Sends `buf` to the socket at `path`.
    ///
    /// ```
    /// use myriad::net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("myriad-doc-dst-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let a = UnixDatagram::bind(&path)?;
    /// assert_eq!(UnixDatagram::unbound()?.send_to(b"xyz", &path)?, 3);
    /// assert_eq!(a.recv(&mut [0; 8])?, 3);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write_op(|_| self.inner.with_std(|s: &StdUnixDatagram| s.send_to(buf, path)))
    }

    /// Sends `buf` to `addr` (a path or an abstract name).
    ///
    /// ```
    /// use myriad::net::unix::{SocketAddr, UnixDatagram};
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// let addr = SocketAddr::from_abstract_name(format!("myriad-doc-dsta-{}", std::process::id()))?;
    /// let a = UnixDatagram::bind_addr(&addr)?;
    /// UnixDatagram::unbound()?.send_to_addr(b"ab", &addr)?;
    /// assert_eq!(a.recv(&mut [0; 8])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        let target = sock_addr(addr)?;
        self.inner.write_op(|_| self.inner.sock().send_to(buf, &target))
    }

    /// Sends `buf` to the connected peer.
    ///
    /// ```
    /// let (a, b) = myriad::net::unix::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"12")?, 2);
    /// assert_eq!(b.recv(&mut [0; 4])?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_op(|_| self.inner.with_std(|s: &StdUnixDatagram| s.send(buf)))
    }

    /// Shuts down the read half, the write half or both; wakes threads
    /// blocked on any clone.
    ///
    /// ```
    /// use myriad::net::Shutdown;
    ///
    /// let (a, _b) = myriad::net::unix::UnixDatagram::pair()?;
    /// let reader = a.try_clone()?;
    /// let blocked = myriad::thread::spawn(move || reader.recv(&mut [0; 4]));
    /// a.shutdown(Shutdown::Read)?;
    /// assert_eq!(blocked.join().unwrap()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let result = self.inner.with_std(|s: &StdUnixDatagram| s.shutdown(how));
        self.inner.wake_waiters();
        result
    }
}

/// Whether the read side of `fd` is shut down (`POLLRDHUP` without waiting).
fn read_shut_down(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLRDHUP, revents: 0 };
    // SAFETY: one valid pollfd for an open descriptor, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & libc::POLLRDHUP != 0
}

/// The unnamed address a blocking `recv_from` reports after a read
/// shutdown (std has no constructor for it).
fn unnamed() -> io::Result<SocketAddr> {
    StdUnixDatagram::unbound()?.local_addr()
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixDatagram");
        if let Ok(addr) = self.local_addr() {
            d.field("local", &addr);
        }
        d.field("fd", &self.inner.as_raw_fd()).finish()
    }
}

socket_options!(UnixDatagram, "let (s, _peer) = myriad::net::unix::UnixDatagram::pair()?;");
fd_traits!(UnixDatagram, StdUnixDatagram);

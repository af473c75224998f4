//! `TcpListener`: std's listener whose `accept` parks the calling thread.
//!
//! Why it exists: a thread-per-connection server accepts in a loop and
//! spawns a thread per stream; with `std::net` that loop would block a
//! worker. Here `accept` parks only the calling myriad thread until the
//! listening socket is readable.
//!
//! How it works: `bind` creates the socket non-blocking (`SOCK_NONBLOCK`)
//! through socket2, sets `SO_REUSEADDR` as std does, and listens with a
//! large backlog (see [`BACKLOG`]). `accept` is `accept4(SOCK_NONBLOCK |
//! SOCK_CLOEXEC)`, so each new stream is born non-blocking with no extra
//! `fcntl`, retried after readiness on `EAGAIN`. Every other error —
//! including `EMFILE`/`ENFILE` — is returned at once, never retried in a
//! loop.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{Domain, SockAddr, Type};

use super::resolve;
use super::socket::{fd_traits, Socket};
use super::TcpStream;

/// The backlog passed to `listen(2)`. The kernel caps it at
/// `net.core.somaxconn` (4096 by default since Linux 5.4); std's 128
/// overflowed under `wrk` bursts of a thousand connects, dropping SYNs into
/// one-second retransmits.
///
/// ```
/// assert!(myriad::net::BACKLOG >= 4096);
/// ```
pub const BACKLOG: i32 = 65_535;

/// A TCP socket server, listening for connections: [`std::net::TcpListener`]
/// whose blocking calls park only the calling myriad thread.
///
/// ```
/// use myriad::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = myriad::thread::spawn(move || -> std::io::Result<()> {
///     let (mut stream, _peer) = listener.accept()?;
///     let mut buf = [0; 5];
///     stream.read_exact(&mut buf)?;
///     stream.write_all(&buf)
/// });
/// let mut client = TcpStream::connect(addr)?;
/// client.write_all(b"hello")?;
/// let mut echo = [0; 5];
/// client.read_exact(&mut echo)?;
/// assert_eq!(&echo, b"hello");
/// server.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    inner: Socket,
}

impl TcpListener {
    /// Creates a listener bound to `addr`, trying each address it resolves
    /// to in turn, as std does. Host names are resolved off the workers.
    ///
    /// Port 0 asks the OS for a free port; [`local_addr`](Self::local_addr)
    /// tells which. The listen backlog is [`BACKLOG`] (capped by the
    /// kernel), not std's 128.
    ///
    /// ```
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.local_addr()?.port() != 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs + Send>(addr: A) -> io::Result<TcpListener> {
        resolve::each_addr(addr, |addr| {
            let socket = socket2::Socket::new(Domain::for_address(*addr), stream_type(), None)?;
            socket.set_reuse_address(true)?;
            socket.bind(&SockAddr::from(*addr))?;
            socket.listen(BACKLOG)?;
            Ok(TcpListener { inner: Socket::from_nonblocking(OwnedFd::from(socket)) })
        })
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|l: &std::net::TcpListener| l.local_addr())
    }

    /// Another handle to the same listening socket; both accept from one
    /// queue.
    ///
    /// ```
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
    /// let clone = listener.try_clone()?;
    /// assert_eq!(clone.local_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener { inner: self.inner.try_clone()? })
    }

    /// Accepts a new connection, parking the calling thread until one
    /// arrives. The stream is non-blocking underneath and close-on-exec.
    ///
    /// # Running out of descriptors
    ///
    /// When the process (`EMFILE`) or the system (`ENFILE`) has no
    /// descriptor left, the pending connection stays in the backlog and the
    /// error is returned — `accept` does not spin. A server should log it,
    /// back off briefly (so that other threads can finish and close their
    /// streams) and try again, rather than end the accept loop:
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:8080")?;
    /// loop {
    ///     match listener.accept() {
    ///         Ok((stream, _)) => {
    ///             myriad::thread::spawn(move || drop(stream));
    ///         }
    ///         Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
    ///             eprintln!("accept: {e}; backing off");
    ///             myriad::thread::sleep(Duration::from_millis(10));
    ///         }
    ///         Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => {}
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// (The runtime raises the soft open-file limit to the hard limit when
    /// it starts; see the [module docs](crate::net).)
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?)?;
    /// let (stream, peer) = listener.accept()?;
    /// assert_eq!(peer, client.local_addr()?);
    /// assert_eq!(stream.peer_addr()?, client.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self.inner.read_op(|fd| {
            // SAFETY: `try_init` hands `accept4` a zeroed `sockaddr_storage`
            // and its length, which is what accept4 expects; the descriptor
            // is the listener's, open for the call.
            let (new_fd, addr) = unsafe {
                SockAddr::try_init(|storage, len| {
                    let new_fd = libc::accept4(fd, storage.cast(), len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
                    if new_fd < 0 {
                        Err(io::Error::last_os_error())
                    } else {
                        Ok(new_fd)
                    }
                })
            }?;
            // SAFETY: `accept4` just returned this descriptor; nothing else
            // owns it.
            Ok((unsafe { OwnedFd::from_raw_fd(new_fd) }, addr))
        })?;
        let addr = addr.as_socket().ok_or_else(|| io::Error::other("accept returned a non-IP address"))?;
        Ok((TcpStream::from_socket(Socket::from_nonblocking(fd)), addr))
    }

    /// An iterator over incoming connections: [`accept`](Self::accept) in a
    /// loop, never ending (errors are yielded, not final).
    ///
    /// ```
    /// use myriad::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let _client = TcpStream::connect(listener.local_addr()?)?;
    /// for stream in listener.incoming().take(1) {
    ///     assert!(stream?.peer_addr()?.ip().is_loopback());
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets `IP_TTL` on accepted-to-be connections' listening socket.
    ///
    /// ```
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_ttl(100)?;
    /// assert_eq!(listener.ttl()?, 100);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.sock().set_ttl_v4(ttl)
    }

    /// The value of `IP_TTL` (see [`set_ttl`](Self::set_ttl)).
    ///
    /// ```
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.sock().ttl_v4()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// ```
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.sock().take_error()
    }

    /// With `true`, [`accept`](Self::accept) fails with `WouldBlock` instead
    /// of waiting when no connection is pending. Applies to this handle only.
    ///
    /// ```
    /// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_nonblocking(true)?;
    /// let err = listener.accept().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        if let Ok(addr) = self.local_addr() {
            d.field("addr", &addr);
        }
        d.field("fd", &self.inner.as_raw_fd()).finish()
    }
}

fd_traits!(TcpListener, std::net::TcpListener);

/// The iterator of [`TcpListener::incoming`].
///
/// ```
/// let listener = myriad::net::TcpListener::bind("127.0.0.1:0")?;
/// let incoming: myriad::net::Incoming<'_> = listener.incoming();
/// # drop(incoming);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

/// `SOCK_STREAM`, created non-blocking (and close-on-exec, which socket2
/// adds itself).
pub(crate) fn stream_type() -> Type {
    Type::STREAM.nonblocking()
}

//! `UnixListener`: std's Unix stream listener whose `accept` parks the
//! calling thread.
//!
//! Why it exists and how it works: as `TcpListener` (see `tcp_listener.rs`)
//! — created non-blocking through socket2, listening with the large
//! backlog, and accepting through std's own `accept` on a borrowed view of
//! the descriptor, retried after readiness on `EAGAIN`; `EMFILE` and
//! `ENFILE` are returned, not retried.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use socket2::{Domain, SockAddr, Type};

use super::{sock_addr, SocketAddr, UnixStream};
use crate::net::socket::{fd_traits, Socket};
use crate::net::BACKLOG;

/// A Unix stream socket server: [`std::os::unix::net::UnixListener`] whose
/// blocking calls park only the calling myriad thread.
///
/// ```
/// use myriad::net::unix::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("myriad-doc-listener-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let _client = UnixStream::connect(&path)?;
/// let (_stream, _addr) = listener.accept()?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    inner: Socket,
}

impl UnixListener {
    /// Creates a listener bound to the file system path `path` (which must
    /// not exist yet).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = myriad::net::unix::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_sock(&SockAddr::unix(path)?)
    }

    /// Creates a listener bound to `addr` (a path or, on Linux, an abstract
    /// name).
    ///
    /// ```
    /// use myriad::net::unix::{SocketAddr, UnixListener, UnixStream};
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// let name = format!("myriad-doc-abstract-{}", std::process::id());
    /// let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    /// let listener = UnixListener::bind_addr(&addr)?;
    /// let _client = UnixStream::connect_addr(&addr)?;
    /// listener.accept()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::bind_sock(&sock_addr(addr)?)
    }

    fn bind_sock(addr: &SockAddr) -> io::Result<UnixListener> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
        socket.bind(addr)?;
        socket.listen(BACKLOG)?;
        Ok(UnixListener { inner: Socket::from_nonblocking(OwnedFd::from(socket)) })
    }

    /// Accepts a connection, parking the calling thread until one arrives.
    /// On `EMFILE`/`ENFILE` the error is returned; back off and retry as
    /// described at [`TcpListener::accept`](crate::net::TcpListener::accept).
    ///
    /// ```
    /// use myriad::net::unix::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("myriad-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let client = myriad::thread::spawn({
    ///     let path = path.clone();
    ///     move || UnixStream::connect(path)
    /// });
    /// let (stream, addr) = listener.accept()?;
    /// assert!(addr.is_unnamed());
    /// client.join().unwrap()?;
    /// # drop(stream);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) =
            self.inner.read_op(|_| self.inner.with_std(|l: &std::os::unix::net::UnixListener| l.accept()))?;
        Ok((UnixStream::from(stream), addr))
    }

    /// Another handle to the same listening socket.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-lclone-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = myriad::net::unix::UnixListener::bind(&path)?;
    /// let clone = listener.try_clone()?;
    /// assert_eq!(clone.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener { inner: self.inner.try_clone()? })
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-laddr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = myriad::net::unix::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|l: &std::os::unix::net::UnixListener| l.local_addr())
    }

    /// With `true`, [`accept`](Self::accept) fails with `WouldBlock` instead
    /// of waiting. Applies to this handle.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-lnb-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = myriad::net::unix::UnixListener::bind(&path)?;
    /// listener.set_nonblocking(true)?;
    /// assert_eq!(listener.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-lerr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = myriad::net::unix::UnixListener::bind(&path)?;
    /// assert!(listener.take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.sock().take_error()
    }

    /// An endless iterator over incoming connections
    /// ([`accept`](Self::accept) in a loop).
    ///
    /// ```
    /// use myriad::net::unix::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("myriad-doc-inc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path)?;
    /// for stream in listener.incoming().take(1) {
    ///     stream?;
    /// }
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixListener");
        if let Ok(addr) = self.local_addr() {
            d.field("local", &addr);
        }
        d.field("fd", &self.inner.as_raw_fd()).finish()
    }
}

fd_traits!(UnixListener, std::os::unix::net::UnixListener);

/// The iterator of [`UnixListener::incoming`].
///
/// ```
/// let path = std::env::temp_dir().join(format!("myriad-doc-incty-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = myriad::net::unix::UnixListener::bind(&path)?;
/// let incoming: myriad::net::unix::Incoming<'_> = listener.incoming();
/// # drop(incoming);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

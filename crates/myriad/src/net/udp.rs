//! `UdpSocket`: std's datagram socket whose receives (and rare blocking
//! sends) park the calling thread.
//!
//! Why it exists: a myriad thread waiting for a datagram must not hold its
//! worker. How it works: the socket is created with `SOCK_NONBLOCK`; sends
//! and receives run std's own implementation on a borrowed view of the
//! descriptor (see `socket.rs`), parking on `EAGAIN` until the handle's
//! timeout; options go through socket2. `send_to` resolves its target off
//! the workers when it is a host name, and uses the first address, as std.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};

use socket2::{Domain, SockAddr, Type};

use super::resolve;
use super::socket::{fd_traits, socket_options, Socket};

/// A UDP socket: [`std::net::UdpSocket`] whose blocking calls park only the
/// calling myriad thread.
///
/// ```
/// use myriad::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.send_to(b"ping", b.local_addr()?)?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    inner: Socket,
}

impl UdpSocket {
    /// Creates a socket bound to `addr`, trying each address it resolves to.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.local_addr()?.port() != 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs + Send>(addr: A) -> io::Result<UdpSocket> {
        resolve::each_addr(addr, |addr| {
            let socket = socket2::Socket::new(Domain::for_address(*addr), Type::DGRAM.nonblocking(), None)?;
            socket.bind(&SockAddr::from(*addr))?;
            Ok(UdpSocket { inner: Socket::from_nonblocking(OwnedFd::from(socket)) })
        })
    }

    /// Receives a datagram, waiting for one; returns its length and sender.
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// let to = b.local_addr()?;
    /// let receiver = myriad::thread::spawn(move || {
    ///     let mut buf = [0; 8];
    ///     b.recv_from(&mut buf).map(|(n, from)| (buf[..n].to_vec(), from))
    /// });
    /// a.send_to(b"wake", to)?;
    /// assert_eq!(receiver.join().unwrap()?, (b"wake".to_vec(), a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_op(|_| self.inner.with_std(|s: &std::net::UdpSocket| s.recv_from(buf)))
    }

    /// Like [`recv_from`](Self::recv_from) but leaves the datagram queued.
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"x", b.local_addr()?)?;
    /// let mut buf = [0; 4];
    /// assert_eq!(b.peek_from(&mut buf)?, (1, a.local_addr()?));
    /// assert_eq!(b.recv_from(&mut buf)?, (1, a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_op(|_| self.inner.with_std(|s: &std::net::UdpSocket| s.peek_from(buf)))
    }

    /// Sends `buf` to `addr` (its first resolved address, as std); returns
    /// the bytes sent.
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.send_to(b"abc", b.local_addr()?)?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<A: ToSocketAddrs + Send>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(addr) = resolve::resolve(addr)?.into_iter().next() else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"));
        };
        self.inner.write_op(|_| self.inner.with_std(|s: &std::net::UdpSocket| s.send_to(buf, addr)))
    }

    /// The address of the connected peer (see [`connect`](Self::connect)).
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &std::net::UdpSocket| s.peer_addr())
    }

    /// The address this socket is bound to.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.with_std(|s: &std::net::UdpSocket| s.local_addr())
    }

    /// Another handle to the same socket, with this handle's timeouts.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.try_clone()?.local_addr()?, socket.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket { inner: self.inner.try_clone()? })
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_broadcast(true)?;
    /// assert!(socket.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.inner.sock().set_broadcast(broadcast)
    }

    /// The value of `SO_BROADCAST`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(!socket.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.sock().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_multicast_loop_v4(false)?;
    /// assert!(!socket.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.sock().set_multicast_loop_v4(on)
    }

    /// The value of `IP_MULTICAST_LOOP`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.sock().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_multicast_ttl_v4(4)?;
    /// assert_eq!(socket.multicast_ttl_v4()?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.sock().set_multicast_ttl_v4(ttl)
    }

    /// The value of `IP_MULTICAST_TTL`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.multicast_ttl_v4()?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.sock().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("[::1]:0")?;
    /// socket.set_multicast_loop_v6(false)?;
    /// assert!(!socket.multicast_loop_v6()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.sock().set_multicast_loop_v6(on)
    }

    /// The value of `IPV6_MULTICAST_LOOP`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("[::1]:0")?;
    /// assert!(socket.multicast_loop_v6()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.sock().multicast_loop_v6()
    }

    /// Joins the IPv4 multicast group `multiaddr` on `interface`
    /// (`UNSPECIFIED` lets the OS choose).
    ///
    /// ```
    /// use myriad::net::{Ipv4Addr, UdpSocket};
    ///
    /// let socket = UdpSocket::bind("0.0.0.0:0")?;
    /// let group = Ipv4Addr::new(239, 255, 0, 1);
    /// if socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST).is_ok() {
    ///     socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.sock().join_multicast_v4(multiaddr, interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on interface index
    /// `interface` (0 lets the OS choose).
    ///
    /// ```
    /// use myriad::net::{Ipv6Addr, UdpSocket};
    ///
    /// let socket = UdpSocket::bind("[::]:0")?;
    /// let group: Ipv6Addr = "ff02::1:3".parse().unwrap();
    /// if socket.join_multicast_v6(&group, 1).is_ok() {
    ///     socket.leave_multicast_v6(&group, 1)?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.sock().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group (see
    /// [`join_multicast_v4`](Self::join_multicast_v4)).
    ///
    /// ```
    /// use myriad::net::{Ipv4Addr, UdpSocket};
    ///
    /// let socket = UdpSocket::bind("0.0.0.0:0")?;
    /// // Leaving a group never joined is an error, as in std.
    /// assert!(socket.leave_multicast_v4(&Ipv4Addr::new(239, 1, 2, 3), &Ipv4Addr::UNSPECIFIED).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.sock().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group (see
    /// [`join_multicast_v6`](Self::join_multicast_v6)).
    ///
    /// ```
    /// use myriad::net::{Ipv6Addr, UdpSocket};
    ///
    /// let socket = UdpSocket::bind("[::]:0")?;
    /// assert!(socket.leave_multicast_v6(&"ff02::1:4".parse::<Ipv6Addr>().unwrap(), 0).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.sock().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_ttl(7)?;
    /// assert_eq!(socket.ttl()?, 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.sock().set_ttl_v4(ttl)
    }

    /// The value of `IP_TTL`.
    ///
    /// ```
    /// let socket = myriad::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.sock().ttl_v4()
    }

    /// Connects the socket to `addr` (trying each resolved address): `send`
    /// goes there and `recv` accepts datagrams only from there.
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// b.connect(a.local_addr()?)?;
    /// a.send(b"hey")?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs + Send>(&self, addr: A) -> io::Result<()> {
        resolve::each_addr(addr, |addr| self.inner.with_std(|s: &std::net::UdpSocket| s.connect(addr)))
    }

    /// Sends `buf` to the connected peer.
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.send(b"1234")?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_op(|_| self.inner.with_std(|s: &std::net::UdpSocket| s.send(buf)))
    }

    /// Receives a datagram from the connected peer, waiting for one.
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"yo", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_op(|_| self.inner.with_std(|s: &std::net::UdpSocket| s.recv(buf)))
    }

    /// Like [`recv`](Self::recv) but leaves the datagram queued.
    ///
    /// ```
    /// use myriad::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"z", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek(&mut buf)?, 1);
    /// assert_eq!(b.recv(&mut buf)?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_op(|_| self.inner.with_std(|s: &std::net::UdpSocket| s.peek(buf)))
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(addr) = self.local_addr() {
            d.field("addr", &addr);
        }
        d.field("fd", &self.inner.as_raw_fd()).finish()
    }
}

socket_options!(UdpSocket, "let s = myriad::net::UdpSocket::bind(\"127.0.0.1:0\")?;");
fd_traits!(UdpSocket, std::net::UdpSocket);

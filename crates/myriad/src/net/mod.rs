//! Networking with [`std::net`]'s API, where every blocking call parks only
//! the calling myriad thread.
//!
//! Port a program by changing `std::net` to `myriad::net` and
//! `std::thread` to `myriad::thread`: a thread per connection then costs a
//! few KiB, and ten thousand connections on two cores are ordinary.
//!
//! ```
//! use myriad::net::{TcpListener, TcpStream};
//! use std::io::{Read, Write};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! myriad::thread::spawn(move || {
//!     for stream in listener.incoming() {
//!         let Ok(mut stream) = stream else { continue };
//!         // One thread per connection, written as blocking code.
//!         myriad::thread::spawn(move || {
//!             let mut buf = [0; 1024];
//!             while let Ok(n @ 1..) = stream.read(&mut buf) {
//!                 if stream.write_all(&buf[..n]).is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! });
//! let mut client = TcpStream::connect(addr)?;
//! client.write_all(b"echo")?;
//! let mut reply = [0; 4];
//! client.read_exact(&mut reply)?;
//! assert_eq!(&reply, b"echo");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How it works
//!
//! Every socket is non-blocking underneath. An operation tries the
//! syscall; on `EAGAIN` a myriad thread parks until its worker's epoll
//! reports readiness, while the worker runs other threads. On a plain OS
//! thread (`main`, a `std::thread`) the same call blocks that OS thread in
//! `poll(2)`, as std would: every type works from both kinds of thread.
//!
//! # Differences from std
//!
//! - Functions taking [`ToSocketAddrs`] also require `Send`: host names are
//!   resolved on a helper OS thread while the calling myriad thread parks
//!   (`getaddrinfo` would otherwise block the worker). Literal addresses are
//!   used directly. Every std address type qualifies.
//! - Read/write timeouts and `set_nonblocking` belong to the handle, not to
//!   the socket: a `try_clone` starts with the original's settings and then
//!   has its own. (std stores them in the socket, shared by all clones.)
//! - Timeouts end a call with `WouldBlock`, as std's do on Unix;
//!   `connect_timeout` ends with `TimedOut`, as std's.
//! - `TcpListener` listens with a backlog of [`BACKLOG`] (capped by the
//!   kernel at `net.core.somaxconn`), not std's 128, so bursts of thousands
//!   of connects are not dropped.
//!
//! # Closing and blocked readers
//!
//! [`TcpStream::shutdown`] (and the Unix types' `shutdown`) wakes every
//! thread blocked on the socket through any clone: after `Shutdown::Read`
//! or `Both` a blocked `read` returns `Ok(0)`. Dropping a handle closes only
//! its descriptor, as in std, so a dropped writer clone never cuts off a
//! reader clone; call `shutdown` to stop readers.
//!
//! # Limits
//!
//! One thread per connection means one descriptor per connection. When the
//! runtime starts it raises the process's soft limit on open files
//! (`RLIMIT_NOFILE`) to the hard limit, as Go does; past that, `accept`
//! returns `EMFILE` (see [`TcpListener::accept`] for how to back off), and
//! only raising the hard limit (`ulimit -Hn`, systemd's `LimitNOFILE`) helps.
//!
//! The Unix domain sockets are in [`unix`].

mod resolve;
pub(crate) mod socket;
mod tcp_listener;
mod tcp_stream;
mod udp;
pub mod unix;

pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs,
};
pub use tcp_listener::{Incoming, TcpListener, BACKLOG};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;

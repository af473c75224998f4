//! Unix domain sockets: [`std::os::unix::net`]'s types whose blocking calls
//! park the calling myriad thread.
//!
//! Why it exists: local services (a database's socket, a sidecar) are as
//! much part of a thread-per-connection program as TCP. How it works: the
//! same core as the TCP types (`net/socket.rs`): non-blocking descriptors,
//! std's own implementation on a borrowed view for every syscall (so
//! addresses are std's [`SocketAddr`]), per-handle timeouts, and a parked
//! thread on `EAGAIN`. Connecting to a listener whose backlog is full is
//! the one case without a readiness event (Linux returns `EAGAIN` instead
//! of waiting); `connect` then retries after short, growing sleeps, as a
//! blocking connect would wait.
//!
//! ```
//! use myriad::net::unix::{UnixListener, UnixStream};
//! use std::io::{Read, Write};
//!
//! let dir = std::env::temp_dir().join(format!("myriad-doc-unix-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("mod.sock");
//! # let _ = std::fs::remove_file(&path);
//! let listener = UnixListener::bind(&path)?;
//! let server = myriad::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut stream, _) = listener.accept()?;
//!     stream.write_all(b"hello")
//! });
//! let mut client = UnixStream::connect(&path)?;
//! let mut reply = String::new();
//! client.read_to_string(&mut reply)?;
//! assert_eq!(reply, "hello");
//! server.join().unwrap()?;
//! std::fs::remove_file(&path)?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{Incoming, UnixListener};
pub use std::os::unix::net::SocketAddr;
pub use stream::UnixStream;

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;

use socket2::SockAddr;

/// socket2's form of a std Unix address (a path or an abstract name).
fn sock_addr(addr: &SocketAddr) -> io::Result<SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return SockAddr::unix(path);
    }
    if let Some(name) = addr.as_abstract_name() {
        let mut bytes = Vec::with_capacity(name.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(name);
        return SockAddr::unix(OsStr::from_bytes(&bytes));
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, "an unnamed Unix socket address cannot be connected or bound to"))
}

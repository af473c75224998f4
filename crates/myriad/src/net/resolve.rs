//! Name resolution that never blocks a worker.
//!
//! Why it exists: `ToSocketAddrs::to_socket_addrs` on a host name calls
//! `getaddrinfo`, which may read files and wait for DNS for seconds. Called
//! on a myriad thread it would block the worker and every thread pinned to
//! it. So a myriad thread hands the call to an OS thread of a small private
//! pool and parks until the answer comes back. On an OS thread the call is
//! made directly, as std does.
//!
//! How it works:
//!
//! - A fast path first: if the argument's type is one whose
//!   `to_socket_addrs` never looks anything up (`SocketAddr`,
//!   `(IpAddr, u16)`, ...), or a string that parses as a literal address,
//!   the call is made in place. The type is recognised by its
//!   lifetime-erased `TypeId` (`typeid::of`), so borrowed arguments such as
//!   `("127.0.0.1", 80)` qualify too.
//! - Otherwise the call runs on the runtime's offload pool
//!   ([`crate::blocking`]), which parks the caller until the answer is
//!   back. The job borrows the argument (the caller waits, as for a scoped
//!   thread), which is why the argument must be `Send` — the one bound
//!   myriad adds to std's signatures.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};

use crate::rt::context;

/// Resolves `addr` as `addr.to_socket_addrs()` would, without blocking a
/// worker.
pub(crate) fn resolve<A: ToSocketAddrs + Send>(addr: A) -> io::Result<Vec<SocketAddr>> {
    if !context::on_myriad_thread() || is_literal(&addr) {
        return addr.to_socket_addrs().map(Iterator::collect);
    }
    crate::blocking(move || addr.to_socket_addrs().map(Iterator::collect))
}

/// Calls `f` for each address `addr` resolves to until one succeeds, like
/// std's private `each_addr`: the last error, or `InvalidInput` if there
/// were no addresses.
pub(crate) fn each_addr<A: ToSocketAddrs + Send, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in resolve(addr)? {
        match f(&addr) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any addresses")))
}

/// Whether `addr.to_socket_addrs()` is known to need no lookup.
fn is_literal<A: ToSocketAddrs>(addr: &A) -> bool {
    let id = typeid::of::<A>();
    let literal_types = [
        typeid::of::<SocketAddr>(),
        typeid::of::<SocketAddrV4>(),
        typeid::of::<SocketAddrV6>(),
        typeid::of::<&SocketAddr>(),
        typeid::of::<(IpAddr, u16)>(),
        typeid::of::<(Ipv4Addr, u16)>(),
        typeid::of::<(Ipv6Addr, u16)>(),
        typeid::of::<&[SocketAddr]>(),
    ];
    if literal_types.contains(&id) {
        return true;
    }
    let addr: *const A = addr;
    if id == typeid::of::<&str>() {
        // SAFETY: `A` is `&str` up to lifetimes (same erased `TypeId`); the
        // reference is used only while `addr` is borrowed.
        let s: &str = unsafe { *addr.cast::<&str>() };
        return s.parse::<SocketAddr>().is_ok();
    }
    if id == typeid::of::<String>() {
        // SAFETY: as above; `String` has no lifetimes at all.
        let s: &String = unsafe { &*addr.cast::<String>() };
        return s.parse::<SocketAddr>().is_ok();
    }
    if id == typeid::of::<(&str, u16)>() {
        // SAFETY: as above, for `(&str, u16)`.
        let (host, _) = unsafe { *addr.cast::<(&str, u16)>() };
        return host.parse::<IpAddr>().is_ok();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_types_are_recognised() {
        assert!(is_literal(&"127.0.0.1:80"));
        assert!(is_literal(&("::1", 80)));
        assert!(is_literal(&SocketAddr::from(([127, 0, 0, 1], 1))));
        assert!(is_literal(&String::from("[::1]:9")));
        assert!(!is_literal(&"localhost:80"));
        assert!(!is_literal(&("localhost", 80)));
    }

    #[test]
    fn a_myriad_thread_resolves_off_its_worker() {
        let host = String::from("localhost");
        let addrs = crate::thread::scope(|s| s.spawn(|| resolve((host.as_str(), 80))).join().unwrap()).unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80), "{addrs:?}");
        assert!(!addrs.is_empty());
    }
}

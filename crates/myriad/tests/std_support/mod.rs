//! Shared support for the suites ported from std's own tests
//! (`std_thread.rs`, `std_sync.rs`, `std_net.rs`, `std_fs.rs`).
//!
//! Why: myriad promises std's API, and std's tests are the fairest check of
//! that promise. Each ported test body runs twice: once on the test
//! harness's plain OS thread, once inside a myriad thread (the two kinds of
//! caller myriad serves).
//!
//! How: [`std_tests!`] turns each `fn name() { .. }` into a module `name`
//! with two `#[test]`s, `name::os` and `name::myriad`. The body is expanded
//! twice, so a `static` declared inside it is a fresh one in each run, and
//! the two runs (which the harness may run at the same time) share nothing.
//! The myriad run is `myriad::thread::spawn(body).join()`, re-raising the
//! body's panic with its payload, so `#[should_panic(expected = ..)]` works
//! for both. Attributes before the `fn` apply to both runs; a
//! `#[myriad(..)]` first adds attributes to the myriad run only (for
//! instance `#[myriad(ignore = "reason")]`). A `#[sequential]` first makes
//! one test, `name::os_then_myriad`, running the two one after the other:
//! for bodies that use a name shared by the whole machine (an abstract
//! Unix socket name), which the two runs at once would fight over.
//!
//! The rest are small stand-ins for std-internal test helpers (`tmpdir`,
//! `next_test_ip4`, `test_rng`, ...): loopback addresses only, and ports
//! from binding port 0 where std counts up from a fixed base.
//!
//! The ported code is from rust-lang/rust (`library/std`), which is
//! MIT OR Apache-2.0 licensed, as this project is.
#![allow(dead_code)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Two `#[test]`s per function: `name::os` and `name::myriad` (see the
/// module docs).
macro_rules! std_tests {
    () => {};
    (
        #[myriad($($myriad_attr:meta),* $(,)?)]
        $(#[$attr:meta])*
        fn $name:ident() $body:block
        $($rest:tt)*
    ) => {
        std_tests!(@one [$(#[$attr])*] [$(#[$myriad_attr])*] $name $body);
        std_tests!($($rest)*);
    };
    (
        #[sequential]
        $(#[$attr:meta])*
        fn $name:ident() $body:block
        $($rest:tt)*
    ) => {
        #[allow(non_snake_case)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// The body on the harness's OS thread, then inside a myriad
            /// thread: for bodies that take a machine-wide name.
            #[test]
            $(#[$attr])*
            #[allow(clippy::all)]
            fn os_then_myriad() {
                fn body() $body
                body();
                $crate::std_support::on_myriad(body)
            }
        }
        std_tests!($($rest)*);
    };
    (
        $(#[$attr:meta])*
        fn $name:ident() $body:block
        $($rest:tt)*
    ) => {
        std_tests!(@one [$(#[$attr])*] [] $name $body);
        std_tests!($($rest)*);
    };
    (@one [$($attr:tt)*] [$($myriad_attr:tt)*] $name:ident $body:block) => {
        #[allow(non_snake_case)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// The body on the harness's OS thread.
            #[test]
            $($attr)*
            #[allow(clippy::all)]
            fn os() $body

            /// The body inside a myriad thread.
            #[test]
            $($attr)*
            $($myriad_attr)*
            #[allow(clippy::all)]
            fn myriad() {
                fn body() $body
                $crate::std_support::on_myriad(body)
            }
        }
    };
}

/// Runs `body` in a myriad thread, re-raising its panic here.
pub fn on_myriad<F: FnOnce() + Send + 'static>(body: F) {
    let handle = myriad::thread::spawn(move || {
        assert!(myriad::thread::current().is_myriad(), "the body must run on a myriad thread");
        body()
    });
    if let Err(payload) = handle.join() {
        std::panic::resume_unwind(payload);
    }
}

/// A free loopback port: bound (TCP and UDP) on `ip` port 0, then let go.
fn free_port(ip: std::net::IpAddr) -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((ip, 0)).expect("bind a loopback port");
        let port = tcp.local_addr().expect("local address").port();
        // std's tests bind the same address for TCP or UDP: keep only
        // ports free for both.
        if std::net::UdpSocket::bind((ip, port)).is_ok() {
            return port;
        }
    }
}

/// std's `net::test::next_test_ip4`: an unused 127.0.0.1 address.
pub fn next_test_ip4() -> SocketAddr {
    let ip = Ipv4Addr::LOCALHOST;
    SocketAddr::V4(SocketAddrV4::new(ip, free_port(ip.into())))
}

/// std's `net::test::next_test_ip6`: an unused [::1] address.
pub fn next_test_ip6() -> SocketAddr {
    let ip = Ipv6Addr::LOCALHOST;
    SocketAddr::V6(SocketAddrV6::new(ip, free_port(ip.into()), 0, 0))
}

/// std's `net::tests::LOCALHOST_IP4`: any port on 127.0.0.1.
pub const LOCALHOST_IP4: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
/// std's `net::tests::LOCALHOST_IP6`: any port on [::1].
pub const LOCALHOST_IP6: SocketAddr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 0, 0, 0));

/// std's `net::test::compare_ignore_zoneid`.
pub fn compare_ignore_zoneid(a: &SocketAddr, b: &SocketAddr) -> bool {
    match (a, b) {
        (SocketAddr::V6(a), SocketAddr::V6(b)) => {
            a.ip().segments() == b.ip().segments() && a.flowinfo() == b.flowinfo() && a.port() == b.port()
        }
        _ => a == b,
    }
}

/// std's `test_helpers::TempDir`: a directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn join(&self, path: &str) -> PathBuf {
        self.0.join(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // std's own, so that a myriad bug cannot hide behind the clean-up.
        let result = std::fs::remove_dir_all(&self.0);
        if !std::thread::panicking() {
            result.expect("remove the test directory");
        }
    }
}

/// std's `test_helpers::tmpdir`: a fresh directory under the temp dir.
pub fn tmpdir() -> TempDir {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("myriad-std-{}-{n}-{}", std::process::id(), test_rng().next_u32()));
    std::fs::create_dir(&path).expect("create the test directory");
    TempDir(path)
}

/// std's `test_helpers::test_rng`: a small xorshift generator, seeded
/// differently on each call (std's tests need no more).
pub fn test_rng() -> Rng {
    use std::hash::{BuildHasher, Hasher};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(CALLS.fetch_add(1, Ordering::Relaxed));
    Rng(hasher.finish() | 1)
}

/// The few methods of `rand`'s generators that std's tests call.
pub struct Rng(u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// `true` with probability `p`.
    pub fn random_bool(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// std's `os::unix::net::SUN_PATH_MAX_LEN`: the room for a path in a
/// `sockaddr_un`.
pub const SUN_PATH_MAX_LEN: usize = {
    // SAFETY: an all-zero `sockaddr_un` is a valid value (integers and a
    // byte array); it is only measured.
    let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_path.len()
};

/// std's `net::tests::ZeroedMmap`: `len` zero bytes of read-only anonymous
/// memory, which costs nothing until read (for datagrams too large to send).
pub struct ZeroedMmap {
    ptr: *mut libc::c_void,
    len: usize,
}

impl ZeroedMmap {
    pub fn new(len: usize) -> ZeroedMmap {
        // SAFETY: a fresh anonymous private mapping; no memory of ours is
        // touched.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        ZeroedMmap { ptr, len }
    }
}

impl std::ops::Deref for ZeroedMmap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes (zeros), alive and
        // never written until `drop` unmaps it.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for ZeroedMmap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no slice of it
        // outlives `self`.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

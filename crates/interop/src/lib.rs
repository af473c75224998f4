//! Code not written for myriad, run on myriad threads with the `intercept`
//! feature: the tests here use real crates exactly as their docs show
//! (`ureq`, `redis`) and a small C function (`c/blocking_client.c`, built
//! by `build.rs` with the `cc` crate) that calls `recv` and `poll`.
//!
//! The C function is linked statically, so its calls reach myriad's entry
//! points the way std's do; a shared C library would need the program
//! linked with `-C link-arg=-rdynamic` (see `myriad`'s `intercept` module).

use std::os::fd::RawFd;

extern "C" {
    fn interop_wait_and_recv(
        fd: libc::c_int,
        buf: *mut u8,
        len: libc::size_t,
        timeout_ms: libc::c_int,
    ) -> libc::ssize_t;
}

/// Waits with `poll(2)` until `fd` is readable (at most `timeout_ms`), then
/// reads with `recv(2)`, both from C: the number of bytes read, 0 at end of
/// stream, or the error (a timeout is `TimedOut`).
pub fn c_wait_and_recv(fd: RawFd, buf: &mut [u8], timeout_ms: i32) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length for the whole call.
    let n = unsafe { interop_wait_and_recv(fd, buf.as_mut_ptr(), buf.len(), timeout_ms) };
    match n {
        -2 => Err(std::io::ErrorKind::TimedOut.into()),
        n if n < 0 => Err(std::io::Error::last_os_error()),
        n => Ok(n as usize),
    }
}

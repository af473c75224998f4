//! An eventfd: the counter through which one thread wakes another out of
//! `epoll_wait`. A worker's poller has one to be handed work, and a
//! worker's io_uring ring signals its completions through another.
//!
//! Reads and writes are raw system calls: they are the runtime's own, made
//! on worker threads, and must not go through the `intercept` feature's
//! entry points for `read` and `write`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct EventFd(OwnedFd);

impl EventFd {
    /// A new non-blocking, close-on-exec eventfd.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: a plain system call returning a new descriptor.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned to us and nothing else owns it.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Adds one to the counter, waking a waiter. A full counter (`EAGAIN`)
    /// already means a wake-up is pending.
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::syscall(libc::SYS_write, self.0.as_raw_fd(), (&raw const one).cast::<u8>(), 8usize) };
    }

    /// Resets the counter (`EAGAIN` if it was zero is fine).
    pub fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our eventfd.
        unsafe { libc::syscall(libc::SYS_read, self.0.as_raw_fd(), (&raw mut count).cast::<u8>(), 8usize) };
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

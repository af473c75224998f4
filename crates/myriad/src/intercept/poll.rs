//! Intercepted `poll` and `ppoll`, over any mix of descriptors, with their
//! timeout. std uses `poll` in `TcpStream::connect_timeout`, and C clients
//! wait with it.
//!
//! On a myriad thread: one look without waiting (the system call with a
//! zero timeout); if nothing is ready and the caller would wait, the thread
//! parks on every descriptor at once (`rt::reactor::wait_foreign`) until
//! one may be ready or the timeout passes, and looks again. What the
//! caller gets is always the kernel's own answer to a look: `revents`,
//! the count, errno. With no descriptor to watch, `poll` is a sleep. A
//! `ppoll` with a signal mask goes to the kernel as it is: the mask must be
//! in place while the caller waits, and a myriad thread shares its OS
//! thread's mask with every other thread there.

use std::time::{Duration, Instant};

use libc::{c_int, nfds_t, pollfd, sigset_t, timespec};

use super::parks_here;
use crate::rt::reactor::{self, Direction};

/// `ppoll(2)` by system call: wait at most `timeout` (`None`: no limit).
pub(super) fn sys_poll(fds: *mut pollfd, nfds: nfds_t, timeout: Option<Duration>) -> c_int {
    let ts = timeout.map(|t| timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const timespec);
    // SAFETY: `fds` and `nfds` come from our caller's libc contract; the
    // timespec is ours; no signal mask (the size argument is the kernel's).
    unsafe { libc::syscall(libc::SYS_ppoll, fds, nfds, ts_ptr, std::ptr::null::<sigset_t>(), 8usize) as c_int }
}

/// `poll`'s millisecond timeout as a duration (`None`: wait for ever).
fn millis(timeout: c_int) -> Option<Duration> {
    (timeout >= 0).then(|| Duration::from_millis(timeout as u64))
}

/// The parking form of `poll`, for a myriad thread.
///
/// # Safety
///
/// `fds` points to `nfds` pollfds (libc's contract).
unsafe fn park_and_poll(fds: *mut pollfd, nfds: nfds_t, timeout: Option<Duration>) -> c_int {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut backoff = Duration::from_micros(50);
    loop {
        let ready = sys_poll(fds, nfds, Some(Duration::ZERO));
        if ready != 0 || timeout == Some(Duration::ZERO) || deadline.is_some_and(|d| Instant::now() >= d) {
            return ready;
        }
        // SAFETY: the caller's contract; read only, between system calls.
        let entries = if nfds == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(fds, nfds as usize) } };
        let mut watch = Vec::with_capacity(entries.len());
        for entry in entries.iter().filter(|e| e.fd >= 0) {
            if entry.events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) != 0 {
                watch.push((entry.fd, Direction::Read));
            }
            if entry.events & libc::POLLOUT != 0 {
                watch.push((entry.fd, Direction::Write));
            }
            if entry.events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP | libc::POLLOUT) == 0 {
                // Only errors and hang-ups asked for: they wake readers.
                watch.push((entry.fd, Direction::Read));
            }
        }
        if watch.is_empty() {
            // Nothing to watch: a sleep, as the kernel's poll would be.
            match deadline {
                Some(deadline) => {
                    crate::thread::sleep_uninterruptible(deadline.saturating_duration_since(std::time::Instant::now()))
                }
                None => loop {
                    crate::thread::park_uninterruptible();
                },
            }
            continue;
        }
        match reactor::wait_foreign(&watch, deadline) {
            Ok(_) => {}
            Err(_) => {
                // A descriptor epoll will not take: look again soon.
                crate::thread::sleep_uninterruptible(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(10));
            }
        }
    }
}

/// `poll(2)`.
///
/// # Safety
///
/// libc's contract: `fds` points to `nfds` pollfds.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 || !parks_here() {
        return sys_poll(fds, nfds, millis(timeout));
    }
    // SAFETY: forwarded.
    unsafe { park_and_poll(fds, nfds, millis(timeout)) }
}

/// `ppoll(2)`.
///
/// # Safety
///
/// libc's contract: `fds` points to `nfds` pollfds, `timeout` is null or
/// a valid timespec, `sigmask` is null or a valid signal set.
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const sigset_t,
) -> c_int {
    // SAFETY: a non-null `timeout` is a valid timespec (libc's contract).
    let limit = unsafe { timeout.as_ref() };
    let valid = limit.is_none_or(|t| t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec));
    if !sigmask.is_null() || !valid || !parks_here() {
        // SAFETY: forwarded as it is.
        return unsafe { libc::syscall(libc::SYS_ppoll, fds, nfds, timeout, sigmask, 8usize) as c_int };
    }
    let limit = limit.map(|t| Duration::new(t.tv_sec as u64, t.tv_nsec as u32));
    // SAFETY: forwarded.
    unsafe { park_and_poll(fds, nfds, limit) }
}

//! Intercepted socket calls: `read`, `write`, `readv`, `writev`, `recv`,
//! `recvfrom`, `recvmsg`, `send`, `sendto`, `sendmsg`, `accept`, `accept4`
//! and `connect`.
//!
//! On a myriad thread each call is made with `MSG_DONTWAIT` (the per-call
//! form of non-blocking, which leaves the descriptor's own flags alone).
//! If the kernel answers `EAGAIN` and the program left the descriptor
//! blocking, the thread parks until the socket may be ready
//! (`rt::reactor::wait_foreign`) and tries again, until the socket's
//! `SO_RCVTIMEO`/`SO_SNDTIMEO` if one is set. `read`, `write`, `readv` and
//! `writev` first try the socket form; `ENOTSOCK` sends them to the plain
//! system call (files, pipes, ttys: see `mod.rs`).
//!
//! `accept` has no per-call non-blocking flag: a zero-timeout `poll` says
//! whether a connection waits, and only then is `accept4` called. Another
//! thread of the program may take that connection first (several threads
//! accepting on one listener); the call then blocks the worker until the
//! next connection comes, as it would without interception — the stall
//! monitor reports it. `connect` makes the socket non-blocking for the
//! one call that starts the connection, waits for it to be writable, and
//! reads the outcome with `SO_ERROR`.

use std::time::{Duration, Instant};

use libc::{c_int, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::{errno, fail, parks_here, set_errno};
use crate::rt::reactor::{self, Direction};

// The real calls, by system call: libc's wrappers for these are the call
// and errno, nothing more.

unsafe fn sys_read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    // SAFETY: forwarded from our caller's libc contract.
    unsafe { libc::syscall(libc::SYS_read, fd, buf, count) as ssize_t }
}

unsafe fn sys_write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_write, fd, buf, count) as ssize_t }
}

unsafe fn sys_readv(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_readv, fd, iov, iovcnt) as ssize_t }
}

unsafe fn sys_writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_writev, fd, iov, iovcnt) as ssize_t }
}

unsafe fn sys_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_recvfrom, fd, buf, len, flags, addr, addrlen) as ssize_t }
}

unsafe fn sys_sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_sendto, fd, buf, len, flags, addr, addrlen) as ssize_t }
}

unsafe fn sys_recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_recvmsg, fd, msg, flags) as ssize_t }
}

unsafe fn sys_sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_sendmsg, fd, msg, flags) as ssize_t }
}

unsafe fn sys_accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_accept4, fd, addr, len, flags) as c_int }
}

unsafe fn sys_connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_connect, fd, addr, len) as c_int }
}

/// Whether `fd` may be ready in `direction` now (a zero-timeout `poll`).
fn ready_now(fd: c_int, direction: Direction) -> bool {
    let events = match direction {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    let mut pollfd = libc::pollfd { fd, events, revents: 0 };
    super::poll::sys_poll(&mut pollfd, 1, Some(Duration::ZERO)) != 0
}

fn is_nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL takes no pointer; a bad descriptor returns -1.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

/// When the socket's own timeout for `direction` (`SO_RCVTIMEO`,
/// `SO_SNDTIMEO`) runs out, counted from now; `None` if it has none.
fn socket_deadline(fd: c_int, direction: Direction) -> Option<Instant> {
    let option = match direction {
        Direction::Read => libc::SO_RCVTIMEO,
        Direction::Write => libc::SO_SNDTIMEO,
    };
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut len = std::mem::size_of::<libc::timeval>() as socklen_t;
    // SAFETY: reads a timeval-sized option into our own timeval.
    let ok = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, option, (&raw mut tv).cast(), &mut len) } == 0;
    if !ok || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    Instant::now().checked_add(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
}

/// Parks the running myriad thread until `fd` may be ready in
/// `direction`; false once `deadline` has passed.
fn wait(fd: c_int, direction: Direction, deadline: Option<Instant>, backoff: &mut Duration) -> bool {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return false;
    }
    match reactor::wait_foreign(&[(fd, direction)], deadline) {
        Ok(ready) => ready,
        Err(_) => {
            // epoll would not take the descriptor (already registered on
            // this worker by a myriad type, say): look again soon, still
            // without blocking the worker.
            crate::thread::sleep(*backoff);
            *backoff = (*backoff * 2).min(Duration::from_millis(10));
            true
        }
    }
}

/// The shared loop of the calls that can park: `first` is the result of
/// the first non-blocking attempt, `attempt` makes the next ones. Returns
/// a result and errno as the blocking call would have.
fn park_until_done(fd: c_int, direction: Direction, first: ssize_t, mut attempt: impl FnMut() -> ssize_t) -> ssize_t {
    let mut result = first;
    let mut deadline = None;
    let mut backoff = Duration::from_micros(50);
    loop {
        if result >= 0 || errno() != libc::EAGAIN {
            return result;
        }
        let until = match deadline {
            Some(until) => until,
            None => {
                // A descriptor the program made non-blocking gets its EAGAIN.
                if is_nonblocking(fd) {
                    return fail(libc::EAGAIN);
                }
                *deadline.insert(socket_deadline(fd, direction))
            }
        };
        if !wait(fd, direction, until, &mut backoff) {
            // The socket's timeout: the kernel's answer is EAGAIN too.
            return fail(libc::EAGAIN);
        }
        result = attempt();
    }
}

/// A call on a descriptor that may or may not be a socket: the socket form
/// with `MSG_DONTWAIT` if it is one, else `plain` (see the module comment).
fn maybe_socket(
    fd: c_int,
    direction: Direction,
    mut as_socket: impl FnMut() -> ssize_t,
    plain: impl FnOnce() -> ssize_t,
) -> ssize_t {
    let first = as_socket();
    if first < 0 && errno() == libc::ENOTSOCK {
        return plain();
    }
    park_until_done(fd, direction, first, as_socket)
}

/// `read(2)`.
///
/// # Safety
///
/// libc's contract: `buf` is writable for `count` bytes.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    if !parks_here() {
        // SAFETY: forwarded.
        return unsafe { sys_read(fd, buf, count) };
    }
    maybe_socket(
        fd,
        Direction::Read,
        // SAFETY: forwarded (a socket read is a recv with no flags).
        || unsafe { sys_recvfrom(fd, buf, count, libc::MSG_DONTWAIT, std::ptr::null_mut(), std::ptr::null_mut()) },
        // SAFETY: forwarded.
        || unsafe { sys_read(fd, buf, count) },
    )
}

/// `write(2)`.
///
/// # Safety
///
/// libc's contract: `buf` is readable for `count` bytes.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    if !parks_here() {
        // SAFETY: forwarded.
        return unsafe { sys_write(fd, buf, count) };
    }
    maybe_socket(
        fd,
        Direction::Write,
        // SAFETY: forwarded (a socket write is a send with no flags).
        || unsafe { sys_sendto(fd, buf, count, libc::MSG_DONTWAIT, std::ptr::null(), 0) },
        // SAFETY: forwarded.
        || unsafe { sys_write(fd, buf, count) },
    )
}

/// A message header naming just `iov`, for the vectored calls.
fn iov_message(iov: *const iovec, iovcnt: c_int) -> msghdr {
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
    let mut msg: msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.cast_mut();
    msg.msg_iovlen = iovcnt.max(0) as _;
    msg
}

/// `readv(2)`.
///
/// # Safety
///
/// libc's contract: `iov` names `iovcnt` writable buffers.
#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    if !parks_here() || iovcnt < 0 {
        // SAFETY: forwarded.
        return unsafe { sys_readv(fd, iov, iovcnt) };
    }
    let mut msg = iov_message(iov, iovcnt);
    maybe_socket(
        fd,
        Direction::Read,
        // SAFETY: forwarded; `msg` only names the caller's buffers.
        || unsafe { sys_recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) },
        // SAFETY: forwarded.
        || unsafe { sys_readv(fd, iov, iovcnt) },
    )
}

/// `writev(2)`.
///
/// # Safety
///
/// libc's contract: `iov` names `iovcnt` readable buffers.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, iovcnt: c_int) -> ssize_t {
    if !parks_here() || iovcnt < 0 {
        // SAFETY: forwarded.
        return unsafe { sys_writev(fd, iov, iovcnt) };
    }
    let msg = iov_message(iov, iovcnt);
    maybe_socket(
        fd,
        Direction::Write,
        // SAFETY: forwarded; `msg` only names the caller's buffers.
        || unsafe { sys_sendmsg(fd, &msg, libc::MSG_DONTWAIT) },
        // SAFETY: forwarded.
        || unsafe { sys_writev(fd, iov, iovcnt) },
    )
}

/// Whether a send or receive with `flags` may park: on a myriad thread,
/// unless the caller asked for no waiting itself.
fn may_park(flags: c_int) -> bool {
    flags & libc::MSG_DONTWAIT == 0 && parks_here()
}

/// A send or receive made with `call(flags)`: as it is where it may not
/// park, else with `MSG_DONTWAIT`, parking while it says `EAGAIN`.
fn flagged(fd: c_int, flags: c_int, direction: Direction, call: impl Fn(c_int) -> ssize_t) -> ssize_t {
    if !may_park(flags) {
        return call(flags);
    }
    let attempt = || call(flags | libc::MSG_DONTWAIT);
    park_until_done(fd, direction, attempt(), attempt)
}

fn is_stream(fd: c_int) -> bool {
    let mut kind: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: reads an int-sized option into our own int.
    let ok = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&raw mut kind).cast(), &mut len) } == 0;
    ok && kind == libc::SOCK_STREAM
}

/// `recvfrom(2)`, the receive the other receives are made of.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if !may_park(flags) {
        // SAFETY: forwarded.
        return unsafe { sys_recvfrom(fd, buf, len, flags, addr, addrlen) };
    }
    let once = |buf: *mut c_void, len: size_t| {
        let flags = (flags & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT;
        // SAFETY: forwarded, for a part of the caller's buffer.
        let attempt = || unsafe { sys_recvfrom(fd, buf, len, flags, addr, addrlen) };
        park_until_done(fd, Direction::Read, attempt(), attempt)
    };
    if flags & libc::MSG_WAITALL == 0 || !is_stream(fd) {
        return once(buf, len);
    }
    // MSG_WAITALL on a stream: gather until the buffer is full, the peer
    // closes, or an error (then what arrived so far, as the kernel does).
    let mut got = 0;
    while got < len {
        // SAFETY: `got < len`, so the rest lies inside the caller's buffer.
        let n = once(unsafe { buf.cast::<u8>().add(got) }.cast(), len - got);
        if n <= 0 {
            return if got > 0 { got as ssize_t } else { n };
        }
        got += n as usize;
    }
    got as ssize_t
}

/// `recv(2)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: forwarded.
    unsafe { recvfrom(fd, buf, len, flags, std::ptr::null_mut(), std::ptr::null_mut()) }
}

/// `recvmsg(2)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: forwarded.
    flagged(fd, flags, Direction::Read, |flags| unsafe { sys_recvmsg(fd, msg, flags) })
}

/// `sendto(2)`, the send the other sends are made of.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    // SAFETY: forwarded.
    flagged(fd, flags, Direction::Write, |flags| unsafe { sys_sendto(fd, buf, len, flags, addr, addrlen) })
}

/// `send(2)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: forwarded.
    unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

/// `sendmsg(2)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    // SAFETY: forwarded.
    flagged(fd, flags, Direction::Write, |flags| unsafe { sys_sendmsg(fd, msg, flags) })
}

/// `accept4(2)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
    if parks_here() && !ready_now(fd, Direction::Read) && !is_nonblocking(fd) {
        let deadline = socket_deadline(fd, Direction::Read);
        let mut backoff = Duration::from_micros(50);
        while !ready_now(fd, Direction::Read) {
            if !wait(fd, Direction::Read, deadline, &mut backoff) {
                return fail(libc::EAGAIN) as c_int;
            }
        }
    }
    // A connection waits (or the descriptor is non-blocking, or this is
    // not a myriad thread): the call itself.
    // SAFETY: forwarded.
    unsafe { sys_accept4(fd, addr, len, flags) }
}

/// `accept(2)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: forwarded.
    unsafe { accept4(fd, addr, len, 0) }
}

/// `connect(2)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !parks_here() {
        // SAFETY: forwarded.
        return unsafe { sys_connect(fd, addr, len) };
    }
    let saved_errno = errno();
    // SAFETY: F_GETFL takes no pointer.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || flags & libc::O_NONBLOCK != 0 {
        // SAFETY: forwarded: the program's own non-blocking connect.
        return unsafe { sys_connect(fd, addr, len) };
    }
    // Non-blocking for just the call that starts the connection.
    // SAFETY: sets flags on the caller's descriptor, restored at once.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    // SAFETY: forwarded.
    let started = unsafe { sys_connect(fd, addr, len) };
    let error = errno();
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    if started == 0 {
        set_errno(saved_errno);
        return 0;
    }
    match error {
        libc::EINPROGRESS => {}
        // A Unix socket whose listener's backlog is full: blocking connect
        // would wait for room; do that the plain way.
        // SAFETY: forwarded.
        libc::EAGAIN => return unsafe { sys_connect(fd, addr, len) },
        other => return fail(other) as c_int,
    }
    let deadline = socket_deadline(fd, Direction::Write);
    let mut backoff = Duration::from_micros(50);
    while !ready_now(fd, Direction::Write) {
        if !wait(fd, Direction::Write, deadline, &mut backoff) {
            // SO_SNDTIMEO passed: a blocking connect says EINPROGRESS.
            return fail(libc::EINPROGRESS) as c_int;
        }
    }
    let mut outcome: c_int = 0;
    let mut outcome_len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: reads an int-sized option into our own int.
    let read =
        unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, (&raw mut outcome).cast(), &mut outcome_len) };
    if read != 0 {
        return -1; // errno from getsockopt
    }
    if outcome != 0 {
        return fail(outcome) as c_int;
    }
    // Connected: errno as the caller left it.
    set_errno(saved_errno);
    0
}

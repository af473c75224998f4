//! IO readiness: how a myriad thread waits for a descriptor without
//! blocking its worker.
//!
//! A descriptor that myriad does IO on is non-blocking. An operation
//! ([`IoFd::do_io`]) tries the syscall and, only on `EAGAIN`, waits for
//! readiness and tries again.
//!
//! Waiting needs a registration: the descriptor is added to the epoll
//! instance of the worker whose thread first waits on it (edge-triggered,
//! for reading and writing at once), with a pointer to its `Source`
//! (`readiness.rs`). The worker's poll step (`io_driver.rs`) gets events
//! in the same wait that covers timers and wake-ups;
//! `readiness::dispatch` records them in the source's readiness word and
//! uses the `Wake`s of the threads waiting in that direction, if any.
//!
//! # Readiness
//!
//! The readiness word holds, per direction, "may be ready" and "closed"
//! bits, and a tick that every dispatched event advances. Events set bits;
//! only an operation that *saw* the descriptor not ready clears them: one
//! that failed with `EAGAIN`, or a stream read that returned less than
//! asked for (the receive queue was drained: the next byte to arrive is a
//! new edge). The bits are cleared only if the tick is still the one read
//! *before* the syscall, so an edge dispatched meanwhile is never erased.
//! A myriad thread whose direction is not ready waits first, without the
//! syscall that would only say `EAGAIN` (a request-response connection
//! then costs one `recv` and one `send` per request, as tokio's does).
//! After any wake-up the operation is tried once regardless of the bits
//! (a `shutdown` wakes waiters without an event).
//!
//! No edge is lost between a thread that starts to wait and an event
//! (`Source::wait_for`; see `readiness.rs`).
//!
//! A registration is removed from epoll (`EPOLL_CTL_DEL`) before its
//! descriptor is closed. The epoll instance still holds a pointer to the
//! source, and the worker may be dispatching a batch of events that came
//! before the removal, so the source is *retired* to the worker, which
//! releases it just before its next `epoll_wait` — after every event that
//! could name it has been handled (`io_driver.rs`).
//!
//! On an OS thread, waiting is `poll(2)` on the descriptor: it blocks that
//! OS thread, as std would, and needs no registration; OS threads always
//! try the syscall first.
//!
//! [`IoFd`] puts it together for the std-shaped types (`myriad::net`):
//! an owned non-blocking descriptor with a registration made on first need.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::context;
pub use super::readiness::Direction;
use super::readiness::{ready_bit, ready_mask, Source};
use super::wait::WaitReason;
use super::wait::{self, Woken};
use super::Runtime;

/// A descriptor registered with one worker's epoll instance.
struct Registration {
    fd: RawFd,
    worker: usize,
    source: Arc<Source>,
}

impl Registration {
    /// Registers `fd` with the current worker's epoll instance (or, from an
    /// OS thread, with a worker chosen by descriptor number).
    fn new(fd: RawFd) -> io::Result<Registration> {
        let rt = Runtime::get()?;
        let worker = context::current_worker().unwrap_or((fd as usize) % rt.workers().len());
        let source = Arc::new(Source::new());
        rt.workers()[worker].io.register(fd, source.clone())?;
        super::fd_table::note_open(fd);
        Ok(Registration { fd, worker, source })
    }

    /// Waits until the descriptor may be ready in `direction` (its bits
    /// are set), or until `deadline` (then fails with `WouldBlock`, as
    /// std's socket timeouts do on Unix), or until the thread is
    /// interrupted (`wait::interrupted_error`). Returns at once if they
    /// are set.
    fn wait(&self, direction: Direction, deadline: Option<Instant>) -> io::Result<()> {
        let source = &self.source;
        let op = match direction {
            Direction::Read => "read",
            Direction::Write => "write",
        };
        let woken = wait::block_interruptible(WaitReason::Socket { op, fd: self.fd }, deadline, |wake| {
            source.wait_for(direction, &wake);
        });
        match woken {
            Woken::Woken => Ok(()),
            // The ended entry goes at the next push (see above).
            Woken::TimedOut => Err(io::Error::from(io::ErrorKind::WouldBlock)),
            // As after a time-out.
            Woken::Interrupted => Err(wait::interrupted_error()),
            // The entry holds only its own `Wake`: nothing to undo.
            Woken::Abandoned => wait::panic_deadlocked(),
        }
    }

    /// Wakes the threads waiting on this descriptor so that they retry
    /// their operation (after a `shutdown`, say).
    fn wake_all(&self) {
        self.source.wake(Direction::Read);
        self.source.wake(Direction::Write);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Ok(rt) = Runtime::get() else { return };
        // The epoll instance's reference is released by the worker (see the
        // module comment).
        rt.workers()[self.worker].io.deregister(self.fd, &self.source);
        self.wake_all();
    }
}

/// An owned, non-blocking descriptor that myriad threads and OS threads can
/// wait on.
pub struct IoFd {
    // Declared before `fd`: deregistered before the descriptor closes.
    registration: OnceLock<Registration>,
    fd: OwnedFd,
}

impl IoFd {
    /// Takes ownership of `fd` and makes it non-blocking.
    pub fn new(fd: OwnedFd) -> io::Result<IoFd> {
        set_nonblocking(fd.as_raw_fd())?;
        super::fd_table::note_open(fd.as_raw_fd());
        Ok(IoFd { registration: OnceLock::new(), fd })
    }

    /// Takes ownership of `fd`, which the caller created non-blocking
    /// (`SOCK_NONBLOCK`, as `accept4` and `socket` allow): saves the two
    /// `fcntl` calls of [`IoFd::new`] on hot paths such as `accept`. A
    /// blocking descriptor here would block a worker, so only pass ones
    /// made non-blocking.
    pub fn new_nonblocking(fd: OwnedFd) -> IoFd {
        super::fd_table::note_open(fd.as_raw_fd());
        IoFd { registration: OnceLock::new(), fd }
    }

    /// Runs the non-blocking operation `op` until it does not fail with
    /// `WouldBlock`, waiting for readiness in `direction` in between, until
    /// `deadline` at the latest (then fails with `WouldBlock`). An
    /// interrupted thread (`wait/interrupt.rs`) fails at once, before the
    /// operation, and a wait ends when it is interrupted.
    pub fn do_io<R>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        op: impl FnMut(RawFd) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_loop(direction, deadline, op, |_| false)
    }

    /// [`IoFd::do_io`] for a read from a *stream* into `len` bytes: a read
    /// that returns fewer (but some) bytes drained the receive queue, so
    /// the next read waits for an event instead of asking the kernel first.
    /// Not for datagrams (a short datagram says nothing about the queue)
    /// nor for `peek` (which leaves the bytes queued).
    pub fn do_stream_read(
        &self,
        len: usize,
        deadline: Option<Instant>,
        op: impl FnMut(RawFd) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io_loop(Direction::Read, deadline, op, |&n| 0 < n && n < len)
    }

    fn io_loop<R>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut(RawFd) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        // One always-ready socket must not starve its worker's other
        // threads (`coop.rs`).
        super::coop::spend();
        if wait::current_interrupt().is_some() {
            return Err(wait::interrupted_error());
        }
        // Whether to trust the readiness bits: not right after a wake-up.
        let mut trust_bits = true;
        loop {
            // Read before the syscall: `Source::clear` compares the tick.
            let seen = self.registration.get().map(|r| (&r.source, r.source.readiness()));
            if let Some((_, state)) = seen {
                if trust_bits && state & ready_mask(direction) == 0 && context::on_myriad_thread() {
                    // Not ready since an operation said so: wait for the
                    // event rather than hear `EAGAIN` first.
                    self.wait(direction, deadline)?;
                    trust_bits = false;
                    continue;
                }
            }
            match own_call(|| op(self.fd.as_raw_fd())) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some((source, state)) = seen {
                        source.clear(state, ready_mask(direction));
                    }
                    self.wait(direction, deadline)?;
                    trust_bits = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(value) => {
                    if let Some((source, state)) = seen {
                        if drained(&value) {
                            source.clear(state, ready_bit(direction));
                        }
                    }
                    return Ok(value);
                }
                result => return result,
            }
        }
    }

    /// Waits until the descriptor may be ready in `direction`.
    fn wait(&self, direction: Direction, deadline: Option<Instant>) -> io::Result<()> {
        if !context::on_myriad_thread() {
            return poll_os(self.fd.as_raw_fd(), direction, deadline);
        }
        let registration = match self.registration.get() {
            Some(registration) => registration,
            None => {
                let fresh = Registration::new(self.fd.as_raw_fd())?;
                // Another thread may have registered meanwhile; the loser's
                // registration is dropped (and removed) by `set`'s result.
                let _ = self.registration.set(fresh);
                self.registration.get().expect("just set")
            }
        };
        registration.wait(direction, deadline)
    }

    /// Wakes the myriad threads waiting on this descriptor so that they
    /// retry their operation (after a `shutdown`, say).
    pub fn wake_waiters(&self) {
        if let Some(registration) = self.registration.get() {
            registration.wake_all();
        }
    }
}

impl AsFd for IoFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for IoFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<IoFd> for OwnedFd {
    fn from(io: IoFd) -> OwnedFd {
        let IoFd { registration, fd } = io;
        drop(registration);
        fd
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Parks the running myriad thread until one of `fds` may be ready in its
/// direction, or until `deadline`: `Ok(true)` if one may be, `Ok(false)` on
/// time-out. For descriptors myriad does not own (libc calls intercepted
/// by the `intercept` feature): each is added to the worker's epoll
/// instance for this wait only and removed after it, so nothing is left
/// behind when the program closes or reuses the descriptor. Fails if one
/// cannot be added (`EEXIST`: a myriad type registered it on this worker
/// already; `EPERM`: a regular file) — the caller then waits another way.
/// Called on an OS thread, it fails with `Unsupported`.
#[cfg_attr(not(feature = "intercept"), allow(dead_code))]
pub fn wait_foreign(fds: &[(RawFd, Direction)], deadline: Option<Instant>) -> io::Result<bool> {
    if !context::on_myriad_thread() {
        return Err(io::ErrorKind::Unsupported.into());
    }
    // One registration per descriptor, however many directions it is
    // waited on in.
    let mut registrations: Vec<Registration> = Vec::with_capacity(fds.len());
    for &(fd, _) in fds {
        if !registrations.iter().any(|r| r.fd == fd) {
            registrations.push(Registration::new(fd)?);
        }
    }
    let op = match fds {
        [(_, Direction::Read)] => "read",
        [(_, Direction::Write)] => "write",
        _ => "poll",
    };
    let fd = fds.first().map_or(-1, |&(fd, _)| fd);
    let woken = wait::block(WaitReason::Socket { op, fd }, deadline, |wake| {
        for &(fd, direction) in fds {
            let Some(registration) = registrations.iter().find(|r| r.fd == fd) else { continue };
            registration.source.wait_for(direction, &wake);
        }
    });
    // Dropping the registrations removes them from epoll (see `Drop`).
    drop(registrations);
    Ok(woken == Woken::Woken)
}

#[cfg(feature = "intercept")]
thread_local! {
    /// Set while this OS thread makes a system call of myriad's own
    /// (`IoFd`'s non-blocking operations): the `intercept` feature's entry
    /// points then make it as it is (they would only add an `fcntl` to
    /// learn that the descriptor is non-blocking).
    static OWN_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, one of myriad's own non-blocking system calls.
#[inline]
fn own_call<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "intercept")]
    {
        OWN_CALL.with(|own| own.set(true));
        let result = f();
        OWN_CALL.with(|own| own.set(false));
        result
    }
    #[cfg(not(feature = "intercept"))]
    f()
}

/// Whether the calling OS thread is inside one of myriad's own system
/// calls (see `own_call`).
#[cfg(feature = "intercept")]
pub fn in_own_call() -> bool {
    OWN_CALL.with(std::cell::Cell::get)
}

/// Waits on an OS thread with `poll(2)` (myriad threads use
/// `Registration`), interruptibly (`wait::poll_os`).
fn poll_os(fd: RawFd, direction: Direction, deadline: Option<Instant>) -> io::Result<()> {
    let events = match direction {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    wait::poll_os(fd, events, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    fn read(io: &IoFd, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        io.do_io(Direction::Read, deadline, |fd| {
            // SAFETY: reads into a valid buffer from an open descriptor.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        })
    }

    #[test]
    fn a_myriad_thread_waits_for_data_without_blocking_its_worker() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let io = IoFd::new(OwnedFd::from(a)).unwrap();
        let reader = crate::thread::spawn(move || {
            let mut total = Vec::new();
            let mut buf = [0u8; 4];
            while total.len() < 12 {
                let n = read(&io, &mut buf, None).unwrap();
                total.extend_from_slice(&buf[..n]);
            }
            total
        });
        // Meanwhile other myriad threads keep running.
        for _ in 0..3 {
            crate::thread::spawn(|| crate::thread::sleep(Duration::from_millis(2))).join().unwrap();
            std::io::Write::write_all(&mut b, b"abcd").unwrap();
        }
        assert_eq!(reader.join().unwrap(), b"abcdabcdabcd");
    }

    #[test]
    fn waits_time_out_with_would_block_on_both_kinds_of_thread() {
        let (a, _b) = UnixStream::pair().unwrap();
        let io = Arc::new(IoFd::new(OwnedFd::from(a)).unwrap());
        let io2 = io.clone();
        let start = Instant::now();
        let r = crate::thread::spawn(move || read(&io2, &mut [0; 8], Some(Instant::now() + Duration::from_millis(10))))
            .join()
            .unwrap();
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(10));
        let r = read(&io, &mut [0; 8], Some(Instant::now() + Duration::from_millis(10)));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn peer_hang_up_wakes_the_reader() {
        let (a, b) = UnixStream::pair().unwrap();
        let io = IoFd::new(OwnedFd::from(a)).unwrap();
        let reader = crate::thread::spawn(move || read(&io, &mut [0; 8], None));
        crate::thread::spawn(|| crate::thread::sleep(Duration::from_millis(5))).join().unwrap();
        drop(b);
        assert_eq!(reader.join().unwrap().unwrap(), 0, "EOF");
    }
}

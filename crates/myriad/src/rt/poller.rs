//! A worker's way to sleep: an epoll instance with an eventfd in it.
//!
//! A worker with nothing to run waits in `epoll_pwait2` until its next timer
//! is due or another thread writes to its eventfd (to hand it a woken thread
//! or new work). `epoll_pwait2` takes a nanosecond timeout, so deadlines are
//! not rounded up to the next millisecond as with `epoll_wait`; kernels
//! before 5.11 fall back to `epoll_wait`. Socket readiness joins the same
//! epoll instance, so one wait covers timers, wake-ups and IO.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::event_fd::EventFd;

/// The epoll token of the wake-up eventfd.
const WAKE_TOKEN: u64 = u64::MAX;

static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

pub struct Poller {
    epoll: OwnedFd,
    eventfd: EventFd,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        // SAFETY: plain syscalls returning new descriptors, which are owned
        // from here on.
        let epoll = unsafe { cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC)).map(|fd| OwnedFd::from_raw_fd(fd))? };
        let eventfd = EventFd::new()?;
        let mut event = libc::epoll_event { events: libc::EPOLLIN as u32, u64: WAKE_TOKEN };
        // SAFETY: both descriptors are valid and owned; `event` is valid.
        cvt(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, eventfd.as_raw_fd(), &mut event) })?;
        Ok(Poller { epoll, eventfd })
    }

    /// Adds `fd` with the given epoll flags and event data.
    pub fn add(&self, fd: RawFd, flags: u32, data: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events: flags, u64: data };
        // SAFETY: our epoll descriptor and a valid event; `fd` is the
        // caller's open descriptor.
        cvt(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) }).map(drop)
    }

    /// Removes `fd` (which must still be open).
    pub fn delete(&self, fd: RawFd) {
        // SAFETY: our epoll descriptor; a null event is allowed for DEL.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
    }

    /// Wakes the thread in (or about to enter) `wait`.
    pub fn notify(&self) {
        self.eventfd.notify();
    }

    /// Waits until notified or `timeout` passes (`None`: no limit); returns
    /// the number of IO events stored in `events` (the wake-up itself is not
    /// counted).
    pub fn wait(&self, timeout: Option<Duration>, events: &mut [libc::epoll_event]) -> usize {
        let n = self.epoll_wait(timeout, events);
        let mut io = 0;
        for i in 0..n {
            if events[i].u64 == WAKE_TOKEN {
                self.eventfd.drain();
            } else {
                events[io] = events[i];
                io += 1;
            }
        }
        io
    }

    fn epoll_wait(&self, timeout: Option<Duration>, events: &mut [libc::epoll_event]) -> usize {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        let rc = if !NO_PWAIT2.load(Ordering::Relaxed) {
            let spec = timeout.map(|t| libc::timespec {
                tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: t.subsec_nanos() as libc::c_long,
            });
            let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |s| s as *const libc::timespec);
            // SAFETY: epoll_pwait2(epfd, events, maxevents, timeout, sigmask
            // = NULL, sigsetsize): `events` has room for `max` entries and
            // `spec_ptr` is null or points to a live timespec.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    max,
                    spec_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            if rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                NO_PWAIT2.store(true, Ordering::Relaxed);
                return self.epoll_wait(timeout, events);
            }
            rc as libc::c_int
        } else {
            // Round up, so that a timer is never found not yet due on waking.
            let ms = timeout.map_or(-1, |t| t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int);
            // SAFETY: `events` has room for `max` entries.
            unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), max, ms) }
        };
        match usize::try_from(rc) {
            Ok(n) => n,
            Err(_) => wait_failed(io::Error::last_os_error()),
        }
    }
}

/// A failed wait: EINTR (a signal handler ran) is no events, and the
/// caller loops. Anything else (EBADF, EFAULT, EINVAL) means the poller's
/// descriptor or memory is broken; looping would spin for ever without
/// sleeping or seeing an event, so the process ends, saying why.
fn wait_failed(err: io::Error) -> usize {
    if err.kind() == io::ErrorKind::Interrupted {
        return 0;
    }
    super::report::error(&format!(
        "myriad: a worker's epoll wait failed: {err} (errno {}); the runtime cannot wait for events or \
         timers any more, so the process aborts",
        err.raw_os_error().unwrap_or(0)
    ));
    std::process::abort()
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

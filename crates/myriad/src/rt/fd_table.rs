//! The kernel's descriptor table of the process, grown ahead of need and
//! off the workers.
//!
//! The table starts at 64 entries and doubles when a descriptor past its
//! end is opened. In a process with several OS threads each doubling waits
//! for an RCU grace period (`expand_files` calls `synchronize_rcu`), and
//! every other thread that opens a descriptor past the old end meanwhile
//! waits for the resize. In a burst of connections (thousands of `socket`
//! and `accept4` calls) that blocked both workers of a 2-core VM at once,
//! for 10–40 ms on a loaded machine, and every thread pinned to them with
//! them (issue 18: perf showed the workers in `synchronize_rcu` under
//! `expand_files`, from `__sys_socket` and `__sys_accept4`).
//!
//! So the runtime grows the table when it starts, to [`START_RESERVE`]
//! entries, usually while the process has one OS thread (no grace period
//! to wait for); and when a descriptor registered with the reactor reaches
//! half the reserve, an offload pool thread doubles the table again (a
//! `fcntl(F_DUPFD)` onto a number past its end, closed at once). During
//! that resize the kernel lets everyone open descriptors that fit the old
//! table, so the workers never wait for the grace period. The table costs
//! 8 bytes of kernel memory per entry (64 KiB at start) and never shrinks.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use super::Runtime;

/// Entries the table is grown to when the runtime starts.
pub const START_RESERVE: RawFd = 8192;

/// Entries the table is known to have (or to be growing to); 0 if the
/// start-up reserve failed, which turns growing ahead off.
static RESERVED: AtomicI32 = AtomicI32::new(0);

/// The soft limit on open files, once raised: the table never needs more.
static LIMIT: AtomicI32 = AtomicI32::new(0);

/// Grows the table to `START_RESERVE` entries (or the open-file limit, if
/// lower). Called once, when the runtime starts, after the limit is raised.
pub fn reserve_at_start() {
    // SAFETY: getrlimit fills the struct it is given.
    let limit = unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        limit.rlim_cur
    };
    let limit = RawFd::try_from(limit).unwrap_or(RawFd::MAX);
    LIMIT.store(limit, Ordering::Relaxed);
    let reserve = START_RESERVE.min(limit);
    if grow_to(reserve) {
        RESERVED.store(reserve, Ordering::Relaxed);
    }
}

/// Notes that descriptor `fd` is open (the reactor calls this for every
/// descriptor it is given): past half the reserve, doubles the table on an
/// offload pool thread.
#[inline]
pub fn note_open(fd: RawFd) {
    let reserved = RESERVED.load(Ordering::Relaxed);
    if reserved != 0 && fd >= reserved / 2 {
        grow_ahead(reserved);
    }
}

#[cold]
fn grow_ahead(reserved: RawFd) {
    // A reserve exists, so the runtime was created (not in a forked child).
    let Ok(rt) = Runtime::get() else { return };
    let target = reserved.saturating_mul(2).min(LIMIT.load(Ordering::Relaxed));
    if target <= reserved {
        return;
    }
    // One grower per doubling: whoever moves the reserve submits the job.
    if RESERVED.compare_exchange(reserved, target, Ordering::Relaxed, Ordering::Relaxed).is_err() {
        return;
    }
    if rt
        .offload
        .submit(Box::new(move || {
            grow_to(target);
        }))
        .is_err()
    {
        // No OS thread to be had: the kernel grows the table on demand, as
        // without the reserve; try again at the next descriptor.
        let _ = RESERVED.compare_exchange(target, reserved, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Makes the table hold at least `entries` descriptors; returns whether
/// it does.
fn grow_to(entries: RawFd) -> bool {
    // SAFETY: plain syscalls on descriptors this function opens and closes
    // itself: `/dev/null` is opened and duplicated onto the lowest free
    // number at or above `entries - 1` (which grows the table to hold it),
    // and both are closed. A failure leaves the process as it was.
    unsafe {
        let probe = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if probe < 0 {
            return false;
        }
        let high = libc::fcntl(probe, libc::F_DUPFD_CLOEXEC, entries - 1);
        if high >= 0 {
            libc::close(high);
        }
        libc::close(probe);
        high >= 0
    }
}

//! Intercepted sleeps: on a myriad thread, `nanosleep`, `clock_nanosleep`,
//! `usleep` and `sleep` (what `std::thread::sleep` and C code call) become
//! `myriad::thread::sleep`, which parks only the thread. Elsewhere they
//! make the `clock_nanosleep` system call, with each function's own return
//! convention. Each libc function needs its own entry point: glibc's
//! `sleep` and `usleep` call its internal `__nanosleep`, not `nanosleep`.

use std::time::Duration;

use libc::{c_int, c_uint, clockid_t, timespec};

use super::{errno, parks_here, set_errno};

/// The system call, returning -1 with errno on failure.
unsafe fn sys_clock_nanosleep(clock: clockid_t, flags: c_int, req: *const timespec, rem: *mut timespec) -> c_int {
    // SAFETY: the caller passes what it was given by its own caller, with
    // the meaning `clock_nanosleep(2)` gives the arguments.
    unsafe { libc::syscall(libc::SYS_clock_nanosleep, clock, flags, req, rem) as c_int }
}

/// `*req` as a duration, if it is a valid (non-negative, normalised) one.
unsafe fn duration_of(req: *const timespec) -> Option<Duration> {
    // SAFETY: a non-null `req` points to a timespec (the caller's contract
    // with libc); a null one is left for the system call to refuse.
    let ts = unsafe { req.as_ref() }?;
    (ts.tv_sec >= 0 && (0..1_000_000_000).contains(&ts.tv_nsec))
        .then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

fn now(clock: clockid_t) -> Option<Duration> {
    let mut ts = timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id is checked by the call; `ts` is ours.
    (unsafe { libc::clock_gettime(clock, &mut ts) } == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `nanosleep(2)`.
///
/// # Safety
///
/// libc's contract: `req` points to a timespec, `rem` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if parks_here() {
        // SAFETY: forwarded.
        if let Some(duration) = unsafe { duration_of(req) } {
            crate::thread::sleep_uninterruptible(duration);
            return 0;
        }
    }
    // SAFETY: forwarded; glibc's nanosleep is this call on CLOCK_REALTIME.
    unsafe { sys_clock_nanosleep(libc::CLOCK_REALTIME, 0, req, rem) }
}

/// `clock_nanosleep(2)`: returns 0 or an error number (errno untouched).
///
/// # Safety
///
/// As `nanosleep`.
#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let wall_or_monotonic = matches!(clock, libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME);
    if parks_here() && wall_or_monotonic {
        // SAFETY: forwarded.
        if let Some(duration) = unsafe { duration_of(req) } {
            let duration = if flags & libc::TIMER_ABSTIME != 0 {
                match now(clock) {
                    Some(now) => duration.saturating_sub(now),
                    None => Duration::ZERO,
                }
            } else {
                duration
            };
            crate::thread::sleep_uninterruptible(duration);
            return 0;
        }
    }
    let saved = errno();
    // SAFETY: forwarded.
    let result = unsafe { sys_clock_nanosleep(clock, flags, req, rem) };
    let error = if result == 0 { 0 } else { errno() };
    set_errno(saved);
    error
}

/// `usleep(3)`.
#[no_mangle]
pub extern "C" fn usleep(usec: c_uint) -> c_int {
    let duration = Duration::from_micros(u64::from(usec));
    if parks_here() {
        crate::thread::sleep_uninterruptible(duration);
        return 0;
    }
    let req = timespec { tv_sec: duration.as_secs() as _, tv_nsec: duration.subsec_nanos() as _ };
    // SAFETY: a valid timespec of ours; no remainder wanted.
    unsafe { sys_clock_nanosleep(libc::CLOCK_REALTIME, 0, &req, std::ptr::null_mut()) }
}

/// `sleep(3)`: returns the seconds left if a signal cut it short.
#[no_mangle]
pub extern "C" fn sleep(seconds: c_uint) -> c_uint {
    if parks_here() {
        crate::thread::sleep(Duration::from_secs(u64::from(seconds)));
        return 0;
    }
    let req = timespec { tv_sec: seconds as _, tv_nsec: 0 };
    let mut rem = timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid timespecs of ours.
    if unsafe { sys_clock_nanosleep(libc::CLOCK_REALTIME, 0, &req, &mut rem) } == 0 {
        return 0;
    }
    // Interrupted: what is left, rounded up, as glibc does.
    rem.tv_sec as c_uint + c_uint::from(rem.tv_nsec > 0)
}

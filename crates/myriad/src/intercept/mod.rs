//! Interception of blocking libc calls (cargo feature `intercept`): code
//! not written for myriad — `std::thread::sleep`, `std::net`, crates built
//! on them such as `ureq` or `redis`, C libraries — parks only its myriad
//! thread instead of blocking the worker and every thread pinned to it.
//!
//! # How
//!
//! This module defines the process's entry points for the blocking libc
//! calls (`#[no_mangle] extern "C"`): a definition in the executable comes
//! before libc's in symbol resolution, so std's calls and, through the
//! dynamic symbol table, a shared library's calls reach it. Each entry
//! point asks one question first — is the caller a myriad thread, with
//! interception switched on? If not (an OS thread, the runtime's own
//! threads, the offload pool) it makes the real call, by raw system call,
//! with libc's exact meaning. If so:
//!
//! * sleeps (`nanosleep`, `clock_nanosleep`, `usleep`, `sleep`) become
//!   `myriad::thread::sleep` (`sleep.rs`);
//! * socket calls (`read`, `write`, `readv`, `writev`, `recv*`, `send*`,
//!   `accept*`, `connect`) are tried without blocking; where the kernel
//!   says `EAGAIN` on a descriptor the program left blocking, the thread
//!   parks until the socket may be ready, then tries again (`socket.rs`);
//! * `poll` and `ppoll` look once without waiting, then park on every
//!   descriptor at once, with their timeout (`poll.rs`);
//! * `getaddrinfo` runs on the offload pool (`resolve.rs`).
//!
//! # What keeps libc's meaning
//!
//! A descriptor the program made non-blocking still gets `EAGAIN`;
//! `SO_RCVTIMEO` and `SO_SNDTIMEO` still time out, with `EAGAIN` (and
//! `EINPROGRESS` for `connect`); errno is set on the calling thread as the
//! very last step (other myriad threads run on the same OS thread while
//! one is parked, and set errno too); partial reads and writes are passed
//! on as the kernel gives them. On a myriad thread a signal handler never
//! interrupts an intercepted call (as if every handler had `SA_RESTART`,
//! and a sleep is never cut short with `EINTR`); on other threads `EINTR`
//! is libc's.
//!
//! # What it leaves alone, and why
//!
//! Regular files, pipes and ttys go straight to the kernel: a regular file
//! is always "ready" (myriad's own `myriad::fs` uses io_uring for them),
//! and `read` on a pipe or tty is rare on a hot path. `futex` — the parker
//! under `std::sync` and `parking_lot` — is never intercepted: those
//! parkers belong to one OS thread, and making a futex wait park a myriad
//! thread would let another myriad thread run on that OS thread in the
//! middle of a lock's protocol. So a `std::sync::Mutex` held across an
//! intercepted call can still block a worker, when a second thread pinned
//! to that worker wants the same lock; the stall monitor reports that
//! shape. Use `myriad::sync` for locks held across blocking calls.
//!
//! # Switches
//!
//! With the feature off nothing here is compiled. With it on,
//! `MYRIAD_INTERCEPT=0` or `rt::Builder::intercept(false)` turn
//! interception off at run time: every entry point then makes the real
//! call.
//!
//! # C libraries
//!
//! A C library linked statically into the program calls these entry points
//! like std does. A *shared* library resolves `recv` and friends through
//! the dynamic symbol table, which lists an executable's symbols only if
//! the executable was linked with them exported: add
//! `-C link-arg=-rdynamic` (or `-Wl,--export-dynamic-symbol=recv` per
//! symbol) to the program's `RUSTFLAGS`.

mod poll;
mod resolve;
mod sleep;
mod socket;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::rt::context;
use crate::rt::reactor;

/// Whether interception is switched on (`MYRIAD_INTERCEPT`,
/// `rt::Builder::intercept`); settled when the runtime starts.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Called when the runtime starts: records the switch, and refers to every
/// entry point so that the linker keeps the object file that defines them
/// (an archive member is linked only if something refers to it).
pub(crate) fn install(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
    let entry_points: [*const (); 20] = [
        sleep::nanosleep as *const (),
        sleep::clock_nanosleep as *const (),
        sleep::usleep as *const (),
        sleep::sleep as *const (),
        socket::read as *const (),
        socket::write as *const (),
        socket::readv as *const (),
        socket::writev as *const (),
        socket::recv as *const (),
        socket::recvfrom as *const (),
        socket::recvmsg as *const (),
        socket::send as *const (),
        socket::sendto as *const (),
        socket::sendmsg as *const (),
        socket::accept as *const (),
        socket::accept4 as *const (),
        socket::connect as *const (),
        poll::poll as *const (),
        poll::ppoll as *const (),
        resolve::getaddrinfo as *const (),
    ];
    std::hint::black_box(entry_points);
}

/// Whether an intercepted call on this thread should park it: a myriad
/// thread, with interception on, and not one of myriad's own non-blocking
/// calls (`myriad::net`'s).
#[inline]
fn parks_here() -> bool {
    ENABLED.load(Ordering::Relaxed) && context::on_myriad_thread() && !reactor::in_own_call()
}

/// The calling OS thread's errno.
fn errno() -> i32 {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling OS thread's errno.
fn set_errno(value: i32) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = value };
}

/// Fails a call the way libc does: errno, then -1.
fn fail(errno: i32) -> isize {
    set_errno(errno);
    -1
}

//! `myriad::blocking`: run a call that would block its worker on an offload
//! OS thread while the calling myriad thread parks.
//!
//! The job and its result live on the caller's stack: the caller does not
//! return until the job has finished and signalled, so the closure may
//! borrow from it (like a scoped thread). The handshake is the one of
//! `thread::join`: the job writes the result, takes the caller's `Wake`,
//! and uses it as its very last access to the shared slot.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::rt::context;
use crate::rt::wait::{self, Wake};
use crate::rt::{Runtime, WaitReason};

/// Runs `f` on an offload OS thread and returns its result, parking the
/// calling myriad thread meanwhile so that its worker runs other threads.
///
/// Use it for calls myriad cannot make non-blocking: a C library, a
/// `std::fs` or `std::net` call, a long computation. Many calls proceed at
/// once: the pool starts OS threads on demand (up to
/// `MYRIAD_BLOCKING_THREADS`, default 512, beyond which calls queue) and
/// lets them go after ten idle seconds. A panic in `f` resumes in the
/// caller. Called from an OS thread (not a myriad thread), it just runs `f`.
/// If the pool has no OS thread and the OS refuses to start one (a
/// resource limit), `f` runs on the calling thread's worker, with a
/// warning: the call is never lost.
///
/// `f` may borrow from the caller, since the caller waits for it.
///
/// ```
/// let name = String::from("Cargo.toml");
/// let h = myriad::thread::spawn(move || {
///     // std::fs blocks; run it off the worker.
///     myriad::blocking(|| std::fs::metadata(&name).is_ok())
/// });
/// assert!(h.join().unwrap());
/// ```
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    if !context::on_myriad_thread() {
        return f();
    }
    let rt = Runtime::get_started();
    let slot: Slot<R> = Slot { result: UnsafeCell::new(None), wake: UnsafeCell::new(None) };
    let slot_addr = &slot as *const Slot<R> as usize;
    let job = move || {
        let result = catch_unwind(AssertUnwindSafe(f));
        // SAFETY: the caller waits in `block` until the `Wake` is used (or,
        // if it took the `Wake` back, runs this job itself), so `slot` is
        // alive; the caller touches neither field until then.
        let wake = unsafe {
            let slot = &*(slot_addr as *const Slot<R>);
            *slot.result.get() = Some(result);
            (*slot.wake.get()).take()
        };
        // Last: after this the caller may return and free `slot`.
        if let Some(wake) = wake {
            wake.wake();
        }
    };
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(job);
    // SAFETY: the job borrows `f`'s captures and `slot` from this frame;
    // this function returns only after the job has finished with both
    // (it signals as its last act, and `block` has no deadline), or after
    // running it itself.
    let job: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(job) };
    let mut refused = None;
    let register = |wake| {
        // SAFETY: the job is not submitted yet, so nobody else accesses it.
        unsafe { *slot.wake.get() = Some(wake) };
        if let Err(rejected) = rt.offload.submit(job) {
            // The pool has no thread and the OS refuses one: the job was
            // not queued. Take the Wake back, end the wait at once, and
            // run the job on this thread below.
            // SAFETY: the job was handed back, so only we see the slot.
            let wake = unsafe { (*slot.wake.get()).take() };
            refused = Some(rejected);
            if let Some(wake) = wake {
                wake.wake();
            }
        }
    };
    // SAFETY: only the job (or `register`, when the pool refused it) ends
    // this wait, by using its Wake once, last.
    unsafe { wait::block_once(WaitReason::Blocking, register) };
    if let Some(rejected) = refused {
        // Blocking the worker beats losing the call: the stall monitor
        // keeps the rest of the program going around it.
        crate::rt::report::warn(&format!(
            "myriad: no OS thread for a blocking call ({}; the limits are RLIMIT_NPROC, the cgroup's pids.max, \
             kernel.threads-max and RLIMIT_AS); running it on the worker instead",
            rejected.error
        ));
        (rejected.job)();
    }
    // SAFETY: the job stored the result before waking us and is done.
    match unsafe { (*slot.result.get()).take() }.expect("the job stored its result") {
        Ok(value) => value,
        Err(panic) => resume_unwind(panic),
    }
}

struct Slot<R> {
    result: UnsafeCell<Option<std::thread::Result<R>>>,
    wake: UnsafeCell<Option<Wake>>,
}

//! `myriad::blocking`: run a call that would block its worker on an offload
//! OS thread while the calling myriad thread parks.
//!
//! The job and its result live on the caller's stack, in a [`Call`] that
//! starts with the pool's `JobHeader`: the pool gets a pointer to it, and
//! no allocation is made. The caller does not return until the job has
//! finished and signalled, so the closure may borrow from it (like a scoped
//! thread). The handshake is the one of `thread::join`: the job writes the
//! result and takes the caller's `Wake` as its very last access to the
//! call; the pool thread uses the `Wake` once it is ready for the next job,
//! so that a caller submitting again at once finds it waiting.
//!
//! `blocking_interruptible` is the variant a caller may leave early (an
//! interrupt): its closure and result are `'static` and shared with the
//! job through an `Arc`, so the job, finishing after the caller has gone,
//! drops the result on its pool thread and touches nothing of the caller.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::rt::context;
use crate::rt::lock::Mutex;
use crate::rt::offload::{JobHeader, RawJob};
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
    let call: Call<F, R> = Call {
        header: JobHeader { run: run_call::<F, R> },
        f: UnsafeCell::new(Some(f)),
        result: UnsafeCell::new(None),
        wake: UnsafeCell::new(None),
    };
    // From a reference to the whole call, so `run_call` may reach all of it.
    let header = NonNull::from(&call).cast::<JobHeader>();
    let mut refused = None;
    let register = |wake| {
        // SAFETY: the job is not submitted yet, so nobody else accesses it.
        unsafe { *call.wake.get() = Some(wake) };
        // SAFETY: `Call` is `repr(C)` with the header first, and `run_call`
        // runs it once on any thread (`F` and `R` are `Send`). The call
        // lives until the job has run: this function returns only after
        // the job has signalled, as its last access (`block_once` has no
        // deadline), or after running it itself when the pool hands it back.
        let submitted = unsafe { rt.offload.submit_raw(RawJob::new(header)) };
        if let Err(rejected) = submitted {
            // The pool has no thread and the OS refuses one: the job was
            // not queued. Take the Wake back, end the wait at once, and
            // run the job on this thread below.
            // SAFETY: the job was handed back, so only we see the call.
            let wake = unsafe { (*call.wake.get()).take() };
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
        // SAFETY: handed back unrun; `call` is alive, and this is its run.
        // (Its Wake was taken back above, so it returns none.)
        if let Some(wake) = unsafe { rejected.job.run() } {
            wake.wake();
        }
    }
    // SAFETY: the job stored the result before waking us and is done.
    match unsafe { (*call.result.get()).take() } {
        Some(Ok(value)) => value,
        Some(Err(panic)) => resume_unwind(panic),
        None => unreachable!("a blocking call's job ends by storing its result"),
    }
}

/// One call: the job the pool runs (header first) and what it hands back.
#[repr(C)]
struct Call<F, R> {
    header: JobHeader,
    f: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<R>>>,
    wake: UnsafeCell<Option<Wake>>,
}

/// Runs the call whose header `header` points at, on a pool thread (or on
/// the caller's, when the pool refused it).
///
/// # Safety
///
/// `header` points at the header of a live `Call<F, R>`, reached through a
/// pointer to the whole call, and this is the call's one run. Its caller
/// touches none of the cells until the returned `Wake` is used (or it was
/// refused), which the runner must do.
unsafe fn run_call<F: FnOnce() -> R, R>(header: NonNull<JobHeader>) -> Option<Wake> {
    // SAFETY: the contract above.
    let call = unsafe { header.cast::<Call<F, R>>().as_ref() };
    // SAFETY: as above: this thread is the only one using the cells now.
    // (Always there: this is the one run.)
    let f = (unsafe { (*call.f.get()).take() })?;
    let result = catch_unwind(AssertUnwindSafe(f));
    // SAFETY: as above. The last access: once the Wake is used, the caller
    // may return and free `call`.
    unsafe {
        *call.result.get() = Some(result);
        (*call.wake.get()).take()
    }
}

/// As [`blocking`], but the calling thread may be interrupted
/// ([`Thread::interrupt`](crate::thread::Thread::interrupt), or its
/// deadline): it then returns `Err` at once, while `f` runs to its end on
/// its pool thread, which drops the result there. A thread interrupted
/// before the call returns `Err` without running `f`.
///
/// Only `'static` closures and results: once the caller has returned,
/// nothing may borrow from its frame, and a call already running on an OS
/// thread cannot be stopped. ([`blocking`], whose closure may borrow, is
/// not interruptible for that reason.) On an OS thread, `f` also runs on
/// the pool, so that the caller can be interrupted the same way.
///
/// ```
/// use myriad::thread;
/// use std::time::Duration;
/// let caller = thread::spawn(|| {
///     // A C call that takes long, say.
///     myriad::blocking_interruptible(|| std::thread::sleep(Duration::from_millis(200)))
/// });
/// thread::sleep(Duration::from_millis(10));
/// caller.thread().interrupt();
/// assert!(caller.join().unwrap().is_err()); // long before 200 ms
/// ```
pub fn blocking_interruptible<F, R>(f: F) -> Result<R, crate::thread::Interrupted>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    if let Some(interrupted) = wait::current_interrupt() {
        return Err(interrupted);
    }
    let Ok(rt) = Runtime::get() else {
        // No runtime (a forked child): nothing can run it elsewhere.
        return Ok(f());
    };
    let shared = Arc::new(Abandonable::<R> { state: Mutex::new(AbandonableState::Running(None)) });
    let job_side = shared.clone();
    let job = Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f));
        let mut state = job_side.state.lock();
        match std::mem::replace(&mut *state, AbandonableState::Abandoned) {
            AbandonableState::Running(wake) => {
                *state = AbandonableState::Done(result);
                drop(state);
                if let Some(wake) = wake {
                    wake.wake();
                }
            }
            // The caller left: the result is dropped here, on the pool
            // thread (after the lock is released).
            AbandonableState::Abandoned | AbandonableState::Done(_) => {
                drop(state);
                drop(result);
            }
        }
    });
    if let Err(rejected) = rt.offload.submit(job) {
        crate::rt::report::warn(&format!(
            "myriad: no OS thread for a blocking call ({}); running it on the caller's thread",
            rejected.error
        ));
        (rejected.job)();
    }
    wait::block_interruptible(WaitReason::Blocking, None, |wake| {
        let mut state = shared.state.lock();
        match &mut *state {
            AbandonableState::Running(slot) => *slot = Some(wake),
            _ => {
                drop(state);
                wake.wake();
            }
        }
    });
    let mut state = shared.state.lock();
    match std::mem::replace(&mut *state, AbandonableState::Abandoned) {
        AbandonableState::Done(Ok(value)) => Ok(value),
        AbandonableState::Done(Err(panic)) => {
            drop(state);
            resume_unwind(panic)
        }
        // Interrupted while the job runs: leave it to finish alone.
        AbandonableState::Running(_) | AbandonableState::Abandoned => {
            drop(state);
            Err(crate::rt::wait::Interrupted::current())
        }
    }
}

/// What `blocking_interruptible`'s caller and job share.
struct Abandonable<R> {
    state: Mutex<AbandonableState<R>>,
}

enum AbandonableState<R> {
    /// The job runs; the caller's `Wake`, once it waits.
    Running(Option<Wake>),
    Done(std::thread::Result<R>),
    /// The caller left (or took the result).
    Abandoned,
}

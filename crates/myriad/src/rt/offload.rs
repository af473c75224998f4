//! The offload pool: OS threads that run blocking calls for myriad threads.
//!
//! A myriad thread never changes OS thread, so a call that blocks (a C
//! library, a file system call without io_uring, name resolution, a long
//! computation) cannot be moved away from its worker by migrating the
//! thread. Instead the *call* moves: [`crate::blocking`] hands it to this
//! pool and parks the calling thread until it is done.
//!
//! The pool has no fixed size. A job submitted when fewer threads are idle
//! than jobs are queued starts a new OS thread, up to a generous cap
//! (`MYRIAD_BLOCKING_THREADS`, default 512); past the cap jobs queue. A
//! thread that finds no job for `IDLE_TIMEOUT` exits, so the pool shrinks
//! back after a burst.
//!
//! ## Hand-off to a spinning thread
//!
//! Waking an OS thread asleep on a condition variable costs 15–20 µs on our
//! VMs, many times a short call. So a pool thread that runs out of work
//! first spins for [`SPIN`], watching a one-word hand-off slot. A
//! submitter that finds a spinner there puts its job in the slot with one
//! compare-and-swap: no lock, no system call. The spinner wakes the caller
//! of its last job only once it spins, so a caller that calls again at once
//! finds it there. At most one thread spins at a time, which bounds the CPU
//! spent waiting to one core for `SPIN` per idle period. Any other job goes
//! through the queue under the mutex, waking a sleeping thread or starting
//! a new one, as before.
//!
//! Spinning is adaptive: it pays only when jobs come quickly one after
//! another. A score counts up to [`SPIN_SCORE`] when a spin catches a job
//! fast, and down by one when a spin does not pay: it runs out (calls
//! spaced a millisecond apart, say), it finds it lost its core
//! ([`PREEMPTED`]: with more runnable threads than cores the kernel runs a
//! thread woken from sleep sooner than one that spins), or it catches the
//! job only after [`SPIN_FAST`] (the caller's worker slept in between, so
//! the round trip paid wake-ups anyway). At zero, threads sleep at once,
//! but one idle period in [`PROBE_EVERY`] still spins, to notice when jobs
//! come close together again. A spin also yields its core between looks
//! after [`SPIN_ALONE`]. On a busy 2-core machine the kernel often wakes
//! the caller's worker on the pool thread's core; the two then take turns
//! there, and every call waited out the worker's own spin (29 µs per call
//! with every job caught by the spinner, against 22 µs for a pool that
//! sleeps at once) until the last rule turned spinning off there.
//!
//! The slot holds null (nobody spins), `WAITING` (a thread spins, no job
//! yet) or a job. While it holds `WAITING` the queue is empty, so the
//! spinner watches only the slot: the slot becomes `WAITING` only under the
//! mutex and with the queue empty, and a job joins the queue only under the
//! mutex after the slot, looked at again there, was not `WAITING`. Only the
//! spinner empties a slot holding a job.
//!
//! ## Jobs
//!
//! A job is a pointer to a [`JobHeader`] at the start of a larger value that
//! its submitter owns and keeps alive until the job has run. `blocking`
//! keeps it in the waiting caller's frame, so a call allocates nothing;
//! [`OffloadPool::submit`] boxes a closure for callers that do not wait.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::wait::Wake;

use super::lock::{Condvar, Mutex, MutexGuard};

/// A unit of work for the pool, owned by the pool once submitted.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle pool thread waits for work before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a pool thread out of work spins before it sleeps. It has just
/// woken the caller of its last job, whose worker may be asleep: the spin
/// must outlast that wake-up (15–20 µs on our VMs) and the caller's next
/// submission, or a caller calling again at once never finds it spinning
/// (with 20 µs, back-to-back calls fell into two OS wake-ups per call,
/// 30–70 µs, on a loaded machine).
pub const SPIN: Duration = Duration::from_micros(50);

/// How long a spin keeps its core before it offers it to other threads
/// between looks (`sched_yield`): the caller it just woke is often queued
/// on this very core (the kernel tends to wake a thread on its waker's
/// core), and a spin that keeps the core then delays the very call it
/// waits for. On a machine with nothing else to run, yielding returns at
/// once.
const SPIN_ALONE: Duration = Duration::from_micros(5);

/// A gap this long between two looks of a spin means the thread lost its
/// core: the machine has more runnable threads than cores. Then it stops
/// spinning: the kernel runs a thread woken from sleep sooner than one that
/// spins or yields, so sleeping serves the next call better (measured on a
/// loaded VM: spinning through preemption made back-to-back calls slower
/// than the old pool's).
const PREEMPTED: Duration = Duration::from_micros(10);

/// A job caught later than this after the spin began (which is right
/// after its caller was woken) came back too slowly for spinning to pay:
/// the caller's worker slept in between, and the round trip cost wake-ups
/// anyway (measured on a loaded VM: 29 µs per call with every job caught
/// by the spinner, against 22 µs for a pool that sleeps at once).
const SPIN_FAST: Duration = Duration::from_micros(10);

/// The spin score after a spin that caught a job: so many spins in a row
/// must run out before the pool stops spinning.
pub const SPIN_SCORE: u32 = 4;

/// While the score is zero, one idle period in so many spins all the same.
pub const PROBE_EVERY: u32 = 16;

/// The hand-off slot's value while a thread spins and no job is there. No
/// job is at this address: it is in the never-mapped first page.
const WAITING: *mut JobHeader = NonNull::<JobHeader>::dangling().as_ptr();

/// The start of a job: the function that runs it.
#[repr(C)]
pub struct JobHeader {
    /// Runs the job, given a pointer to this header (from which it reaches
    /// the value the header starts). It may return the `Wake` of a thread
    /// waiting for it instead of using it: the pool thread then uses it
    /// once it is ready for the next job (spinning, or holding one), so a
    /// caller that submits again at once finds it there.
    pub run: unsafe fn(NonNull<JobHeader>) -> Option<Wake>,
}

/// A job handed to the pool by pointer (see [`OffloadPool::submit_raw`]).
pub struct RawJob(NonNull<JobHeader>);

// SAFETY: `RawJob::new`'s contract: running the job on another OS thread
// is sound.
unsafe impl Send for RawJob {}

impl RawJob {
    /// A job from a pointer to its header.
    ///
    /// # Safety
    ///
    /// `header` must point at a `JobHeader` whose `run`, given this same
    /// pointer, is sound to call once, from any OS thread, for as long as
    /// the job has not run.
    pub unsafe fn new(header: NonNull<JobHeader>) -> RawJob {
        RawJob(header)
    }

    /// Runs the job, consuming it.
    ///
    /// # Safety
    ///
    /// The job has not run yet (a `RawJob` is run at most once, but the
    /// pointer inside could have been duplicated by its maker).
    #[must_use = "the returned Wake must be used"]
    pub unsafe fn run(self) -> Option<Wake> {
        // SAFETY: `new`'s contract: the header is alive until the job ran.
        let run = unsafe { (*self.0.as_ptr()).run };
        // SAFETY: as above, and the caller's: this is its one run.
        unsafe { run(self.0) }
    }
}

/// A job a spin caught, and whether it caught it late: after losing its
/// core, so that sleeping would have served as well.
struct Caught {
    job: RawJob,
    late: bool,
}

/// A boxed closure as a job (see `submit`).
#[repr(C)]
struct Boxed {
    header: JobHeader,
    job: Job,
}

/// Runs a `Boxed` job and frees it.
///
/// # Safety
///
/// `header` came from `Box::leak` of a `Boxed` in `submit`, and this is its
/// one run (or the box was taken back unrun instead, never both).
unsafe fn run_boxed(header: NonNull<JobHeader>) -> Option<Wake> {
    // SAFETY: the contract above; `Boxed` is `repr(C)` with the header
    // first, and the pointer came from the leaked `&mut Boxed`.
    let boxed = unsafe { Box::from_raw(header.cast::<Boxed>().as_ptr()) };
    (boxed.job)();
    None
}

struct State {
    queue: VecDeque<RawJob>,
    threads: usize,
    /// Threads asleep on the condition variable.
    idle: usize,
}

pub struct OffloadPool {
    /// The spinning thread's hand-off slot (see the module comment).
    handoff: CachePadded<AtomicPtr<JobHeader>>,
    /// Whether spinning has lately caught jobs (see the module comment).
    spin_score: AtomicU32,
    /// Idle periods that slept at once since the score reached zero.
    spins_skipped: AtomicU32,
    state: Mutex<State>,
    condvar: Condvar,
    cap: usize,
    /// Jobs run to completion.
    completed: AtomicU64,
}

/// A job the pool could not take, and why (see `OffloadPool::submit`).
pub struct Rejected<J = Job> {
    pub job: J,
    pub error: std::io::Error,
}

/// A snapshot of the pool, for metrics.
pub struct PoolStats {
    pub threads: usize,
    /// Threads waiting for work: asleep, or the one spinning.
    pub idle: usize,
    pub queued: usize,
    pub completed: u64,
}

/// Uses the `Wake` a job left, if any.
fn wake(done: Option<Wake>) {
    if let Some(wake) = done {
        wake.wake();
    }
}

impl OffloadPool {
    pub fn new(cap: usize) -> OffloadPool {
        OffloadPool {
            handoff: CachePadded::new(AtomicPtr::new(ptr::null_mut())),
            spin_score: AtomicU32::new(SPIN_SCORE),
            spins_skipped: AtomicU32::new(0),
            state: Mutex::new(State { queue: VecDeque::new(), threads: 0, idle: 0 }),
            condvar: Condvar::new(),
            cap: cap.max(1),
            completed: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Runs `job` on a pool thread, starting one if every thread is busy.
    ///
    /// Fails, handing the job back unrun, only when the pool has no thread
    /// at all and the OS refuses a new one (`RLIMIT_NPROC`, a cgroup's
    /// `pids.max`, `RLIMIT_AS`): queued, it would wait for a thread that
    /// may never come.
    pub fn submit(&'static self, job: Job) -> Result<(), Rejected> {
        let boxed: &'static mut Boxed = Box::leak(Box::new(Boxed { header: JobHeader { run: run_boxed }, job }));
        let header = NonNull::from(boxed).cast::<JobHeader>();
        // SAFETY: `run_boxed` may run it once, on any thread (`Job: Send`);
        // the box lives until then.
        let raw = unsafe { RawJob::new(header) };
        // SAFETY: as above.
        unsafe { self.submit_raw(raw) }.map_err(|rejected| {
            // SAFETY: handed back unrun, so the leaked box is ours again;
            // the pointer came from it.
            let boxed = unsafe { Box::from_raw(rejected.job.0.cast::<Boxed>().as_ptr()) };
            Rejected { job: boxed.job, error: rejected.error }
        })
    }

    /// Runs `job` on a pool thread, as `submit` does; the job stays where
    /// its maker put it (`blocking` keeps it in the caller's frame).
    ///
    /// # Safety
    ///
    /// What `job` points at must stay alive until the job has run, or until
    /// it is handed back in `Err`, unrun (then it will not run).
    pub unsafe fn submit_raw(&'static self, job: RawJob) -> Result<(), Rejected<RawJob>> {
        let ptr = job.0.as_ptr();
        // Release: the spinner's Acquire load sees what the job points at.
        if self.handoff.compare_exchange(WAITING, ptr, Ordering::Release, Ordering::Relaxed).is_ok() {
            return Ok(());
        }
        let mut state = self.lock();
        // A thread may have begun to spin since we looked (it does so under
        // the lock): it must get the job, for it does not watch the queue.
        if self.handoff.compare_exchange(WAITING, ptr, Ordering::Release, Ordering::Relaxed).is_ok() {
            return Ok(());
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            self.condvar.notify_one();
        }
        if state.queue.len() > state.idle && state.threads < self.cap {
            state.threads += 1;
            let spawned = std::thread::Builder::new().name("myriad-blocking".into()).spawn(move || self.run_thread());
            if let Err(error) = spawned {
                state.threads -= 1;
                if state.threads == 0 {
                    // Under the lock since the push, so the job is last.
                    if let Some(job) = state.queue.pop_back() {
                        return Err(Rejected { job, error });
                    }
                }
                // Other pool threads will get to the job.
            }
        }
        Ok(())
    }

    fn run_thread(&'static self) {
        let mut state = self.lock();
        // Spin only after running a job: a thread whose spin ran out sleeps.
        let mut may_spin = true;
        // The last job's caller, woken once this thread is ready for more.
        let mut done: Option<Wake> = None;
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                wake(done.take());
                done = self.run_job(job);
                may_spin = true;
                state = self.lock();
                continue;
            }
            // Relaxed: the slot publishes nothing yet, and submitters that
            // look under the lock see it through the lock.
            if may_spin
                && self.spin_worthwhile()
                && self.handoff.compare_exchange(ptr::null_mut(), WAITING, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            {
                // The queue is empty and stays so while the slot is WAITING.
                drop(state);
                // Ready: a caller that submits again at once finds us here.
                wake(done.take());
                match self.spin() {
                    Ok(Caught { job, late }) => {
                        if late {
                            self.spin_missed();
                        } else {
                            self.spin_score.store(SPIN_SCORE, Ordering::Relaxed);
                        }
                        done = self.run_job(job);
                        state = self.lock();
                    }
                    Err(locked) => {
                        self.spin_missed();
                        state = locked;
                        may_spin = false;
                    }
                }
                continue;
            }
            if done.is_some() {
                // Not under the lock: waking may make a system call.
                drop(state);
                wake(done.take());
                state = self.lock();
                continue;
            }
            // Sleeping from here, without spinning, once a spin ran out.
            may_spin = false;
            state.idle += 1;
            let (next, timed_out) = self.condvar.wait_timeout(state, IDLE_TIMEOUT);
            state = next;
            state.idle -= 1;
            if timed_out && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }

    /// Counts a spin that did not pay.
    fn spin_missed(&self) {
        let score = self.spin_score.load(Ordering::Relaxed);
        self.spin_score.store(score.saturating_sub(1), Ordering::Relaxed);
    }

    /// Whether a thread out of work should spin now (see the module
    /// comment). Relaxed, approximate counts: a hint, not a protocol.
    fn spin_worthwhile(&self) -> bool {
        if self.spin_score.load(Ordering::Relaxed) > 0 {
            return true;
        }
        let skipped = self.spins_skipped.load(Ordering::Relaxed) + 1;
        if skipped >= PROBE_EVERY {
            self.spins_skipped.store(0, Ordering::Relaxed);
            return true;
        }
        self.spins_skipped.store(skipped, Ordering::Relaxed);
        false
    }

    /// Waits up to `SPIN` for a job in the hand-off slot, which this thread
    /// set to `WAITING`, yielding its core between looks after `SPIN_ALONE`
    /// and giving up at once if it finds it lost its core (`PREEMPTED`).
    /// If no job comes, empties the slot under the lock and returns the
    /// guard.
    fn spin(&'static self) -> Result<Caught, MutexGuard<'static, State>> {
        let start = Instant::now();
        let mut last = start;
        loop {
            for _ in 0..16 {
                if let Some(job) = self.take_handed() {
                    // Late: off its core since the last look, or the caller
                    // took long to come back (its worker slept, say):
                    // spinning did not buy a fast round trip.
                    let late = last.elapsed() > PREEMPTED || start.elapsed() > SPIN_FAST;
                    return Ok(Caught { job, late });
                }
                std::hint::spin_loop();
            }
            let now = Instant::now();
            if now - last > PREEMPTED || now - start >= SPIN {
                break;
            }
            last = now;
            if now - start >= SPIN_ALONE {
                std::thread::yield_now();
            }
        }
        let state = self.lock();
        if self.handoff.compare_exchange(WAITING, ptr::null_mut(), Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            return Err(state);
        }
        // A job came at the last moment (nothing else leaves WAITING).
        match self.take_handed() {
            Some(job) => Ok(Caught { job, late: true }),
            None => Err(state),
        }
    }

    /// The job in the hand-off slot, if one is there; empties the slot.
    /// Only the spinning thread calls this.
    fn take_handed(&self) -> Option<RawJob> {
        // Acquire: pairs with the submitter's Release.
        let p = self.handoff.load(Ordering::Acquire);
        if p == WAITING {
            return None;
        }
        // Only the spinner leaves a slot holding a job; others may fill it
        // again only after it is null and a new spinner set WAITING.
        self.handoff.store(ptr::null_mut(), Ordering::Relaxed);
        NonNull::new(p).map(RawJob)
    }

    /// Runs `job`; returns the `Wake` it left for this thread to use.
    fn run_job(&self, job: RawJob) -> Option<Wake> {
        // Jobs catch their own panics (see `blocking`); this only keeps the
        // pool's count right if one does not.
        // SAFETY: every job reaches a pool thread once, through the queue
        // or the slot, and its submitter keeps it alive until it has run.
        let done = catch_unwind(AssertUnwindSafe(|| unsafe { job.run() })).ok().flatten();
        self.completed.fetch_add(1, Ordering::Relaxed);
        done
    }

    pub fn stats(&self) -> PoolStats {
        let state = self.lock();
        let spinning = usize::from(self.handoff.load(Ordering::Relaxed) == WAITING);
        PoolStats {
            threads: state.threads,
            idle: state.idle + spinning,
            queued: state.queue.len(),
            completed: self.completed.load(Ordering::Relaxed),
        }
    }
}

/// Threads waiting for work done outside the runtime that will wake them:
/// a tokio runtime's threads (`compat::tokio::run`). Kept here, beside the
/// pool's own count of work done off the workers, for the deadlock
/// detector (`rt/monitor/deadlock.rs`), which cannot see such work coming.
static OUTSIDE_WAITS: AtomicUsize = AtomicUsize::new(0);

/// Whether some thread waits for a wake-up from outside the runtime.
pub(crate) fn waiting_outside() -> bool {
    OUTSIDE_WAITS.load(Ordering::Acquire) > 0
}

/// Counts a wait in `OUTSIDE_WAITS` while it lives.
#[cfg_attr(not(feature = "tokio"), allow(dead_code, reason = "used by the optional bridges"))]
pub(crate) struct OutsideWait(());

#[cfg_attr(not(feature = "tokio"), allow(dead_code, reason = "used by the optional bridges"))]
impl OutsideWait {
    pub(crate) fn begin() -> OutsideWait {
        OUTSIDE_WAITS.fetch_add(1, Ordering::AcqRel);
        OutsideWait(())
    }
}

impl Drop for OutsideWait {
    fn drop(&mut self) {
        OUTSIDE_WAITS.fetch_sub(1, Ordering::AcqRel);
    }
}

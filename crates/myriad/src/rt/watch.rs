//! What a worker publishes for the monitor to watch it by, below both:
//! the worker writes it, the monitor (`rt/monitor/`) reads it, and neither
//! file imports the other's.
//!
//! * `OsThreadId`: the worker's OS thread, for the monitor to ask the
//!   kernel what it does (`/proc`, its CPU clock);
//! * `WorkerWatch`: the thread the worker runs now, and the worker's half
//!   of the handshake that lets the monitor hold a stalled worker still
//!   while it names the threads on it (`monitor/inspect.rs` is the other
//!   half);
//! * the clock of a stall's start (`WorkerShared::stalled_since`, set by
//!   the monitor), and the one line a worker reports itself: that a long
//!   stall ended (`stall_ended`), with the wording the monitor's reports
//!   share (`label`, `human`).

use std::cell::RefCell;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::registry::Registry;
use super::task::Task;

/// Set when stalls are not to be reported (`OnStall::Ignore`).
static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether stalls go unreported (the monitor, from the configuration).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// How the stall monitor finds a worker's OS thread in the kernel.
pub struct OsThreadId {
    /// For `/proc/self/task/<tid>/stat`.
    pub tid: libc::pid_t,
    /// For the thread's CPU-time clock.
    pub cpu_clock: Option<libc::clockid_t>,
}

impl OsThreadId {
    pub fn current() -> OsThreadId {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let mut clock: libc::clockid_t = 0;
        // SAFETY: asks for the CPU clock of the calling thread, into a
        // valid clockid_t; the thread outlives every use (workers never end).
        let ok = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) } == 0;
        OsThreadId { tid, cpu_clock: ok.then_some(clock) }
    }
}

/// The part of a worker the monitor holds it still through (a field of
/// `WorkerShared`; `monitor/inspect.rs` is the other half). On a cache line of its own: the worker writes
/// `running` on every switch, and sharing the line with fields that other
/// threads write (the inbox, the sleeping flag) would make each switch a
/// cache miss.
#[repr(align(64))]
pub struct WorkerWatch {
    /// The task being resumed now, or null.
    pub(super) running: AtomicPtr<Task>,
    /// Set while another thread inspects this worker.
    pub(super) inspecting: AtomicBool,
    /// The worker's registry (in its `Local`, which lives as long as the
    /// process: the worker loop never returns); null until it runs.
    pub(super) registry: AtomicPtr<RefCell<Registry>>,
}

impl Default for WorkerWatch {
    fn default() -> Self {
        WorkerWatch {
            running: AtomicPtr::new(std::ptr::null_mut()),
            inspecting: AtomicBool::new(false),
            registry: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl WorkerWatch {
    /// Called once by the worker's OS thread, before it runs any thread,
    /// with its registry, which must live until the process ends.
    pub fn set_registry(&self, registry: &RefCell<Registry>) {
        self.registry.store(std::ptr::from_ref(registry).cast_mut(), Ordering::Release);
    }

    /// Called by the worker just before it resumes `task`, after
    /// registering it.
    #[inline]
    pub fn resuming(&self, task: *const Task) {
        self.running.store(task.cast_mut(), Ordering::Release);
    }

    /// Called by the worker as soon as the resumed task gives the worker
    /// back, before anything can end the task or change the registry.
    #[inline]
    pub fn resumed(&self) {
        self.running.store(std::ptr::null_mut(), Ordering::Relaxed);
        // The inspector's membarrier is the other half of this fence (see
        // `monitor/inspect.rs`).
        compiler_fence(Ordering::SeqCst);
        if self.inspecting.load(Ordering::Relaxed) {
            self.wait_for_inspector();
        }
    }

    #[cold]
    fn wait_for_inspector(&self) {
        while self.inspecting.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
    }
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// `t` as nanoseconds since the watch's clock began (at least 1: 0 means
/// "none" in `WorkerShared::stalled_since`).
pub fn nanos_since_epoch(t: Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    (t.saturating_duration_since(epoch).as_nanos() as u64).max(1)
}

/// The instant `nanos_since_epoch` made `nanos` of.
pub fn instant_of(nanos: u64) -> Instant {
    *EPOCH.get_or_init(Instant::now) + Duration::from_nanos(nanos)
}

/// Starts the clock of `stalled_since` (the monitor, at start-up).
pub fn start_clock() {
    EPOCH.get_or_init(Instant::now);
}

/// Called by a stalled worker when its thread `task` gives it back.
/// `stalled_since` is its `WorkerShared::stalled_since`, which the stall
/// monitor set: the stall is over, and one that lasted a second or more
/// gets a line saying so.
pub fn stall_ended(worker: usize, stalled_since: &AtomicU64, task: &Task) {
    let since = stalled_since.swap(0, Ordering::Relaxed);
    if since == 0 || QUIET.load(Ordering::Relaxed) {
        return;
    }
    let held = Instant::now().saturating_duration_since(instant_of(since));
    // Shorter stalls were reported once and are not worth a second line.
    if held >= Duration::from_secs(1) {
        super::report::warn(&format!(
            "myriad: {} gave worker {} back after {} without yielding.",
            label(task),
            worker,
            human(held)
        ));
    }
}

/// Names a thread: "thread 'name' (id 7, spawned at src/main.rs:10:5)".
pub fn label(task: &Task) -> String {
    format!(
        "thread '{}' (id {}, spawned at {})",
        task.name().unwrap_or("<unnamed>"),
        task.id.as_u64(),
        task.spawned_at()
    )
}

/// "10 ms", "1.5 s", "12 s", "3 min".
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

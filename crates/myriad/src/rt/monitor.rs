//! The stall monitor: notices a worker that has not come back to its
//! scheduler for longer than the threshold, and keeps the rest of the
//! program going around it.
//!
//! A myriad thread that calls `std::thread::sleep`, `std::net`, a blocking
//! C function, or computes for long blocks its whole worker: the threads
//! pinned there wait (they cannot move, see `worker.rs`). Everything else
//! must not. Every `threshold / 2` the monitor (one OS thread) compares each
//! worker's switch counter with its last look. A worker that is running a
//! thread and has not switched for `threshold` is *stalled* — if its OS
//! thread used at least half that time in CPU (a computation) or sits
//! blocked in the kernel (a blocking syscall). A worker the kernel merely
//! preempted (runnable, little CPU time: the machine has more runnable OS
//! threads than cores) is not stalled; moving work to yet another OS thread
//! would only make that worse.
//!
//! A stalled worker is handled so:
//!
//! * it is marked, which lets idle workers steal even a single unstarted
//!   thread from it (normally they steal only a backlog), and an idle
//!   worker is woken to do so;
//! * IO readiness on its poller keeps being dispatched by the monitor, for
//!   threads on other workers whose descriptors happen to be registered
//!   there;
//! * if every running worker is stalled and work is waiting, a spare
//!   worker is started;
//! * it is reported once through `log` (worker, thread id, time so far)
//!   and counted; when the thread finally gives the worker back, the
//!   worker reports the thread's name and the stall's total length.
//!
//! What a user should do about a report: run the call through
//! [`crate::blocking`], use `myriad::net`/`myriad::sync` instead of std's
//! blocking types, and call `thread::yield_now` in long computations.

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::task::Task;
use super::worker::WorkerShared;
use super::{OnDeadlock, Runtime};

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn nanos_since_epoch(t: Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    (t.saturating_duration_since(epoch).as_nanos() as u64).max(1)
}

fn instant_of(nanos: u64) -> Instant {
    *EPOCH.get_or_init(Instant::now) + Duration::from_nanos(nanos)
}

pub fn start(rt: &'static Runtime) {
    EPOCH.get_or_init(Instant::now);
    let started = std::thread::Builder::new().name("myriad-monitor".into()).spawn(move || run(rt));
    if let Err(err) = started {
        log::error!("myriad: cannot start the stall monitor thread: {err}; stalled workers will not be detected");
    }
}

/// The monitor's view of one worker.
#[derive(Clone, Copy)]
struct Seen {
    switches: u64,
    since: Instant,
    /// The worker's CPU time at `since`.
    cpu: Duration,
}

/// CPU time used by a worker's OS thread.
fn cpu_time(worker: &WorkerShared) -> Duration {
    let Some(clock) = worker.os_thread.get().and_then(|t| t.cpu_clock) else { return Duration::ZERO };
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a CPU-time clock id of a live thread and a valid timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Whether the worker's OS thread is blocked in the kernel (state `S` or
/// `D` in `/proc/self/task/<tid>/stat`) rather than running or runnable.
fn blocked_in_kernel(worker: &WorkerShared) -> bool {
    let Some(thread) = worker.os_thread.get() else { return false };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{}/stat", thread.tid)) else { return false };
    // The state follows the command name, which is in parentheses.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    matches!(state, Some('S') | Some('D'))
}

fn run(rt: &'static Runtime) -> ! {
    let threshold = rt.stall_threshold;
    let busy_period = threshold / 2;
    let mut period = busy_period;
    let mut seen: Vec<Seen> = Vec::new();
    let mut deadlock = DeadlockWatch::default();
    let mut cycles = CycleWatch::default();
    loop {
        std::thread::sleep(period);
        let now = Instant::now();
        let workers = rt.workers();
        seen.resize(workers.len(), Seen { switches: 0, since: now, cpu: Duration::ZERO });
        let mut stalled = 0;
        let mut all_asleep = true;
        for (w, seen) in workers.iter().zip(seen.iter_mut()) {
            let switches = w.counters.switches.get();
            let running = w.running_id.load(Ordering::Relaxed);
            all_asleep &= w.is_sleeping();
            if switches != seen.switches || running == 0 {
                *seen = Seen { switches, since: now, cpu: cpu_time(w) };
                continue;
            }
            let stalled_for = now - seen.since;
            if stalled_for < threshold {
                continue;
            }
            let computing = cpu_time(w).saturating_sub(seen.cpu) >= stalled_for / 2;
            if !w.is_stalled() && !computing && !blocked_in_kernel(w) {
                // Preempted by the kernel, not stalled by its thread.
                continue;
            }
            stalled += 1;
            if !w.is_stalled() {
                w.stalled_since.store(nanos_since_epoch(seen.since), Ordering::Relaxed);
                w.counters.stalls.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "myriad: worker {} has been running thread id {} for {:?} without coming back to its \
                     scheduler; new work goes to other workers meanwhile. Blocking calls belong in \
                     myriad::blocking, IO in myriad::net, and long computations should call \
                     thread::yield_now",
                    w.index,
                    running,
                    stalled_for
                );
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    worker = w.index,
                    thread = running,
                    stalled_ms = stalled_for.as_millis() as u64,
                    "myriad worker stalled"
                );
                rt.wake_idle_worker(true);
            }
            if w.has_registrations() {
                w.poll(Some(Duration::ZERO), true);
            }
        }
        if stalled > 0 && stalled == workers.len() && work_is_waiting(rt) {
            match rt.start_worker() {
                Ok(true) => log::warn!("myriad: every worker is stalled; started worker {}", workers.len()),
                Ok(false) => {}
                Err(err) => log::error!("myriad: every worker is stalled and a spare cannot start: {err}"),
            }
        }
        cycles.check(now);
        if super::dump::SIGNALLED.swap(false, std::sync::atomic::Ordering::Relaxed) {
            eprintln!("{}", super::dump());
        }
        if all_asleep && rt.on_deadlock != OnDeadlock::Ignore {
            deadlock.check(rt, now);
        } else {
            deadlock.quiet_since = None;
            deadlock.reported = false;
        }
        // Back off while nothing runs, as Go's sysmon does.
        period = if all_asleep { (period * 2).min(Duration::from_millis(50)).max(busy_period) } else { busy_period };
    }
}

/// Global deadlock detection: every worker asleep with no timer, no
/// descriptor, no file operation, no blocking call and no queued work that
/// could wake anything, and the main thread blocked in a myriad wait with
/// no deadline — for a full second, with no thread switch in between.
///
/// An OS thread outside myriad (a `std::thread` computing something it
/// will send later) is invisible here, as cgo threads are to Go's
/// detector: a program whose main thread waits on such work should use
/// `OnDeadlock::Ignore`.
#[derive(Default)]
struct DeadlockWatch {
    /// When the runtime was first seen quiet, and its switch counts then.
    quiet_since: Option<(Instant, Vec<u64>)>,
    reported: bool,
}

impl DeadlockWatch {
    fn check(&mut self, rt: &'static Runtime, now: Instant) {
        if !quiescent(rt) {
            self.quiet_since = None;
            self.reported = false;
            return;
        }
        let switches: Vec<u64> = rt.workers().iter().map(|w| w.counters.switches.get()).collect();
        match &self.quiet_since {
            Some((since, before)) if *before == switches => {
                if now - *since < Duration::from_secs(1) || self.reported {
                    return;
                }
            }
            _ => {
                self.quiet_since = Some((now, switches));
                return;
            }
        }
        self.reported = true;
        let dump = super::dump();
        eprintln!(
            "\nmyriad: all threads are asleep — deadlock! (Nothing left in the runtime can wake them; if an \
             OS thread outside myriad will, set MYRIAD_DEADLOCK=ignore.)\n{dump}\n"
        );
        log::error!("all threads are asleep — deadlock ({} myriad threads)", dump.threads.len());
        #[cfg(feature = "tracing")]
        tracing::error!(threads = dump.threads.len(), "myriad: all threads are asleep — deadlock");
        if rt.on_deadlock == OnDeadlock::Panic {
            super::wait::panic_main_thread();
        }
        // Taking the dump woke the workers; start over.
        self.quiet_since = None;
    }
}

/// Threads waiting on a `Mutex` right now (kept by `sync::Mutex`).
pub static LOCK_WAITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Partial deadlocks: while threads wait on locks, a dump every second is
/// searched for wait-for cycles; a cycle found in two dumps in a row is
/// reported once.
#[derive(Default)]
struct CycleWatch {
    next: Option<Instant>,
    /// Cycles seen in the previous dump, as sorted thread ids.
    seen: std::collections::BTreeSet<Vec<u64>>,
    reported: std::collections::BTreeSet<Vec<u64>>,
}

impl CycleWatch {
    fn check(&mut self, now: Instant) {
        if LOCK_WAITS.load(Ordering::Relaxed) == 0 {
            self.next = None;
            self.seen.clear();
            self.reported.clear();
            return;
        }
        let next = *self.next.get_or_insert(now + Duration::from_secs(1));
        if now < next {
            return;
        }
        self.next = Some(now + Duration::from_secs(1));
        let dump = super::dump();
        let mut seen = std::collections::BTreeSet::new();
        for cycle in dump.lock_cycles() {
            let mut key: Vec<u64> = cycle.iter().map(|t| t.id.as_u64().get()).collect();
            key.sort_unstable();
            if self.seen.contains(&key) && self.reported.insert(key.clone()) {
                let text = super::dump::describe_cycle(&cycle);
                eprintln!(
                    "\nmyriad: deadlock between {} threads waiting on each other's locks:\n{text}\n",
                    cycle.len()
                );
                log::error!("deadlock between {} threads waiting on each other's locks:\n{text}", cycle.len());
                #[cfg(feature = "tracing")]
                tracing::error!(threads = cycle.len(), "myriad: lock cycle deadlock");
            }
            seen.insert(key);
        }
        self.seen = seen;
    }
}

fn quiescent(rt: &Runtime) -> bool {
    let pool = rt.offload.stats();
    rt.workers().iter().all(|w| {
        w.is_sleeping()
            && !w.has_mail()
            && !w.has_unstarted()
            && !w.has_registrations()
            && w.timers_pending.load(Ordering::Relaxed) == 0
    }) && rt.injector.is_empty()
        && super::uring::in_flight() == 0
        && pool.queued == 0
        && pool.threads == pool.idle
        && super::wait::main_thread_blocked()
}

fn work_is_waiting(rt: &Runtime) -> bool {
    !rt.injector.is_empty() || rt.workers().iter().any(WorkerShared::has_unstarted)
}

/// Called by a stalled worker when its thread `task` gives it back.
pub fn stall_ended(worker: &WorkerShared, task: &Task) {
    let since = worker.stalled_since.swap(0, Ordering::Relaxed);
    if since == 0 {
        return;
    }
    let held = Instant::now().saturating_duration_since(instant_of(since));
    log::warn!(
        "myriad: thread '{}' ({:?}) held worker {} for {:?} without yielding",
        task.name().unwrap_or("<unnamed>"),
        task.id,
        worker.index,
        held
    );
}

//! The stall watch: a worker held by one thread, noticed, worked around
//! and reported.
//!
//! A myriad thread that calls `std::thread::sleep`, `std::net`, a blocking
//! C function, or computes for long holds its whole worker: the threads
//! pinned there wait (they cannot move, see `worker.rs`). Everything else
//! must not. Each round the monitor compares each worker's switch counter
//! with its last look. A worker that is running a thread and has not
//! switched for the threshold is *stalled* — if its OS thread used at
//! least half that time in CPU, or a whole threshold's worth on a machine
//! too busy to give it half (a computation), or sits blocked in the kernel
//! (a blocking syscall). A worker the kernel merely preempted (runnable,
//! little CPU time: the machine has more runnable OS threads than cores)
//! is not stalled; moving work to yet another OS thread would only make
//! that worse.
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
//! * it is reported when the stall passes the threshold, and again at 1 s,
//!   10 s, 100 s, ... (at most ten first reports in ten seconds; longer
//!   stalls are always reported), and once more when a stall of a second or
//!   more ends. A report names the worker, the thread (name, id, spawn
//!   site), the system call its OS thread is blocked in and the descriptor
//!   it waits on (or "running code"), how long, how many threads wait
//!   behind it, and what to use instead.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::super::config::{Config, OnStall};
use super::super::dump::{describe, ThreadInfo, ThreadState};
use super::super::kernel::{self, Activity, FdKind, Waits};
use super::super::task::Task;
use super::super::watch::{self, human, label};
use super::super::worker::WorkerShared;
use super::super::{report, Runtime};
use super::inspect::{inspect, Frozen};

/// Whether the `intercept` feature is built in and switched on
/// (`MYRIAD_INTERCEPT`), for the remedy.
static INTERCEPTING: AtomicBool = AtomicBool::new(false);

/// At most this many first reports (of stalls shorter than a second) in
/// `BUDGET_WINDOW`; the rest are counted and mentioned in the next report.
const BUDGET: usize = 10;
const BUDGET_WINDOW: Duration = Duration::from_secs(10);

/// The monitor's view of one worker.
struct View {
    switches: u64,
    since: Instant,
    /// The worker's CPU time at `since`.
    cpu: Duration,
    episode: Option<Episode>,
}

/// One stall of one worker, from the monitor's side.
pub(super) struct Episode {
    /// When the worker last switched.
    pub started: Instant,
    /// The stall's length at which to report next.
    next_report: Duration,
    /// What the last look at the worker found.
    pub last: Option<Held>,
}

pub(super) struct StallWatch {
    threshold: Duration,
    on_stall: OnStall,
    views: Vec<View>,
    budget: Budget,
}

/// The rate limit of first reports.
#[derive(Default)]
struct Budget {
    /// When recent first reports were made.
    recent: VecDeque<Instant>,
    /// First reports left out since the last report.
    suppressed: u64,
}

impl StallWatch {
    pub(super) fn new(config: &Config) -> StallWatch {
        watch::set_quiet(config.on_stall == OnStall::Ignore);
        INTERCEPTING.store(cfg!(feature = "intercept") && config.intercept, Ordering::Relaxed);
        StallWatch {
            threshold: config.stall_threshold,
            on_stall: config.on_stall,
            views: Vec::new(),
            budget: Budget::default(),
        }
    }

    /// The current stall of worker `index`, if it is stalled.
    pub(super) fn episode(&self, index: usize) -> Option<&Episode> {
        self.views.get(index).and_then(|v| v.episode.as_ref())
    }

    /// Looks at every worker; returns whether all of them were asleep.
    pub(super) fn check(&mut self, rt: &'static Runtime, now: Instant) -> bool {
        let workers = rt.workers();
        while self.views.len() < workers.len() {
            self.views.push(View { switches: 0, since: now, cpu: Duration::ZERO, episode: None });
        }
        let mut stalled = 0;
        let mut all_asleep = true;
        for w in workers {
            let switches = w.counters.switches.get();
            let running = w.running_id.load(Ordering::Relaxed);
            all_asleep &= w.is_sleeping();
            let view = &mut self.views[w.index];
            if switches != view.switches || running == 0 {
                *view = View { switches, since: now, cpu: cpu_time(w), episode: None };
                continue;
            }
            let stalled_for = now - view.since;
            if stalled_for < self.threshold {
                continue;
            }
            // A thread normally gives its worker back within microseconds:
            // one that has used half the time in CPU, or a whole threshold
            // of it on a machine too busy to give it half, is computing.
            let computing = cpu_time(w).saturating_sub(view.cpu) >= (stalled_for / 2).min(self.threshold);
            let tid = w.os_thread.get().map(|t| t.tid);
            if !w.is_stalled() && !computing && !tid.is_some_and(kernel::blocked_in_kernel) {
                // Preempted by the kernel, not stalled by its thread.
                continue;
            }
            stalled += 1;
            if !w.is_stalled() {
                w.stalled_since.store(watch::nanos_since_epoch(view.since), Ordering::Relaxed);
                w.counters.stalls.fetch_add(1, Ordering::Relaxed);
                rt.wake_idle_worker(true);
            }
            let since = view.since;
            let episode =
                view.episode.get_or_insert(Episode { started: since, next_report: self.threshold, last: None });
            if stalled_for >= episode.next_report {
                let held = look(w, running, stalled_for, computing, now);
                episode.next_report =
                    if stalled_for < Duration::from_secs(1) { Duration::from_secs(1) } else { stalled_for * 10 };
                let first = stalled_for < Duration::from_secs(1);
                if self.on_stall != OnStall::Ignore && self.budget.may_report(first, now) {
                    let mut text = held.to_string();
                    if self.budget.suppressed > 0 {
                        let _ = write!(text, "\n  ({} shorter stalls were not reported.)", self.budget.suppressed);
                        self.budget.suppressed = 0;
                    }
                    report::warn(&text);
                }
                episode.last = Some(held);
            }
            if w.io.has_registrations() {
                w.poll(Some(Duration::ZERO), true);
            }
        }
        if stalled > 0 && stalled == workers.len() && work_is_waiting(rt) {
            match rt.start_worker() {
                Ok(true) if self.on_stall != OnStall::Ignore => {
                    report::warn(&format!("myriad: every worker is stalled; started spare worker {}", workers.len()))
                }
                Ok(_) => {}
                Err(err) => report::error(&format!("myriad: every worker is stalled and a spare cannot start: {err}")),
            }
        }
        all_asleep
    }
}

impl Budget {
    /// Whether a report may be made now (first reports are rate-limited).
    fn may_report(&mut self, first: bool, now: Instant) -> bool {
        if !first {
            return true;
        }
        while self.recent.front().is_some_and(|t| now - *t > BUDGET_WINDOW) {
            self.recent.pop_front();
        }
        if self.recent.len() >= BUDGET {
            self.suppressed += 1;
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

pub(super) fn work_is_waiting(rt: &Runtime) -> bool {
    !rt.injector.is_empty() || rt.workers().iter().any(WorkerShared::has_unstarted)
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

/// What a look at a stalled worker found.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub worker: usize,
    /// "thread 'name' (id 7, spawned at src/main.rs:10:5)".
    pub thread: String,
    pub doing: Doing,
    pub held_for: Duration,
    /// Threads pinned to the worker besides the one holding it.
    pub behind: usize,
    /// Whether `behind` was counted now (else: as of the worker's last
    /// look around, before the stall).
    pub behind_exact: bool,
    /// Of those, how many are ready to run.
    pub ready: usize,
    /// Some of them, each described ("thread 'x' (id 3, ...) waiting on
    /// sleep for 2 s"), ready ones first.
    pub some_behind: Vec<String>,
}

/// What a worker's OS thread is doing.
#[derive(Clone, Debug)]
pub(super) enum Doing {
    /// Computing, not in a system call.
    Code,
    /// Blocked in a system call.
    Call {
        /// Its name ("recvfrom"), or "system call 123".
        name: String,
        waits: Waits,
        /// The descriptor it waits on, described.
        fd: Option<(i32, FdKind)>,
        /// For a futex, its address.
        futex: Option<u64>,
    },
    /// Asleep in the kernel, not in a system call (a page fault, a stop).
    Kernel,
    /// `/proc` could not be read.
    Unknown,
}

impl Doing {
    fn read(worker: &WorkerShared, computing: bool) -> Doing {
        let Some(tid) = worker.os_thread.get().map(|t| t.tid) else { return Doing::Unknown };
        match kernel::activity(tid) {
            Activity::Running => Doing::Code,
            Activity::Sleeping => Doing::Kernel,
            Activity::Unknown if computing => Doing::Code,
            Activity::Unknown => Doing::Unknown,
            Activity::Syscall { nr, args } => {
                let (name, waits) = match kernel::syscall_name(nr) {
                    Some((name, waits)) => (name.to_owned(), waits),
                    None => (format!("system call {nr}"), Waits::Other),
                };
                let fd = (waits == Waits::OnFd)
                    .then(|| i32::try_from(args[0]).ok())
                    .flatten()
                    .map(|fd| (fd, kernel::describe_fd(fd)));
                let futex = (waits == Waits::OnFutex).then_some(args[0]);
                Doing::Call { name, waits, fd, futex }
            }
        }
    }

    /// Whether the thread waits on a lock-like futex.
    pub(super) fn is_futex(&self) -> bool {
        matches!(self, Doing::Call { waits: Waits::OnFutex, .. })
    }

    /// Whether myriad's `intercept` feature parks a thread making this
    /// call, instead of letting it block the worker (`src/intercept`).
    fn intercept_covers(&self) -> bool {
        match self {
            Doing::Call { waits: Waits::OnTime, .. } => true,
            Doing::Call { name, fd: Some((_, FdKind::Socket(_))), .. } => matches!(
                name.as_str(),
                "read"
                    | "write"
                    | "readv"
                    | "writev"
                    | "recvfrom"
                    | "recvmsg"
                    | "sendto"
                    | "sendmsg"
                    | "accept"
                    | "accept4"
                    | "connect"
            ),
            Doing::Call { name, .. } => matches!(name.as_str(), "poll" | "ppoll"),
            _ => false,
        }
    }

    /// What the `intercept` feature has to do with it, if anything.
    fn intercept_note(&self) -> Option<&'static str> {
        if !self.intercept_covers() {
            return None;
        }
        Some(if !cfg!(feature = "intercept") {
            "Or build myriad with its `intercept` cargo feature, which makes this call park only the thread, \
             whether std or a C library makes it."
        } else if !INTERCEPTING.load(Ordering::Relaxed) {
            "Or switch interception back on: myriad's `intercept` feature is built in and would park only the \
             thread here, but MYRIAD_INTERCEPT=0 (or rt::Builder::intercept(false)) turned it off."
        } else {
            "(myriad's `intercept` feature is on but did not see this call: it was made by a raw system call, \
             or by a statically linked library that does not go through the program's symbols.)"
        })
    }

    /// What to do about it.
    pub(super) fn remedy(&self) -> &'static str {
        match self {
            Doing::Code => {
                "a long computation holds the worker: call myriad::thread::yield_now() in it every millisecond \
                 or so, or run it in myriad::blocking(|| ...)"
            }
            Doing::Call { fd: Some((_, FdKind::Socket(_))), .. } => {
                "std::net (or another library's blocking socket) holds the worker: use myriad::net's TcpStream, \
                 TcpListener, UdpSocket or UnixStream instead, or run the call in myriad::blocking(|| ...)"
            }
            Doing::Call { fd: Some((_, FdKind::Path(_))), .. } => {
                "std::fs holds the worker: use myriad::fs instead, or run the call in myriad::blocking(|| ...)"
            }
            Doing::Call { fd: Some((_, FdKind::Pipe)), .. } => {
                "a blocking read or write on a pipe holds the worker: use myriad::io for stdin and stdout, or \
                 run the call in myriad::blocking(|| ...)"
            }
            Doing::Call { waits: Waits::OnTime, .. } => {
                "std::thread::sleep holds the worker: use myriad::thread::sleep instead"
            }
            Doing::Call { waits: Waits::OnFutex, .. } => {
                "a std::sync (or parking_lot, or C library) lock, condition variable, channel or join holds the \
                 worker: use myriad::sync's types and myriad::thread's join instead, or run the wait in \
                 myriad::blocking(|| ...)"
            }
            _ => "a blocking call holds the worker: run it in myriad::blocking(|| ...) instead",
        }
    }
}

impl std::fmt::Display for Doing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Doing::Code => f.write_str("running code (not in a system call)"),
            Doing::Call { name, fd: Some((fd, what)), .. } => write!(f, "blocked in {name} on fd {fd}, {what}"),
            Doing::Call { name, futex: Some(addr), .. } => write!(f, "blocked in {name} on address {addr:#x}"),
            Doing::Call { name, .. } => write!(f, "blocked in {name}"),
            Doing::Kernel => f.write_str("asleep in the kernel outside a system call"),
            Doing::Unknown => f.write_str("doing something /proc does not show"),
        }
    }
}

fn label_info(t: &ThreadInfo) -> String {
    format!("thread '{}' (id {}, spawned at {})", t.name.as_deref().unwrap_or("<unnamed>"), t.id.as_u64(), t.spawned_at)
}

/// How many threads a report describes one by one.
const LISTED: usize = 5;

/// Looks at stalled worker `w`, running thread `running_id` for `held_for`.
pub(super) fn look(w: &WorkerShared, running_id: u64, held_for: Duration, computing: bool, now: Instant) -> Held {
    let doing = Doing::read(w, computing);
    let seen = inspect(&w.watch, |frozen| {
        // Ready threads first, then the longest waits; only the first few
        // are described, so that a worker with 100,000 threads is not kept
        // waiting for the inspection.
        let mut order: Vec<(bool, Option<Instant>, &Task)> = frozen
            .behind()
            .map(|t| {
                let blocked = t.wait.is_blocked();
                // SAFETY: `t` is not running and its worker is held still
                // (`inspect`), so nothing writes its wait record now.
                let since = if blocked { unsafe { t.wait_record().1 } } else { None };
                (blocked, since, t)
            })
            .collect();
        let count = order.len();
        let ready = order.iter().filter(|(blocked, _, _)| !blocked).count();
        let key = |&(blocked, since, _): &(bool, Option<Instant>, &Task)| (blocked, since.unwrap_or(now));
        if order.len() > LISTED {
            order.select_nth_unstable_by_key(LISTED, key);
            order.truncate(LISTED);
        }
        order.sort_by_key(key);
        let listed: Vec<ThreadInfo> = order.iter().map(|(_, _, t)| describe(t, w.index, now)).collect();
        (label(frozen.running), count, ready, listed)
    });
    let (thread, count, ready, behind, behind_exact) = match seen {
        Some((thread, count, ready, listed)) => (thread, count, ready, listed, true),
        None => (
            format!("thread id {running_id}"),
            w.pinned.load(Ordering::Relaxed).saturating_sub(1),
            w.runnable.load(Ordering::Relaxed),
            Vec::new(),
            false,
        ),
    };
    let some_behind = behind
        .iter()
        .map(|t| match &t.state {
            ThreadState::Waiting(reason) => {
                let since = t.waiting_for.map(|d| format!(" for {}", human(d))).unwrap_or_default();
                format!("{} waiting on {}{since}", label_info(t), reason.label())
            }
            _ => format!("{} ready to run", label_info(t)),
        })
        .collect();
    Held { worker: w.index, thread, doing, held_for, behind: count, behind_exact, ready, some_behind }
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "myriad: worker {} has been held for {} by {}: {}.",
            self.worker,
            human(self.held_for),
            self.thread,
            self.doing
        )?;
        let about = if self.behind_exact { "" } else { "about " };
        let (plural, verb) = if self.behind == 1 { ("thread", "waits") } else { ("threads", "wait") };
        write!(
            f,
            "  {about}{} {plural} pinned to worker {} {verb} behind it ({} of them ready to run); new threads go \
             to other workers meanwhile.",
            self.behind, self.worker, self.ready
        )?;
        if self.doing.is_futex() && !self.some_behind.is_empty() {
            write!(
                f,
                "\n  If one of the threads pinned behind it holds the lock this thread waits for, neither can ever \
                 run again. They include:"
            )?;
            for t in &self.some_behind {
                write!(f, "\n    {t}")?;
            }
        }
        write!(f, "\n  Fix: {}.", self.doing.remedy())?;
        if let Some(note) = self.doing.intercept_note() {
            write!(f, " {note}")?;
        }
        Ok(())
    }
}

/// For `rt::dump`: the threads of stalled worker `w`, the one holding it
/// first (as `ThreadState::Running`), and a line saying what it does; `None`
/// if the worker cannot be looked into now.
pub(crate) fn stalled_threads(w: &WorkerShared, now: Instant) -> Option<(Vec<ThreadInfo>, String)> {
    let since = w.stalled_since.load(Ordering::Relaxed);
    let held_for = (since != 0).then(|| now.saturating_duration_since(watch::instant_of(since)));
    let doing = Doing::read(w, false);
    inspect(&w.watch, |frozen: &Frozen<'_>| {
        let running = frozen.running;
        let mut threads = vec![ThreadInfo {
            id: running.id,
            name: running.name().map(str::to_owned),
            worker: w.index,
            state: ThreadState::Running,
            waiting_for: held_for,
            spawned_at: running.spawned_at(),
        }];
        threads.extend(frozen.behind().map(|t| describe(t, w.index, now)));
        let how_long = held_for.map(|d| format!(" for {}", human(d))).unwrap_or_default();
        let note = format!("worker {} is held{how_long} by {}: {doing}", w.index, label(running));
        (threads, note)
    })
}

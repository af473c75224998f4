//! Thread dumps: what is every myriad thread doing, and since when?
//!
//! Every wait records a [`WaitReason`] and a coarse start time in the
//! waiting thread's own control block (a few plain stores, on the thread's
//! own worker), and every spawn records its call site. Each worker keeps a
//! registry of the threads pinned to it.
//!
//! [`dump`](crate::rt::dump()) (`monitor/snapshot.rs`) asks every worker
//! for a snapshot. A worker answers at its next
//! pass through the scheduler (within 61 thread switches, or at once if it
//! sleeps), reading its own registry while none of its threads runs, so
//! nothing is read across threads and no lock is held while threads run;
//! the cost is one pass over that worker's threads. A worker that does not
//! answer within a second (a stalled one) is listed as such. Threads not
//! started yet have no state to show and are only counted.
//!
//! A stalled worker cannot answer: its threads are read by the monitor
//! while it holds the worker still (`monitor/inspect.rs`), the thread
//! holding it shown as [`ThreadState::Running`]. A worker that cannot be
//! looked into either is listed as unanswered.
//!
//! With `MYRIAD_DUMP_SIGNAL=USR1` (or `=USR2` etc., by name), the runtime
//! prints a dump to stderr on `SIGUSR1` (or that signal) without stopping
//! the program.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;

use super::lock::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::task::Task;
use super::wait::WaitReason;
use crate::rt::ThreadId;

impl WaitReason {
    /// A label for a group of threads waiting alike: what they wait on,
    /// without the details that make each one different (which thread is
    /// joined, which socket is read).
    fn group_label(&self) -> String {
        match self {
            WaitReason::Join(_) => "join".into(),
            WaitReason::Socket { op, fd } => match socket_addr(*fd) {
                Some(local) => format!("socket {op} on {local} connections"),
                None => format!("socket {op}"),
            },
            other => other.label(),
        }
    }

    /// A short label for one thread.
    pub(crate) fn label(&self) -> String {
        match self {
            WaitReason::Join(id) => format!("join on thread {}", id.as_u64()),
            WaitReason::Park => "park".into(),
            WaitReason::Sleep => "sleep".into(),
            WaitReason::Lock { kind, addr, holder: Some(h) } => {
                format!("{kind} {addr:#x} held by thread {}", h.as_u64())
            }
            WaitReason::Lock { kind, addr, holder: None } => format!("{kind} {addr:#x}"),
            WaitReason::Channel { op, addr } => format!("channel {op} on {addr:#x}"),
            WaitReason::Socket { op, fd } => format!("socket {op}{}", describe_socket(*fd)),
            WaitReason::File { op } => format!("file {op}"),
            WaitReason::Blocking => "a blocking call on the offload pool".into(),
            WaitReason::Future => "a future (block_on)".into(),
        }
    }
}

/// " on TCP socket 127.0.0.1:8080 -> 127.0.0.1:51234" for a socket.
fn describe_socket(fd: i32) -> String {
    super::kernel::describe_socket(fd).map(|text| format!(" on {text}")).unwrap_or_default()
}

fn socket_addr(fd: i32) -> Option<std::net::SocketAddr> {
    super::kernel::socket_local_addr(fd)
}

/// What a myriad thread is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThreadState {
    /// Ready to run, waiting for its worker.
    Runnable,
    /// Holding its worker, which is stalled: running code, or blocked in
    /// a system call (see the dump's `unanswered` notes for which).
    Running,
    /// Blocked.
    Waiting(WaitReason),
}

/// One thread in a [`Dump`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// The thread's id.
    pub id: ThreadId,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The worker it is pinned to.
    pub worker: usize,
    /// What it is doing.
    pub state: ThreadState,
    /// How long it has been waiting, or holding its stalled worker (coarse:
    /// ±a few milliseconds).
    pub waiting_for: Option<Duration>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
}

/// A snapshot of every myriad thread; see [`dump`](crate::rt::dump()).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Dump {
    /// Every started thread that has not ended.
    pub threads: Vec<ThreadInfo>,
    /// Threads spawned but not started yet.
    pub not_started: usize,
    /// Notes on workers that did not answer: what holds a stalled one, or
    /// that it could not be looked into.
    pub unanswered: Vec<String>,
    /// How long taking the dump took.
    pub taken_in: Duration,
}

/// A worker's answer to a dump request.
pub(crate) struct DumpRequests {
    /// The newest request, counted from 1.
    pub generation: std::sync::atomic::AtomicU64,
    pub answers: Mutex<BTreeMap<usize, (u64, Vec<ThreadInfo>)>>,
    pub answered: Condvar,
}

impl DumpRequests {
    pub const fn new() -> DumpRequests {
        DumpRequests {
            generation: std::sync::atomic::AtomicU64::new(0),
            answers: Mutex::new(BTreeMap::new()),
            answered: Condvar::new(),
        }
    }

    /// Called by worker `index` with a snapshot for `generation`.
    pub fn answer(&self, index: usize, generation: u64, threads: Vec<ThreadInfo>) {
        self.answers.lock().insert(index, (generation, threads));
        self.answered.notify_all();
    }
}

/// Describes a registered task for a dump (called by its worker while the
/// task is not running).
pub(crate) fn describe(task: &Task, worker: usize, now: Instant) -> ThreadInfo {
    let (state, waiting_for) = if task.wait.is_blocked() {
        // SAFETY: called by the task's own worker between switches, so
        // the task is not running and nothing else writes its wait record.
        let (reason, since) = unsafe { task.wait_record() };
        (ThreadState::Waiting(reason.clone()), since.map(|since| now.saturating_duration_since(since)))
    } else {
        (ThreadState::Runnable, None)
    };
    ThreadInfo {
        id: task.id,
        name: task.name().map(str::to_owned),
        worker,
        state,
        waiting_for,
        spawned_at: task.spawned_at(),
    }
}

impl Dump {
    /// Wait-for cycles between locks: each cycle lists threads of which
    /// every one waits for a lock held by the next (the last by the first).
    /// Holders are recorded as a thread starts waiting, so a cycle seen once
    /// may be a moment out of date; one seen in two dumps taken apart is a
    /// deadlock.
    ///
    /// ```
    /// // A program without lock cycles.
    /// assert!(myriad::rt::dump().lock_cycles().is_empty());
    /// ```
    pub fn lock_cycles(&self) -> Vec<Vec<&ThreadInfo>> {
        let by_id: BTreeMap<ThreadId, &ThreadInfo> = self.threads.iter().map(|t| (t.id, t)).collect();
        let holder_of = |t: &ThreadInfo| match &t.state {
            ThreadState::Waiting(WaitReason::Lock { holder: Some(h), .. }) if *h != t.id => Some(*h),
            _ => None,
        };
        let mut cycles = Vec::new();
        let mut done: std::collections::BTreeSet<ThreadId> = Default::default();
        for start in &self.threads {
            let mut path: Vec<&ThreadInfo> = Vec::new();
            let mut current: &ThreadInfo = start;
            loop {
                if done.contains(&current.id) {
                    break;
                }
                if let Some(at) = path.iter().position(|t| t.id == current.id) {
                    cycles.push(path[at..].to_vec());
                    break;
                }
                path.push(current);
                match holder_of(current).and_then(|h| by_id.get(&h)) {
                    Some(next) => current = next,
                    None => break,
                }
            }
            done.extend(path.iter().map(|t| t.id));
        }
        cycles
    }
}

/// Describes a lock cycle in one line per thread.
pub(crate) fn describe_cycle(cycle: &[&ThreadInfo]) -> String {
    cycle
        .iter()
        .map(|t| {
            let what = match &t.state {
                ThreadState::Waiting(reason) => reason.label(),
                _ => "nothing".into(),
            };
            format!(
                "  thread {} '{}' (spawned at {}) waits on {what}",
                t.id.as_u64(),
                t.name.as_deref().unwrap_or("<unnamed>"),
                t.spawned_at
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn rough(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

impl fmt::Display for Dump {
    /// A grouped summary ("8,214 threads waiting in socket read ... since
    /// ≤ 3 s"), then every thread.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "myriad thread dump: {} threads, {} not started yet", self.threads.len(), self.not_started)?;
        let mut groups: BTreeMap<(String, String), (usize, Duration)> = BTreeMap::new();
        for t in &self.threads {
            let what = match &t.state {
                ThreadState::Runnable => "runnable".to_string(),
                ThreadState::Running => "holding a stalled worker".to_string(),
                ThreadState::Waiting(reason) => format!("waiting on {}", reason.group_label()),
            };
            let site = format!("{}:{}", t.spawned_at.file(), t.spawned_at.line());
            let entry = groups.entry((what, site)).or_insert((0, Duration::ZERO));
            entry.0 += 1;
            entry.1 = entry.1.max(t.waiting_for.unwrap_or_default());
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|(_, (count, _))| std::cmp::Reverse(*count));
        for ((what, site), (count, longest)) in &groups {
            let plural = if *count == 1 { "thread" } else { "threads" };
            if longest.is_zero() {
                writeln!(f, "  {count} {plural} {what} (spawned at {site})")?;
            } else {
                writeln!(f, "  {count} {plural} {what} (spawned at {site}) for ≤ {}", rough(*longest))?;
            }
        }
        for why in &self.unanswered {
            writeln!(f, "  {why}")?;
        }
        writeln!(f, "threads:")?;
        for t in &self.threads {
            let state = match &t.state {
                ThreadState::Runnable => "runnable".to_string(),
                ThreadState::Running => "holding its stalled worker".to_string(),
                ThreadState::Waiting(reason) => format!("waiting on {}", reason.label()),
            };
            let since = t.waiting_for.map(|d| format!(" for {}", rough(d))).unwrap_or_default();
            writeln!(
                f,
                "  thread {} '{}' on worker {}: {state}{since}, spawned at {}",
                t.id.as_u64(),
                t.name.as_deref().unwrap_or("<unnamed>"),
                t.worker,
                t.spawned_at
            )?;
        }
        write!(f, "(taken in {:?})", self.taken_in)
    }
}

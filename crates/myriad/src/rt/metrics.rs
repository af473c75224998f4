//! A snapshot of the runtime's counters.
//!
//! Each worker keeps its own counters, written only by itself (see
//! `Counter`), so counting costs no shared atomic on hot paths;
//! a snapshot reads them all.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Runtime;

/// A counter written only by its worker and read by anyone: a relaxed load
/// and store instead of a locked read-modify-write on the hot path.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn bump(&self) {
        self.0.store(self.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Per-worker counters, read by `myriad::rt::metrics`.
#[derive(Default)]
pub struct WorkerCounters {
    pub spawned: Counter,
    pub started: Counter,
    pub finished: Counter,
    pub switches: Counter,
    pub steals: Counter,
    pub sleeps: Counter,
    /// Waits in the poller that returned IO events or a wake-up.
    pub poll_wakeups: AtomicU64,
    /// Written by the stall monitor, hence a real atomic counter.
    pub stalls: AtomicU64,
}

/// Counters of one worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Threads spawned by threads running on this worker.
    pub spawned: u64,
    /// Threads that started running on this worker (and are pinned to it).
    pub started: u64,
    /// Threads that ended on this worker.
    pub finished: u64,
    /// Times this worker resumed a thread.
    pub context_switches: u64,
    /// Batches of unstarted threads this worker stole from other workers.
    pub steals: u64,
    /// Times this worker went to sleep for lack of work.
    pub sleeps: u64,
    /// Times the stall monitor found this worker stalled by one thread.
    pub stalls: u64,
    /// Started threads pinned to this worker (as of its last look around,
    /// at most 61 switches ago).
    pub threads_pinned: u64,
    /// Of those, threads ready to run (the rest are parked).
    pub threads_runnable: u64,
    /// Timers pending (including ones whose wait already ended).
    pub timers_pending: u64,
    /// Times a wait in the poller returned IO events or a wake-up.
    pub poll_wakeups: u64,
}

/// A snapshot of the runtime's counters, from [`metrics`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// One entry per worker.
    pub workers: Vec<WorkerMetrics>,
    /// Threads spawned from OS threads (outside any worker).
    pub spawned_from_os_threads: u64,
    /// OS threads in the offload pool of [`crate::blocking`].
    pub blocking_threads: usize,
    /// Blocking calls waiting for a pool thread.
    pub blocking_queued: usize,
    /// Blocking calls completed (file operations without io_uring among
    /// them).
    pub blocking_completed: u64,
    /// File operations done through io_uring.
    pub io_uring_operations: u64,
    /// Threads spawned and not started yet.
    pub threads_not_started: u64,
}

impl Metrics {
    /// Threads spawned since the runtime started.
    pub fn threads_spawned(&self) -> u64 {
        self.spawned_from_os_threads + self.workers.iter().map(|w| w.spawned).sum::<u64>()
    }

    /// Threads spawned and not yet ended.
    pub fn threads_alive(&self) -> u64 {
        self.threads_spawned().saturating_sub(self.workers.iter().map(|w| w.finished).sum())
    }

    /// Threads parked (started, pinned, not runnable), on all workers.
    pub fn threads_parked(&self) -> u64 {
        self.workers.iter().map(|w| w.threads_pinned.saturating_sub(w.threads_runnable)).sum()
    }

    /// Threads ready to run, on all workers.
    pub fn threads_runnable(&self) -> u64 {
        self.workers.iter().map(|w| w.threads_runnable).sum()
    }

    /// Stalls detected on all workers.
    pub fn stalls(&self) -> u64 {
        self.workers.iter().map(|w| w.stalls).sum()
    }

    /// Context switches on all workers.
    pub fn context_switches(&self) -> u64 {
        self.workers.iter().map(|w| w.context_switches).sum()
    }
}

/// Reads the runtime's counters (starting the runtime if needed).
///
/// ```
/// let before = myriad::rt::metrics().threads_spawned();
/// myriad::thread::spawn(|| ()).join().unwrap();
/// assert!(myriad::rt::metrics().threads_spawned() > before);
/// ```
pub fn metrics() -> Metrics {
    let Ok(rt) = Runtime::get() else { return Metrics::default() };
    let pool = rt.offload.stats();
    Metrics {
        workers: rt
            .workers()
            .iter()
            .map(|w| WorkerMetrics {
                spawned: w.counters.spawned.get(),
                started: w.counters.started.get(),
                finished: w.counters.finished.get(),
                context_switches: w.counters.switches.get(),
                steals: w.counters.steals.get(),
                sleeps: w.counters.sleeps.get(),
                stalls: w.counters.stalls.load(Ordering::Relaxed),
                threads_pinned: w.pinned.load(Ordering::Relaxed) as u64,
                threads_runnable: w.runnable.load(Ordering::Relaxed) as u64,
                timers_pending: w.timers_pending.load(Ordering::Relaxed) as u64,
                poll_wakeups: w.counters.poll_wakeups.load(Ordering::Relaxed),
            })
            .collect(),
        spawned_from_os_threads: rt.spawned_from_os.load(Ordering::Relaxed),
        blocking_threads: pool.threads,
        blocking_queued: pool.queued,
        blocking_completed: pool.completed,
        io_uring_operations: super::uring::OPERATIONS.load(Ordering::Relaxed),
        threads_not_started: (rt.injector.len() + rt.workers().iter().map(|w| w.unstarted_len()).sum::<usize>()) as u64,
    }
}

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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A unit of work for the pool.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle pool thread waits for work before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

pub struct OffloadPool {
    state: Mutex<State>,
    condvar: Condvar,
    cap: usize,
    /// Jobs run to completion.
    completed: AtomicU64,
}

/// A job the pool could not take, and why (see `OffloadPool::submit`).
pub struct Rejected {
    pub job: Job,
    pub error: std::io::Error,
}

/// A snapshot of the pool, for metrics.
pub struct PoolStats {
    pub threads: usize,
    pub idle: usize,
    pub queued: usize,
    pub completed: u64,
}

impl OffloadPool {
    pub fn new(cap: usize) -> OffloadPool {
        OffloadPool {
            state: Mutex::new(State { queue: VecDeque::new(), threads: 0, idle: 0 }),
            condvar: Condvar::new(),
            cap: cap.max(1),
            completed: AtomicU64::new(0),
        }
    }

    /// Queues `job`, starting a pool thread if every thread is busy.
    ///
    /// Fails, handing the job back unrun, only when the pool has no thread
    /// at all and the OS refuses a new one (`RLIMIT_NPROC`, a cgroup's
    /// `pids.max`, `RLIMIT_AS`): queued, it would wait for a thread that
    /// may never come, while it may borrow from its caller's frame.
    pub fn submit(&'static self, job: Job) -> Result<(), Rejected> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
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
                    let job = state.queue.pop_back().expect("the job pushed above");
                    return Err(Rejected { job, error });
                }
                // Other pool threads will get to the job.
            }
        }
        Ok(())
    }

    fn run_thread(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // Jobs catch their own panics (see `blocking`); this only
                // keeps the pool's count right if one does not.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                self.completed.fetch_add(1, Ordering::Relaxed);
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self.condvar.wait_timeout(state, IDLE_TIMEOUT).unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }

    pub fn stats(&self) -> PoolStats {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        PoolStats {
            threads: state.threads,
            idle: state.idle,
            queued: state.queue.len(),
            completed: self.completed.load(Ordering::Relaxed),
        }
    }
}

//! The monitor: one OS thread that watches the workers and the program as
//! a whole, and says what is wrong in words a person can act on.
//!
//! Every `threshold / 2` (`MYRIAD_STALL_MS`, 10 ms by default; backing off
//! to 50 ms while every worker sleeps, as Go's sysmon does) it runs each
//! watch, one file each:
//!
//! * `stall.rs`: a worker held by one thread — blocked in a system call or
//!   computing — is worked around (its unstarted threads are stolen, its
//!   IO events dispatched, a spare worker started when all are held) and
//!   reported: which thread, what system call on what descriptor, for how
//!   long, how many threads wait behind it, and what to use instead;
//! * `stuck.rs`: the whole program making no progress because every
//!   worker is held, with threads waiting behind: one full report and dump
//!   (and, with `MYRIAD_STALL=abort`, the end of the process);
//! * `deadlock.rs`: every thread asleep with nothing left to wake one;
//! * `lock_cycle.rs`: threads waiting on each other's `myriad::sync` locks
//!   while the rest of the program goes on;
//! * `signal.rs`: the dump asked for with `MYRIAD_DUMP_SIGNAL`.
//!
//! `kernel.rs` reads what a worker's OS thread does from `/proc`, and
//! `inspect.rs` holds a stalled worker still long enough to name the
//! threads on it. Reports go through `rt::report`: the `tracing`
//! subscriber or `log` logger if there is one, else stderr.

mod deadlock;
mod inspect;
mod kernel;
mod lock_cycle;
mod signal;
mod stall;
mod stuck;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::config::Config;
use super::Runtime;

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

pub(crate) use inspect::WorkerWatch;
pub(crate) use kernel::{describe_socket, socket_local_addr};
pub(crate) use lock_cycle::LOCK_WAITS;
pub(crate) use signal::install as install_dump_signal;
pub(crate) use stall::{stall_ended, stalled_threads};

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn nanos_since_epoch(t: Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    (t.saturating_duration_since(epoch).as_nanos() as u64).max(1)
}

fn instant_of(nanos: u64) -> Instant {
    *EPOCH.get_or_init(Instant::now) + Duration::from_nanos(nanos)
}

/// The settled configuration (set before the runtime starts).
fn config() -> Config {
    super::RUNTIME_CONFIG.get().cloned().unwrap_or_else(|| Config::from_env(super::Builder::new()))
}

pub fn start(rt: &'static Runtime) {
    EPOCH.get_or_init(Instant::now);
    inspect::enable();
    let started = std::thread::Builder::new().name("myriad-monitor".into()).spawn(move || run(rt));
    if let Err(err) = started {
        super::report::error(&format!(
            "myriad: cannot start the stall monitor thread: {err}; stalled workers will not be detected"
        ));
    }
}

fn run(rt: &'static Runtime) -> ! {
    let config = config();
    let busy_period = rt.stall_threshold / 2;
    let mut period = busy_period;
    let mut stalls = stall::StallWatch::new(&config);
    let mut stuck = stuck::StuckWatch::new(&config);
    let mut deadlock = deadlock::DeadlockWatch::default();
    let mut cycles = lock_cycle::CycleWatch::default();
    loop {
        std::thread::sleep(period);
        let now = Instant::now();
        let all_asleep = stalls.check(rt, now);
        stuck.check(rt, &stalls, now);
        cycles.check(now);
        signal::check();
        deadlock.check(rt, all_asleep, now);
        period = if all_asleep { (period * 2).min(Duration::from_millis(50)).max(busy_period) } else { busy_period };
    }
}

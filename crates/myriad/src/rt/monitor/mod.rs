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
//! `snapshot.rs` takes `rt::dump()`'s snapshot. `rt/kernel.rs` reads what
//! a worker's OS thread does from `/proc`, and `inspect.rs` holds a stalled worker still long enough to name the
//! threads on it. What the workers publish for the monitor, and the one
//! line a worker reports itself (a stall's end), is in `rt/watch.rs`, below
//! both: the monitor reads the workers, never the other way round. Reports go through `rt::report`: the `tracing`
//! subscriber or `log` logger if there is one, else stderr.

mod deadlock;
mod inspect;
mod lock_cycle;
mod signal;
mod snapshot;
mod stall;
mod stuck;

use std::time::{Duration, Instant};

use super::config::Config;
use super::{watch, Runtime};

pub(crate) use lock_cycle::LOCK_WAITS;
pub(crate) use signal::install as install_dump_signal;
pub use snapshot::dump;

/// The settled configuration (set before the runtime starts).
fn config() -> Config {
    super::RUNTIME_CONFIG.get().cloned().unwrap_or_else(|| Config::from_env(super::Builder::new()))
}

pub fn start(rt: &'static Runtime) {
    watch::start_clock();
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

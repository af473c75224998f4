//! The workloads, written once per system, and the line protocol a child
//! process uses to report to the parent.
//!
//! The workloads, each on every system that has it:
//!
//! - **spawn+join**: spawn a thread (task, coroutine) that returns at once
//!   and join it, sequentially, from a thread of the same system.
//! - **handoff**: two threads take turns; each turn, one wakes the other and
//!   parks until woken back. One-way handoff = half a round trip.
//! - **blocking round trip**: hand a call that does nothing to the system's
//!   pool for blocking calls and wait for it (myriad `blocking`, tokio
//!   `spawn_blocking`), sequentially; also myriad's tokio bridge
//!   (`compat::tokio::run`). **Spaced**: the same, one call every 1 ms,
//!   timing the calls only — the regime where spinning is pure cost.
//! - **bulk**: spawn N threads that each announce themselves and park on a
//!   gate; when all N are parked, read memory; then open the gate, wake each
//!   one and join them all. Time per thread = (spawn until all parked +
//!   release and join) / N; the memory reading is not timed.
//! - **channel handoff** and **channel stream**: see `channels.rs`.

pub mod channels;
pub mod kernel;
pub mod may_sys;
pub mod myriad_sys;
pub mod std_sys;
pub mod tokio_sys;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::calib::Calib;
use crate::machine::Mem;

/// The pause between calls of the spaced blocking workload.
pub const SPACING: Duration = Duration::from_millis(1);

/// Timings of one bulk round.
#[derive(Clone, Copy, Debug)]
pub struct BulkTimes {
    /// From the first spawn until all N threads are parked.
    pub up: Duration,
    /// From opening the gate until all N are joined.
    pub down: Duration,
}

/// Prints the samples of a calibrated workload, and its CPU per operation.
pub fn emit_samples(cal: &Calib) {
    let list: Vec<String> = cal.samples().iter().map(|s| format!("{s:.3}")).collect();
    println!("ITERS {}", cal.iters());
    println!("SAMPLES {}", list.join(" "));
    if let Some(cpu) = cal.cpu_per_op() {
        println!("CPU {cpu:.3}");
    }
}

/// Minor page faults at the last round's reading (when all were parked).
static FAULTS_AT_LAST_ROUND: AtomicU64 = AtomicU64::new(0);

/// Prints one bulk round; memory as the change since `baseline` (taken
/// before the first round), page faults as those of this round: since
/// `baseline` for the first, since the last round's reading for the next
/// (the last round's wake-and-join, then this round's spawns).
pub fn emit_round(round: usize, t: BulkTimes, parked: Mem, baseline: Mem) {
    let since = if round == 0 { baseline.faults } else { FAULTS_AT_LAST_ROUND.load(Ordering::Relaxed) };
    FAULTS_AT_LAST_ROUND.store(parked.faults, Ordering::Relaxed);
    println!(
        "ROUND {round} {} {} {} {} {} {}",
        t.up.as_nanos(),
        t.down.as_nanos(),
        parked.rss as i64 - baseline.rss as i64,
        parked.maps as i64 - baseline.maps as i64,
        parked.kernel as i64 - baseline.kernel as i64,
        parked.faults.saturating_sub(since),
    );
    let _ = std::io::stdout().flush();
}

/// Reports a spawn that failed and ends the child process.
pub fn fail(msg: &str) -> ! {
    let _ = std::io::stdout().flush();
    eprintln!("{msg}");
    std::process::exit(2);
}

/// Every 4096 spawns, says how far a bulk round got, so that a child that
/// aborts can be reported with the count it reached.
#[inline]
pub fn progress(spawned: usize) {
    if spawned.is_multiple_of(4096) {
        println!("PROGRESS {spawned}");
        let _ = std::io::stdout().flush();
    }
}

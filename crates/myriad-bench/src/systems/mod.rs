//! The workloads, written once per system, and the line protocol a child
//! process uses to report to the parent.
//!
//! Every system runs the same three workloads:
//!
//! - **spawn+join**: spawn a thread (task, coroutine) that returns at once
//!   and join it, sequentially, from a thread of the same system.
//! - **handoff**: two threads take turns; each turn, one wakes the other and
//!   parks until woken back. One-way handoff = half a round trip.
//! - **bulk**: spawn N threads that each announce themselves and park on a
//!   gate; when all N are parked, read memory; then open the gate, wake each
//!   one and join them all. Time per thread = (spawn until all parked +
//!   release and join) / N; the memory reading is not timed.

pub mod kernel;
pub mod may_sys;
pub mod myriad_sys;
pub mod std_sys;
pub mod tokio_sys;

use std::io::Write;
use std::time::Duration;

use crate::machine::Mem;

/// Timings of one bulk round.
#[derive(Clone, Copy, Debug)]
pub struct BulkTimes {
    /// From the first spawn until all N threads are parked.
    pub up: Duration,
    /// From opening the gate until all N are joined.
    pub down: Duration,
}

/// Prints the samples of a calibrated workload.
pub fn emit_samples(iters: u64, samples: &[f64]) {
    let list: Vec<String> = samples.iter().map(|s| format!("{s:.3}")).collect();
    println!("ITERS {iters}");
    println!("SAMPLES {}", list.join(" "));
}

/// Prints one bulk round; memory as the change since `baseline` (taken
/// before the first round).
pub fn emit_round(round: usize, t: BulkTimes, parked: Mem, baseline: Mem) {
    println!(
        "ROUND {round} {} {} {} {} {}",
        t.up.as_nanos(),
        t.down.as_nanos(),
        parked.rss as i64 - baseline.rss as i64,
        parked.maps as i64 - baseline.maps as i64,
        parked.kernel as i64 - baseline.kernel as i64,
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

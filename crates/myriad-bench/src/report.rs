//! Collected results and the Markdown report.

use std::fmt::Write;

use crate::child::{label, Workload};
use crate::stats::{summarize, Summary};

/// One bulk round as the parent sees it, divided by N.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    pub ns_per_thread: f64,
    /// Of that, spawning until all were parked.
    pub up_ns_per_thread: f64,
    pub rss_per_thread: f64,
    pub kernel_per_thread: f64,
    pub maps_per_thread: f64,
    /// Minor page faults of the round (NaN when not measured).
    pub faults_per_thread: f64,
}

/// A calibrated per-operation workload on one system.
#[derive(Clone, Debug)]
pub struct PerOp {
    pub workload: Workload,
    pub system: String,
    /// ns per operation, one per trial; or the failure.
    pub result: Result<Vec<f64>, String>,
    /// Process CPU time per operation over the trials (ns, all threads).
    pub cpu: Option<f64>,
}

/// Bulk parked threads at one N on one system.
#[derive(Clone, Debug)]
pub struct BulkPoint {
    pub system: String,
    pub n: usize,
    /// Round 0 of each fresh process.
    pub cold: Vec<Round>,
    /// Later rounds of the same processes.
    pub warm: Vec<Round>,
    pub failure: Option<String>,
}

/// Everything one run measured.
#[derive(Clone, Debug, Default)]
pub struct Results {
    pub command: String,
    pub machine: Vec<(String, String)>,
    pub warnings: Vec<String>,
    pub per_op: Vec<PerOp>,
    pub bulk: Vec<BulkPoint>,
    pub elapsed_s: f64,
    pub sizes: Vec<usize>,
    pub bulk_systems: Vec<String>,
    /// Latency under bursts (`burst.rs`).
    pub burst: Vec<crate::burst::BurstPoint>,
    /// The parking lot under many waiters (`parking.rs`).
    pub parking: Vec<crate::parking::ParkingPoint>,
}

/// Nanoseconds, readably.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.1} ms", ns / 1e6)
    }
}

/// Bytes with thousands separators.
pub fn fmt_bytes(b: f64) -> String {
    format!("{} B", group(b.round() as i64))
}

/// An integer with thousands separators.
pub fn group(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}")
    } else if r >= 0.1 {
        format!("{r:.2}")
    } else {
        format!("{r:.4}")
    }
}

fn median(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.collect();
    summarize(&v).map(|s| s.median)
}

impl BulkPoint {
    pub fn cold_summary(&self) -> Option<Summary> {
        summarize(&self.cold.iter().map(|r| r.ns_per_thread).collect::<Vec<_>>())
    }
    pub fn warm_summary(&self) -> Option<Summary> {
        summarize(&self.warm.iter().map(|r| r.ns_per_thread).collect::<Vec<_>>())
    }
    /// Median memory per thread (RSS, kernel, maps) over the cold or warm rounds.
    pub fn memory(&self, warm: bool) -> Option<(f64, f64, f64)> {
        let rounds = if warm { &self.warm } else { &self.cold };
        Some((
            median(rounds.iter().map(|r| r.rss_per_thread))?,
            median(rounds.iter().map(|r| r.kernel_per_thread))?,
            median(rounds.iter().map(|r| r.maps_per_thread))?,
        ))
    }

    /// Median page faults per thread over the cold or warm rounds.
    pub fn faults(&self, warm: bool) -> Option<f64> {
        let rounds = if warm { &self.warm } else { &self.cold };
        median(rounds.iter().map(|r| r.faults_per_thread).filter(|f| !f.is_nan()))
    }
}

struct Row {
    workload: String,
    system: String,
    summary: Option<Summary>,
    failure: Option<usize>,
    reference: Option<f64>,
    mem: Option<(f64, f64, f64)>,
    faults: Option<f64>,
    cpu: Option<f64>,
}

impl Results {
    fn rows(&self) -> (Vec<Row>, Vec<String>) {
        let mut rows = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let fail = |msg: &str, failures: &mut Vec<String>| {
            failures.push(msg.to_string());
            failures.len()
        };
        for (w, name) in [
            (Workload::SpawnJoin, "spawn+join, sequential (per op)"),
            (Workload::Handoff, "one-way handoff, ping-pong"),
            (Workload::PageFault, "reference: touch a fresh page, one per 256 KiB"),
            (Workload::GuardInstall, "reference: MADV_GUARD_INSTALL, one page per 256 KiB"),
            (Workload::Blocking, "blocking round trip, back to back (per call)"),
            (Workload::BlockingSpaced, "blocking round trip, one call every 1 ms (per call)"),
            (Workload::ChanHandoff, "channel one-way handoff, ping-pong"),
            (Workload::ChanStream, "channel stream, capacity 64 (per message)"),
        ] {
            let reference = self
                .per_op
                .iter()
                .find(|p| p.workload == w && p.system == "myriad")
                .and_then(|p| p.result.as_ref().ok())
                .and_then(|s| summarize(s))
                .map(|s| s.median);
            for p in self.per_op.iter().filter(|p| p.workload == w) {
                let (summary, failure) = match &p.result {
                    Ok(s) => (summarize(s), None),
                    Err(e) => (None, Some(fail(&format!("{} {}: {e}", label(&p.system), name), &mut failures))),
                };
                rows.push(Row {
                    workload: name.into(),
                    system: label(&p.system).into(),
                    summary,
                    failure,
                    reference,
                    mem: None,
                    faults: None,
                    cpu: p.cpu,
                });
            }
        }
        for &n in &self.sizes {
            for warm in [false, true] {
                let myriad = self.bulk.iter().find(|b| b.system == "myriad" && b.n == n);
                let reference =
                    myriad.and_then(|b| if warm { b.warm_summary() } else { b.cold_summary() }).map(|s| s.median);
                for b in self.bulk.iter().filter(|b| b.n == n) {
                    let summary = if warm { b.warm_summary() } else { b.cold_summary() };
                    let failure = match (&b.failure, warm) {
                        (Some(e), false) => {
                            Some(fail(&format!("{} at N = {}: {e}", label(&b.system), group(n as i64)), &mut failures))
                        }
                        _ => None,
                    };
                    if warm && summary.is_none() {
                        continue;
                    }
                    rows.push(Row {
                        workload: format!("N = {} parked, {}", group(n as i64), if warm { "warm" } else { "cold" }),
                        system: label(&b.system).into(),
                        summary,
                        failure,
                        reference,
                        mem: b.memory(warm),
                        faults: b.faults(warm),
                        cpu: None,
                    });
                }
            }
        }
        (rows, failures)
    }

    /// The results table (Markdown), followed by the failures it refers to.
    pub fn table(&self) -> String {
        let (rows, failures) = self.rows();
        let mut t = String::new();
        t.push_str(
            "| workload | system | median | spread | n | ÷ myriad | CPU / op | RSS / thread | kernel / thread | maps / thread | faults / thread |\n",
        );
        t.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for r in &rows {
            let (median, spread, n) = match &r.summary {
                Some(s) => (
                    fmt_ns(s.median),
                    format!("{} {}–{}", if s.percentiles { "p10–p90" } else { "min–max" }, fmt_ns(s.lo), fmt_ns(s.hi)),
                    s.n.to_string(),
                ),
                None => (String::new(), String::new(), String::new()),
            };
            let median = match r.failure {
                Some(i) if r.summary.is_none() => format!("**failed** [{i}]"),
                Some(i) => format!("{median}, then **failed** [{i}]"),
                None => median,
            };
            let ratio = match (&r.summary, r.reference) {
                (Some(s), Some(m)) if m > 0.0 => fmt_ratio(s.median / m),
                _ => String::new(),
            };
            let (rss, kernel, maps) = match r.mem {
                Some((rss, kernel, maps)) => (fmt_bytes(rss), fmt_bytes(kernel), format!("{maps:.3}")),
                None => Default::default(),
            };
            let cpu = r.cpu.map(fmt_ns).unwrap_or_default();
            let faults = r.faults.map(|f| format!("{f:.2}")).unwrap_or_default();
            let _ = writeln!(
                t,
                "| {} | {} | {median} | {spread} | {n} | {ratio} | {cpu} | {rss} | {kernel} | {maps} | {faults} |",
                r.workload, r.system
            );
        }
        if !failures.is_empty() {
            t.push('\n');
            for (i, f) in failures.iter().enumerate() {
                let _ = writeln!(t, "[{}] {}  ", i + 1, f.replace('|', "\\|"));
            }
        }
        t
    }

    /// The machine as a Markdown table.
    pub fn machine_table(&self) -> String {
        let mut t = String::from("| | |\n|---|---|\n");
        for (k, v) in &self.machine {
            let _ = writeln!(t, "| {k} | {v} |");
        }
        t
    }

    /// The whole report: command, machine, warnings, table, legend.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# myriad-bench results\n");
        let _ = writeln!(s, "Command: `{}` (took {:.0} s).\n", self.command, self.elapsed_s);
        for w in &self.warnings {
            let _ = writeln!(s, "**Warning:** {w}\n");
        }
        let _ = writeln!(s, "## Machine\n\n{}", self.machine_table());
        let _ = writeln!(s, "## Results\n\n{}", self.table());
        s.push_str(LEGEND);
        if !self.burst.is_empty() {
            s.push_str(&crate::burst::markdown(&self.burst));
        }
        if !self.parking.is_empty() {
            s.push_str(&crate::parking::markdown(&self.parking));
        }
        s
    }
}

/// How to read the table.
pub const LEGEND: &str = "
How to read it:

- **median** is per operation (spawn+join, one-way handoff) or per thread
  (bulk: spawn N threads that each park on a gate, wait until all N are
  parked, open the gate, wake and join all; time / N). **spread** is p10–p90
  with ≥ 5 samples, min–max with fewer; **n** is the number of samples
  (trials, or rounds for bulk). **÷ myriad** is this row's median divided by
  myriad's in the same workload: above 1, myriad is faster.
- **cold** is the first round in a fresh process (one process per sample);
  **warm** is a later round in the same process.
- Memory is the change from just before the first round to the moment all N
  are parked, divided by N: **RSS** from `/proc/self/status`, **kernel**
  from `Slab + PageTables + KernelStack` in `/proc/meminfo` (machine-wide,
  so other processes add noise, and it can even be negative), **maps** from
  the lines of `/proc/self/maps`. RSS includes the bench's own vector of N
  join handles (8–24 B per thread).
- **faults** are the process's minor page faults (`getrusage`) in the
  round, from its first spawn until all N are parked (a warm round also
  counts the wake-and-join of the round before it), divided by N: each is
  a first touch of a fresh page, which the **reference** row prices. A
  myriad thread touches one fresh stack page and shares one for its cell;
  a tokio task only shares pages for its allocation.
- **CPU / op** (per-operation workloads) is the process's CPU time over
  the trials (user + system, every thread: spinning pool threads and idle
  workers' spins count), divided by the operations; above the median, other
  threads burned CPU meanwhile.
- **blocking round trip**: a call that does nothing, handed to the
  system's pool for blocking calls and awaited, from a myriad thread
  (`myriad::blocking(|| ())`) or a tokio task
  (`spawn_blocking(|| ()).await`), back to back or one call every 1 ms
  (a myriad or tokio sleep in between, not timed). The two
  `compat::tokio::run` rows are myriad's tokio bridge from a myriad thread:
  a ready future (the bridge's own cost) and a task spawned on its
  runtime (a round trip through a tokio worker).
- myriad and may use one worker per core unless the row says 1 worker;
  myriad spawns from a myriad thread (as a server's accept loop would)
  unless the row says main OS thread; tokio spawns from inside a task.
- Handoff primitives: myriad and std `park`/`unpark`, may coroutine
  `park`/`unpark` (each with an atomic turn flag), tokio two `Notify`s.
- **channel handoff**: two threads ping-pong over two rendezvous
  channels (myriad and std `sync_channel(0)`); tokio has no rendezvous
  channel, so `mpsc::channel(1)`, and may only an unbounded `mpsc`.
  **channel stream**: one thread sends into a `sync_channel(64)` (tokio
  `mpsc::channel(64)`) as fast as it can, another receives; not on may.
- The two **reference** rows involve no threads: they time what a cold
  spawn cannot avoid on fresh memory, per stack — the page fault of its
  first stack page, and installing its guard page — with stacks spaced
  256 KiB apart (myriad's default stack size). Issue 2's cold target is
  *page faults + 0.5 µs per thread*.
- Each configuration runs in its own child process (the bench re-executes
  itself), so a peer that aborts only ends its child; its stderr is shown.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(group(1_000_000), "1,000,000");
        assert_eq!(group(-4136), "-4,136");
        assert_eq!(group(12), "12");
        assert_eq!(fmt_ns(37.4), "37 ns");
        assert_eq!(fmt_ns(2_800.0), "2.8 µs");
        assert_eq!(fmt_bytes(4136.4), "4,136 B");
    }

    #[test]
    fn table_has_ratios_and_failures() {
        let round = |ns: f64| Round {
            ns_per_thread: ns,
            up_ns_per_thread: ns / 2.0,
            rss_per_thread: 4000.0,
            kernel_per_thread: 0.0,
            maps_per_thread: 0.0,
            faults_per_thread: 1.0,
        };
        let r = Results {
            sizes: vec![1000],
            bulk_systems: vec!["myriad".into(), "std".into()],
            per_op: vec![
                PerOp {
                    workload: Workload::SpawnJoin,
                    system: "myriad".into(),
                    result: Ok(vec![100.0, 100.0]),
                    cpu: Some(150.0),
                },
                PerOp { workload: Workload::SpawnJoin, system: "std".into(), result: Ok(vec![30_000.0]), cpu: None },
            ],
            bulk: vec![
                BulkPoint {
                    system: "myriad".into(),
                    n: 1000,
                    cold: vec![round(1000.0)],
                    warm: vec![round(200.0)],
                    failure: None,
                },
                BulkPoint { system: "std".into(), n: 1000, cold: vec![], warm: vec![], failure: Some("boom".into()) },
            ],
            ..Default::default()
        };
        let t = r.table();
        assert!(t.contains("| spawn+join, sequential (per op) | std::thread | 30.0 µs |"), "{t}");
        assert!(t.contains("| 300 |"), "{t}");
        assert!(t.contains("| 1.00 | 150 ns |"), "{t}");
        assert!(t.contains("**failed** [1]") && t.contains("[1] std::thread at N = 1,000: boom"), "{t}");
        assert!(t.contains("4,000 B"), "{t}");
    }
}

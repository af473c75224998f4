//! The child side: one system, one workload, results as lines on stdout.
//!
//! `myriad-bench --child SYSTEM WORKLOAD N ROUNDS WARM_MS TRIAL_MS TRIALS`

use std::time::Duration;

use crate::calib::Calib;
use crate::systems::{channels, kernel, may_sys, myriad_sys, std_sys, tokio_sys};

/// Every system configuration the bench knows: (id, label).
pub const SYSTEMS: &[(&str, &str)] = &[
    ("myriad", "myriad"),
    ("myriad-1w", "myriad, 1 worker"),
    ("myriad-os", "myriad, spawned from main OS thread"),
    ("myriad-tokio-run", "myriad, compat::tokio::run(async {})"),
    ("myriad-tokio-spawn", "myriad, compat::tokio::run(spawn(async {}))"),
    ("std", "std::thread"),
    ("std-1core", "std::thread, pinned to 1 core"),
    ("tokio-mt", "tokio multi-thread"),
    ("tokio-ct", "tokio current-thread"),
    ("may", "may"),
    ("may-1w", "may, 1 worker"),
    ("kernel", "kernel (reference, no threads)"),
];

/// The label of a system id.
pub fn label(id: &str) -> &'static str {
    SYSTEMS.iter().find(|(i, _)| *i == id).map_or("?", |(_, l)| l)
}

/// The workloads a child can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    SpawnJoin,
    Handoff,
    Bulk,
    /// Reference: touch a fresh page (one per 256 KiB slot).
    PageFault,
    /// Reference: `MADV_GUARD_INSTALL` on one page per 256 KiB slot.
    GuardInstall,
    /// A call that does nothing, through the pool for blocking calls.
    Blocking,
    /// The same, once every `systems::SPACING`.
    BlockingSpaced,
    /// Rendezvous channel ping-pong (`systems/channels.rs`).
    ChanHandoff,
    /// A stream through a bounded channel (`systems/channels.rs`).
    ChanStream,
    /// A 1 ms ticker's lateness during bursts of connections (`burst.rs`).
    BurstLatency,
    /// Unlocking N mutexes, each with a parked waiter (`parking.rs`).
    ParkingLot,
}

impl Workload {
    pub fn id(self) -> &'static str {
        match self {
            Workload::SpawnJoin => "spawn-join",
            Workload::Handoff => "handoff",
            Workload::Bulk => "bulk",
            Workload::PageFault => "page-fault",
            Workload::GuardInstall => "guard-install",
            Workload::Blocking => "blocking",
            Workload::BlockingSpaced => "blocking-spaced",
            Workload::ChanHandoff => "chan-handoff",
            Workload::ChanStream => "chan-stream",
            Workload::BurstLatency => "burst-latency",
            Workload::ParkingLot => "parking-lot",
        }
    }

    /// The workload named `s`.
    pub fn parse(s: &str) -> Option<Workload> {
        [
            Workload::SpawnJoin,
            Workload::Handoff,
            Workload::Bulk,
            Workload::PageFault,
            Workload::GuardInstall,
            Workload::Blocking,
            Workload::BlockingSpaced,
            Workload::ChanHandoff,
            Workload::ChanStream,
            Workload::BurstLatency,
            Workload::ParkingLot,
        ]
        .into_iter()
        .find(|w| w.id() == s)
    }
}

/// Arguments of one child run.
#[derive(Clone, Debug)]
pub struct ChildArgs {
    pub system: String,
    pub workload: Workload,
    pub n: usize,
    pub rounds: usize,
    pub warm_ms: u64,
    pub trial_ms: u64,
    pub trials: usize,
}

impl ChildArgs {
    /// The command-line arguments that run this child.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--child".into(),
            self.system.clone(),
            self.workload.id().into(),
            self.n.to_string(),
            self.rounds.to_string(),
            self.warm_ms.to_string(),
            self.trial_ms.to_string(),
            self.trials.to_string(),
        ]
    }

    /// Parses the arguments after `--child`.
    pub fn parse(args: &[String]) -> Result<ChildArgs, String> {
        if args.len() != 7 {
            return Err(format!("--child takes 7 arguments, got {}", args.len()));
        }
        let num = |i: usize| args[i].parse::<u64>().map_err(|e| format!("argument {}: {e}", args[i]));
        let system = args[0].clone();
        if !SYSTEMS.iter().any(|(id, _)| *id == system) {
            return Err(format!("unknown system {system}"));
        }
        Ok(ChildArgs {
            system,
            workload: Workload::parse(&args[1]).ok_or_else(|| format!("unknown workload {}", args[1]))?,
            n: num(2)? as usize,
            rounds: num(3)? as usize,
            warm_ms: num(4)?,
            trial_ms: num(5)?,
            trials: num(6)? as usize,
        })
    }
}

/// The first panic message and the last other line of a child's stderr.
pub fn stderr_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let panic = lines.iter().position(|l| l.contains("panicked at")).and_then(|i| lines.get(i + 1)).copied();
    let last = lines
        .iter()
        .rev()
        .find(|l| {
            !l.starts_with("note: ")
                && !l.starts_with("stack backtrace")
                && !l.contains("panicked at")
                && !l.starts_with(|c: char| c.is_ascii_digit())
        })
        .copied();
    match (panic, last) {
        (Some(p), Some(l)) if p != l => format!("{p} … {l}"),
        (Some(p), _) => p.to_string(),
        (None, Some(l)) => l.to_string(),
        (None, None) => String::new(),
    }
}

/// Runs one child and returns (the process then exits).
pub fn run(a: &ChildArgs) {
    let ops = if matches!(a.workload, Workload::Handoff | Workload::ChanHandoff) { 2.0 } else { 1.0 };
    let cal = if a.workload == Workload::BlockingSpaced {
        // Only the calls are timed, 1 ms apart: trials of ~100 calls.
        Calib::new(Duration::from_millis(2), Duration::from_millis(2), a.trials, ops)
    } else {
        Calib::new(Duration::from_millis(a.warm_ms), Duration::from_millis(a.trial_ms), a.trials, ops)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (n, rounds) = (a.n, a.rounds);
    if a.workload == Workload::BurstLatency {
        return crate::burst::child(&a.system, n, rounds, cores);
    }
    if a.workload == Workload::ParkingLot {
        if a.system != "myriad" {
            eprintln!("the parking-lot measure runs only on myriad");
            std::process::exit(64)
        }
        return crate::parking::child(n, rounds, cores);
    }
    match (a.system.as_str(), a.workload) {
        ("kernel", Workload::PageFault) => return kernel::page_fault(cal),
        ("kernel", Workload::GuardInstall) => return kernel::guard_install(cal),
        ("kernel", _) | (_, Workload::PageFault | Workload::GuardInstall) => {
            eprintln!("{} runs only on the kernel system", a.workload.id());
            std::process::exit(64)
        }
        _ => {}
    }
    match a.system.as_str() {
        "myriad" | "myriad-1w" | "myriad-os" => {
            myriad_sys::start(if a.system == "myriad-1w" { 1 } else { cores });
            let from_os = a.system == "myriad-os";
            match a.workload {
                Workload::SpawnJoin => myriad_sys::spawn_join(cal, from_os),
                Workload::Handoff => myriad_sys::handoff(cal),
                Workload::Bulk => myriad_sys::bulk(n, rounds, from_os),
                Workload::Blocking => myriad_sys::blocking_round_trip(cal),
                Workload::BlockingSpaced => myriad_sys::blocking_spaced(cal),
                Workload::ChanHandoff => channels::myriad_handoff(cal),
                Workload::ChanStream => channels::myriad_stream(cal),
                _ => unreachable!(),
            }
        }
        "myriad-tokio-run" | "myriad-tokio-spawn" => {
            if a.workload != Workload::Blocking {
                eprintln!("{} runs only the blocking workload", a.system);
                std::process::exit(64)
            }
            myriad_sys::start(cores);
            myriad_sys::tokio_run_round_trip(cal, a.system == "myriad-tokio-spawn");
        }
        "std" | "std-1core" => {
            if a.system == "std-1core" {
                std_sys::pin_to_one_core();
            }
            match a.workload {
                Workload::SpawnJoin => std_sys::spawn_join(cal),
                Workload::Handoff => std_sys::handoff(cal),
                Workload::Bulk => std_sys::bulk(n, rounds),
                Workload::ChanHandoff => channels::std_handoff(cal),
                Workload::ChanStream => channels::std_stream(cal),
                _ => unreachable!(),
            }
        }
        "tokio-mt" | "tokio-ct" => {
            let rt = tokio_sys::runtime(a.system == "tokio-mt", a.workload == Workload::BlockingSpaced);
            match a.workload {
                Workload::SpawnJoin => tokio_sys::spawn_join(&rt, cal),
                Workload::Handoff => tokio_sys::handoff(&rt, cal),
                Workload::Bulk => tokio_sys::bulk(&rt, n, rounds),
                Workload::Blocking => tokio_sys::blocking_round_trip(&rt, cal),
                Workload::BlockingSpaced => tokio_sys::blocking_spaced(&rt, cal),
                Workload::ChanHandoff => channels::tokio_handoff(&rt, cal),
                Workload::ChanStream => channels::tokio_stream(&rt, cal),
                _ => unreachable!(),
            }
        }
        "may" | "may-1w" => {
            may_sys::start(if a.system == "may-1w" { 1 } else { cores });
            match a.workload {
                Workload::SpawnJoin => may_sys::spawn_join(cal),
                Workload::Handoff => may_sys::handoff(cal),
                Workload::Bulk => may_sys::bulk(n, rounds),
                Workload::ChanHandoff => channels::may_handoff(cal),
                _ => unreachable!(),
            }
        }
        other => unreachable!("system {other} was checked in parse"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_args_round_trip() {
        let a = ChildArgs {
            system: "tokio-ct".into(),
            workload: Workload::Bulk,
            n: 1000,
            rounds: 3,
            warm_ms: 20,
            trial_ms: 15,
            trials: 5,
        };
        let args = a.to_args();
        assert_eq!(args[0], "--child");
        let b = ChildArgs::parse(&args[1..]).unwrap();
        assert_eq!((b.system.as_str(), b.workload, b.n, b.rounds, b.trials), ("tokio-ct", Workload::Bulk, 1000, 3, 5));
        assert!(ChildArgs::parse(&["nope".into()]).is_err());
        let mut bad = args[1..].to_vec();
        bad[0] = "go".into();
        assert!(ChildArgs::parse(&bad).unwrap_err().contains("unknown system"));
    }

    #[test]
    fn stderr_summary_keeps_the_panic_and_the_last_line() {
        let stderr = "\nthread '<unnamed>' (1) panicked at src/x.rs:1:2:\nfailed to set up guard page\n\
                      note: run with `RUST_BACKTRACE=1`\nstd: spawn of thread #16368 failed: EAGAIN\n";
        assert_eq!(stderr_summary(stderr), "failed to set up guard page … std: spawn of thread #16368 failed: EAGAIN");
        assert_eq!(stderr_summary("fatal runtime error: x\n"), "fatal runtime error: x");
        assert_eq!(stderr_summary(""), "");
    }
}

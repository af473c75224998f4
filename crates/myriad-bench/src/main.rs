//! `cargo run --release -p myriad-bench [-- --quick] [--only W,...] [--out DIR]`
//!
//! Runs every workload on myriad and its peers, one child process per
//! configuration, prints one table and writes `results/`. See lib.rs.

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use myriad_bench::child::{self, label, stderr_summary, ChildArgs, Workload};
use myriad_bench::report::{group, BulkPoint, PerOp, Results, Round};
use myriad_bench::{chart, machine};

/// How much to run.
struct Plan {
    /// (N, processes, rounds per process).
    sizes: Vec<(usize, usize, usize)>,
    warm_ms: u64,
    trial_ms: u64,
    trials: usize,
    timeout: Duration,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            sizes: vec![(1_000, 7, 4), (10_000, 5, 4), (100_000, 3, 3), (1_000_000, 2, 2)],
            warm_ms: 60,
            trial_ms: 50,
            trials: 9,
            timeout: Duration::from_secs(180),
        }
    }

    fn quick() -> Plan {
        Plan {
            sizes: vec![(1_000, 3, 3), (10_000, 3, 3), (100_000, 1, 2)],
            warm_ms: 20,
            trial_ms: 15,
            trials: 5,
            timeout: Duration::from_secs(60),
        }
    }
}

const PER_OP_SYSTEMS: &[(Workload, &[&str])] = &[
    (
        Workload::SpawnJoin,
        &["myriad", "myriad-1w", "myriad-os", "std", "std-1core", "tokio-mt", "tokio-ct", "may", "may-1w"],
    ),
    (Workload::Handoff, &["myriad", "myriad-1w", "std", "std-1core", "tokio-mt", "tokio-ct", "may", "may-1w"]),
    (Workload::PageFault, &["kernel"]),
    (Workload::GuardInstall, &["kernel"]),
    (Workload::Blocking, &["myriad", "tokio-mt", "tokio-ct", "myriad-tokio-run", "myriad-tokio-spawn"]),
    (Workload::BlockingSpaced, &["myriad", "tokio-mt"]),
    (Workload::ChanHandoff, &["myriad", "myriad-1w", "std", "std-1core", "tokio-mt", "tokio-ct", "may", "may-1w"]),
    (Workload::ChanStream, &["myriad", "myriad-1w", "std", "tokio-mt", "tokio-ct"]),
];

const BULK_SYSTEMS: &[&str] = &["myriad", "myriad-os", "std", "tokio-mt", "tokio-ct", "may"];

/// What one child printed, and how it ended.
struct ChildRun {
    lines: Vec<String>,
    /// `None` if it exited 0; else why it failed.
    failure: Option<String>,
    secs: f64,
}

fn run_child(a: &ChildArgs, timeout: Duration, log: &mut String) -> ChildRun {
    let exe = std::env::current_exe().expect("path of this executable");
    let started = Instant::now();
    let _ = writeln!(log, "$ myriad-bench {}", a.to_args().join(" "));
    let mut child = match Command::new(exe)
        .args(a.to_args())
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return ChildRun { lines: vec![], failure: Some(format!("could not start child: {e}")), secs: 0.0 },
    };
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let secs = started.elapsed().as_secs_f64();
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    for l in lines.iter().filter(|l| !l.starts_with("PROGRESS")) {
        let _ = writeln!(log, "{l}");
    }
    for l in stderr.lines() {
        let _ = writeln!(log, "stderr: {l}");
    }
    let _ = writeln!(log, "({secs:.1} s, {status:?})\n");
    let ok = status.is_some_and(|s| s.success()) && !timed_out;
    let failure = (!ok).then(|| {
        let progress = lines.iter().rev().find_map(|l| l.strip_prefix("PROGRESS ")).map(|p| p.to_string());
        let last = stderr_summary(&stderr);
        let how = if timed_out {
            format!("timed out after {:.0} s", timeout.as_secs_f64())
        } else {
            match status {
                Some(s) => {
                    use std::os::unix::process::ExitStatusExt;
                    match (s.code(), s.signal()) {
                        (_, Some(sig)) => format!("killed by signal {sig}"),
                        (Some(c), _) => format!("exit code {c}"),
                        _ => "ended abnormally".into(),
                    }
                }
                None => "lost the child".into(),
            }
        };
        let reached =
            progress.map_or(String::new(), |p| format!(", after ≥ {} spawned", group(p.parse::<i64>().unwrap_or(0))));
        format!("{how}{reached}: `{last}`")
    });
    ChildRun { lines, failure, secs }
}

fn cpu(lines: &[String]) -> Option<f64> {
    lines.iter().find_map(|l| l.strip_prefix("CPU "))?.trim().parse().ok()
}

fn samples(lines: &[String]) -> Option<Vec<f64>> {
    let l = lines.iter().find_map(|l| l.strip_prefix("SAMPLES "))?;
    l.split_whitespace().map(|v| v.parse().ok()).collect()
}

fn rounds(lines: &[String], n: usize) -> Vec<(usize, Round)> {
    lines
        .iter()
        .filter_map(|l| {
            let v: Vec<f64> =
                l.strip_prefix("ROUND ")?.split_whitespace().map(|x| x.parse().ok()).collect::<Option<_>>()?;
            let n = n as f64;
            Some((
                v[0] as usize,
                Round {
                    ns_per_thread: (v[1] + v[2]) / n,
                    up_ns_per_thread: v[1] / n,
                    rss_per_thread: v[3] / n,
                    maps_per_thread: v[4] / n,
                    kernel_per_thread: v[5] / n,
                    faults_per_thread: v.get(6).map_or(f64::NAN, |f| f / n),
                },
            ))
        })
        .collect()
}

fn write_csv(results: &Results) -> String {
    let mut s = String::from("workload,system,n,kind,ns,up_ns,rss_bytes,kernel_bytes,maps,faults\n");
    for p in &results.per_op {
        if let Ok(v) = &p.result {
            for x in v {
                let _ = writeln!(s, "{},{},,trial,{x:.3},,,,,", p.workload.id(), p.system);
            }
        }
    }
    for b in &results.bulk {
        for (kind, rs) in [("cold", &b.cold), ("warm", &b.warm)] {
            for r in rs.iter() {
                let _ = writeln!(
                    s,
                    "bulk,{},{},{kind},{:.3},{:.3},{:.1},{:.1},{:.4},{:.4}",
                    b.system,
                    b.n,
                    r.ns_per_thread,
                    r.up_ns_per_thread,
                    r.rss_per_thread,
                    r.kernel_per_thread,
                    r.maps_per_thread,
                    r.faults_per_thread
                );
            }
        }
    }
    s
}

/// Rebuilds the bulk results from a `samples.csv` (for `--replot`).
fn read_csv(text: &str) -> Results {
    let mut results =
        Results { bulk_systems: BULK_SYSTEMS.iter().map(|s| s.to_string()).collect(), ..Default::default() };
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        // 9 fields: written before the faults column was added.
        if !(9..=10).contains(&f.len()) || f[0] != "bulk" {
            continue;
        }
        let num = |i: usize| f[i].parse::<f64>().unwrap_or(f64::NAN);
        let n: usize = f[2].parse().unwrap_or(0);
        let round = Round {
            ns_per_thread: num(4),
            up_ns_per_thread: num(5),
            rss_per_thread: num(6),
            kernel_per_thread: num(7),
            maps_per_thread: num(8),
            faults_per_thread: if f.len() > 9 { num(9) } else { f64::NAN },
        };
        let i = match results.bulk.iter().position(|b| b.system == f[1] && b.n == n) {
            Some(i) => i,
            None => {
                results.bulk.push(BulkPoint { system: f[1].into(), n, cold: vec![], warm: vec![], failure: None });
                results.bulk.len() - 1
            }
        };
        if f[3] == "cold" {
            results.bulk[i].cold.push(round);
        } else {
            results.bulk[i].warm.push(round);
        }
    }
    results
}

fn usage() -> ! {
    eprintln!(
        "usage: myriad-bench [--quick] [--only W,...] [--out DIR] | --replot DIR\n\n\
         Runs spawn+join, handoff and N-parked-threads workloads on myriad, std::thread,\n\
         tokio and may (one child process per configuration), prints one table and\n\
         writes RESULTS.md, bulk.svg, samples.csv and log.txt into DIR\n\
         (default: crates/myriad-bench/results, or results/quick with --quick).\n\
         --only runs only the workloads named (spawn-join, handoff, page-fault, guard-install,\n\
         blocking, blocking-spaced, chan-handoff, chan-stream, burst-latency, parking-lot, bulk).\n\
         --replot DIR redraws DIR/bulk.svg from DIR/samples.csv."
    );
    std::process::exit(64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let a = ChildArgs::parse(&args[2..]).unwrap_or_else(|e| {
            eprintln!("myriad-bench --child: {e}");
            std::process::exit(64)
        });
        // Any panic ends the child at once: a child exists to measure, and
        // a runtime whose spawn panicked (may at the mapping limit) can
        // otherwise hang instead of exiting.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default_hook(info);
            use std::io::Write;
            let _ = std::io::stdout().flush();
            // SAFETY: _exit ends the process without running anything else.
            unsafe { libc::_exit(3) };
        }));
        child::run(&a);
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // Exit without tearing down runtimes (may's workers never stop).
        std::process::exit(0);
    }
    let mut quick = false;
    let mut only: Option<Vec<String>> = None;
    let mut out: Option<PathBuf> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--replot" => {
                // Redraws DIR/bulk.svg from DIR/samples.csv without measuring.
                let dir = PathBuf::from(it.next().unwrap_or_else(|| usage()));
                let text = std::fs::read_to_string(dir.join("samples.csv")).unwrap_or_else(|e| {
                    eprintln!("cannot read {}/samples.csv: {e}", dir.display());
                    std::process::exit(1)
                });
                if let Err(e) = chart::write(&read_csv(&text), &dir.join("bulk.svg")) {
                    eprintln!("chart failed: {e}");
                    std::process::exit(1);
                }
                return;
            }
            "--out" => out = Some(it.next().map(PathBuf::from).unwrap_or_else(|| usage())),
            "--only" => {
                let names: Vec<String> = it.next().unwrap_or_else(|| usage()).split(',').map(str::to_string).collect();
                if names.iter().any(|n| n != "bulk" && Workload::parse(n).is_none()) {
                    usage()
                }
                only = Some(names)
            }
            _ => usage(),
        }
    }
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let out = out.unwrap_or_else(|| {
        let base = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/results"));
        if quick {
            base.join("quick")
        } else {
            base
        }
    });
    let started = Instant::now();
    let mut results = Results {
        command: format!(
            "cargo run --release -p myriad-bench{}",
            match (quick, &only) {
                (false, None) => String::new(),
                (true, None) => " -- --quick".into(),
                (q, Some(w)) =>
                    format!(" --{}{}", if q { " --quick" } else { "" }, format_args!(" --only {}", w.join(","))),
            }
        ),
        machine: machine::describe(),
        sizes: if only.as_ref().is_some_and(|w| !w.iter().any(|n| n == "bulk")) {
            vec![]
        } else {
            plan.sizes.iter().map(|s| s.0).collect()
        },
        bulk_systems: BULK_SYSTEMS.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let load = machine::loadavg();
    if load > 0.5 {
        let w = format!(
            "the machine was busy at start (1-minute load average {load:.2} > 0.5); timings are noisier than usual"
        );
        eprintln!("WARNING: {w}");
        results.warnings.push(w);
    }
    let mut log = String::new();
    let base = ChildArgs {
        system: String::new(),
        workload: Workload::SpawnJoin,
        n: 0,
        rounds: 0,
        warm_ms: plan.warm_ms,
        trial_ms: plan.trial_ms,
        trials: plan.trials,
    };

    let wanted = |id: &str| only.as_ref().is_none_or(|w| w.iter().any(|n| n == id));
    for (workload, systems) in PER_OP_SYSTEMS.iter().filter(|(w, _)| wanted(w.id())) {
        for sys in systems.iter() {
            let a = ChildArgs { system: sys.to_string(), workload: *workload, ..base.clone() };
            let run = run_child(&a, plan.timeout, &mut log);
            let result = match (&run.failure, samples(&run.lines)) {
                (None, Some(s)) if !s.is_empty() => Ok(s),
                (Some(f), _) => Err(f.clone()),
                _ => Err("the child printed no samples".into()),
            };
            match &result {
                Ok(s) => {
                    let m = myriad_bench::stats::summarize(s).unwrap();
                    eprintln!(
                        "{:<11} {:<40} {:>10}  ({:.1} s)",
                        workload.id(),
                        label(sys),
                        myriad_bench::report::fmt_ns(m.median),
                        run.secs
                    );
                }
                Err(e) => eprintln!("{:<11} {:<40} failed: {e}", workload.id(), label(sys)),
            }
            results.per_op.push(PerOp { workload: *workload, system: sys.to_string(), result, cpu: cpu(&run.lines) });
        }
    }

    if wanted(Workload::BurstLatency.id()) {
        let (procs, rounds) = if quick { (2, 3) } else { (3, 4) };
        results.burst = myriad_bench::burst::measure(procs, rounds, |system, n, rounds| {
            let a =
                ChildArgs { system: system.to_string(), workload: Workload::BurstLatency, n, rounds, ..base.clone() };
            let run = run_child(&a, plan.timeout, &mut log);
            match run.failure {
                None => Ok(run.lines),
                Some(f) => Err(f),
            }
        });
    }

    if wanted(Workload::ParkingLot.id()) {
        let procs = if quick { 1 } else { 3 };
        results.parking = myriad_bench::parking::measure(procs, |n, rounds| {
            let a = ChildArgs { system: "myriad".into(), workload: Workload::ParkingLot, n, rounds, ..base.clone() };
            let run = run_child(&a, plan.timeout, &mut log);
            match run.failure {
                None => Ok(run.lines),
                Some(f) => Err(f),
            }
        });
    }

    let mut failed: Vec<String> = Vec::new();
    for &(n, procs, rounds_per) in plan.sizes.iter().filter(|_| wanted("bulk")) {
        for sys in BULK_SYSTEMS {
            if failed.iter().any(|f| f == sys) {
                continue;
            }
            let mut point = BulkPoint { system: sys.to_string(), n, cold: vec![], warm: vec![], failure: None };
            for p in 0..procs {
                let a = ChildArgs {
                    system: sys.to_string(),
                    workload: Workload::Bulk,
                    n,
                    rounds: rounds_per,
                    ..base.clone()
                };
                let run = run_child(&a, plan.timeout, &mut log);
                for (r, round) in rounds(&run.lines, n) {
                    if r == 0 {
                        point.cold.push(round);
                    } else {
                        point.warm.push(round);
                    }
                }
                eprintln!(
                    "bulk N={:<9} {:<40} process {}/{procs}: {}  ({:.1} s)",
                    group(n as i64),
                    label(sys),
                    p + 1,
                    run.failure.as_deref().unwrap_or("ok"),
                    run.secs
                );
                if let Some(f) = run.failure {
                    point.failure = Some(f);
                    failed.push(sys.to_string());
                    break;
                }
            }
            results.bulk.push(point);
        }
    }

    results.elapsed_s = started.elapsed().as_secs_f64();
    let end_load = machine::loadavg();
    results
        .machine
        .push(("load average at end (1 min; includes the bench's own threads)".into(), format!("{end_load:.2}")));
    let report = results.markdown();
    println!("{report}");
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        std::process::exit(1);
    }
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    };
    write("RESULTS.md", &report);
    write("samples.csv", &write_csv(&results));
    write("log.txt", &log);
    if results.bulk.is_empty() {
        // `--only` without bulk: nothing to chart.
        eprintln!("wrote {}/{{RESULTS.md, samples.csv, log.txt}}", out.display());
        return;
    }
    match chart::write(&results, &out.join("bulk.svg")) {
        Ok(()) => eprintln!("wrote {}/{{RESULTS.md, bulk.svg, samples.csv, log.txt}}", out.display()),
        Err(e) => eprintln!("chart failed: {e}"),
    }
}

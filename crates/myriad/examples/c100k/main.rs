//! c100k: 100,000 concurrent requests, one thread each, in one command.
//!
//! "You need to handle 100 000 requests that perform a mixture of IO and CPU
//! bound work? Just use 100 000 threads." This example does exactly that
//! with plain blocking code: an HTTP/1.1 server with a thread per
//! connection whose requests read a file, call a backend over TCP and fan
//! out into scoped threads, driven by a load generator with a thread per
//! simulated user, all in one process. Then it runs the *same source* on
//! `std::thread` (see `workload.rs`: only the imports differ) in a child
//! process, and prints both side by side.
//!
//! ```text
//! cargo run --release --example c100k                # defaults sized from the machine
//! cargo run --release --example c100k -- --connections 2000 --fanout 10 --requests 3
//! ```
//!
//! Both ends of every connection live in this process, so each connection
//! costs two descriptors: the open-file limit caps the connection count
//! (the run says so), and the fan-out makes up the 100,000 threads.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod shared;

mod on_myriad {
    use myriad::fs::FileExt;
    use myriad::{fs, net, sync, thread};
    include!("workload.rs");
}

mod on_std {
    use std::os::unix::fs::FileExt;
    use std::{fs, net, sync, thread};
    include!("workload.rs");
}

use shared::{Config, Progress, Report};

const TARGET_THREADS: usize = 100_000;

struct Args {
    connections: Option<usize>,
    fanout: Option<usize>,
    requests: usize,
    std_side: bool,
    skip_std: bool,
    deadline: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        connections: None,
        fanout: None,
        requests: 10,
        std_side: false,
        skip_std: false,
        deadline: Duration::from_secs(60),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--connections" => args.connections = Some(number("--connections")?),
            "--fanout" => args.fanout = Some(number("--fanout")?),
            "--requests" => args.requests = number("--requests")?,
            "--seconds" => args.deadline = Duration::from_secs(number("--seconds")? as u64),
            "--std-side" => args.std_side = true,
            "--no-std" => args.skip_std = true,
            "-h" | "--help" => {
                return Err("usage: c100k [--connections N] [--fanout K] [--requests R] [--seconds S] [--no-std]".into())
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// Raises the soft open-file limit to the hard one; returns it.
fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        limit.rlim_cur
    }
}

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints a progress line every so often until `done`.
fn progress_reporter(progress: &'static Progress, label: &'static str) -> std::sync::mpsc::Sender<()> {
    let (done, stop) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let tty = std::io::stderr().is_terminal();
        let period = if tty { Duration::from_millis(250) } else { Duration::from_secs(1) };
        let start = Instant::now();
        let mut last = (Instant::now(), 0u64);
        while stop.recv_timeout(period).is_err_and(|e| e == std::sync::mpsc::RecvTimeoutError::Timeout) {
            let done = progress.requests_done.load(Ordering::Relaxed);
            let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
            last = (Instant::now(), done);
            let line = format!(
                "[{label} {:>5.1}s] threads {} (peak {}) | connections {} | requests {} ({}/s) | errors {}",
                start.elapsed().as_secs_f64(),
                thousands(progress.threads_alive.load(Ordering::Relaxed) as u64),
                thousands(progress.threads_peak.load(Ordering::Relaxed) as u64),
                thousands(progress.connections_open.load(Ordering::Relaxed) as u64),
                thousands(done),
                thousands(rate as u64),
                thousands(progress.errors.load(Ordering::Relaxed)),
            );
            if tty {
                eprint!("\r{line}\x1b[K");
            } else {
                eprintln!("{line}");
            }
        }
        if tty {
            eprintln!();
        }
    });
    done
}

/// One side's figures, as printed in the table (and passed from the std
/// child to the parent as `key=value` pairs).
#[derive(Default, Clone)]
struct Summary {
    connections: u64,
    peak_threads: u64,
    requests: u64,
    errors: u64,
    seconds: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    peak_rss: u64,
    stopped: String,
}

impl Summary {
    fn of(report: &Report, connections: usize) -> Summary {
        let pct = |p: f64| {
            let l = &report.latencies_us;
            if l.is_empty() {
                0
            } else {
                l[((l.len() - 1) as f64 * p) as usize] as u64
            }
        };
        Summary {
            connections: connections as u64,
            peak_threads: report.peak_threads as u64,
            requests: report.requests,
            errors: report.errors,
            seconds: report.elapsed.as_secs_f64(),
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            max_us: report.latencies_us.last().copied().unwrap_or(0) as u64,
            peak_rss: peak_rss_bytes(),
            stopped: report.first_error.clone().unwrap_or_else(|| "completed".into()),
        }
    }

    fn encode(&self) -> String {
        format!(
            "C100K-SUMMARY connections={} peak_threads={} requests={} errors={} seconds={} p50={} p99={} max={} rss={} stopped={}",
            self.connections,
            self.peak_threads,
            self.requests,
            self.errors,
            self.seconds,
            self.p50_us,
            self.p99_us,
            self.max_us,
            self.peak_rss,
            self.stopped.replace('\n', " ")
        )
    }

    fn decode(line: &str) -> Option<Summary> {
        let rest = line.strip_prefix("C100K-SUMMARY ")?;
        let (fields, stopped) = rest.split_once(" stopped=")?;
        let mut s = Summary { stopped: stopped.to_string(), ..Summary::default() };
        for field in fields.split(' ') {
            let (k, v) = field.split_once('=')?;
            match k {
                "connections" => s.connections = v.parse().ok()?,
                "peak_threads" => s.peak_threads = v.parse().ok()?,
                "requests" => s.requests = v.parse().ok()?,
                "errors" => s.errors = v.parse().ok()?,
                "seconds" => s.seconds = v.parse().ok()?,
                "p50" => s.p50_us = v.parse().ok()?,
                "p99" => s.p99_us = v.parse().ok()?,
                "max" => s.max_us = v.parse().ok()?,
                "rss" => s.peak_rss = v.parse().ok()?,
                _ => {}
            }
        }
        Some(s)
    }
}

fn print_table(myriad: &Summary, std_side: Option<&Summary>) {
    let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
    let mib = |b: u64| format!("{:.0} MiB", b as f64 / (1 << 20) as f64);
    let per_thread = |s: &Summary| {
        if s.peak_threads == 0 {
            "-".to_string()
        } else {
            format!("{:.1} KiB", s.peak_rss as f64 / s.peak_threads as f64 / 1024.0)
        }
    };
    let rate = |s: &Summary| format!("{}/s", thousands((s.requests as f64 / s.seconds.max(1e-9)) as u64));
    type Row = (&'static str, Box<dyn Fn(&Summary) -> String>);
    let rows: Vec<Row> = vec![
        ("connections", Box::new(|s: &Summary| thousands(s.connections))),
        ("peak concurrent threads", Box::new(|s: &Summary| thousands(s.peak_threads))),
        ("requests completed", Box::new(|s: &Summary| thousands(s.requests))),
        ("wall time", Box::new(|s: &Summary| format!("{:.1} s", s.seconds))),
        ("throughput", Box::new(rate)),
        ("latency p50", Box::new(move |s: &Summary| ms(s.p50_us))),
        ("latency p99", Box::new(move |s: &Summary| ms(s.p99_us))),
        ("latency max", Box::new(move |s: &Summary| ms(s.max_us))),
        ("peak RSS", Box::new(move |s: &Summary| mib(s.peak_rss))),
        ("RSS per thread (peak)", Box::new(per_thread)),
        ("errors", Box::new(|s: &Summary| thousands(s.errors))),
    ];
    println!();
    println!("| {:<24} | {:>16} | {:>16} |", "", "myriad", "std::thread");
    println!("|{:-<26}|{:->18}|{:->18}|", "", "", "");
    for (name, f) in &rows {
        let theirs = std_side.map_or("-".to_string(), f);
        println!("| {:<24} | {:>16} | {:>16} |", name, f(myriad), theirs);
    }
    println!();
    println!("myriad:      {}", myriad.stopped);
    if let Some(s) = std_side {
        println!("std::thread: {}", s.stopped);
    }
}

fn run_side(config: &Config, std_side: bool) -> Summary {
    let data = std::env::temp_dir().join(format!("myriad-c100k-{}.dat", std::process::id()));
    if let Err(err) = shared::write_data_file(&data) {
        eprintln!("cannot write the data file {}: {err}", data.display());
        std::process::exit(1);
    }
    let progress: &'static Progress = Box::leak(Box::default());
    let done = progress_reporter(progress, if std_side { "std::thread" } else { "myriad" });
    let report = if std_side { on_std::run(config, &data, progress) } else { on_myriad::run(config, &data, progress) };
    drop(done);
    let _ = std::fs::remove_file(&data);
    Summary::of(&report, config.connections)
}

/// Prints the runtime's warnings (stall reports) on stderr.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("{}: {}", record.level(), record.args());
        }
    }
    fn flush(&self) {}
}

fn main() {
    let _ = log::set_boxed_logger(Box::new(StderrLog)).map(|()| log::set_max_level(log::LevelFilter::Warn));
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let nofile = raise_nofile();
    // Two descriptors per connection (both ends are here), plus the backend
    // pool, listeners, epoll instances and rings.
    let backend_connections = 256;
    let reserve = 256 + 2 * backend_connections as u64;
    let fd_cap = (nofile.saturating_sub(reserve) / 2) as usize;
    let connections = args.connections.unwrap_or(fd_cap.min(TARGET_THREADS)).max(1);
    let fanout = args.fanout.unwrap_or(TARGET_THREADS.div_ceil(connections) + 1).max(1);
    let config = Config {
        connections,
        fanout,
        requests_per_connection: args.requests,
        backend_connections,
        deadline: args.deadline,
        read_timeout: Duration::from_secs(10),
        downstream_ms: 200,
    };

    if args.std_side {
        let summary = run_side(&config, true);
        println!("{}", summary.encode());
        return;
    }

    println!(
        "c100k: {} connections (one thread each on both ends), each request fanning out into {} threads: \
         up to {} threads at once",
        thousands(connections as u64),
        fanout,
        thousands((connections * (fanout + 2)) as u64)
    );
    if args.connections.is_none() && fd_cap < TARGET_THREADS {
        println!(
            "note: the open-file limit ({nofile}) caps this run at {} connections with both ends in one \
             process; the fan-out makes up the threads. Raise it with `ulimit -n 1048576` (the hard \
             limit: /etc/security/limits.conf or systemd's LimitNOFILE) for more.",
            thousands(fd_cap as u64)
        );
    }
    let myriad = run_side(&config, false);
    println!("{}", myriad.encode());

    let std_summary = if args.skip_std {
        None
    } else {
        println!("\nThe same workload on std::thread (one OS thread per connection and per fan-out task), in a child process:");
        run_std_child(&args, connections, fanout)
    };
    print_table(&myriad, std_summary.as_ref());
    if myriad.errors > 0 {
        std::process::exit(1);
    }
}

fn run_std_child(args: &Args, connections: usize, fanout: usize) -> Option<Summary> {
    let exe = std::env::current_exe().ok()?;
    let mut child = std::process::Command::new(exe)
        .args([
            "--std-side",
            "--connections",
            &connections.to_string(),
            "--fanout",
            &fanout.to_string(),
            "--requests",
            &args.requests.to_string(),
            "--seconds",
            &args.deadline.as_secs().min(30).to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let stderr = child.stderr.take()?;
    // Echo the child's stderr, keeping its last progress line and its last
    // other lines (the reason it died, if it did).
    let err_lines = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut progress = String::new();
        let mut last = Vec::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if line.starts_with('[') {
                progress = line;
            } else if !line.trim().is_empty() {
                last.push(line);
                if last.len() > 5 {
                    last.remove(0);
                }
            }
        }
        (progress, last)
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    use std::io::Read;
    let _ = std::io::BufReader::new(stdout).read_to_string(&mut out);
    let (last_progress, last_err) = err_lines.join().unwrap_or_default();
    match out.lines().find_map(Summary::decode) {
        Some(summary) => Some(summary),
        None => {
            let why = last_err.last().cloned().unwrap_or_default();
            // How far it got, from its last progress line.
            let figure = |key: &str| -> u64 {
                last_progress.split(key).nth(1).and_then(|rest| rest.split_whitespace().next()).map_or(0, |n| {
                    n.trim_end_matches(|c: char| !c.is_ascii_digit()).replace(',', "").parse().unwrap_or(0)
                })
            };
            let seconds = last_progress
                .split_whitespace()
                .nth(1)
                .and_then(|t| t.trim_end_matches("s]").parse().ok())
                .unwrap_or(0.0);
            let when = if last_progress.is_empty() {
                "before its first progress report (within 1 s)"
            } else {
                "after its last progress report"
            };
            Some(Summary {
                connections: figure("connections "),
                peak_threads: figure("(peak "),
                requests: figure("requests "),
                errors: figure("errors "),
                seconds,
                stopped: format!(
                    "the process died ({}) {when}: {why}",
                    status.map_or("killed".into(), |s| s.to_string())
                ),
                ..Summary::default()
            })
        }
    }
}

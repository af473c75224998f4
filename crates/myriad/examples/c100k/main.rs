//! c100k: 100,000 requests in flight at once, one thread each, in one
//! command.
//!
//! "You need to handle 100 000 requests that perform a mixture of IO and CPU
//! bound work? Just use 100 000 threads." This example does exactly that
//! with plain blocking code: an HTTP/1.1 server with a thread per
//! connection and a thread per request, whose requests read a file, call a
//! backend over TCP, wait for a simulated downstream call and hash, driven
//! by a load generator with a thread per simulated user, all in one
//! process. Then it runs the *same source* on `std::thread` (see
//! `workload.rs`: only the imports differ) in a child process, and prints
//! both side by side.
//!
//! ```text
//! cargo run --release --example c100k                # defaults sized from the machine
//! cargo run --release --example c100k -- --connections 2000 --pipeline 8 --requests 16
//! ```
//!
//! # Why pipelining
//!
//! Both ends of every connection live in this process, so each connection
//! costs two descriptors, and the open-file limit caps the connections
//! (20,000 descriptors: 9,616 connections, the run says so). 100,000
//! requests in flight over fewer connections means several requests
//! outstanding per connection: HTTP/1.1 pipelining. Each user sends
//! `pipeline` requests before reading, then one more per reply; the server
//! starts a thread per request as soon as it reads the request, and each
//! request thread writes its response after the one before it (see
//! `workload.rs`). The default depth is sized from the connection count to
//! aim 25 % above the target, because the first responses leave before the
//! last requests of the first burst arrive. Each user sends one window by
//! default (`--requests` more keep the window full: one more request per
//! reply), and each request's downstream call takes 2–4 s
//! (`--downstream-ms`): the requests are in flight because they wait, as
//! in a real server, while all of them are being received. With more
//! descriptors (`ulimit -n`), the same command runs more connections and a
//! shallower pipeline.
//!
//! Ctrl-C stops the run the way a server shuts down gracefully: it
//! interrupts the connection threads (`myriad::thread::Thread::interrupt`),
//! each of which interrupts its requests' threads, and reports how long
//! it took until every one had ended.
//!
//! The banner states the targets; the summary line and the table state
//! what was measured: the peak of requests in flight (received, response
//! not written yet), the peak of threads, CPU time and CPU per request.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod shared;

mod on_myriad {
    use myriad::fs::FileExt;
    use myriad::{fs, net, sync, thread};
    include!("stop_myriad.rs");
    include!("workload.rs");
}

mod on_std {
    use std::os::unix::fs::FileExt;
    use std::{fs, net, sync, thread};
    include!("stop_std.rs");
    include!("workload.rs");
}

use shared::{Config, Progress, Report};

/// Requests in flight at once that the defaults aim for.
const TARGET_IN_FLIGHT: usize = 100_000;

struct Args {
    connections: Option<usize>,
    pipeline: Option<usize>,
    fanout: usize,
    requests: Option<usize>,
    downstream_ms: u64,
    std_side: bool,
    skip_std: bool,
    metrics: bool,
    deadline: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        connections: None,
        pipeline: None,
        fanout: 0,
        requests: None,
        downstream_ms: 2000,
        std_side: false,
        skip_std: false,
        metrics: false,
        deadline: Duration::from_secs(60),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--connections" => args.connections = Some(number("--connections")?),
            "--pipeline" => args.pipeline = Some(number("--pipeline")?),
            "--fanout" => args.fanout = number("--fanout")?,
            "--requests" => args.requests = Some(number("--requests")?),
            "--downstream-ms" => args.downstream_ms = number("--downstream-ms")? as u64,
            "--seconds" => args.deadline = Duration::from_secs(number("--seconds")? as u64),
            "--std-side" => args.std_side = true,
            "--metrics" => args.metrics = true,
            "--no-std" => args.skip_std = true,
            "-h" | "--help" => {
                return Err(
                    "usage: c100k [--connections N] [--pipeline D] [--requests R] [--fanout K] [--downstream-ms M] \
                     [--seconds S] [--no-std] [--metrics]\n\
                     N connections, each keeping D requests outstanding until it has sent R; each \
                     request waits M to 2M ms downstream, over K extra threads if K > 0; --metrics adds the \
                     runtime's counters to the progress lines"
                        .into(),
                )
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

/// CPU time (user, system) of this process so far.
fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage fills a valid, zeroed struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    (timeval(usage.ru_utime), timeval(usage.ru_stime))
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
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
/// With `metrics`, also the runtime's counters (`myriad::rt::metrics`).
fn progress_reporter(progress: &'static Progress, label: &'static str, metrics: bool) -> std::sync::mpsc::Sender<()> {
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
                "[{label} {:>5.1}s] in flight {} (peak {}) | threads {} (peak {}) | connections {} | requests {} ({}/s) | errors {}",
                start.elapsed().as_secs_f64(),
                thousands(progress.in_flight.load(Ordering::Relaxed) as u64),
                thousands(progress.in_flight_peak.load(Ordering::Relaxed) as u64),
                thousands(progress.threads_alive.load(Ordering::Relaxed) as u64),
                thousands(progress.threads_peak.load(Ordering::Relaxed) as u64),
                thousands(progress.connections_open.load(Ordering::Relaxed) as u64),
                thousands(done),
                thousands(rate as u64),
                thousands(progress.errors.load(Ordering::Relaxed)),
            );
            let line = if metrics { format!("{line}\n    {}", runtime_counters()) } else { line };
            if tty && !metrics {
                eprint!("\r{line}\x1b[K");
            } else {
                eprintln!("{line}");
            }
        }
        if tty && !metrics {
            eprintln!();
        }
    });
    done
}

/// The runtime's counters, summed over workers, for `--metrics`.
fn runtime_counters() -> String {
    let m = myriad::rt::metrics();
    let sum = |f: fn(&myriad::rt::WorkerMetrics) -> u64| m.workers.iter().map(f).sum::<u64>();
    format!(
        "rt: switches {} | spawned {} started {} finished {} not started {} | runnable {} parked {} | timers {} | \
         sleeps {} poll wake-ups {} steals {} stalls {} | io_uring ops {} | blocking {} done, {} queued, {} threads",
        m.context_switches(),
        m.threads_spawned(),
        sum(|w| w.started),
        sum(|w| w.finished),
        m.threads_not_started,
        m.threads_runnable(),
        m.threads_parked(),
        sum(|w| w.timers_pending),
        sum(|w| w.sleeps),
        sum(|w| w.poll_wakeups),
        sum(|w| w.steals),
        m.stalls(),
        m.io_uring_operations,
        m.blocking_completed,
        m.blocking_queued,
        m.blocking_threads,
    )
}

/// One side's figures, as printed in the table (and passed from the std
/// child to the parent as `key=value` pairs, `-` for what is unknown).
/// `None`: not measured (a side that died or completed no request).
#[derive(Default, Clone)]
struct Summary {
    connections: u64,
    pipeline: u64,
    peak_in_flight: Option<u64>,
    peak_threads: u64,
    requests: u64,
    errors: u64,
    seconds: f64,
    p50_us: Option<u64>,
    p99_us: Option<u64>,
    max_us: Option<u64>,
    peak_rss: Option<u64>,
    cpu_user: Option<Duration>,
    cpu_sys: Option<Duration>,
    stopped: String,
}

impl Summary {
    fn of(report: &Report, config: &Config) -> Summary {
        let l = &report.latencies_us;
        let pct = |p: f64| (!l.is_empty()).then(|| l[((l.len() - 1) as f64 * p) as usize] as u64);
        let (user, sys) = cpu_times();
        Summary {
            connections: config.connections as u64,
            pipeline: config.pipeline as u64,
            peak_in_flight: Some(report.peak_in_flight as u64),
            peak_threads: report.peak_threads as u64,
            requests: report.requests,
            errors: report.errors,
            seconds: report.elapsed.as_secs_f64(),
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            max_us: l.last().map(|&v| v as u64),
            peak_rss: Some(peak_rss_bytes()),
            cpu_user: Some(user),
            cpu_sys: Some(sys),
            stopped: report.first_error.clone().unwrap_or_else(|| "completed".into()),
        }
    }

    /// CPU time per completed request.
    fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu_user? + self.cpu_sys?;
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }

    fn encode(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let secs = |v: Option<Duration>| v.map_or("-".to_string(), |v| format!("{:.2}", v.as_secs_f64()));
        format!(
            "C100K-SUMMARY connections={} pipeline={} peak_in_flight={} peak_threads={} requests={} errors={} \
             seconds={:.2} p50={} p99={} max={} rss={} cpu_user={} cpu_sys={} cpu_us_per_request={} stopped={}",
            self.connections,
            self.pipeline,
            opt(self.peak_in_flight),
            self.peak_threads,
            self.requests,
            self.errors,
            self.seconds,
            opt(self.p50_us),
            opt(self.p99_us),
            opt(self.max_us),
            opt(self.peak_rss),
            secs(self.cpu_user),
            secs(self.cpu_sys),
            self.cpu_us_per_request().map_or("-".to_string(), |v| format!("{v:.0}")),
            self.stopped.replace('\n', " ")
        )
    }

    fn decode(line: &str) -> Option<Summary> {
        let rest = line.strip_prefix("C100K-SUMMARY ")?;
        let (fields, stopped) = rest.split_once(" stopped=")?;
        let mut s = Summary { stopped: stopped.to_string(), ..Summary::default() };
        for field in fields.split(' ') {
            let (k, v) = field.split_once('=')?;
            let n = v.parse::<u64>().ok();
            let secs = v.parse::<f64>().ok().map(Duration::from_secs_f64);
            match k {
                "connections" => s.connections = n?,
                "pipeline" => s.pipeline = n?,
                "peak_in_flight" => s.peak_in_flight = n,
                "peak_threads" => s.peak_threads = n?,
                "requests" => s.requests = n?,
                "errors" => s.errors = n?,
                "seconds" => s.seconds = v.parse().ok()?,
                "p50" => s.p50_us = n,
                "p99" => s.p99_us = n,
                "max" => s.max_us = n,
                "rss" => s.peak_rss = n,
                "cpu_user" => s.cpu_user = secs,
                "cpu_sys" => s.cpu_sys = secs,
                _ => {}
            }
        }
        Some(s)
    }
}

fn print_table(myriad: &Summary, std_side: Option<&Summary>) {
    const NONE: &str = "—";
    let ms = |us: Option<u64>| us.map_or(NONE.to_string(), |us| format!("{:.1} ms", us as f64 / 1000.0));
    let mib = |b: Option<u64>| b.map_or(NONE.to_string(), |b| format!("{:.0} MiB", b as f64 / (1 << 20) as f64));
    let per_thread = |s: &Summary| match s.peak_rss {
        Some(rss) if s.peak_threads > 0 => format!("{:.1} KiB", rss as f64 / s.peak_threads as f64 / 1024.0),
        _ => NONE.to_string(),
    };
    let rate = |s: &Summary| {
        if s.requests == 0 {
            NONE.to_string()
        } else {
            format!("{}/s", thousands((s.requests as f64 / s.seconds.max(1e-9)) as u64))
        }
    };
    let cpu = |s: &Summary| match (s.cpu_user, s.cpu_sys) {
        (Some(u), Some(k)) => format!("{:.1} s + {:.1} s", u.as_secs_f64(), k.as_secs_f64()),
        _ => NONE.to_string(),
    };
    type Row = (&'static str, Box<dyn Fn(&Summary) -> String>);
    let rows: Vec<Row> = vec![
        ("connections", Box::new(|s: &Summary| thousands(s.connections))),
        ("pipelined per connection", Box::new(|s: &Summary| thousands(s.pipeline))),
        ("peak requests in flight", Box::new(|s: &Summary| s.peak_in_flight.map_or(NONE.to_string(), thousands))),
        ("peak concurrent threads", Box::new(|s: &Summary| thousands(s.peak_threads))),
        ("requests completed", Box::new(|s: &Summary| thousands(s.requests))),
        ("wall time", Box::new(|s: &Summary| format!("{:.1} s", s.seconds))),
        ("throughput", Box::new(rate)),
        ("latency p50", Box::new(move |s: &Summary| ms(s.p50_us))),
        ("latency p99", Box::new(move |s: &Summary| ms(s.p99_us))),
        ("latency max", Box::new(move |s: &Summary| ms(s.max_us))),
        ("CPU user + system", Box::new(cpu)),
        (
            "CPU per request",
            Box::new(|s: &Summary| s.cpu_us_per_request().map_or(NONE.to_string(), |v| format!("{v:.0} µs"))),
        ),
        ("peak RSS", Box::new(move |s: &Summary| mib(s.peak_rss))),
        ("RSS per thread (peak)", Box::new(per_thread)),
        ("errors", Box::new(|s: &Summary| thousands(s.errors))),
    ];
    // Pads by characters, not bytes ("—" and "µ" are more than one byte).
    let cell = |text: String| format!("{}{text}", " ".repeat(18usize.saturating_sub(text.chars().count())));
    println!();
    println!("| {:<24} | {:>18} | {:>18} |", "", "myriad", "std::thread");
    println!("|{:-<26}|{:->20}|{:->20}|", "", "", "");
    for (name, f) in &rows {
        let theirs = std_side.map_or("-".to_string(), f);
        println!("| {:<24} | {} | {} |", name, cell(f(myriad)), cell(theirs));
    }
    println!();
    println!("myriad:      {}", myriad.stopped);
    if let Some(s) = std_side {
        println!("std::thread: {}", s.stopped);
    }
}

fn run_side(config: &Config, std_side: bool, metrics: bool) -> Summary {
    let data = std::env::temp_dir().join(format!("myriad-c100k-{}.dat", std::process::id()));
    if let Err(err) = shared::write_data_file(&data) {
        eprintln!("cannot write the data file {}: {err}", data.display());
        std::process::exit(1);
    }
    let progress: &'static Progress = Box::leak(Box::default());
    if !std_side {
        stop_on_ctrl_c(progress);
    }
    let done = progress_reporter(progress, if std_side { "std::thread" } else { "myriad" }, metrics && !std_side);
    let report = if std_side { on_std::run(config, &data, progress) } else { on_myriad::run(config, &data, progress) };
    drop(done);
    let _ = std::fs::remove_file(&data);
    Summary::of(&report, config)
}

/// Ctrl-C (SIGINT) on the myriad side: stops the server by interrupting
/// its connection threads (which stop their requests' threads and those
/// their fan-out's: `workload.rs`), reports how long it took for every
/// connection and request to end, and exits with status 130. The std
/// child, in the same process group, ends by the signal's default action.
fn stop_on_ctrl_c(progress: &'static Progress) {
    static CTRL_C: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    extern "C" fn on_sigint(_: libc::c_int) {
        CTRL_C.store(true, Ordering::SeqCst);
    }
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    std::thread::spawn(move || {
        while !CTRL_C.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let start = Instant::now();
        let in_flight = progress.in_flight.load(Ordering::Relaxed);
        let connections = on_myriad::shut_down(None);
        let bound = Duration::from_secs(10);
        while (progress.connections_open.load(Ordering::Relaxed) > 0 || progress.in_flight.load(Ordering::Relaxed) > 0)
            && start.elapsed() < bound
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        let took = start.elapsed();
        let open = progress.connections_open.load(Ordering::Relaxed);
        let left = progress.in_flight.load(Ordering::Relaxed);
        if open == 0 && left == 0 {
            println!(
                "\nCtrl-C: shut down by interrupting {} connection threads with {} requests in flight: all ended in \
                 {:.1} ms",
                thousands(connections as u64),
                thousands(in_flight as u64),
                took.as_secs_f64() * 1e3
            );
        } else {
            println!(
                "\nCtrl-C: interrupted {} connection threads; after {:.1} s, {open} connections and {left} requests \
                 had not ended",
                thousands(connections as u64),
                took.as_secs_f64()
            );
        }
        std::process::exit(130);
    });
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
    let connections = args.connections.unwrap_or(fd_cap.min(TARGET_IN_FLIGHT)).max(1);
    // Aim 25 % above the target (see the header comment).
    let pipeline = args.pipeline.unwrap_or((TARGET_IN_FLIGHT * 5 / 4).div_ceil(connections)).max(1);
    let requests = args.requests.unwrap_or(pipeline).max(1);
    let config = Config {
        connections,
        pipeline,
        fanout: args.fanout,
        requests_per_connection: requests,
        backend_connections,
        deadline: args.deadline,
        read_timeout: Duration::from_secs(10),
        downstream_ms: args.downstream_ms,
    };

    if args.std_side {
        let summary = run_side(&config, true, false);
        println!("{}", summary.encode());
        return;
    }

    let threads_per_request = 1 + args.fanout;
    println!(
        "c100k: target {} requests in flight at once, one thread each: {} connections (a thread each on both \
         ends) x {} pipelined requests = {} at most{}; {} requests per connection, {} in all",
        thousands(TARGET_IN_FLIGHT as u64),
        thousands(connections as u64),
        pipeline,
        thousands((connections * pipeline) as u64),
        if threads_per_request > 1 {
            format!(" ({threads_per_request} threads per request with the fan-out)")
        } else {
            String::new()
        },
        requests,
        thousands((connections * requests) as u64),
    );
    if args.connections.is_none() && fd_cap < TARGET_IN_FLIGHT {
        println!(
            "note: the open-file limit ({nofile}) caps this run at {} connections with both ends in one \
             process, so each keeps {pipeline} requests outstanding. Raise it with `ulimit -n 1048576` (the \
             hard limit: /etc/security/limits.conf or systemd's LimitNOFILE) for more connections.",
            thousands(fd_cap as u64)
        );
    }
    let myriad = run_side(&config, false, args.metrics);
    println!("{}", myriad.encode());
    if args.metrics {
        println!("{}", runtime_counters());
    }

    let std_summary = if args.skip_std {
        None
    } else {
        println!(
            "\nThe same workload on std::thread (one OS thread per connection and per request), in a child process:"
        );
        run_std_child(&args, &config)
    };
    print_table(&myriad, std_summary.as_ref());
    if myriad.errors > 0 {
        std::process::exit(1);
    }
}

/// How a child process ended, from `wait4`'s status.
fn describe_status(status: libc::c_int) -> String {
    if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        let name = match signal {
            libc::SIGABRT => "SIGABRT",
            libc::SIGKILL => "SIGKILL",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGBUS => "SIGBUS",
            _ => "",
        };
        format!("killed by signal {signal} {name}").trim_end().to_string()
    } else {
        format!("status {status}")
    }
}

/// Figures from the std side's last progress line (when it died before its
/// summary): `segment` is the `|`-separated part that starts with it.
fn progress_figure(line: &str, segment: &str, peak: bool) -> Option<u64> {
    let part = line.split(" | ").map(|p| p.split("] ").last().unwrap_or(p)).find(|p| p.starts_with(segment))?;
    let rest = part.strip_prefix(segment)?;
    let rest = if peak { rest.split("(peak ").nth(1)? } else { rest };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == ',').filter(|c| *c != ',').collect();
    digits.parse().ok()
}

fn run_std_child(args: &Args, config: &Config) -> Option<Summary> {
    let exe = std::env::current_exe().ok()?;
    let mut child = std::process::Command::new(exe)
        .args([
            "--std-side",
            "--connections",
            &config.connections.to_string(),
            "--pipeline",
            &config.pipeline.to_string(),
            "--requests",
            &config.requests_per_connection.to_string(),
            "--fanout",
            &config.fanout.to_string(),
            "--downstream-ms",
            &config.downstream_ms.to_string(),
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
                if last.len() > 40 {
                    last.remove(0);
                }
            }
        }
        (progress, last)
    });
    // Reaped with wait4, for the child's CPU time even if it died. (Not its
    // peak RSS: wait4's counts this process's memory too, which the child
    // shared until its exec; the child reports its own when it completes.)
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let deadline = Instant::now() + Duration::from_secs(180);
    let reaped = loop {
        // SAFETY: our own child's pid, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break true;
        }
        if r < 0 {
            break false;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            // SAFETY: as above, now blocking until it ends.
            break unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } == pid;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    use std::io::Read;
    let _ = std::io::BufReader::new(stdout).read_to_string(&mut out);
    let (last_progress, last_err) = err_lines.join().unwrap_or_default();
    let measured = |summary: &mut Summary| {
        if reaped {
            summary.cpu_user = Some(timeval(usage.ru_utime));
            summary.cpu_sys = Some(timeval(usage.ru_stime));
        }
    };
    match out.lines().find_map(Summary::decode) {
        Some(mut summary) => {
            measured(&mut summary);
            Some(summary)
        }
        None => {
            // Its threads' messages may interleave: name the distinct
            // failures among its last lines, in order.
            let mut failures: Vec<&str> = Vec::new();
            for line in &last_err {
                let line = line.trim();
                let failure = ["failed to", "fatal runtime error", "cannot", "Cannot"].iter().any(|k| line.contains(k))
                    && !line.starts_with("thread '");
                if failure && !failures.contains(&line) {
                    failures.push(line);
                }
            }
            let why = if failures.is_empty() {
                last_err.last().cloned().unwrap_or_default()
            } else {
                failures.iter().take(3).copied().collect::<Vec<_>>().join(" / ")
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
            let how = if reaped { describe_status(status) } else { "unknown status".into() };
            let mut summary = Summary {
                connections: progress_figure(&last_progress, "connections ", false).unwrap_or(0),
                pipeline: config.pipeline as u64,
                peak_in_flight: progress_figure(&last_progress, "in flight ", true),
                peak_threads: progress_figure(&last_progress, "threads ", true).unwrap_or(0),
                requests: progress_figure(&last_progress, "requests ", false).unwrap_or(0),
                errors: progress_figure(&last_progress, "errors ", false).unwrap_or(0),
                seconds,
                stopped: format!("the process died ({how}) {when}: {why}"),
                ..Summary::default()
            };
            measured(&mut summary);
            Some(summary)
        }
    }
}

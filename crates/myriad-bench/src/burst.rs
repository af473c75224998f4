//! Latency under bursts (issue 18): how late a thread sleeping 1 ms in a
//! loop wakes while a burst of N threads connect to an echo backend in the
//! same process and exchange a line each.
//!
//! Each system runs everything on its own kind of thread: the backend (an
//! accept loop spawning one thread or task per connection, echoing lines),
//! the N clients (connect, send a line, read it back), and the ticker
//! (sleep 1 ms, note how much longer than 1 ms it took). The ticker runs
//! from 20 ms before the burst until it ends; a round reports the worst
//! and the 99th percentile of its lateness. Round 0 of each process is the
//! first burst of a fresh process (descriptor table, stacks and heap
//! still to grow); the later rounds are warm.
//!
//! The VM is shared, and a CPU-bound thread (a busy worker) is preempted
//! in steps of the 4 ms scheduler tick when other processes want the
//! cores. Two figures separate the machine's share from the runtime's:
//!
//! * the **control**, a plain OS thread sleeping 1 ms in a loop beside it
//!   in the same process (a thread that just slept is let in at once);
//! * the lateness **net of preemption**: each tick's lateness minus the
//!   time the ticker's OS thread (the worker, for myriad) spent runnable
//!   but kept off the CPU by the kernel meanwhile (`run_delay` in
//!   `/proc/thread-self/schedstat`). What is left is time the OS thread
//!   ran other work, or slept, while the tick was due: the runtime's
//!   share. Not for tokio's multi-thread runtime, whose tasks move
//!   between OS threads.
//!
//! Child line: `BURST round worst_ns p99_ns burst_ns control_worst_ns
//! net_worst_ns net_p99_ns` (the last two -1 where not measured).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::report::group;

/// The systems measured, in report order.
pub const SYSTEMS: &[&str] = &["myriad", "tokio-mt", "tokio-ct", "std"];

/// Burst sizes.
pub const SIZES: &[usize] = &[500, 2_000];

/// The ticker's period.
const TICK: Duration = Duration::from_millis(1);

/// How long the ticker runs before the burst starts.
const LEAD: Duration = Duration::from_millis(20);

/// What one round of one child measured.
#[derive(Clone, Copy, Debug)]
pub struct BurstRound {
    pub round: usize,
    pub worst_ns: f64,
    pub p99_ns: f64,
    pub burst_ns: f64,
    pub control_worst_ns: f64,
    /// Net of preemption (see the module comment); `None` if not measured.
    pub net_worst_ns: Option<f64>,
    pub net_p99_ns: Option<f64>,
}

impl BurstRound {
    /// Parses a child's `BURST ...` line.
    pub fn parse(line: &str) -> Option<BurstRound> {
        let v: Vec<f64> =
            line.strip_prefix("BURST ")?.split_whitespace().map(|x| x.parse().ok()).collect::<Option<_>>()?;
        let [round, worst_ns, p99_ns, burst_ns, control_worst_ns, net_worst_ns, net_p99_ns] = v[..] else {
            return None;
        };
        let net = |x: f64| (x >= 0.0).then_some(x);
        Some(BurstRound {
            round: round as usize,
            worst_ns,
            p99_ns,
            burst_ns,
            control_worst_ns,
            net_worst_ns: net(net_worst_ns),
            net_p99_ns: net(net_p99_ns),
        })
    }
}

/// How long the calling OS thread has been runnable but kept off the CPU
/// (`run_delay`, the second field of `/proc/thread-self/schedstat`).
struct RunDelay(Option<std::fs::File>);

impl RunDelay {
    /// For the calling OS thread (a myriad thread: its worker's, for good).
    fn of_this_thread() -> RunDelay {
        RunDelay(std::fs::File::open("/proc/thread-self/schedstat").ok())
    }

    fn now(&self) -> Option<Duration> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 96];
        let n = self.0.as_ref()?.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        Some(Duration::from_nanos(text.split_whitespace().nth(1)?.parse().ok()?))
    }
}

/// A ticker's samples: lateness, and lateness net of preemption.
#[derive(Default)]
struct Ticks {
    late: Vec<Duration>,
    net: Vec<Duration>,
}

impl Ticks {
    /// Runs `sleep` (1 ms) and records how late it returned; `delay`, if
    /// given, reads the ticker's OS thread's run delay.
    fn tick(&mut self, delay: Option<&RunDelay>, sleep: impl FnOnce()) {
        let before = delay.and_then(RunDelay::now);
        let start = Instant::now();
        sleep();
        self.record(start.elapsed().saturating_sub(TICK), before, delay.and_then(RunDelay::now));
    }

    /// Records a tick `late`, with the run delay `before` and `after` it.
    fn record(&mut self, late: Duration, before: Option<Duration>, after: Option<Duration>) {
        self.late.push(late);
        if let (Some(before), Some(after)) = (before, after) {
            self.net.push(late.saturating_sub(after.saturating_sub(before)));
        }
    }
}

/// All rounds of one system at one N.
#[derive(Clone, Debug)]
pub struct BurstPoint {
    pub system: String,
    pub n: usize,
    pub rounds: Vec<BurstRound>,
    pub failure: Option<String>,
}

/// A ticker's lateness samples: (worst, p99).
fn worst_and_p99(mut late: Vec<Duration>) -> (Duration, Duration) {
    if late.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    late.sort();
    let p99 = late[(late.len() * 99 / 100).min(late.len() - 1)];
    (late[late.len() - 1], p99)
}

/// The control: a plain OS thread sleeping 1 ms until `stop`; its worst
/// lateness.
fn control_ticker(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Duration> {
    std::thread::spawn(move || {
        let mut worst = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            let start = Instant::now();
            std::thread::sleep(TICK);
            worst = worst.max(start.elapsed().saturating_sub(TICK));
        }
        worst
    })
}

fn emit(round: usize, ticks: Ticks, burst: Duration, control: Duration) {
    let measured_net = ticks.net.len() == ticks.late.len() && !ticks.net.is_empty();
    let (worst, p99) = worst_and_p99(ticks.late);
    let (net_worst, net_p99) = if measured_net {
        let (w, p) = worst_and_p99(ticks.net);
        (w.as_nanos() as i128, p.as_nanos() as i128)
    } else {
        (-1, -1)
    };
    println!(
        "BURST {round} {} {} {} {} {net_worst} {net_p99}",
        worst.as_nanos(),
        p99.as_nanos(),
        burst.as_nanos(),
        control.as_nanos()
    );
}

/// The child side: `rounds` bursts of `n` clients on `system`.
pub fn child(system: &str, n: usize, rounds: usize, cores: usize) {
    match system {
        "myriad" => {
            crate::systems::myriad_sys::start(cores);
            myriad_bursts(n, rounds);
        }
        "tokio-mt" | "tokio-ct" => tokio_bursts(system == "tokio-mt", n, rounds),
        "std" => std_bursts(n, rounds),
        other => {
            eprintln!("the burst measure does not run on {other}");
            std::process::exit(64)
        }
    }
}

/// The bursts on a std-shaped API (myriad's mirrors std's): an echo
/// backend with a thread per connection, then `rounds` times a ticker
/// beside a burst of `n` clients, each on a thread of its own. The burst is
/// driven from a thread of the system too (for myriad: so that its clients
/// are spawned as a server's accept loop would spawn them).
macro_rules! thread_per_connection_bursts {
    (net: $($net:ident)::+, thread: $($thread:ident)::+, $n:expr, $rounds:expr) => {{
        use std::io::{BufRead, BufReader, Write};
        use $($net)::+::{TcpListener, TcpStream};
        use $($thread)::+ as thread;

        let (n, rounds): (usize, usize) = ($n, $rounds);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the backend");
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if (&stream).write_all(line.as_bytes()).is_err() {
                            break;
                        }
                        line.clear();
                    }
                });
            }
        });
        for round in 0..rounds {
            let stop = Arc::new(AtomicBool::new(false));
            let control = control_ticker(stop.clone());
            let ticking = stop.clone();
            let ticker = thread::spawn(move || {
                let (mut ticks, delay) = (Ticks::default(), RunDelay::of_this_thread());
                while !ticking.load(Ordering::Relaxed) {
                    ticks.tick(Some(&delay), || thread::sleep(TICK));
                }
                ticks
            });
            let burst = thread::spawn(move || {
                thread::sleep(LEAD);
                let start = Instant::now();
                let clients: Vec<_> = (0..n)
                    .map(|i| {
                        thread::spawn(move || {
                            let stream = TcpStream::connect(addr).expect("connect to the backend");
                            (&stream).write_all(format!("hello {i}\n").as_bytes()).unwrap();
                            let mut line = String::new();
                            BufReader::new(&stream).read_line(&mut line).unwrap();
                            assert_eq!(line, format!("hello {i}\n"));
                        })
                    })
                    .collect();
                for c in clients {
                    c.join().expect("client thread panicked");
                }
                start.elapsed()
            })
            .join()
            .expect("burst thread panicked");
            stop.store(true, Ordering::Relaxed);
            let ticks = ticker.join().expect("ticker panicked");
            emit(round, ticks, burst, control.join().unwrap());
        }
    }};
}

fn myriad_bursts(n: usize, rounds: usize) {
    thread_per_connection_bursts!(net: myriad::net, thread: myriad::thread, n, rounds);
}

fn tokio_bursts(multi_thread: bool, n: usize, rounds: usize) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let rt = builder.enable_all().build().expect("build the tokio runtime");
    rt.block_on(async move {
        tokio::spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the backend");
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    tokio::spawn(async move {
                        let (read, mut write) = stream.into_split();
                        let mut reader = BufReader::new(read);
                        let mut line = String::new();
                        while reader.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                            if write.write_all(line.as_bytes()).await.is_err() {
                                break;
                            }
                            line.clear();
                        }
                    });
                }
            });
            for round in 0..rounds {
                let stop = Arc::new(AtomicBool::new(false));
                let control = control_ticker(stop.clone());
                let ticking = stop.clone();
                let ticker = tokio::spawn(async move {
                    // The current-thread runtime runs every task on this
                    // OS thread; the multi-thread one moves tasks.
                    let delay = (!multi_thread).then(RunDelay::of_this_thread);
                    let mut ticks = Ticks::default();
                    while !ticking.load(Ordering::Relaxed) {
                        let before = delay.as_ref().and_then(RunDelay::now);
                        let start = Instant::now();
                        tokio::time::sleep(TICK).await;
                        let after = delay.as_ref().and_then(RunDelay::now);
                        ticks.record(start.elapsed().saturating_sub(TICK), before, after);
                    }
                    ticks
                });
                tokio::time::sleep(LEAD).await;
                let start = Instant::now();
                let clients: Vec<_> = (0..n)
                    .map(|i| {
                        tokio::spawn(async move {
                            let stream = TcpStream::connect(addr).await.expect("connect to the backend");
                            let (read, mut write) = stream.into_split();
                            write.write_all(format!("hello {i}\n").as_bytes()).await.unwrap();
                            let mut line = String::new();
                            BufReader::new(read).read_line(&mut line).await.unwrap();
                            assert_eq!(line, format!("hello {i}\n"));
                        })
                    })
                    .collect();
                for c in clients {
                    c.await.expect("client task panicked");
                }
                let burst = start.elapsed();
                stop.store(true, Ordering::Relaxed);
                let ticks = ticker.await.expect("ticker panicked");
                let control = tokio::task::spawn_blocking(move || control.join().unwrap()).await.unwrap();
                emit(round, ticks, burst, control);
            }
        })
        .await
        .expect("controller task panicked")
    });
}

/// With std, the ticker is an OS thread like every other: the control and
/// the ticker measure the same thing.
fn std_bursts(n: usize, rounds: usize) {
    thread_per_connection_bursts!(net: std::net, thread: std::thread, n, rounds);
}

/// The parent side: runs `procs` processes of `rounds` bursts for every
/// system and size, through `run_child(system, n, rounds)`, which returns
/// the child's lines or why it failed.
pub fn measure(
    procs: usize,
    rounds: usize,
    mut run_child: impl FnMut(&str, usize, usize) -> Result<Vec<String>, String>,
) -> Vec<BurstPoint> {
    let mut points = Vec::new();
    for &n in SIZES {
        for &system in SYSTEMS {
            let mut point = BurstPoint { system: system.into(), n, rounds: Vec::new(), failure: None };
            for _ in 0..procs {
                match run_child(system, n, rounds) {
                    Ok(lines) => point.rounds.extend(lines.iter().filter_map(|l| BurstRound::parse(l))),
                    Err(failure) => {
                        point.failure = Some(failure);
                        break;
                    }
                }
            }
            if let Some(worst) = point.rounds.iter().map(|r| r.worst_ns).reduce(f64::max) {
                eprintln!("burst N={:<6} {:<10} worst lateness {:.1} ms", group(n as i64), system, worst / 1e6);
            }
            points.push(point);
        }
    }
    points
}

fn ms(ns: f64) -> String {
    format!("{:.1}", ns / 1e6)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The report's section on latency under bursts.
pub fn markdown(points: &[BurstPoint]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## Latency under bursts\n");
    let _ = writeln!(
        s,
        "A thread sleeping 1 ms in a loop, while N threads connect to an echo backend in the same process \
         and exchange a line each (`src/burst.rs`). Lateness = how much longer than 1 ms a sleep took, in ms. \
         \"first burst\": round 0 of each fresh process; \"all\": every round. The control is a plain OS thread \
         sleeping 1 ms beside it (what the machine gave a thread that sleeps); \"net\": each tick's lateness minus \
         the time the ticker's OS thread (myriad: its worker) was runnable but kept off the CPU meanwhile, i.e. \
         the runtime's share (not for tokio multi-thread, whose tasks move between OS threads). tokio's timer \
         rounds up to whole milliseconds, which adds up to 1 ms to its figures.\n"
    );
    let _ = writeln!(
        s,
        "| N | system | worst, first burst | worst, all | median of rounds' worst | p99 (median of rounds) | net: worst, all | net: p99 (median) | control worst | burst (median) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    for p in points {
        if let Some(f) = &p.failure {
            let _ =
                writeln!(s, "| {} | {} | failed: {} | | | | | |", group(p.n as i64), crate::child::label(&p.system), f);
            continue;
        }
        if p.rounds.is_empty() {
            continue;
        }
        let first = p.rounds.iter().filter(|r| r.round == 0).map(|r| r.worst_ns).fold(0.0, f64::max);
        let worst = p.rounds.iter().map(|r| r.worst_ns).fold(0.0, f64::max);
        let control = p.rounds.iter().map(|r| r.control_worst_ns).fold(0.0, f64::max);
        let net_worst: Vec<f64> = p.rounds.iter().filter_map(|r| r.net_worst_ns).collect();
        let net_p99: Vec<f64> = p.rounds.iter().filter_map(|r| r.net_p99_ns).collect();
        let (net_worst, net_p99) = if net_worst.is_empty() {
            ("—".to_string(), "—".to_string())
        } else {
            (ms(net_worst.iter().copied().fold(0.0, f64::max)), ms(median(net_p99)))
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {net_worst} | {net_p99} | {} | {} |",
            group(p.n as i64),
            crate::child::label(&p.system),
            ms(first),
            ms(worst),
            ms(median(p.rounds.iter().map(|r| r.worst_ns).collect())),
            ms(median(p.rounds.iter().map(|r| r.p99_ns).collect())),
            ms(control),
            ms(median(p.rounds.iter().map(|r| r.burst_ns).collect())),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_the_section_has_a_row_per_point() {
        let r = BurstRound::parse("BURST 1 2500000 900000 80000000 400000 300000 200000").unwrap();
        assert_eq!((r.round, r.worst_ns, r.p99_ns), (1, 2_500_000.0, 900_000.0));
        assert_eq!((r.net_worst_ns, r.net_p99_ns), (Some(300_000.0), Some(200_000.0)));
        let unmeasured = BurstRound::parse("BURST 0 1 1 1 1 -1 -1").unwrap();
        assert_eq!(unmeasured.net_worst_ns, None);
        assert!(BurstRound::parse("BURST 1 2").is_none());
        let points = vec![
            BurstPoint { system: "myriad".into(), n: 500, rounds: vec![r], failure: None },
            BurstPoint { system: "std".into(), n: 500, rounds: vec![], failure: Some("timed out".into()) },
        ];
        let md = markdown(&points);
        assert!(md.contains("| 500 | myriad | 0.0 | 2.5 | 2.5 | 0.9 | 0.3 | 0.2 | 0.4 | 80.0 |"), "{md}");
        assert!(md.contains("failed: timed out"), "{md}");
    }

    #[test]
    fn p99_of_a_hundred_samples_is_the_99th() {
        let late: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(worst_and_p99(late), (Duration::from_micros(100), Duration::from_micros(100)));
        let late: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        assert_eq!(worst_and_p99(late), (Duration::from_micros(1000), Duration::from_micros(991)));
    }
}

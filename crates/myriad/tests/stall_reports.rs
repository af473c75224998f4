//! Stall reports reach a person: each scenario runs in a child process
//! (this test binary re-runs itself with `MYRIAD_TEST_CHILD` set) with no
//! logger installed unless the scenario installs one, and the parent reads
//! what the child printed. Children run with `MYRIAD_INTERCEPT=0`, so that
//! std's blocking calls block their workers with the `intercept` feature
//! built in too.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a child printed, how it ended and how long it took.
struct Child {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    took: Duration,
}

/// Runs test `test` of this binary as a child in `mode`; kills it after
/// `limit` (a generous bound: the scenarios end on their own well before).
fn run_child(test: &str, mode: &str, env: &[(&str, &str)], limit: Duration) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("MYRIAD_TEST_CHILD", mode)
        // Blocking std calls must block here, also when the `intercept`
        // feature is built in (it would park the threads instead).
        .env("MYRIAD_INTERCEPT", "0")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
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
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    Child { stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap(), code: status.code(), took }
}

fn child_mode() -> Option<String> {
    std::env::var("MYRIAD_TEST_CHILD").ok()
}

/// Ends the child after `after`, whatever its threads are doing (they may
/// be stuck for good: that is the point).
fn exit_after(after: Duration) -> ! {
    std::thread::sleep(after);
    std::process::exit(0);
}

/// The probe of issue 14, scaled down: a myriad server and myriad threads
/// using `std::net` clients against it. The clients are spawned by the
/// server's thread, so the first runs on the server's worker and blocks it
/// in `recvfrom`: the server can never answer. Prints the server's address.
fn std_net_probe() {
    let listener = myriad::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    eprintln!("SERVER {addr}");
    myriad::thread::Builder::new()
        .name("server".into())
        .spawn(move || {
            for i in 0..8 {
                myriad::thread::Builder::new()
                    .name(format!("client-{i}"))
                    .spawn(move || {
                        use std::io::{Read as _, Write as _};
                        let mut stream = std::net::TcpStream::connect(addr).unwrap();
                        stream.write_all(b"ping\n").unwrap();
                        let mut reply = [0u8; 5];
                        let _ = stream.read_exact(&mut reply);
                    })
                    .unwrap();
            }
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                myriad::thread::spawn(move || {
                    use std::io::{Read as _, Write as _};
                    let mut request = [0u8; 5];
                    if stream.read_exact(&mut request).is_ok() {
                        myriad::thread::sleep(Duration::from_millis(50));
                        let _ = stream.write_all(b"pong\n");
                    }
                });
            }
        })
        .unwrap();
}

#[test]
fn a_std_net_client_is_reported_with_call_socket_site_and_waiters() {
    if child_mode().as_deref() == Some("std-net") {
        std_net_probe();
        exit_after(Duration::from_secs(2));
    }
    let child = run_child(
        "a_std_net_client_is_reported_with_call_socket_site_and_waiters",
        "std-net",
        &[("MYRIAD_WORKERS", "2")],
        Duration::from_secs(60),
    );
    let err = &child.stderr;
    let server = child.stderr.lines().find_map(|l| l.strip_prefix("SERVER ")).expect("the server's address");
    let report = err
        .split("\n\n")
        .find(|r| r.contains("has been held") && r.contains(&format!("-> {server}")))
        .unwrap_or_else(|| panic!("no report names a client socket to {server}:\n{err}"));
    assert!(report.contains("blocked in recvfrom") || report.contains("blocked in read"), "{report}");
    assert!(report.contains("TCP socket 127.0.0.1:"), "{report}");
    assert!(report.contains("thread 'client-"), "{report}");
    assert!(report.contains("spawned at crates/myriad/tests/stall_reports.rs:"), "{report}");
    assert!(report.contains("pinned to worker") && report.contains("behind it"), "{report}");
    assert!(report.contains("myriad::net"), "the remedy: {report}");
    assert!(report.contains("`intercept`"), "the remedy names the intercept feature: {report}");
    // The server's thread is pinned behind the first client: counted.
    let behind = |r: &str| -> Option<usize> {
        let head = r.split(" pinned to worker").next()?;
        head.split_whitespace().rev().nth(1)?.parse().ok()
    };
    let counts: Vec<Option<usize>> =
        err.split("\n\n").filter(|r| r.contains(&format!("-> {server}"))).map(behind).collect();
    assert!(counts.iter().all(Option::is_some), "every report counts the threads behind: {err}");
    assert!(counts.iter().any(|n| n.is_some_and(|n| n >= 1)), "the server waits behind a client: {err}");
    assert_eq!(child.code, Some(0), "{err}");
}

#[test]
fn with_stall_abort_a_stuck_program_ends_with_a_dump() {
    if child_mode().as_deref() == Some("std-net-abort") {
        std_net_probe();
        exit_after(Duration::from_secs(60));
    }
    let child = run_child(
        "with_stall_abort_a_stuck_program_ends_with_a_dump",
        "std-net-abort",
        &[("MYRIAD_WORKERS", "2"), ("MYRIAD_STALL", "abort")],
        Duration::from_secs(90),
    );
    let err = &child.stderr;
    assert!(child.code.is_some_and(|c| c != 0), "exit {:?}:\n{err}", child.code);
    assert!(child.took < Duration::from_secs(15), "took {:?}:\n{err}", child.took);
    assert!(err.contains("myriad thread dump:"), "{err}");
    assert!(err.contains("MYRIAD_STALL=abort"), "{err}");
    assert!(err.contains(" 'server' on worker"), "the dump lists the threads behind: {err}");
}

#[test]
fn a_cpu_hog_is_reported_as_running_code_with_its_spawn_site() {
    if child_mode().as_deref() == Some("hog") {
        myriad::thread::Builder::new()
            .name("hog".into())
            .spawn(|| {
                let start = Instant::now();
                let mut x = 0u64;
                while start.elapsed() < Duration::from_millis(1500) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
            .unwrap()
            .join()
            .unwrap();
        return;
    }
    let child = run_child(
        "a_cpu_hog_is_reported_as_running_code_with_its_spawn_site",
        "hog",
        &[("MYRIAD_WORKERS", "2")],
        Duration::from_secs(60),
    );
    let err = &child.stderr;
    let report = err
        .split("\n\n")
        .find(|r| r.contains("has been held") && r.contains("thread 'hog'"))
        .unwrap_or_else(|| panic!("no report names the hog:\n{err}"));
    assert!(report.contains("running code"), "{report}");
    assert!(report.contains("spawned at crates/myriad/tests/stall_reports.rs:"), "{report}");
    assert!(report.contains("yield_now"), "the remedy: {report}");
    assert_eq!(child.code, Some(0), "{err}");
}

#[test]
fn a_std_mutex_held_across_a_myriad_sleep_is_reported_with_both_threads() {
    if child_mode().as_deref() == Some("lock") {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        static HELD: AtomicBool = AtomicBool::new(false);
        myriad::thread::Builder::new()
            .name("holder".into())
            .spawn(|| {
                let _guard = LOCK.lock().unwrap();
                HELD.store(true, Ordering::SeqCst);
                myriad::thread::sleep(Duration::from_millis(100));
            })
            .unwrap();
        while !HELD.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        myriad::thread::Builder::new().name("waiter".into()).spawn(|| drop(LOCK.lock())).unwrap();
        exit_after(Duration::from_secs(3));
    }
    let child = run_child(
        "a_std_mutex_held_across_a_myriad_sleep_is_reported_with_both_threads",
        "lock",
        &[("MYRIAD_WORKERS", "1"), ("MYRIAD_STUCK_MS", "1000")],
        Duration::from_secs(60),
    );
    let err = &child.stderr;
    let report = err
        .split("\n\n")
        .find(|r| r.contains("has been held") && r.contains("thread 'waiter'"))
        .unwrap_or_else(|| panic!("no report names the waiter:\n{err}"));
    assert!(report.contains("blocked in futex"), "{report}");
    assert!(report.contains("thread 'holder'"), "{report}");
    assert!(err.contains("the program is stuck"), "{err}");
    let shape = err.split("\n\n").find(|r| r.contains("The lock shape")).unwrap_or_else(|| panic!("{err}"));
    assert!(shape.contains("thread 'waiter'") && shape.contains("thread 'holder'"), "{shape}");
    assert_eq!(child.code, Some(0), "{err}");
}

/// Prints every record on stdout, one line each, with a marker.
struct PrintLogger;

impl log::Log for PrintLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        println!("\nLOG-RECORD {}", record.args().to_string().replace('\n', "\\n"));
    }
    fn flush(&self) {}
}

#[test]
fn with_a_logger_each_report_goes_through_it_once() {
    if child_mode().as_deref() == Some("logger") {
        log::set_boxed_logger(Box::new(PrintLogger)).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
        myriad::thread::Builder::new()
            .name("logged-sleeper".into())
            .spawn(|| std::thread::sleep(Duration::from_millis(2000)))
            .unwrap()
            .join()
            .unwrap();
        // Let the monitor have its last look.
        std::thread::sleep(Duration::from_millis(100));
        return;
    }
    let child = run_child(
        "with_a_logger_each_report_goes_through_it_once",
        "logger",
        &[("MYRIAD_WORKERS", "2")],
        Duration::from_secs(60),
    );
    let records: Vec<&str> = child.stdout.lines().filter_map(|l| l.strip_prefix("LOG-RECORD ")).collect();
    let about: Vec<&&str> = records.iter().filter(|r| r.contains("thread 'logged-sleeper'")).collect();
    // Once at the threshold, once at 1 s (the next would be at 10 s), and
    // once when it ends.
    let held: Vec<&&&str> = about.iter().filter(|r| r.contains("has been held for")).collect();
    assert_eq!(held.len(), 2, "{records:#?}\nstderr: {}", child.stderr);
    assert!(held[0].contains(" ms by "), "{}", held[0]);
    assert!(held[1].contains(" s by "), "{}", held[1]);
    assert_eq!(about.iter().filter(|r| r.contains("gave worker")).count(), 1, "{records:#?}");
    assert_eq!(about.len(), 3, "{records:#?}");
    assert!(about.iter().any(|r| r.contains("blocked in nanosleep") || r.contains("blocked in clock_nanosleep")));
    assert!(!child.stderr.contains("logged-sleeper"), "a report also went to stderr: {}", child.stderr);
    assert_eq!(child.code, Some(0), "{}", child.stderr);
}

#[test]
fn a_panic_hook_installed_before_the_runtime_is_called_for_myriad_threads() {
    if child_mode().as_deref() == Some("hook") {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("CUSTOM-HOOK {}", info.payload_as_str().unwrap_or("?"));
        }));
        let r = myriad::thread::Builder::new().name("panicker".into()).spawn(|| panic!("boom")).unwrap().join();
        assert!(r.is_err());
        return;
    }
    if child_mode().as_deref() == Some("default-hook") {
        let r = myriad::thread::Builder::new().name("panicker".into()).spawn(|| panic!("boom")).unwrap().join();
        assert!(r.is_err());
        return;
    }
    let test = "a_panic_hook_installed_before_the_runtime_is_called_for_myriad_threads";
    let custom = run_child(test, "hook", &[], Duration::from_secs(60));
    assert!(custom.stderr.contains("CUSTOM-HOOK boom"), "{}", custom.stderr);
    assert!(!custom.stderr.contains("panicked at"), "the custom hook decides: {}", custom.stderr);
    assert_eq!(custom.code, Some(0), "{}", custom.stderr);
    // Without one, std's message names the myriad thread.
    let default = run_child(test, "default-hook", &[], Duration::from_secs(60));
    assert!(default.stderr.contains("thread 'panicker' panicked at"), "{}", default.stderr);
    assert_eq!(default.code, Some(0), "{}", default.stderr);
}

#[test]
fn a_dump_signal_given_as_a_number_is_refused_clearly() {
    if child_mode().as_deref() == Some("signal-number") {
        myriad::thread::spawn(|| ()).join().unwrap();
        return;
    }
    let child = run_child(
        "a_dump_signal_given_as_a_number_is_refused_clearly",
        "signal-number",
        &[("MYRIAD_DUMP_SIGNAL", "1")],
        Duration::from_secs(60),
    );
    assert!(child.stderr.contains("ignoring MYRIAD_DUMP_SIGNAL=\"1\": expected a signal name"), "{}", child.stderr);
    assert_eq!(child.code, Some(0), "{}", child.stderr);
}

/// Prints every event whose target is `myriad` on stdout, one line each.
#[cfg(feature = "tracing")]
struct PrintSubscriber;

#[cfg(feature = "tracing")]
impl tracing::Subscriber for PrintSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if event.metadata().target() == "myriad" {
            let mut message = Message(String::new());
            event.record(&mut message);
            println!("\nTRACING-EVENT {}", message.0.replace('\n', "\\n"));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[cfg(feature = "tracing")]
#[test]
fn with_a_tracing_subscriber_and_a_logger_reports_go_only_to_the_subscriber() {
    if child_mode().as_deref() == Some("tracing") {
        tracing::subscriber::set_global_default(PrintSubscriber).unwrap();
        log::set_boxed_logger(Box::new(PrintLogger)).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
        myriad::thread::Builder::new()
            .name("traced-sleeper".into())
            .spawn(|| std::thread::sleep(Duration::from_millis(300)))
            .unwrap()
            .join()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        return;
    }
    let child = run_child(
        "with_a_tracing_subscriber_and_a_logger_reports_go_only_to_the_subscriber",
        "tracing",
        &[("MYRIAD_WORKERS", "2")],
        Duration::from_secs(60),
    );
    let events: Vec<&str> = child.stdout.lines().filter_map(|l| l.strip_prefix("TRACING-EVENT ")).collect();
    assert_eq!(events.iter().filter(|e| e.contains("thread 'traced-sleeper'")).count(), 1, "{}", child.stdout);
    assert!(!child.stdout.contains("LOG-RECORD myriad: worker"), "also logged: {}", child.stdout);
    assert!(!child.stderr.contains("traced-sleeper"), "also on stderr: {}", child.stderr);
    assert_eq!(child.code, Some(0), "{}", child.stderr);
}

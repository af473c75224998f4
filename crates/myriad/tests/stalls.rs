//! The stall monitor: a myriad thread that blocks its worker (std's sleep,
//! a long computation) does not hold up the rest of the program, and is
//! reported by name.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use myriad::thread;

/// Collects log records so the tests can read the monitor's reports.
struct Capture;

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        RECORDS.lock().unwrap().push(record.args().to_string());
    }
    fn flush(&self) {}
}

fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
    });
}

fn reported(needle: &str) -> bool {
    RECORDS.lock().unwrap().iter().any(|r| r.contains(needle))
}

/// Spawns and joins 10,000 threads from this OS thread; returns how long.
fn ten_thousand_threads() -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..10_000u64).map(|i| thread::spawn(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 9_999 * 10_000 / 2);
    start.elapsed()
}

/// Holds the OS thread under the caller for `d` in a system call myriad
/// does not see: `std::thread::sleep`, or, with the `intercept` feature
/// (which turns that sleep into a parking call), a raw `nanosleep`
/// system call, which no libc entry point wraps.
fn hold_the_os_thread(d: Duration) {
    #[cfg(not(feature = "intercept"))]
    std::thread::sleep(d);
    #[cfg(feature = "intercept")]
    {
        let ts = libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long };
        // SAFETY: `nanosleep` reads `ts`, which outlives the call, and
        // writes no remainder (null).
        unsafe {
            libc::syscall(libc::SYS_nanosleep, &ts as *const libc::timespec, std::ptr::null_mut::<libc::timespec>())
        };
    }
}

fn check_stall_is_survived_and_reported(name: &str, stall: impl FnOnce() + Send + 'static) {
    capture_logs();
    let staller = thread::Builder::new().name(name.into()).spawn(stall).unwrap();
    // Let it start and block its worker.
    std::thread::sleep(Duration::from_millis(50));
    ten_thousand_threads();
    assert!(!staller.is_finished(), "the 10,000 threads finished while the worker was still stalled");
    staller.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !reported(&format!("thread '{name}'")) {
        assert!(Instant::now() < deadline, "no report names {name}: {:?}", RECORDS.lock().unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(myriad::rt::metrics().stalls() >= 1);
}

#[test]
fn a_sleep_myriad_cannot_see_does_not_hold_up_others() {
    check_stall_is_survived_and_reported("sleepy", || hold_the_os_thread(Duration::from_secs(2)));
}

#[test]
fn a_long_computation_does_not_hold_up_others() {
    check_stall_is_survived_and_reported("cruncher", || {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_secs(1) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    });
}

#[test]
fn with_every_worker_stalled_a_spare_worker_starts() {
    if std::env::var("MYRIAD_TEST_CHILD").is_ok() {
        let stallers: Vec<_> = (0..2).map(|_| thread::spawn(|| hold_the_os_thread(Duration::from_secs(2)))).collect();
        std::thread::sleep(Duration::from_millis(50));
        ten_thousand_threads();
        let still_stalled = stallers.iter().filter(|h| !h.is_finished()).count();
        println!("CHILD-STALLED {still_stalled} workers={}", myriad::rt::metrics().workers.len());
        for h in stallers {
            h.join().unwrap();
        }
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["with_every_worker_stalled_a_spare_worker_starts", "--exact", "--nocapture"])
        .env("MYRIAD_TEST_CHILD", "1")
        .env("MYRIAD_WORKERS", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.contains("CHILD-STALLED")).expect("a result line");
    // With one configured worker, both stallers cannot have run at once
    // unless a spare started; and the 10,000 threads ran during the stall.
    assert!(line.contains("CHILD-STALLED 2"), "{line}");
    assert!(!line.contains("workers=1"), "{line}");
}

#[test]
fn a_thread_spawned_before_a_long_computation_runs_during_it() {
    // The child waits in its worker's `next` slot, which other workers
    // may take from only once the monitor finds the worker stalled.
    let ran_during = thread::spawn(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let child = thread::spawn(move || flag.store(true, Ordering::SeqCst));
        let start = Instant::now();
        while !ran.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
            std::hint::spin_loop();
        }
        let ran_during = ran.load(Ordering::SeqCst);
        child.join().unwrap();
        ran_during
    })
    .join()
    .unwrap();
    assert!(ran_during, "the child waited for its spawner's 5 s computation to end");
}

//! `myriad::blocking`: calls that block run on offload OS threads while the
//! caller parks; many proceed at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use myriad::{blocking, thread};

#[test]
fn returns_the_value_and_may_borrow() {
    let data = [1u32, 2, 3];
    let sum = thread::scope(|s| s.spawn(|| blocking(|| data.iter().sum::<u32>())).join().unwrap());
    assert_eq!(sum, 6);
    // On an OS thread it simply runs the closure.
    assert_eq!(
        blocking(|| std::thread::current().name().map(str::to_owned)),
        std::thread::current().name().map(str::to_owned)
    );
}

#[test]
fn runs_off_the_worker() {
    let (caller, runner) = thread::spawn(|| {
        let caller = std::thread::current().name().map(str::to_owned);
        (caller, blocking(|| std::thread::current().name().map(str::to_owned)))
    })
    .join()
    .unwrap();
    assert!(caller.unwrap().starts_with("myriad-worker"));
    assert_eq!(runner.as_deref(), Some("myriad-blocking"));
}

#[test]
fn a_panic_resumes_in_the_caller() {
    let r = thread::spawn(|| blocking(|| -> u32 { panic!("inside blocking") })).join();
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"inside blocking"));
    // The pool survived.
    assert_eq!(thread::spawn(|| blocking(|| 7)).join().unwrap(), 7);
}

#[test]
fn a_thousand_sleeping_calls_run_concurrently() {
    let running = std::sync::Arc::new(AtomicUsize::new(0));
    let peak = std::sync::Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..1000)
        .map(|i| {
            let (running, peak) = (running.clone(), peak.clone());
            thread::spawn(move || {
                blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
        })
        .collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 999 * 1000 / 2);
    // Far more than a fixed handful of backup threads ran at once...
    assert!(peak.load(Ordering::SeqCst) >= 100, "peak concurrency {}", peak.load(Ordering::SeqCst));
    // ...so the whole took well under ten rounds of 100 ms.
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
}

/// The pool cannot start its first OS thread (here: `RLIMIT_AS` leaves no
/// room for a thread's stack): the call runs on the caller's worker and
/// returns its result. It used to panic after queueing a job that borrowed
/// the caller's dead frame, which the next pool thread then ran (issue 13,
/// defect 4: SIGSEGV).
#[test]
fn a_blocking_call_when_no_os_thread_can_start_runs_anyway_and_nothing_is_left_queued() {
    if std::env::var("MYRIAD_TEST_CHILD").as_deref() == Ok("no-pool-thread") {
        return no_pool_thread();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_blocking_call_when_no_os_thread_can_start_runs_anyway_and_nothing_is_left_queued",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MYRIAD_TEST_CHILD", "no-pool-thread")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.contains("both calls returned"), "{}\n{stdout}\n{stderr}", out.status);
}

fn no_pool_thread() {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Start the runtime (and let its workers touch what they need).
    thread::spawn(|| thread::sleep(Duration::from_millis(10))).join().unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let vm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with valid structs.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut old), 0);
        let tight = libc::rlimit { rlim_cur: (vm_kib + 2048) * 1024, rlim_max: old.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &tight), 0);
    }
    let first = thread::spawn(|| {
        let borrowed = [7u64; 16];
        myriad::blocking(|| borrowed.iter().sum::<u64>())
    })
    .join();
    // SAFETY: as above.
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &old), 0) };
    assert_eq!(first.unwrap(), 112);
    // Another thread reuses the stack; a job left queued would run now,
    // against it.
    let seen = AtomicU64::new(0);
    let second = thread::scope(|s| {
        s.spawn(|| {
            let scribble = std::hint::black_box([0x5au8; 32 * 1024]);
            myriad::blocking(|| seen.fetch_add(u64::from(scribble[100]), Ordering::SeqCst));
            myriad::blocking(|| 3)
        })
        .join()
        .unwrap()
    });
    assert_eq!(second, 3);
    assert_eq!(seen.load(Ordering::SeqCst), 0x5a);
    println!("both calls returned");
}

/// Back-to-back calls from several threads at once, each borrowing from its
/// caller: they meet the pool in every state (a spinning thread's hand-off
/// slot, the queue, a sleeping thread, a new thread) and every result comes
/// back to its own caller.
#[test]
fn back_to_back_calls_from_many_threads_each_get_their_own_result() {
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            thread::spawn(move || {
                let mut sum = 0u64;
                for i in 0..2_000u64 {
                    let mine = [t, i];
                    sum += blocking(|| mine[0] * 1_000_000 + mine[1]);
                    if i % 500 == 0 {
                        // Let the spinner give up now and then.
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                sum
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let t = t as u64;
        assert_eq!(h.join().unwrap(), 2_000 * t * 1_000_000 + 1999 * 2000 / 2);
    }
}

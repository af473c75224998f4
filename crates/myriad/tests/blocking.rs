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

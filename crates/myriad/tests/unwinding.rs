//! A thread unwinding from a panic keeps its worker until it is done:
//! std's panic count is per OS thread, so if another myriad thread ran on
//! the same worker meanwhile, it would see `panicking() == true` (and, for
//! instance, poison every std `Mutex` whose guard it drops). Blocking inside
//! `Drop` during the unwind must still work: timers fire and wake-ups from
//! other threads arrive.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use myriad::thread;

struct BlockOnDrop {
    released: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
}

impl Drop for BlockOnDrop {
    fn drop(&mut self) {
        assert!(thread::panicking());
        thread::sleep(Duration::from_millis(2));
        // Woken by an OS thread while unwinding.
        while !self.released.load(Ordering::Acquire) {
            thread::park_timeout(Duration::from_millis(50));
        }
        assert!(thread::panicking());
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn blocking_in_drop_while_unwinding_keeps_the_worker_and_still_wakes() {
    let released = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let caught = Arc::new(AtomicUsize::new(0));
    let mut unwinding = Vec::new();
    let mut catching = Vec::new();
    for i in 0..100 {
        let guard = BlockOnDrop { released: released.clone(), dropped: dropped.clone() };
        unwinding.push(thread::spawn(move || {
            let _guard = guard;
            if i < 1000 {
                panic!("unwinding thread {i}");
            }
        }));
        let caught = caught.clone();
        catching.push(thread::spawn(move || {
            for _ in 0..5 {
                assert!(!thread::panicking());
                assert!(std::panic::catch_unwind(|| panic!("caught")).is_err());
                caught.fetch_add(1, Ordering::SeqCst);
                thread::yield_now();
                assert!(!thread::panicking(), "another thread's unwinding showed through");
                thread::sleep(Duration::from_micros(500));
            }
        }));
    }
    let unparker = {
        let released = released.clone();
        let threads: Vec<_> = unwinding.iter().map(|h| h.thread().clone()).collect();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            released.store(true, Ordering::Release);
            for t in threads {
                t.unpark();
            }
        })
    };
    for h in unwinding {
        assert!(h.join().is_err());
    }
    for h in catching {
        h.join().unwrap();
    }
    unparker.join().unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 100);
    assert_eq!(caught.load(Ordering::SeqCst), 500);
}

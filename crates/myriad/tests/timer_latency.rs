//! A due timer is not kept waiting by a thread that keeps its worker with
//! operations that never block (`rt/coop.rs`): every few operations the
//! running thread yields if a timer of its worker is due.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::sync::Mutex;
use myriad::thread;

#[test]
fn a_due_timer_interrupts_a_turn_of_non_blocking_operations() {
    // One worker: the sleeper and the busy thread share it.
    myriad::rt::Builder::new().workers(1).start().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let seen = thread::spawn({
        let done = done.clone();
        move || {
            let sleeper = thread::spawn({
                let done = done.clone();
                move || {
                    thread::sleep(Duration::from_millis(1));
                    // How many operations the busy thread finished before
                    // this one ran again.
                    done.load(Ordering::SeqCst)
                }
            });
            // Let the sleeper start and park on its timer.
            thread::yield_now();
            let busy = thread::spawn(move || {
                // Keep the worker until the sleeper's timer is due...
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(3) {
                    std::hint::spin_loop();
                }
                // ...then make operations that never block: 128 would
                // spend the whole budget.
                let lock = Mutex::new(());
                for _ in 0..120 {
                    drop(lock.try_lock().unwrap());
                    done.fetch_add(1, Ordering::SeqCst);
                }
            });
            let seen = sleeper.join().unwrap();
            busy.join().unwrap();
            seen
        }
    })
    .join()
    .unwrap();
    assert!(seen <= 16, "the sleeper ran after {seen} non-blocking operations with its timer due");
}

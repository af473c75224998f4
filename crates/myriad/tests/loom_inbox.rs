//! loom model checks of the worker inbox (`rt/worker.rs`): a thread woken
//! from another OS thread is posted to its worker's inbox (`post`: push
//! under the lock, `has_mail` SeqCst, fence, then wake the worker if its
//! `sleeping` announcement is up), while the worker, with nothing to run,
//! announces sleep (`sleeping`, `idle_workers`), looks once more
//! (`work_arrived`) and sleeps in epoll until notified. No post may be left
//! in the inbox of a worker asleep with no notification coming: loom
//! reports that as a deadlock. Also the `wait_inline` variant (a thread
//! blocking while it unwinds keeps its worker and polls for its wake-up).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release -p myriad --test loom_inbox`.
//! Without `--cfg loom` this file compiles to nothing.
#![cfg(loom)]

mod loom_models;

use std::collections::VecDeque;

use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use loom_models::seqcst_store_load;

/// The worker's `sleeping.store(value, SeqCst)`, modelled as a swap.
///
/// A poster's `sleeping.swap(false)` that read the worker's previous
/// `false` sits, by C11's read-modify-write atomicity, right after that
/// store in the modification order, so the worker's next `store(true)`
/// comes after it. loom keeps the modification order as a partial order and
/// leaves the two unordered; a later `sleeping.load` could then return the
/// swap's `false` although the worker's `true` is visible — a lost wake-up
/// that C11 (and x86) exclude. A swap is ordered after every earlier store
/// in loom too, and for C11 it adds nothing here: the store already follows
/// the swap.
fn announce(sleeping: &AtomicBool, value: bool) {
    sleeping.swap(value, Ordering::SeqCst);
}

/// `WorkerShared`'s inbox part, and its poller as an eventfd counter.
struct Worker {
    inbox: Mutex<Vec<u32>>,
    has_mail: AtomicBool,
    sleeping: AtomicBool,
    idle_workers: AtomicUsize,
    eventfd: Mutex<u64>,
    readable: Condvar,
}

impl Worker {
    fn new() -> Worker {
        Worker {
            inbox: Mutex::new(Vec::new()),
            has_mail: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            idle_workers: AtomicUsize::new(0),
            eventfd: Mutex::new(0),
            readable: Condvar::new(),
        }
    }

    /// `WorkerShared::post`.
    fn post(&self, task: u32) {
        self.inbox.lock().unwrap().push(task);
        self.has_mail.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.wake_if_sleeping();
    }

    /// `WorkerShared::wake_if_sleeping`.
    fn wake_if_sleeping(&self) -> bool {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            // `Poller::notify`: an eventfd write.
            *self.eventfd.lock().unwrap() += 1;
            self.readable.notify_one();
            return true;
        }
        false
    }

    /// `WorkerShared::take_mail`.
    fn take_mail(&self, into: &mut VecDeque<u32>) {
        if self.has_mail.load(Ordering::Acquire) {
            self.has_mail.store(false, Ordering::SeqCst);
            let mut inbox = self.inbox.lock().unwrap();
            into.extend(inbox.drain(..));
        }
    }

    /// `poll(None)` with no IO and no timers: sleeps until the eventfd is
    /// readable, then reads it (resets it to 0).
    fn poll(&self) {
        let mut count = self.eventfd.lock().unwrap();
        while *count == 0 {
            count = self.readable.wait(count).unwrap();
        }
        *count = 0;
    }

    /// `Local::sleep` after its spin (the spin only returns early).
    fn sleep(&self) {
        announce(&self.sleeping, true); // MODEL: store as swap
        self.idle_workers.fetch_add(1, Ordering::SeqCst);
        seqcst_store_load(); // MODEL: SeqCst store->load
                             // `work_arrived`: the inbox part (the injector and stealable
                             // queues are other threads' concern and are empty here).
        if !self.has_mail.load(Ordering::SeqCst) {
            self.poll();
        }
        announce(&self.sleeping, false); // MODEL: store as swap
        self.idle_workers.fetch_sub(1, Ordering::SeqCst);
    }

    /// The scheduler loop with nothing else to do: look at the inbox, run
    /// what arrived, else sleep; until `expected` tasks have arrived.
    fn run_until(&self, expected: usize) -> Vec<u32> {
        let mut ready = VecDeque::new();
        let mut ran = Vec::new();
        while ran.len() < expected {
            self.take_mail(&mut ready);
            if ready.is_empty() {
                self.sleep();
            }
            ran.extend(ready.drain(..));
        }
        ran
    }

    /// `Local::wait_inline` for `task`: keep the worker, poll until it is
    /// posted.
    fn wait_inline(&self, task: u32) {
        let mut ready = VecDeque::new();
        loop {
            self.take_mail(&mut ready);
            if let Some(at) = ready.iter().position(|&t| t == task) {
                ready.remove(at);
                return;
            }
            announce(&self.sleeping, true); // MODEL: store as swap
            seqcst_store_load(); // MODEL: SeqCst store->load
            if !self.has_mail.load(Ordering::SeqCst) {
                self.poll();
            }
            announce(&self.sleeping, false); // MODEL: store as swap
        }
    }
}

#[test]
fn a_post_racing_the_sleep_announcement_wakes_the_worker() {
    loom::model(|| {
        let worker = Arc::new(Worker::new());
        let poster = {
            let worker = worker.clone();
            thread::spawn(move || worker.post(1))
        };
        assert_eq!(worker.run_until(1), vec![1]);
        poster.join().unwrap();
        assert!(worker.inbox.lock().unwrap().is_empty());
    });
}

#[test]
fn two_posts_from_two_threads_both_arrive() {
    loom_models::bounded_model(|| {
        let worker = Arc::new(Worker::new());
        let posters: Vec<_> = (1..=2)
            .map(|t| {
                let worker = worker.clone();
                thread::spawn(move || worker.post(t))
            })
            .collect();
        let mut ran = worker.run_until(2);
        ran.sort_unstable();
        assert_eq!(ran, vec![1, 2]);
        for p in posters {
            p.join().unwrap();
        }
    });
}

#[test]
fn a_thread_waiting_inline_while_unwinding_gets_its_wake_up() {
    loom::model(|| {
        let worker = Arc::new(Worker::new());
        let poster = {
            let worker = worker.clone();
            thread::spawn(move || worker.post(9))
        };
        worker.wait_inline(9);
        poster.join().unwrap();
    });
}

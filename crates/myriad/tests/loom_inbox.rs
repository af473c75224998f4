//! loom model checks of a worker's inbox (`rt/inbox.rs`, compiled here as
//! it is, over loom's atomics and mutex): a thread woken from another OS
//! thread is posted to its worker's inbox, which notifies the worker if
//! its sleep announcement is up, while the worker, with nothing to run,
//! announces sleep, looks once more and sleeps in epoll until notified —
//! as `Local::sleep` and `Local::wait_inline` (`rt/worker.rs`) drive it.
//! No post may be left in the inbox of a worker asleep with no
//! notification coming: loom reports that as a deadlock. Also the
//! `wait_inline` variant (a thread blocking while it unwinds keeps its
//! worker and polls for its wake-up).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release -p myriad --test loom_inbox`.
//! Without `--cfg loom` this file compiles to nothing.
#![cfg(loom)]

mod loom_harness;

/// The runtime's sync facade, which hands out loom's types here; the
/// runtime's files name it `crate::rt::sync`.
#[path = "../src/rt/sync.rs"]
#[allow(dead_code, unused_imports)]
mod sync;
mod rt {
    pub(crate) use super::sync;
}

/// The inbox, as compiled into the runtime.
#[path = "../src/rt/inbox.rs"]
#[allow(dead_code)]
mod inbox;

use std::collections::VecDeque;

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use inbox::Inbox;

/// A worker: its inbox, and its poller as an eventfd counter.
struct Worker {
    inbox: Inbox<u32>,
    eventfd: Mutex<u64>,
    readable: Condvar,
}

impl Worker {
    fn new() -> Worker {
        Worker { inbox: Inbox::new(), eventfd: Mutex::new(0), readable: Condvar::new() }
    }

    /// `WorkerShared::post`.
    fn post(&self, task: u32) {
        if self.inbox.post(task) {
            self.notify();
        }
    }

    /// `Poller::notify`: an eventfd write.
    fn notify(&self) {
        *self.eventfd.lock().unwrap() += 1;
        self.readable.notify_one();
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

    /// `Local::sleep` after its spin (the spin only returns early), and
    /// `Local::wait_inline`'s sleep: announce, look once more (here only
    /// the inbox: the injector and stealable queues are other threads'
    /// concern and empty), sleep unless something arrived.
    fn sleep(&self) {
        let asleep = self.inbox.announce_sleep();
        if !self.inbox.has_mail() {
            self.poll();
        }
        drop(asleep);
    }

    /// The scheduler loop with nothing else to do: look at the inbox, run
    /// what arrived, else sleep; until `expected` tasks have arrived.
    fn run_until(&self, expected: usize) -> Vec<u32> {
        let mut ready = VecDeque::new();
        let mut ran = Vec::new();
        while ran.len() < expected {
            self.inbox.take_mail(&mut ready);
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
            self.inbox.take_mail(&mut ready);
            if let Some(at) = ready.iter().position(|&t| t == task) {
                ready.remove(at);
                return;
            }
            self.sleep();
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
        let mut left = Vec::new();
        worker.inbox.take_mail(&mut left);
        assert!(left.is_empty());
    });
}

#[test]
fn two_posts_from_two_threads_both_arrive() {
    loom_harness::bounded_model(|| {
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

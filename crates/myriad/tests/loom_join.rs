//! loom model checks of the join packet (`thread/join.rs`): the thread
//! stores its result and swaps in `DONE`; a joiner publishes its `Wake`
//! and moves `RUNNING` → `WAITING`, or finds `DONE`. No wake-up is lost, the
//! result and `Wake` cells are never accessed concurrently (loom's
//! `UnsafeCell` checks that), and the async path (`poll_finished` and the
//! `async_waker` slot) wakes a poller that saw the thread running.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release -p myriad --test loom_join`.
//! Without `--cfg loom` this file compiles to nothing.
#![cfg(loom)]

mod loom_models;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use loom_models::{WaitState, Woken};

const RUNNING: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

/// `rt::wait::Wake`: the right to end one episode of one waiter.
struct Wake {
    wait: Arc<WaitState>,
    epoch: u64,
}

impl Wake {
    fn wake(&self) -> bool {
        self.wait.end(self.epoch, Woken::Woken)
    }
}

/// `thread::join::Packet`, with the async waker as a wake counter.
struct Packet {
    state: AtomicU8,
    result: UnsafeCell<Option<u64>>,
    waiter: UnsafeCell<Option<Wake>>,
    async_waker: Mutex<Option<Arc<AtomicUsize>>>,
}

// SAFETY (test model): as `thread::join::Packet`; loom checks the claim.
unsafe impl Sync for Packet {}
// SAFETY (test model): as above.
unsafe impl Send for Packet {}

impl Packet {
    fn new() -> Packet {
        Packet {
            state: AtomicU8::new(RUNNING),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
            async_waker: Mutex::new(None),
        }
    }

    /// `Packet::finish`.
    fn finish(&self, result: u64) {
        // SAFETY (test model): only the thread writes `result`, before DONE.
        self.result.with_mut(|r| unsafe { *r = Some(result) });
        if self.state.swap(DONE, Ordering::AcqRel) == WAITING {
            // SAFETY (test model): the joiner wrote `waiter` before WAITING.
            if let Some(wake) = self.waiter.with_mut(|w| unsafe { (*w).take() }) {
                wake.wake();
            }
        }
        let waker = self.async_waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    /// `Packet::poll_finished`.
    fn poll_finished(&self, waker: &Arc<AtomicUsize>) -> bool {
        if self.is_finished() {
            return true;
        }
        let mut slot = self.async_waker.lock().unwrap();
        *slot = Some(waker.clone());
        drop(slot);
        self.is_finished()
    }

    /// `Packet::join` through `wait::block` (`block_task`: begin, register,
    /// suspend until the episode ends).
    fn join(&self, wait: &Arc<WaitState>) -> u64 {
        if !self.is_finished() {
            let epoch = wait.begin(false);
            // register:
            // SAFETY (test model): the thread reads `waiter` only after WAITING.
            self.waiter.with_mut(|w| unsafe { *w = Some(Wake { wait: wait.clone(), epoch }) });
            if self.state.compare_exchange(RUNNING, WAITING, Ordering::AcqRel, Ordering::Acquire).is_err() {
                // SAFETY (test model): finished meanwhile; the thread will not read it.
                if let Some(wake) = self.waiter.with_mut(|w| unsafe { (*w).take() }) {
                    wake.wake();
                }
            }
            // suspend_blocked: resumed once the episode is over.
            wait.wait_until_ended(epoch);
        }
        // SAFETY (test model): DONE was observed, or the wake-up chain
        // orders the thread's write before this read; loom checks it.
        self.result.with_mut(|r| unsafe { (*r).take() }).expect("a finished thread left its result")
    }
}

#[test]
fn join_racing_the_threads_end_gets_the_result() {
    loom::model(|| {
        let packet = Arc::new(Packet::new());
        let thread = {
            let packet = packet.clone();
            thread::spawn(move || packet.finish(42))
        };
        let wait = Arc::new(WaitState::new());
        assert_eq!(packet.join(&wait), 42);
        thread.join().unwrap();
        assert!(packet.is_finished());
    });
}

#[test]
fn a_poller_that_saw_the_thread_running_is_woken() {
    loom::model(|| {
        let packet = Arc::new(Packet::new());
        let thread = {
            let packet = packet.clone();
            thread::spawn(move || packet.finish(7))
        };
        let waker = Arc::new(AtomicUsize::new(0));
        let ready = packet.poll_finished(&waker);
        thread.join().unwrap();
        // Either the poll saw DONE, or the thread took the waker and woke it.
        assert!(ready || waker.load(Ordering::SeqCst) == 1, "a poll returned Pending and was never woken");
        let wait = Arc::new(WaitState::new());
        assert_eq!(packet.join(&wait), 7);
    });
}

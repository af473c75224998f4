//! loom model checks of the join protocol: the state word of
//! `rt/task_state.rs` — this file compiles the production source over
//! loom's atomics, with the real wait-state word (`rt/wait/state.rs`) for
//! a blocked joiner — driven as `rt/task.rs` drives it (`TaskRef::finish`,
//! `wait_finished`, `poll_finished`, `handle_gone`, reference drops).
//!
//! Checked in every interleaving: a joiner gets the result and is never
//! left asleep; a future that saw the thread running is woken; the packet
//! is released exactly once and the allocation freed exactly once, after
//! every access (each access asserts the allocation is still there, and
//! loom's `UnsafeCell` reports concurrent access to the result or the
//! joiner slot).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release -p myriad --test loom_join`.
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

/// The production state machine, over loom's atomics.
#[path = "../src/rt/task_state.rs"]
mod task_state;

/// The wait-state word a blocked joiner waits on (`Wake::wake` of a
/// `block_once` wait ends it with `end_once`).
#[path = "../src/rt/wait/state.rs"]
#[allow(dead_code)]
mod state;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use state::WaitState;
use task_state::{HandleGone, TaskState};

/// Who waits in the joiner slot (`rt::task::Joiner`).
enum Joiner {
    /// A blocked thread's `block_once` Wake.
    Thread(Arc<WaitState>, u64),
    /// A future's waker: a wake counter.
    Future(Arc<AtomicUsize>),
}

impl Joiner {
    fn wake(self) {
        match self {
            Joiner::Thread(wait, epoch) => wait.end_once(epoch),
            Joiner::Future(count) => {
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// A thread's allocation (`TaskCell`): state, joiner slot, packet. Loom
/// threads share it through a loom `Arc` that stands for the memory
/// itself; "freed" is a flag every access checks.
struct Cell {
    state: TaskState,
    joiner: UnsafeCell<Option<Joiner>>,
    result: UnsafeCell<Option<u64>>,
    released: AtomicUsize,
    freed: AtomicBool,
}

// SAFETY (test model): as `rt::task::Task`; loom checks the claim.
unsafe impl Sync for Cell {}
// SAFETY (test model): as above.
unsafe impl Send for Cell {}

impl Cell {
    fn new(refs: usize) -> Arc<Cell> {
        Arc::new(Cell {
            state: TaskState::new(refs),
            joiner: UnsafeCell::new(None),
            result: UnsafeCell::new(None),
            released: AtomicUsize::new(0),
            freed: AtomicBool::new(false),
        })
    }

    fn alive(&self) {
        assert!(!self.freed.load(Ordering::SeqCst), "use after free");
    }

    fn free(&self) {
        assert!(!self.freed.swap(true, Ordering::SeqCst), "freed twice");
        // Freeing writes the memory: loom reports any access to the cell
        // that does not happen before it (a missing Acquire by the last
        // reference, say).
        self.result.with_mut(|_| ());
        self.joiner.with_mut(|_| ());
    }

    fn release_packet(&self) {
        self.alive();
        // SAFETY (test model): released once, alone; loom checks it.
        self.result.with_mut(|r| unsafe { *r = None });
        self.released.fetch_add(1, Ordering::SeqCst);
    }

    fn drop_ref(&self) {
        if self.state.drop_ref() {
            self.free();
        }
    }

    /// The thread: writes its result and runs `Task::end_on_thread`; its
    /// scheduler then runs `TaskRef::finish`.
    fn run_and_finish(&self, result: u64) {
        self.alive();
        // SAFETY (test model): the thread writes before DONE.
        self.result.with_mut(|r| unsafe { *r = Some(result) });
        if let Some(ended) = self.state.end_on_thread() {
            if ended.wake_joiner {
                self.take_and_wake_joiner();
            }
            if ended.release_packet {
                self.release_packet();
            }
        }
        // The scheduler, after the coroutine returned.
        self.alive();
        let (wake_joiner, last) = self.state.finish();
        if wake_joiner {
            self.take_and_wake_joiner();
        }
        if last {
            self.free();
        }
    }

    fn take_and_wake_joiner(&self) {
        self.alive();
        // SAFETY (test model): DONE over JOINER hands us the slot.
        if let Some(joiner) = self.joiner.with_mut(|j| unsafe { (*j).take() }) {
            joiner.wake();
        }
    }

    /// `TaskRef::wait_finished`'s registration: returns the episode to
    /// wait for, if the thread had not finished. `os_thread`: the joiner
    /// may give up (`keep`).
    fn register_joiner(&self, wait: &Arc<WaitState>, os_thread: bool) -> Option<u64> {
        if self.state.is_done() {
            return None;
        }
        let epoch = wait.begin(false);
        self.alive();
        // SAFETY (test model): the slot is ours while JOINER is clear.
        self.joiner.with_mut(|j| unsafe { *j = Some(Joiner::Thread(wait.clone(), epoch)) });
        if self.state.set_joiner(os_thread).is_err() {
            // SAFETY (test model): still ours.
            if let Some(joiner) = self.joiner.with_mut(|j| unsafe { (*j).take() }) {
                joiner.wake();
            }
        }
        Some(epoch)
    }

    /// `TaskRef::wait_finished`, then the result, as `JoinInner::join`.
    fn join(&self, wait: &Arc<WaitState>) -> u64 {
        if let Some(epoch) = self.register_joiner(wait, false) {
            loom_harness::spin_until(|| !wait.is_current(epoch));
        }
        self.alive();
        // SAFETY (test model): DONE seen with Acquire.
        self.result.with_mut(|r| unsafe { (*r).take() }).expect("a finished thread left its result")
    }

    /// `TaskRef::poll_finished`.
    fn poll(&self, waker: &Arc<AtomicUsize>) -> bool {
        if self.state.is_done() {
            return true;
        }
        if self.state.has_joiner() && self.state.unset_joiner().is_err() {
            return true;
        }
        self.alive();
        // SAFETY (test model): the slot is ours while JOINER is clear.
        self.joiner.with_mut(|j| unsafe { *j = Some(Joiner::Future(waker.clone())) });
        if self.state.set_joiner(true).is_err() {
            // SAFETY (test model): still ours.
            drop(self.joiner.with_mut(|j| unsafe { (*j).take() }));
            return true;
        }
        false
    }

    /// `TaskRef::handle_gone`.
    fn handle_gone(&self) {
        match self.state.handle_gone() {
            HandleGone::ReleasePacket => {
                self.release_packet();
                if self.state.drop_ref_if_unique() {
                    self.free();
                }
            }
            HandleGone::Detached => {}
        }
    }
}

/// Runs the thread (its body and end) on a loom thread of its own.
fn run_thread(cell: &Arc<Cell>, result: u64) -> thread::JoinHandle<()> {
    let cell = cell.clone();
    thread::spawn(move || cell.run_and_finish(result))
}

/// Drops one reference from a loom thread of its own (a `Thread` clone).
fn drop_ref_elsewhere(cell: &Arc<Cell>) -> thread::JoinHandle<()> {
    let cell = cell.clone();
    thread::spawn(move || cell.drop_ref())
}

fn assert_released_once_and_freed(cell: &Cell) {
    assert_eq!(cell.released.load(Ordering::SeqCst), 1);
    assert!(cell.freed.load(Ordering::SeqCst));
}

#[test]
fn join_racing_the_threads_end_gets_the_result() {
    loom::model(|| {
        let cell = Cell::new(2);
        let thread = run_thread(&cell, 42);
        let wait = Arc::new(WaitState::new());
        assert_eq!(cell.join(&wait), 42);
        cell.handle_gone();
        thread.join().unwrap();
        assert_released_once_and_freed(&cell);
    });
}

#[test]
fn a_detached_thread_is_released_and_freed_once() {
    loom::model(|| {
        let cell = Cell::new(3);
        let thread = run_thread(&cell, 1);
        // A `Thread` handle dropped concurrently with the join handle.
        let other = drop_ref_elsewhere(&cell);
        cell.handle_gone();
        thread.join().unwrap();
        other.join().unwrap();
        assert_released_once_and_freed(&cell);
    });
}

#[test]
fn a_future_that_saw_the_thread_running_is_woken() {
    loom::model(|| {
        let cell = Cell::new(2);
        let thread = run_thread(&cell, 7);
        let first = Arc::new(AtomicUsize::new(0));
        let second = Arc::new(AtomicUsize::new(0));
        // Polled twice with different wakers: the second replaces the first.
        let ready = cell.poll(&first) || cell.poll(&second);
        thread.join().unwrap();
        if !ready {
            assert_eq!(second.load(Ordering::SeqCst), 1, "a pending future was not woken");
        }
        cell.handle_gone();
        assert_released_once_and_freed(&cell);
    });
}

#[test]
fn a_future_dropped_while_waiting_races_the_threads_end_safely() {
    loom::model(|| {
        let cell = Cell::new(2);
        let thread = run_thread(&cell, 7);
        let waker = Arc::new(AtomicUsize::new(0));
        cell.poll(&waker);
        cell.handle_gone();
        thread.join().unwrap();
        assert_released_once_and_freed(&cell);
    });
}

#[test]
fn a_joined_handle_and_a_thread_clone_dropped_at_once_free_once() {
    loom_harness::bounded_model(|| {
        let cell = Cell::new(3);
        let thread = run_thread(&cell, 5);
        let clone = drop_ref_elsewhere(&cell);
        let wait = Arc::new(WaitState::new());
        assert_eq!(cell.join(&wait), 5);
        cell.handle_gone();
        thread.join().unwrap();
        clone.join().unwrap();
        assert_released_once_and_freed(&cell);
    });
}

#[test]
fn an_os_thread_giving_up_its_join_races_the_threads_end_safely() {
    // The deadlock detector can make the main thread panic out of a join:
    // it stops waiting and drops its handle while the thread may be ending.
    loom::model(|| {
        let cell = Cell::new(2);
        let thread = run_thread(&cell, 9);
        let wait = Arc::new(WaitState::new());
        cell.register_joiner(&wait, true);
        cell.handle_gone();
        thread.join().unwrap();
        assert_released_once_and_freed(&cell);
    });
}

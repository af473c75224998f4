//! loom model checks of the wait-state handshake (`rt/wait.rs`): exactly
//! one of two racing wakers ends an episode, a stale `Wake` never ends a
//! later episode, and `park`/`unpark`'s token with its Dekker handshake
//! never loses a wake-up nor schedules a thread twice.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release -p myriad --test loom_wait`.
//! Without `--cfg loom` this file compiles to nothing.
#![cfg(loom)]

mod loom_models;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use loom_models::{seqcst_store_load, WaitState, Woken};

#[test]
fn two_racing_wakers_exactly_one_wins() {
    loom::model(|| {
        let wait = Arc::new(WaitState::new());
        let epoch = wait.begin(false);
        let waker = {
            let wait = wait.clone();
            thread::spawn(move || wait.end(epoch, Woken::Woken))
        };
        let timer = {
            let wait = wait.clone();
            thread::spawn(move || wait.end(epoch, Woken::TimedOut))
        };
        let woke = waker.join().unwrap();
        let timed_out = timer.join().unwrap();
        assert!(woke ^ timed_out, "exactly one must win: woke={woke} timed_out={timed_out}");
        assert!(!wait.is_current(epoch));
        let expected = if woke { Woken::Woken } else { Woken::TimedOut };
        assert_eq!(wait.outcome(), expected);
    });
}

#[test]
fn a_stale_wake_never_ends_a_later_episode() {
    loom::model(|| {
        let wait = Arc::new(WaitState::new());
        let first = wait.begin(false);
        // A waker that keeps its `Wake` for the first episode and uses it
        // late (a timer, or a wait queue entry left behind).
        let stale = {
            let wait = wait.clone();
            thread::spawn(move || wait.end(first, Woken::Woken))
        };
        // The first episode ends by the thread's own deadline (or the
        // stale waker got there first); the thread then waits again.
        let timed_out = wait.end(first, Woken::TimedOut);
        wait.wait_until_ended(first);
        let second = wait.begin(false);
        let current = {
            let wait = wait.clone();
            thread::spawn(move || wait.end(second, Woken::Woken))
        };
        let stale_won = stale.join().unwrap();
        let current_won = current.join().unwrap();
        assert!(timed_out ^ stale_won, "the first episode ends exactly once");
        assert!(current_won, "only the current waker can end the second episode");
        assert_eq!(wait.0.load(Ordering::Acquire) >> 2, second);
        assert_eq!(wait.outcome(), Woken::Woken);
    });
}

/// The parts of a `Task` that park/unpark touch, with "queue the task on
/// its worker" as a counter and "the worker resumes it" as a wait on it.
struct Task {
    token: AtomicBool,
    wait: WaitState,
    scheduled: Mutex<usize>,
    /// How many of the schedulings a suspension has consumed.
    resumes: Mutex<usize>,
    resumed: Condvar,
}

impl Task {
    fn new() -> Task {
        Task {
            token: AtomicBool::new(false),
            wait: WaitState::new(),
            scheduled: Mutex::new(0),
            resumes: Mutex::new(0),
            resumed: Condvar::new(),
        }
    }

    /// `worker::schedule(task.take_blocked_ref())`.
    fn schedule(&self) {
        *self.scheduled.lock().unwrap() += 1;
        self.resumed.notify_one();
    }

    /// `worker::suspend_blocked`: the task runs again once scheduled.
    fn suspend_blocked(&self) {
        let mut scheduled = self.scheduled.lock().unwrap();
        let mut resumes = self.resumes.lock().unwrap();
        while *scheduled == *resumes {
            drop(resumes);
            scheduled = self.resumed.wait(scheduled).unwrap();
            resumes = self.resumes.lock().unwrap();
        }
        *resumes += 1;
    }

    /// `wait::park_task` without a deadline; returns whether it suspended.
    fn park(&self) -> bool {
        if self.token.load(Ordering::Relaxed) && self.token.swap(false, Ordering::Acquire) {
            return false;
        }
        let epoch = self.wait.begin(true);
        seqcst_store_load(); // MODEL: SeqCst store->load
        if self.token.load(Ordering::SeqCst) && self.wait.end(epoch, Woken::Woken) {
            self.schedule();
        }
        self.suspend_blocked();
        // As `park_task`: consume a token only by reading it.
        if self.token.load(Ordering::Relaxed) {
            self.token.swap(false, Ordering::Acquire);
        }
        true
    }

    /// `wait::park_task` with a deadline whose timer fires from `timer`.
    fn park_with_timer(task: &Arc<Task>) -> Option<thread::JoinHandle<bool>> {
        let this = task;
        if this.token.load(Ordering::Relaxed) && this.token.swap(false, Ordering::Acquire) {
            return None;
        }
        let epoch = this.wait.begin(true);
        let timer = {
            let task = this.clone();
            thread::spawn(move || {
                let won = task.wait.end(epoch, Woken::TimedOut);
                if won {
                    task.schedule();
                }
                won
            })
        };
        seqcst_store_load(); // MODEL: SeqCst store->load
        if this.token.load(Ordering::SeqCst) && this.wait.end(epoch, Woken::Woken) {
            this.schedule();
        }
        this.suspend_blocked();
        if this.token.load(Ordering::Relaxed) {
            this.token.swap(false, Ordering::Acquire);
        }
        Some(timer)
    }

    /// `wait::unpark_task`.
    fn unpark(&self) {
        if self.wait.wake_parked() {
            self.schedule();
            return;
        }
        if self.token.swap(true, Ordering::SeqCst) {
            return;
        }
        seqcst_store_load(); // MODEL: SeqCst store->load
        if self.wait.wake_parked() {
            self.schedule();
        }
    }
}

#[test]
fn unpark_racing_park_is_never_lost_nor_doubled() {
    loom::model(|| {
        let task = Arc::new(Task::new());
        let unparker = {
            let task = task.clone();
            thread::spawn(move || task.unpark())
        };
        // A lost wake-up leaves `park` waiting forever: loom reports the
        // deadlock.
        let suspended = task.park();
        unparker.join().unwrap();
        let scheduled = *task.scheduled.lock().unwrap();
        assert_eq!(scheduled, usize::from(suspended), "queued exactly once if it suspended");
        assert!(!task.token.load(Ordering::Acquire), "the token was consumed");
    });
}

#[test]
fn two_unparkers_racing_park_schedule_once() {
    loom_models::bounded_model(|| {
        let task = Arc::new(Task::new());
        let unparkers: Vec<_> = (0..2)
            .map(|_| {
                let task = task.clone();
                thread::spawn(move || task.unpark())
            })
            .collect();
        let suspended = task.park();
        for u in unparkers {
            u.join().unwrap();
        }
        assert_eq!(*task.scheduled.lock().unwrap(), usize::from(suspended));
    });
}

#[test]
fn unpark_racing_a_parks_timer_schedules_once() {
    loom::model(|| {
        let task = Arc::new(Task::new());
        let unparker = {
            let task = task.clone();
            thread::spawn(move || task.unpark())
        };
        let timer = Task::park_with_timer(&task);
        unparker.join().unwrap();
        let scheduled = *task.scheduled.lock().unwrap();
        match timer {
            None => assert_eq!(scheduled, 0, "returned on the token without waiting"),
            Some(timer) => {
                let timer_won = timer.join().unwrap();
                assert_eq!(scheduled, 1, "queued exactly once (timer won: {timer_won})");
                let outcome = task.wait.outcome();
                assert_eq!(outcome == Woken::TimedOut, timer_won);
            }
        }
    });
}

#[test]
fn an_unpark_racing_the_wake_up_by_another_is_not_lost() {
    loom_models::bounded_model(|| {
        let task = Arc::new(Task::new());
        let flag = Arc::new(AtomicBool::new(false));
        let bare = {
            let task = task.clone();
            thread::spawn(move || task.unpark())
        };
        let setter = {
            let (task, flag) = (task.clone(), flag.clone());
            thread::spawn(move || {
                flag.store(true, Ordering::Release);
                task.unpark();
            })
        };
        while !flag.load(Ordering::Acquire) {
            task.park();
        }
        bare.join().unwrap();
        setter.join().unwrap();
    });
}

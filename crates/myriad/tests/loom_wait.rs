//! loom model checks of the wait-state word (`rt/wait/state.rs`) and of
//! `park`/`unpark` (`rt/wait/token.rs`), both compiled here as they are,
//! over loom's atomics (`rt/sync.rs` switches them): exactly one of two
//! racing wakers ends an episode, a stale `Wake` never ends a later
//! episode, and `park`/`unpark`'s token with its Dekker handshake never
//! loses a wake-up nor schedules a thread twice; an interrupt (issue 19)
//! ends an interruptible episode at most once, racing wakers and timers,
//! never ends another, and one raised as the wait begins is never lost.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release -p myriad --test loom_wait`.
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

/// The wait-state word, as compiled into the runtime.
#[path = "../src/rt/wait/state.rs"]
#[allow(dead_code)]
mod state;

/// `park`/`unpark`, as compiled into the runtime.
#[path = "../src/rt/wait/token.rs"]
mod token;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use state::{WaitState, Woken};
use token::ParkToken;

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
fn an_interrupt_racing_a_waker_and_a_timer_exactly_one_wins() {
    loom::model(|| {
        let wait = Arc::new(WaitState::new());
        let epoch = wait.begin_interruptible();
        let waker = {
            let wait = wait.clone();
            thread::spawn(move || wait.end(epoch, Woken::Woken))
        };
        let interrupter = {
            let wait = wait.clone();
            thread::spawn(move || wait.interrupt())
        };
        let timed_out = wait.end(epoch, Woken::TimedOut);
        let woke = waker.join().unwrap();
        let interrupted = interrupter.join().unwrap();
        assert_eq!(u8::from(woke) + u8::from(interrupted) + u8::from(timed_out), 1, "exactly one must win");
        let expected = if woke {
            Woken::Woken
        } else if interrupted {
            Woken::Interrupted
        } else {
            Woken::TimedOut
        };
        assert_eq!(wait.outcome(), expected);
        // An episode that is not interruptible: an interrupt never ends it.
        let plain = wait.begin(false);
        assert!(!wait.interrupt());
        assert!(wait.end(plain, Woken::Woken));
    });
}

/// The interrupter raises the flag, then looks at the wait state; the
/// waiter begins its interruptible episode, then looks at the flag
/// (`rt/wait/interrupt.rs`): whichever comes second sees the other, so the
/// episode always ends, exactly once.
#[test]
fn an_interrupt_as_the_wait_begins_is_never_lost() {
    loom::model(|| {
        let wait = Arc::new(WaitState::new());
        let flag = Arc::new(AtomicBool::new(false));
        let interrupter = {
            let (wait, flag) = (wait.clone(), flag.clone());
            thread::spawn(move || {
                flag.swap(true, Ordering::SeqCst);
                wait.interrupt()
            })
        };
        let epoch = wait.begin_interruptible();
        let ended_by_waiter = flag.load(Ordering::SeqCst) && wait.end(epoch, Woken::Interrupted);
        let ended_by_interrupter = interrupter.join().unwrap();
        assert!(ended_by_waiter ^ ended_by_interrupter, "the episode ends exactly once");
        assert!(!wait.is_current(epoch));
        assert_eq!(wait.outcome(), Woken::Interrupted);
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
        loom_harness::spin_until(|| !wait.is_current(first));
        let second = wait.begin(false);
        let current = {
            let wait = wait.clone();
            thread::spawn(move || wait.end(second, Woken::Woken))
        };
        let stale_won = stale.join().unwrap();
        let current_won = current.join().unwrap();
        assert!(timed_out ^ stale_won, "the first episode ends exactly once");
        assert!(current_won, "only the current waker can end the second episode");
        assert!(!wait.is_current(second));
        assert_eq!(wait.outcome(), Woken::Woken);
    });
}

/// The parts of a `Task` that park/unpark touch, with "queue the task on
/// its worker" as a counter and "the worker resumes it" as a wait on it.
struct Task {
    token: ParkToken,
    wait: WaitState,
    scheduled: Mutex<usize>,
    /// How many of the schedulings a suspension has consumed.
    resumes: Mutex<usize>,
    resumed: Condvar,
}

impl Task {
    fn new() -> Task {
        Task {
            token: ParkToken::new(),
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

    /// `suspend::suspend_blocked`: the task runs again once scheduled.
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

    /// `wait::park_task` without a deadline; returns whether it waited.
    fn park(&self) -> bool {
        let mut waited = false;
        self.token.park(
            &self.wait,
            || {
                waited = true;
                self.wait.begin(true)
            },
            || self.schedule(),
            || self.suspend_blocked(),
        );
        waited
    }

    /// `wait::park_task` with a deadline whose timer fires from a loom
    /// thread of its own, returned if the thread waited.
    fn park_with_timer(task: &Arc<Task>) -> Option<thread::JoinHandle<bool>> {
        let mut timer = None;
        task.token.park(
            &task.wait,
            || {
                let epoch = task.wait.begin(true);
                let task = task.clone();
                // `add_timer`: the timer's `Wake::time_out`.
                timer = Some(thread::spawn(move || {
                    let won = task.wait.end(epoch, Woken::TimedOut);
                    if won {
                        task.schedule();
                    }
                    won
                }));
                epoch
            },
            || task.schedule(),
            || task.suspend_blocked(),
        );
        timer
    }

    /// `wait::unpark_task`.
    fn unpark(&self) {
        if self.token.unpark(&self.wait) {
            self.schedule();
        }
    }

    /// Whether a `park` now would wait, that is, no token is left: begins
    /// a wait episode that nothing ends (the model's last step).
    fn park_would_wait(&self) -> bool {
        let mut would_wait = false;
        let begin = || {
            would_wait = true;
            self.wait.begin(true)
        };
        self.token.park(&self.wait, begin, || {}, || {});
        would_wait
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
        assert!(task.park_would_wait(), "the token was consumed");
    });
}

#[test]
fn two_unparkers_racing_park_schedule_once() {
    loom_harness::bounded_model(|| {
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
    loom_harness::bounded_model(|| {
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

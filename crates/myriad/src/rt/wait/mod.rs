//! The one waiting primitive: block the current thread — myriad or OS —
//! until a `Wake` handed out for this wait is used, or a deadline passes.
//!
//! Joins, `park`, `sleep`, locks, channels, IO readiness and the async bridge
//! are all built on `block`. A wait goes like this:
//!
//! 1. `block` starts a new *wait episode*: the thread's wait state becomes
//!    `BLOCKED` with a fresh epoch number.
//! 2. It calls `register` with a `Wake` for that episode; `register` stores
//!    it wherever the awaited event will find it (a wait queue, a join
//!    packet, an IO readiness slot). It may also use it at once, if the
//!    event already happened.
//! 3. The thread sleeps: a myriad thread switches back to its worker's
//!    scheduler; an OS thread waits on a condition variable.
//! 4. `Wake::wake` (or the deadline's timer) moves the state from
//!    `BLOCKED` to `WOKEN` (or `TIMED_OUT`) with a compare-and-swap on the
//!    epoch: exactly one of them wins, a stale `Wake` from an earlier
//!    episode always loses, and the winner reschedules the thread.
//!
//! A myriad thread's state is a single `AtomicU64` (`epoch << 2 | status`, `state.rs`).
//! Waking from another OS thread between steps 2 and 3 is safe: the thread
//! is then queued in its worker's inbox, which the worker reads only after
//! the switch in step 3 has happened.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod reason;
mod state;
mod suspend;
mod token;

pub use reason::WaitReason;
pub use state::{WaitState, Woken};
pub use suspend::{add_timer, note_wait, sleep_until, yield_now, yield_task};
pub use token::ParkToken;

use super::lock::{Condvar, Mutex};
use super::task::{Task, TaskRef};
use crate::rt::context;

/// The wait state of an OS thread: the same state word, plus a mutex and
/// condition variable to sleep on after a short spin.
pub struct OsWaiter {
    wait: WaitState,
    lock: Mutex<()>,
    condvar: Condvar,
}

thread_local! {
    static OS_WAITER: Arc<OsWaiter> =
        Arc::new(OsWaiter { wait: WaitState::new(), lock: Mutex::new(()), condvar: Condvar::new() });
}

/// How long an OS thread spins before it sleeps on its condition variable
/// (waking a sleeping OS thread costs 15–20 µs on our VMs).
const OS_SPIN: Duration = Duration::from_micros(20);

impl OsWaiter {
    fn end(&self, epoch: u64, outcome: Woken) -> bool {
        if !self.wait.end(epoch, outcome) {
            return false;
        }
        // Taking the lock orders this notification after the waiter's last
        // look at the state (it looks and sleeps under the lock).
        drop(self.lock.lock());
        self.condvar.notify_one();
        true
    }

    /// Waits until episode `epoch` ends; ends it itself at `deadline`.
    fn wait(&self, epoch: u64, deadline: Option<Instant>) -> Woken {
        let spin_until = Instant::now() + OS_SPIN;
        while self.wait.is_current(epoch) && Instant::now() < spin_until {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
        let mut guard = self.lock.lock();
        while self.wait.is_current(epoch) {
            match deadline {
                None => guard = self.condvar.wait(guard),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.wait.end(epoch, Woken::TimedOut);
                        break;
                    }
                    guard = self.condvar.wait_timeout(guard, deadline - now).0;
                }
            }
        }
        self.wait.outcome()
    }
}

#[derive(Clone)]
enum Waiter {
    Task(TaskRef),
    /// A blocked task that cannot go away before this `Wake` is used (see
    /// `block_once`): it holds its own reference while blocked.
    BorrowedTask(*const Task),
    Os(Arc<OsWaiter>),
}

/// The right to end one wait episode of one thread.
#[derive(Clone)]
pub struct Wake {
    waiter: Waiter,
    epoch: u64,
}

// SAFETY: `Task` and `OsWaiter` are `Sync`; a `BorrowedTask` pointer is
// only made by `block_once`, whose contract keeps the task alive until the
// `Wake` has been used, from whichever thread uses it.
unsafe impl Send for Wake {}
// SAFETY: as above.
unsafe impl Sync for Wake {}

impl Wake {
    pub(crate) fn for_task(task: TaskRef, epoch: u64) -> Wake {
        Wake { waiter: Waiter::Task(task), epoch }
    }

    /// A `Wake` that borrows the blocked `task` (see `block_once`).
    ///
    /// # Safety
    ///
    /// `block_once`'s contract.
    pub(crate) unsafe fn for_task_borrowed(task: &Task, epoch: u64) -> Wake {
        Wake { waiter: Waiter::BorrowedTask(task), epoch }
    }

    /// Wakes the thread if this episode is still its current wait; returns
    /// whether it did.
    pub fn wake(&self) -> bool {
        self.end(Woken::Woken)
    }

    /// Ends the wait as timed out (used by timers).
    pub(crate) fn time_out(&self) -> bool {
        self.end(Woken::TimedOut)
    }

    /// Whether the waiter is an OS thread (which, unlike a myriad thread,
    /// the deadlock detector may make give up its wait).
    pub(crate) fn is_os_thread(&self) -> bool {
        matches!(self.waiter, Waiter::Os(_))
    }

    /// Whether the wait this `Wake` can end is still going on.
    pub(crate) fn is_pending(&self) -> bool {
        match &self.waiter {
            Waiter::Task(task) => task.wait.is_current(self.epoch),
            // SAFETY: see `block_once`: alive until this Wake is used.
            Waiter::BorrowedTask(task) => unsafe { &**task }.wait.is_current(self.epoch),
            Waiter::Os(os) => os.wait.is_current(self.epoch),
        }
    }

    fn end(&self, outcome: Woken) -> bool {
        let task: &Task = match &self.waiter {
            Waiter::Task(task) => {
                if !task.wait.end(self.epoch, outcome) {
                    return false;
                }
                task
            }
            Waiter::BorrowedTask(task) => {
                // SAFETY: see `block_once`: alive until this Wake is used,
                // which is now, and nothing else ends the episode.
                let task = unsafe { &**task };
                task.wait.end_once(self.epoch);
                task
            }
            Waiter::Os(os) => return os.end(self.epoch, outcome),
        };
        // SAFETY: we just ended the episode.
        unsafe { suspend::schedule_woken(task) };
        true
    }
}

/// Blocks the calling thread until the `Wake` passed to `register` is used
/// or `deadline` passes; `reason` says what for (see `rt::dump`). See the
/// module comment.
///
/// On an OS thread with no deadline the wait may also end as
/// `Woken::Abandoned` (the deadlock detector; see there).
pub fn block(reason: WaitReason, deadline: Option<Instant>, register: impl FnOnce(Wake)) -> Woken {
    context::with_current_task(|task| match task {
        Some(task) => suspend::block_task(task, reason, deadline, register),
        None => block_os(deadline, true, register),
    })
}

/// As `block` with no deadline, for a wait that exactly one party ends,
/// by using the `Wake` once (a join, an offload call, an io_uring
/// completion). The `Wake` then borrows a waiting myriad thread instead of
/// counting a reference to it: two atomic operations fewer.
///
/// # Safety
///
/// Nothing but the `Wake` handed to `register` may end this wait, and it
/// must not be used (or looked at) after its first use; clones must not
/// outlive that use.
pub unsafe fn block_once(reason: WaitReason, register: impl FnOnce(Wake)) {
    context::with_current_task(|task| match task {
        Some(task) => suspend::block_task_once(task, reason, register),
        None => {
            // Only a join may be given up (the deadlock detector's panic):
            // its thread's end keeps what it touches alive for an OS-thread
            // joiner (`rt/task_state.rs`). An offload call or an io_uring
            // operation may borrow from this stack until its Wake is used.
            let may_give_up = matches!(reason, WaitReason::Join(_));
            if block_os(None, may_give_up, register) == Woken::Abandoned {
                panic_deadlocked();
            }
        }
    })
}

/// Blocks an OS thread. `may_give_up`: the deadlock detector may end the
/// wait (returning `Woken::Abandoned`) before a `Wake` does.
fn block_os(deadline: Option<Instant>, may_give_up: bool, register: impl FnOnce(Wake)) -> Woken {
    let os = OS_WAITER.with(Arc::clone);
    let epoch = os.wait.begin(false);
    let main = may_give_up && deadline.is_none() && is_main_thread();
    if main {
        // For the deadlock detector: the main thread waits with nothing
        // but a myriad wake-up to end it.
        *MAIN_WAIT.lock() = Some((os.clone(), epoch));
    }
    register(Wake { waiter: Waiter::Os(os.clone()), epoch });
    let woken = os.wait(epoch, deadline);
    if main {
        MAIN_WAIT.lock().take();
        // With no deadline, only the detector times a wait out.
        if woken == Woken::TimedOut && DEADLOCK_PANIC.load(Ordering::Acquire) {
            return Woken::Abandoned;
        }
    }
    woken
}

/// The main thread's panic when the deadlock detector abandoned its wait
/// (`Woken::Abandoned`), raised by the waiting primitive once it has left
/// every queue and restored its invariants: a panic out of the wait itself
/// would leave queue entries pointing into the unwound frame.
#[cold]
#[track_caller]
pub fn panic_deadlocked() -> ! {
    panic!("all threads are asleep — deadlock (see the thread dump above)");
}

/// The main thread's waiter and episode while it is blocked in a myriad
/// wait without a deadline.
static MAIN_WAIT: Mutex<Option<(Arc<OsWaiter>, u64)>> = Mutex::new(None);

/// Set when the deadlock detector decided to end the main thread's wait
/// with a panic.
static DEADLOCK_PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn is_main_thread() -> bool {
    thread_local! {
        static MAIN: bool = {
            // SAFETY: getpid and gettid have no preconditions.
            unsafe { libc::getpid() == libc::gettid() }
        };
    }
    MAIN.with(|m| *m)
}

/// Whether the main thread is blocked in a myriad wait with no deadline.
pub fn main_thread_blocked() -> bool {
    MAIN_WAIT.lock().as_ref().is_some_and(|(os, epoch)| os.wait.is_current(*epoch))
}

/// Ends the main thread's wait so that it panics with a deadlock message.
pub fn panic_main_thread() {
    DEADLOCK_PANIC.store(true, Ordering::Release);
    if let Some((os, epoch)) = MAIN_WAIT.lock().clone() {
        os.end(epoch, Woken::TimedOut);
    }
}

/// `park` for the running myriad thread `task`, with std's token semantics
/// (`token.rs`).
pub fn park_task(task: &Task, deadline: Option<Instant>) {
    task.token.park(
        &task.wait,
        || {
            note_wait(task, WaitReason::Park);
            let epoch = task.wait.begin(true);
            if let Some(deadline) = deadline {
                add_timer(deadline, Wake::for_task(task.new_ref(), epoch));
            }
            epoch
        },
        // SAFETY: `park` just ended the episode.
        || unsafe { suspend::schedule_woken(task) },
        || suspend::suspend_blocked(task),
    );
}

/// `unpark` for a myriad thread.
pub fn unpark_task(task: &Task) {
    if task.token.unpark(&task.wait) {
        // SAFETY: `unpark` just ended the episode.
        unsafe { suspend::schedule_woken(task) };
    }
}

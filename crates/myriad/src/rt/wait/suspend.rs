//! How a *myriad* thread waits: it records why, begins a wait episode,
//! arms its timer on its worker's heap, and gives the worker back to the
//! scheduler until a `Wake` queues it again (`mod.rs` has the protocol).
//! An OS thread waits on its condition variable instead (`os.rs`).
//!
//! This, the thread (`rt/task.rs`) and the scheduler (`rt/worker.rs`)
//! are the knot at the core of `rt` (see its map): waiting needs the
//! worker's timers and its switch back to the scheduler, and the
//! scheduler's timers and queues hold `Wake`s and reschedule woken
//! threads. Go's `gopark` and `schedule` are the same pair.

use std::time::Instant;

use super::{WaitReason, Wake, Woken};
use crate::rt::context;
use crate::rt::task::{Switch, Task};
use crate::rt::worker;

/// Blocks the running myriad thread `task` (see `wait::block`).
pub fn block_task(task: &Task, reason: WaitReason, deadline: Option<Instant>, register: impl FnOnce(Wake)) -> Woken {
    note_wait(task, reason);
    let epoch = task.wait.begin(false);
    let wake = Wake::for_task(task.new_ref(), epoch);
    if let Some(deadline) = deadline {
        add_timer(deadline, wake.clone());
    }
    register(wake);
    suspend_blocked(task);
    task.wait.outcome()
}

/// `block_task` for `wait::block_interruptible`.
pub fn block_task_interruptible(
    task: &Task,
    reason: WaitReason,
    deadline: Option<Instant>,
    register: impl FnOnce(Wake),
) -> Woken {
    let thread_deadline = if task.interrupt.is_quiet() {
        None
    } else {
        // SAFETY: `task` is the running thread, reading its own deadline.
        let thread_deadline = unsafe { task.deadline() };
        if thread_deadline.is_some_and(|d| Instant::now() >= d) {
            task.interrupt.raise(true);
        }
        thread_deadline
    };
    note_wait(task, reason);
    let epoch = task.wait.begin_interruptible();
    let wake = Wake::for_task(task.new_ref(), epoch);
    if let Some(deadline) = super::interrupt::earlier(deadline, thread_deadline) {
        add_timer(deadline, wake.clone());
    }
    register(wake);
    if task.interrupt.get_after_begin().is_some() && task.wait.end(epoch, Woken::Interrupted) {
        // Interrupted before it slept: nobody else can end this episode
        // now, so nobody queues the thread; it just goes on.
        return Woken::Interrupted;
    }
    suspend_blocked(task);
    super::interrupt_outcome(task.wait.outcome(), &task.interrupt, thread_deadline)
}

/// `block_task` for `wait::block_once`. Inline: the join of every
/// spawn-join goes through here (outlined, it cost 14 instructions more).
#[inline]
pub fn block_task_once(task: &Task, reason: WaitReason, register: impl FnOnce(Wake)) {
    note_wait(task, reason);
    let epoch = task.wait.begin(false);
    // SAFETY: forwarded from `wait::block_once`: only this Wake ends the
    // episode, and until then the blocked task keeps itself alive.
    register(unsafe { Wake::for_task_borrowed(task, epoch) });
    suspend_blocked(task);
}

/// Queues `task`, whose wait episode the caller just ended, on the worker
/// it is pinned to (the wake-up half of the pair with the scheduler).
///
/// # Safety
///
/// The caller ended `task`'s current wait episode (so it owns the
/// reference the blocked task holds to itself: `Task::take_blocked_ref`).
#[inline]
pub unsafe fn schedule_woken(task: &Task) {
    // SAFETY: forwarded from the caller.
    worker::schedule(unsafe { task.take_blocked_ref() });
}

/// Records what the running thread `task` is about to wait for. Inline,
/// with the clock off a worker kept out of line: every wait goes through
/// here, and as a call it saved and restored registers each time.
#[inline]
pub fn note_wait(task: &Task, reason: WaitReason) {
    let since = match worker::local() {
        Some(local) => local.coarse_now(),
        None => now(),
    };
    // SAFETY: `task` is the running thread, recording its own wait.
    unsafe { task.set_wait_record(reason, since) };
}

/// The clock, for `note_wait` off a worker (a myriad thread runs on one).
#[cold]
fn now() -> Instant {
    Instant::now()
}

/// Ends the running thread's current wait episode at `deadline`.
pub fn add_timer(deadline: Instant, wake: Wake) {
    worker::local().expect("a running myriad thread is on a worker").add_timer(deadline, wake);
}

/// Gives up the worker until the running thread `task`, which has begun a
/// wait episode, is woken — or, while it unwinds, waits without giving up
/// the worker (see the module comment).
pub fn suspend_blocked(task: &Task) {
    if std::thread::panicking() {
        // The reference the blocked task holds to itself (see
        // `Task::take_blocked_ref`); the worker loop leaks it otherwise.
        std::mem::forget(task.new_ref());
        worker::local().expect("a running myriad thread is on a worker").wait_inline(task);
    } else {
        // SAFETY: `task` is the thread running on this stack.
        unsafe { task.switch_out(Switch::Blocked) };
    }
}

/// Lets the other runnable threads of this worker run first.
pub fn yield_task(task: &Task) {
    if !std::thread::panicking() {
        // SAFETY: `task` is the thread running on this stack.
        unsafe { task.switch_out(Switch::Yielded) };
    }
}

/// Yields the running thread: a myriad thread lets the other runnable
/// threads of its worker run first; an OS thread yields to the OS.
pub fn yield_now() {
    let yielded = context::with_current_task(|task| match task {
        Some(task) => {
            yield_task(task);
            true
        }
        None => false,
    });
    if !yielded {
        std::thread::yield_now();
    }
}

/// Sleeps until `deadline`: a myriad thread parks on a timer; an OS thread
/// sleeps as std's does. `interruptible`: an interrupt (or the thread's
/// deadline) ends the sleep early; false if it did.
pub fn sleep_until(deadline: Instant, interruptible: bool) -> bool {
    if interruptible {
        while Instant::now() < deadline {
            if super::block_interruptible(WaitReason::Sleep, Some(deadline), |_| {}) == Woken::Interrupted {
                return false;
            }
        }
        return true;
    }
    if !context::on_myriad_thread() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return true;
    }
    while Instant::now() < deadline {
        super::block(WaitReason::Sleep, Some(deadline), |_| {});
    }
    true
}

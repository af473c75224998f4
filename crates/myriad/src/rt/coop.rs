//! The cooperative budget: a thread that keeps calling myriad operations
//! that never block (a socket that is always ready, `send` on a channel
//! with room, `try_recv`, `try_lock`, an uncontended `lock`) would keep
//! its worker for ever, and a thread it woke — pinned to the same worker —
//! would never run (std's `test_recv_try_iter` spins so, on a myriad
//! thread). myriad has no preemption, so such operations spend from a
//! budget, and the thread that exhausts it yields its worker once.
//!
//! The budget belongs to the worker's turn: it is refilled whenever the
//! worker switches threads, so a thread that blocks now and then never
//! notices it. tokio's coop budget (128 operations per task poll) is the
//! model. On an OS thread spending does nothing: it starves no worker.
//!
//! A full budget can be long (128 `accept4` calls, each spawning a thread,
//! took 1.3 ms of CPU in a fresh process's burst of connections; 128
//! 16 KiB copies about as much), and a sleeper on the same worker whose
//! timer is due waits for it. So every `TIMER_CHECK_EVERY` operations the
//! running thread also asks whether a timer of its worker is due
//! (`timer::due_now`), and yields if one is: the scheduler fires it and
//! runs the woken thread first (`worker.rs`). That reads the clock only
//! while a timer is pending.

use super::context;
use std::cell::Cell;

/// Operations a thread may complete without blocking before it yields.
const BUDGET: u32 = 128;

/// Every this many operations, yield early if a timer of the worker is due.
const TIMER_CHECK_EVERY: u32 = 16;

thread_local! {
    /// Operations left in the running thread's turn (per worker OS thread).
    static LEFT: Cell<u32> = const { Cell::new(BUDGET) };
}

/// Counts one operation that did not block; yields the worker when the
/// turn's budget is spent.
#[inline]
pub fn spend() {
    let (exhausted, check_timers) = LEFT.with(|left| {
        let n = left.get();
        if n > 1 {
            left.set(n - 1);
            (false, n.is_multiple_of(TIMER_CHECK_EVERY))
        } else {
            left.set(BUDGET);
            (true, false)
        }
    });
    if exhausted || (check_timers && super::timer::due_now()) {
        yield_turn();
    }
}

/// Refills the budget for the next thread's turn (the worker calls this
/// at every switch).
#[inline]
pub fn refill() {
    LEFT.with(|left| left.set(BUDGET));
}

#[cold]
fn yield_turn() {
    context::with_current_task(|task| {
        if let Some(task) = task {
            super::wait::yield_task(task);
        }
    });
}

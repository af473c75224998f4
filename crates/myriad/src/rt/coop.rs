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

use super::context;
use std::cell::Cell;

/// Operations a thread may complete without blocking before it yields.
const BUDGET: u32 = 128;

thread_local! {
    /// Operations left in the running thread's turn (per worker OS thread).
    static LEFT: Cell<u32> = const { Cell::new(BUDGET) };
}

/// Counts one operation that did not block; yields the worker when the
/// turn's budget is spent.
#[inline]
pub fn spend() {
    let exhausted = LEFT.with(|left| {
        let n = left.get();
        if n > 1 {
            left.set(n - 1);
            false
        } else {
            left.set(BUDGET);
            true
        }
    });
    if exhausted {
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

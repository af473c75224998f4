//! Which myriad thread is running on this OS thread, if any, and which
//! worker this OS thread is: the questions most of the crate asks of the
//! runtime (every blocking call asks the first to choose between parking
//! a myriad thread and blocking an OS thread; the IO drivers ask the
//! second to find the running worker's poller and ring).
//!
//! The scheduler (`worker.rs`) records the thread it resumes here, and
//! clears it when the thread gives the worker back, and records its own
//! number when its OS thread starts; everyone else only reads. Const
//! thread-local `Cell`s without destructors, so reading is one load,
//! valid at any time (even in a signal handler or during the OS thread's
//! exit).

use std::cell::Cell;

use super::task::{Task, TaskRef};

thread_local! {
    /// The task the worker on this OS thread is resuming (null: none, or
    /// not a worker).
    static RUNNING: Cell<*const Task> = const { Cell::new(std::ptr::null()) };
    /// The number of the worker this OS thread is (`NOT_A_WORKER`: none).
    static WORKER: Cell<usize> = const { Cell::new(NOT_A_WORKER) };
}

const NOT_A_WORKER: usize = usize::MAX;

/// Runs `f` with the running myriad thread, without touching its count.
#[inline]
pub fn with_current_task<R>(f: impl FnOnce(Option<&Task>) -> R) -> R {
    let task = RUNNING.with(Cell::get);
    // SAFETY: a non-null pointer is the task the worker on this OS thread
    // is resuming (`set_running`), and the worker holds a reference to it
    // for the whole resume; the caller is that task, so the reference
    // cannot outlive the resume.
    f(unsafe { task.as_ref() })
}

/// The myriad thread running on this OS thread, if any.
pub fn current_task() -> Option<TaskRef> {
    with_current_task(|task| task.map(Task::new_ref))
}

/// Whether the caller is a myriad thread (not an OS thread).
#[inline]
pub fn on_myriad_thread() -> bool {
    with_current_task(|task| task.is_some())
}

/// Records the task the worker resumes now (null when it gets the worker
/// back). Scheduler only.
#[inline]
pub(super) fn set_running(task: *const Task) {
    RUNNING.with(|running| running.set(task));
}

/// The number of the worker this OS thread is, if it is one.
#[inline]
pub fn current_worker() -> Option<usize> {
    let index = WORKER.with(Cell::get);
    (index != NOT_A_WORKER).then_some(index)
}

/// Records that this OS thread is worker `index` (`None`: it no longer
/// is one, in a forked child). Scheduler only.
pub(super) fn set_worker(index: Option<usize>) {
    WORKER.with(|worker| worker.set(index.unwrap_or(NOT_A_WORKER)));
}

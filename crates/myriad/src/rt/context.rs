//! Which myriad thread is running on this OS thread, if any: the one
//! question most of the crate asks of the runtime (every blocking call
//! asks it to choose between parking a myriad thread and blocking an OS
//! thread).
//!
//! The scheduler (`worker.rs`) records the thread it resumes here, and
//! clears it when the thread gives the worker back; everyone else only
//! reads. A const thread-local `Cell` without a destructor, so reading is
//! one load, valid at any time (even in a signal handler or during the
//! OS thread's exit).

use std::cell::Cell;

use super::task::{Task, TaskRef};

thread_local! {
    /// The task the worker on this OS thread is resuming (null: none, or
    /// not a worker).
    static RUNNING: Cell<*const Task> = const { Cell::new(std::ptr::null()) };
}

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

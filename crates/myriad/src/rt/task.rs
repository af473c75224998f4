//! A myriad thread as the scheduler sees it: its identity, its wait state,
//! and the coroutine it runs on.
//!
//! A `Task` is shared through `Arc`: run queues, wait queues, timers and
//! `Thread` handles all hold one. Its fields fall in three groups:
//!
//! * shared state that any thread may touch through atomics: the wait state
//!   (`wait.rs`), the park token, and the worker it is pinned to;
//! * the coroutine, created at spawn and resumed only by the scheduler that
//!   dequeued the task: first whichever worker starts it, then only that
//!   worker, to which the task is pinned until it ends;
//! * `OwnState`, used only by the thread itself while it runs: its yielder
//!   and its myriad-local storage.
//!
//! That split is the invariant behind `Task`'s `Sync` impl.

use std::cell::UnsafeCell;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use corosensei::{Coroutine, Yielder};

use super::dump::WaitReason;
use super::overflow::RunningStack;
use super::stack::ThreadStack;
use super::wait::WaitState;
use crate::thread::local::Locals;
use crate::thread::ThreadId;

/// Why a running thread handed its worker back to the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// It is blocked; whoever holds its `Wake` will reschedule it.
    Blocked,
    /// It is still runnable (`yield_now`): queue it behind the others.
    Yielded,
}

/// The coroutine a thread runs on, created (not yet resumed) at spawn.
pub type TaskCoroutine = Coroutine<(), Switch, (), ThreadStack>;

/// State used by the running thread itself, from its own stack.
pub struct OwnState {
    /// The yielder of the running coroutine; null before the thread starts.
    pub yielder: *const Yielder<(), Switch>,
    /// Values of `myriad::thread_local!` keys that belong to this thread.
    pub locals: Locals,
}

/// `worker()` of a thread that has not run yet.
pub const NOT_STARTED: usize = usize::MAX;

pub struct Task {
    pub id: ThreadId,
    name: Option<Box<str>>,
    spawned_at: &'static Location<'static>,
    /// The faulting range at the bottom of the thread's stack.
    guard: (usize, usize),
    pub wait: WaitState,
    /// `park`/`unpark`'s token, as std's: set by `unpark`, consumed by `park`.
    pub token: AtomicBool,
    worker: AtomicUsize,
    /// Resumed only by the scheduler; `None` once the thread has finished.
    coroutine: UnsafeCell<Option<TaskCoroutine>>,
    /// Its place in its worker's registry (scheduler-owned, as `coroutine`).
    registry_index: UnsafeCell<usize>,
    /// What the current or last wait was for, and when it began: written
    /// by the thread itself as it blocks, read by its worker between
    /// switches (for `rt::dump`); both on the worker's OS thread.
    wait_record: UnsafeCell<(WaitReason, Option<Instant>)>,
    own: UnsafeCell<OwnState>,
    /// The thread's span, entered by its worker around every resume (the
    /// subscriber's "current span" is per OS thread, so it must be swapped
    /// with the myriad thread, never left entered across a switch).
    #[cfg(feature = "tracing")]
    pub span: tracing::Span,
}

// SAFETY: the shared fields are atomics or immutable. `coroutine` is used by
// one scheduler at a time: whoever dequeued the unstarted task, then only the
// worker it is pinned to (a task is in at most one queue and is resumed only
// after being dequeued). `own` is used only by the thread itself while it
// runs. So the coroutine, which is not `Send` because a *started* coroutine
// must stay on its OS thread, never runs on two OS threads; it is moved
// across threads only before its first resume, when its stack holds nothing
// but its entry closure, which is `Send`.
unsafe impl Sync for Task {}
// SAFETY: as above.
unsafe impl Send for Task {}

static UNNAMED: &str = "<unnamed>";

impl Task {
    /// A new task; every `Task` lives in an `Arc` (see `arc`).
    pub fn new(
        name: Option<String>,
        spawned_at: &'static Location<'static>,
        coroutine: TaskCoroutine,
        guard: (usize, usize),
    ) -> Arc<Task> {
        let id = ThreadId::new();
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!(
            "myriad_thread",
            id = id.as_u64().get(),
            name = name.as_deref().unwrap_or("<unnamed>"),
            spawned_at = %spawned_at
        );
        Arc::new(Task {
            id,
            name: name.map(String::into_boxed_str),
            spawned_at,
            guard,
            wait: WaitState::new(),
            token: AtomicBool::new(false),
            worker: AtomicUsize::new(NOT_STARTED),
            coroutine: UnsafeCell::new(Some(coroutine)),
            registry_index: UnsafeCell::new(usize::MAX),
            wait_record: UnsafeCell::new((WaitReason::Park, None)),
            own: UnsafeCell::new(OwnState { yielder: std::ptr::null(), locals: Locals::new() }),
            #[cfg(feature = "tracing")]
            span,
        })
    }

    /// Another `Arc` to this task.
    pub fn arc(&self) -> Arc<Task> {
        let ptr: *const Task = self;
        // SAFETY: tasks are only created by `Task::new`, inside an `Arc`, so
        // `self` is the contents of a live `Arc` (count ≥ 1 while `&self`
        // exists) and `ptr` is what `Arc::as_ptr` returns for it.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// Records what the thread is about to wait for.
    ///
    /// # Safety
    ///
    /// Only the running thread itself may call this.
    pub unsafe fn set_wait_record(&self, reason: WaitReason, since: Instant) {
        // SAFETY: the running thread is the only writer, and its worker
        // (the only reader) is not reading while the thread runs.
        unsafe { *self.wait_record.get() = (reason, Some(since)) };
    }

    /// What the thread waits for, and since when.
    ///
    /// # Safety
    ///
    /// Only the worker the task is pinned to may call this, while the task
    /// is not running, and must drop the reference before resuming it.
    pub unsafe fn wait_record(&self) -> &(WaitReason, Option<Instant>) {
        // SAFETY: the caller's obligations exclude a concurrent write.
        unsafe { &*self.wait_record.get() }
    }

    /// The task's place in its worker's registry.
    ///
    /// # Safety
    ///
    /// As for `coroutine`: only the scheduler that holds the task.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn registry_index(&self) -> &mut usize {
        // SAFETY: exclusive access is the caller's obligation.
        unsafe { &mut *self.registry_index.get() }
    }

    /// What the stack-overflow handler needs while this thread runs.
    pub fn running_stack(&self) -> RunningStack {
        let name = self.name.as_deref().unwrap_or(UNNAMED);
        RunningStack { guard_low: self.guard.0, guard_high: self.guard.1, name: name.as_ptr(), name_len: name.len() }
    }

    /// The reference a blocked task holds to itself, for whoever ended its
    /// wait to queue it.
    ///
    /// A blocked thread may be reachable from nowhere else (a detached
    /// thread parked forever); like Go, myriad then leaks it rather than
    /// dropping a suspended coroutine. So blocking leaks one reference
    /// (`worker::suspend_blocked` and the worker loop) and waking takes it
    /// back, exactly once, because exactly one waker ends a wait episode.
    ///
    /// # Safety
    ///
    /// The caller must have just ended the task's current wait episode
    /// (won `WaitState::end`), and must queue the returned `Arc`.
    pub unsafe fn take_blocked_ref(&self) -> Arc<Task> {
        // SAFETY: the task is inside an `Arc` (see `arc`) and, being in a
        // wait episode, holds one leaked reference, which the caller's win
        // makes theirs alone.
        unsafe { Arc::from_raw(self as *const Task) }
    }

    /// The worker this task is pinned to, or `NOT_STARTED`.
    pub fn worker(&self) -> usize {
        self.worker.load(Ordering::Acquire)
    }

    pub fn pin_to(&self, worker: usize) {
        self.worker.store(worker, Ordering::Release);
    }

    /// The coroutine, for the scheduler.
    ///
    /// # Safety
    ///
    /// Only the scheduler that dequeued this task may call this, and it must
    /// not keep two returned references alive at once.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn coroutine(&self) -> &mut Option<TaskCoroutine> {
        // SAFETY: exclusive access is the caller's obligation.
        unsafe { &mut *self.coroutine.get() }
    }

    /// The state the running thread uses itself.
    ///
    /// # Safety
    ///
    /// Only the thread itself may call this, while it runs, and it must not
    /// keep two returned references alive at once (nor one across a switch).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn own(&self) -> &mut OwnState {
        // SAFETY: exclusive access is the caller's obligation.
        unsafe { &mut *self.own.get() }
    }

    /// Hands the worker back to the scheduler.
    ///
    /// # Safety
    ///
    /// Must be called by the running thread itself, on its own stack.
    pub unsafe fn switch_out(&self, why: Switch) {
        // SAFETY: the running thread owns `own`; the borrow ends at once.
        let yielder = unsafe { self.own().yielder };
        debug_assert!(!yielder.is_null(), "switch_out outside a running thread");
        // SAFETY: the yielder was stored when the coroutine started and lives
        // on its stack, which is running now.
        unsafe { (*yielder).suspend(why) };
    }
}

//! Join handles and the packet through which a thread delivers its result.
//!
//! The packet lives in the thread's own allocation, after its control
//! block (`rt/task.rs`), and the join protocol is a few flags in the
//! thread's state word (`rt/task_state.rs`): the thread writes its result
//! before it is marked finished; `join` publishes its `Wake` unless it
//! finds the thread finished, blocks, and then reads the result. A
//! `JoinHandle` awaited as a `Future` (`compat/join.rs`) leaves its task's
//! `Waker` the same way.
//!
//! The packet is released — its result dropped, then its scope told —
//! when the thread has finished and the handle is gone, as std's `Packet`
//! is dropped; a `Thread` handle kept longer keeps the memory, not the
//! result.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Waker;

use super::scope::ScopeData;
use super::Thread;
use crate::rt::task::{self, TaskRef};
use crate::rt::wait::Woken;

pub(crate) struct Packet<'scope, T> {
    scope: Option<Arc<ScopeData>>,
    result: UnsafeCell<Option<super::Result<T>>>,
    _marker: PhantomData<Option<&'scope ScopeData>>,
}

// SAFETY: `result` is written by the thread before it is marked finished
// (Release) and read by the handle, or released, only after that was seen
// (Acquire): never at once. `T: Send` because the result crosses threads.
unsafe impl<T: Send> Sync for Packet<'_, T> {}

impl<'scope, T> Packet<'scope, T> {
    pub(crate) fn new(scope: Option<Arc<ScopeData>>) -> Self {
        Packet { scope, result: UnsafeCell::new(None), _marker: PhantomData }
    }

    /// Called once by the thread with its result, before it is marked
    /// finished.
    pub(crate) fn set(&self, result: super::Result<T>) {
        // SAFETY: only the thread writes `result`, once, before it finishes;
        // nobody reads it before that.
        unsafe { *self.result.get() = Some(result) };
    }
}

impl<T: Send> task::Packet for Packet<'_, T> {
    fn release(&self) {
        // SAFETY: the runtime releases a packet once, with no other access.
        let result = unsafe { &mut *self.result.get() };
        if result.is_none() && self.scope.is_none() {
            return; // Joined, and not scoped: nothing left to do.
        }
        let unhandled_panic = matches!(result, Some(Err(_)));
        // Drop the result (running user `Drop` code) before telling the
        // scope this thread is done, as the scope's borrows must outlive it.
        if catch_unwind(AssertUnwindSafe(|| *result = None)).is_err() {
            eprintln!("fatal runtime error: thread result panicked on drop");
            std::process::abort();
        }
        if let Some(scope) = &self.scope {
            scope.decrement_num_running_threads(unhandled_panic);
        }
    }
}

/// The shared part of `JoinHandle` and `ScopedJoinHandle`: the thread, and
/// the handle's reference to it (given up, specially, on drop).
pub(crate) struct JoinInner<'scope, T> {
    thread: ManuallyDrop<Thread>,
    /// The packet's types: the result (which dropping a handle may drop)
    /// and its scope.
    _marker: PhantomData<(Option<&'scope ScopeData>, T)>,
}

// SAFETY: as std's `JoinHandle`: a handle exists only for `T: Send` (see
// `Builder`), and moving it moves the right to take the result out.
unsafe impl<T> Send for JoinInner<'_, T> {}
// SAFETY: `&JoinInner` reads only the thread and its finished flag.
unsafe impl<T> Sync for JoinInner<'_, T> {}

impl<'scope, T> JoinInner<'scope, T> {
    /// The handle of a thread created with a `Packet<'scope, T>`.
    ///
    /// # Safety
    ///
    /// `task` is the join handle's reference to such a thread.
    pub(crate) unsafe fn new(task: TaskRef) -> Self {
        JoinInner { thread: ManuallyDrop::new(Thread::from_task(task)), _marker: PhantomData }
    }

    fn task(&self) -> &TaskRef {
        self.thread.task().expect("a join handle is for a myriad thread")
    }

    pub(crate) fn join(self) -> super::Result<T> {
        let task = self.task();
        task.wait_finished();
        // SAFETY: created with this packet type (`new`).
        let packet = unsafe { task.packet::<Packet<'scope, T>>() };
        // SAFETY: the thread has finished (seen with Acquire) and no longer
        // touches `result`; the packet is released only after this handle.
        unsafe { (*packet.result.get()).take() }.expect("a finished thread left its result")
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.task().is_finished()
    }

    /// `join`, giving up at `deadline`: the handle comes back then.
    pub(crate) fn join_deadline(self, deadline: std::time::Instant) -> Result<super::Result<T>, Self> {
        if self.task().wait_finished_until(deadline) {
            Ok(self.join())
        } else {
            Err(self)
        }
    }

    /// `join`, unless the caller is interrupted first: the handle comes
    /// back then.
    pub(crate) fn join_interruptible(self) -> Result<super::Result<T>, (super::Interrupted, Self)> {
        match self.task().wait_finished_or_leave(None, true) {
            Woken::Woken => Ok(self.join()),
            _ => Err((super::Interrupted::current(), self)),
        }
    }

    /// As `is_finished`; if not, `waker` is woken when the thread finishes.
    pub(crate) fn poll_finished(&self, waker: &Waker) -> bool {
        self.task().poll_finished(waker)
    }

    pub(crate) fn thread(&self) -> &Thread {
        &self.thread
    }
}

impl<T> Drop for JoinInner<'_, T> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here.
        let thread = unsafe { ManuallyDrop::take(&mut self.thread) };
        thread.into_task().expect("a join handle is for a myriad thread").handle_gone();
    }
}

/// An owned permission to join a myriad thread (wait for it to end).
///
/// As [`std::thread::JoinHandle`]. Dropping the handle detaches the thread.
///
/// ```
/// let handle = myriad::thread::spawn(|| 40 + 2);
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T>(pub(crate) JoinInner<'static, T>);

impl<T> JoinHandle<T> {
    /// Waits for the thread to end and returns its result: `Err` with the
    /// panic payload if it panicked.
    ///
    /// From a myriad thread this parks only the caller; from an OS thread it
    /// blocks that OS thread.
    ///
    /// ```
    /// let r = myriad::thread::spawn(|| panic!("oops")).join();
    /// assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "oops");
    /// ```
    pub fn join(self) -> super::Result<T> {
        self.0.join()
    }

    /// Waits at most `timeout` for the thread to end: its result, as from
    /// [`join`](Self::join), or the handle back, to join later.
    ///
    /// ```
    /// use std::time::Duration;
    /// let handle = myriad::thread::spawn(|| myriad::thread::sleep(Duration::from_millis(50)));
    /// let handle = handle.join_timeout(Duration::from_millis(1)).unwrap_err();
    /// assert!(handle.join_timeout(Duration::from_secs(10)).unwrap().is_ok());
    /// ```
    pub fn join_timeout(self, timeout: std::time::Duration) -> Result<super::Result<T>, JoinHandle<T>> {
        match std::time::Instant::now().checked_add(timeout) {
            Some(deadline) => self.join_deadline(deadline),
            None => Ok(self.join()),
        }
    }

    /// Waits until `deadline` at the latest for the thread to end: its
    /// result, or the handle back.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let handle = myriad::thread::spawn(|| 6 * 7);
    /// let result = handle.join_deadline(Instant::now() + Duration::from_secs(10));
    /// assert_eq!(result.ok().unwrap().unwrap(), 42);
    /// ```
    pub fn join_deadline(self, deadline: std::time::Instant) -> Result<super::Result<T>, JoinHandle<T>> {
        self.0.join_deadline(deadline).map_err(JoinHandle)
    }

    /// As [`join`](Self::join), unless the *calling* thread is interrupted
    /// (or its deadline passes) first: then the interrupt and the handle
    /// come back, to join later. `join` itself is not interruptible, as
    /// std's signature has no room for the error.
    ///
    /// ```
    /// use myriad::thread;
    /// use std::time::Duration;
    /// let slow = thread::spawn(|| thread::sleep(Duration::from_millis(50)));
    /// thread::current().interrupt();
    /// let (interrupted, slow) = slow.join_interruptible().unwrap_err();
    /// assert!(!interrupted.by_deadline());
    /// thread::current().clear_interrupt();
    /// assert!(slow.join_interruptible().unwrap().is_ok());
    /// ```
    pub fn join_interruptible(self) -> Result<super::Result<T>, (super::Interrupted, JoinHandle<T>)> {
        self.0.join_interruptible().map_err(|(interrupted, inner)| (interrupted, JoinHandle(inner)))
    }

    /// The handle of the thread.
    pub fn thread(&self) -> &Thread {
        self.0.thread()
    }

    /// Whether the thread has finished running its closure (a later `join`
    /// returns at once).
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("thread", self.0.thread()).finish_non_exhaustive()
    }
}

//! Join handles and the packet through which a thread delivers its result.
//!
//! The packet is shared by the running thread and its handle. Its state goes
//! `RUNNING` → (`WAITING`, once a joiner blocked) → `DONE`. The thread
//! stores its result, then swaps in `DONE`; if it saw `WAITING`, it uses the
//! joiner's `Wake`. A joiner that finds `DONE` reads the result at once.
//! The result and the `Wake` live in `UnsafeCell`s whose accesses are
//! ordered by those state transitions (documented at each access).
//!
//! For `JoinHandle` as a `Future` (`compat/join.rs`), a polling task leaves
//! its `Waker` in `async_waker` (a small mutex): the thread takes and wakes
//! it after publishing `DONE`, and a poll re-checks `DONE` after storing it,
//! so one of the two always sees the other.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use super::scope::ScopeData;
use super::Thread;
use crate::rt::wait::{self, Wake};
use crate::rt::WaitReason;

const RUNNING: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

pub(crate) struct Packet<'scope, T> {
    scope: Option<Arc<ScopeData>>,
    state: AtomicU8,
    result: UnsafeCell<Option<super::Result<T>>>,
    waiter: UnsafeCell<Option<Wake>>,
    /// The waker of a task awaiting the thread (see the module comment).
    async_waker: Mutex<Option<Waker>>,
    _marker: PhantomData<Option<&'scope ScopeData>>,
}

// SAFETY: the cells are accessed as the module comment describes: `result`
// is written by the thread before `DONE` is published (Release) and read by
// the joiner after it observed `DONE` (Acquire); `waiter` is written by the
// joiner before `WAITING` is published and read by the thread only after it
// observed `WAITING`. `T: Send` because the result crosses threads.
unsafe impl<T: Send> Sync for Packet<'_, T> {}

impl<T> Packet<'_, T> {
    pub(crate) fn new(scope: Option<Arc<ScopeData>>) -> Self {
        Packet {
            scope,
            state: AtomicU8::new(RUNNING),
            result: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
            async_waker: Mutex::new(None),
            _marker: PhantomData,
        }
    }

    /// Called once by the thread with its result.
    pub(crate) fn finish(&self, result: super::Result<T>) {
        // SAFETY: only the thread writes `result`, once, before `DONE`.
        unsafe { *self.result.get() = Some(result) };
        if self.state.swap(DONE, Ordering::AcqRel) == WAITING {
            // SAFETY: the joiner wrote `waiter` before publishing `WAITING`,
            // which we observed; it does not touch it again.
            if let Some(wake) = unsafe { (*self.waiter.get()).take() } {
                wake.wake();
            }
        }
        let waker = self.async_waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the thread finished; if not, `waker` is woken when it does.
    pub(crate) fn poll_finished(&self, waker: &Waker) -> bool {
        if self.is_finished() {
            return true;
        }
        let mut slot = self.async_waker.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *slot {
            Some(old) if old.will_wake(waker) => {}
            other => *other = Some(waker.clone()),
        }
        drop(slot);
        self.is_finished()
    }

    fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    /// Waits for thread `id`'s result (once: `join` consumes the handle).
    fn join(&self, id: super::ThreadId) -> super::Result<T> {
        if !self.is_finished() {
            let register = |wake: Wake| {
                // SAFETY: the thread reads `waiter` only after observing
                // `WAITING`, which is published below, after this write.
                unsafe { *self.waiter.get() = Some(wake) };
                if self.state.compare_exchange(RUNNING, WAITING, Ordering::AcqRel, Ordering::Acquire).is_err() {
                    // Finished meanwhile: the thread will not read `waiter`.
                    // SAFETY: as above; nobody else accesses it now.
                    if let Some(wake) = unsafe { (*self.waiter.get()).take() } {
                        wake.wake();
                    }
                }
            };
            // SAFETY: only `finish` uses the stored Wake, once; a joiner
            // that finds the thread done takes it back and uses it itself.
            unsafe { wait::block_once(WaitReason::Join(id), register) };
        }
        debug_assert!(self.is_finished(), "only the thread's end wakes a joiner");
        // SAFETY: `DONE` was observed with Acquire, so the write is visible;
        // the thread no longer touches `result`.
        unsafe { (*self.result.get()).take() }.expect("a finished thread left its result")
    }
}

impl<T> Drop for Packet<'_, T> {
    fn drop(&mut self) {
        let unhandled_panic = matches!(self.result.get_mut(), Some(Err(_)));
        // Drop the result (running user `Drop` code) before telling the
        // scope this thread is done, as the scope's borrows must outlive it.
        if catch_unwind(AssertUnwindSafe(|| *self.result.get_mut() = None)).is_err() {
            eprintln!("fatal runtime error: thread result panicked on drop");
            std::process::abort();
        }
        if let Some(scope) = &self.scope {
            scope.decrement_num_running_threads(unhandled_panic);
        }
    }
}

/// The shared part of `JoinHandle` and `ScopedJoinHandle`.
pub(crate) struct JoinInner<'scope, T> {
    pub(crate) thread: Thread,
    pub(crate) packet: Arc<Packet<'scope, T>>,
}

impl<T> JoinInner<'_, T> {
    pub(crate) fn join(self) -> super::Result<T> {
        self.packet.join(self.thread.id())
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.packet.is_finished()
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

    /// The handle of the thread.
    pub fn thread(&self) -> &Thread {
        &self.0.thread
    }

    /// Whether the thread has finished running its closure (a later `join`
    /// returns at once).
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("thread", &self.0.thread).finish_non_exhaustive()
    }
}

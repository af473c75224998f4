//! Scoped threads: threads that may borrow from the stack of the thread
//! that created the scope, because the scope joins them all before it ends.
//!
//! The same design as std's: the scope counts running threads; each
//! thread's packet decrements the count when it is released — once the
//! thread has ended and its handle is gone, after the result, which may
//! borrow, is dropped (`join.rs`) — and unparks the scope's owner at zero.

use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::join::JoinInner;
use super::{current, park_uninterruptible, Builder, Thread};
use crate::rt::lock::Mutex;
use crate::rt::task::TaskRef;
use crate::rt::wait;

pub(crate) struct ScopeData {
    num_running_threads: AtomicUsize,
    a_thread_panicked: AtomicBool,
    main_thread: Thread,
    /// The threads spawned in the scope, for `Scope::interrupt` (finished
    /// ones are pruned as the list grows), and whether it was called.
    threads: Mutex<ScopeThreads>,
}

#[derive(Default)]
struct ScopeThreads {
    threads: Vec<TaskRef>,
    interrupted: bool,
}

impl ScopeData {
    /// Records a thread just spawned in the scope; interrupts it if the
    /// scope was interrupted already.
    pub(crate) fn add_thread(&self, task: &TaskRef) {
        let mut list = self.threads.lock();
        if list.interrupted {
            drop(list);
            wait::interrupt_task(task);
            return;
        }
        if list.threads.len() == list.threads.capacity() {
            list.threads.retain(|t| !t.is_finished());
        }
        list.threads.push(task.new_ref());
    }

    /// Drops the references to the scope's threads (at its end).
    fn forget_threads(&self) {
        let threads = std::mem::take(&mut self.threads.lock().threads);
        drop(threads);
    }

    fn interrupt(&self) {
        let threads = {
            let mut list = self.threads.lock();
            list.interrupted = true;
            std::mem::take(&mut list.threads)
        };
        for task in &threads {
            wait::interrupt_task(task);
        }
    }

    pub(crate) fn increment_num_running_threads(&self) {
        if self.num_running_threads.fetch_add(1, Ordering::Relaxed) > usize::MAX / 2 {
            self.decrement_num_running_threads(false);
            panic!("too many running threads in thread scope");
        }
    }

    pub(crate) fn decrement_num_running_threads(&self, panic: bool) {
        if panic {
            self.a_thread_panicked.store(true, Ordering::Relaxed);
        }
        if self.num_running_threads.fetch_sub(1, Ordering::Release) == 1 {
            self.main_thread.unpark();
        }
    }
}

/// A scope to spawn scoped threads in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    pub(crate) data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// An owned permission to join a scoped thread.
pub struct ScopedJoinHandle<'scope, T>(pub(crate) JoinInner<'scope, T>);

/// Creates a scope for spawning threads that borrow local variables.
///
/// As [`std::thread::scope`]: all threads spawned in the scope are joined
/// before `scope` returns; if any of them panicked and was not joined
/// explicitly, `scope` panics.
///
/// ```
/// let mut counts = vec![0u32; 4];
/// myriad::thread::scope(|s| {
///     for (i, c) in counts.iter_mut().enumerate() {
///         s.spawn(move || *c = i as u32 * 10);
///     }
/// });
/// assert_eq!(counts, [0, 10, 20, 30]);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            num_running_threads: AtomicUsize::new(0),
            a_thread_panicked: AtomicBool::new(false),
            main_thread: current(),
            threads: Mutex::new(ScopeThreads::default()),
        }),
        env: PhantomData,
        scope: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    while scope.data.num_running_threads.load(Ordering::Acquire) != 0 {
        park_uninterruptible();
    }
    // The list's references keep the threads' cells, whose packets keep
    // this `ScopeData`: a cycle, broken here.
    scope.data.forget_threads();
    match result {
        Err(e) => resume_unwind(e),
        Ok(_) if scope.data.a_thread_panicked.load(Ordering::Relaxed) => panic!("a scoped thread panicked"),
        Ok(result) => result,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a scoped thread; see [`scope`].
    ///
    /// # Panics
    ///
    /// Panics if the thread cannot be created; [`Builder::spawn_scoped`]
    /// returns the error instead.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new().spawn_scoped(self, f).expect("failed to spawn thread")
    }

    /// Interrupts every thread spawned in this scope, and those spawned in
    /// it from now on (see [`Thread::interrupt`]): one thread's failure
    /// cancels its siblings. The thread that created the scope is not
    /// interrupted; it still waits for all of them at the scope's end.
    ///
    /// ```
    /// use myriad::thread;
    /// use std::time::Duration;
    /// let outcome = thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| thread::sleep(Duration::from_secs(3600)));
    ///     }
    ///     let failing = s.spawn(|| {
    ///         thread::sleep(Duration::from_millis(5));
    ///         Err::<(), _>("backend down")
    ///     });
    ///     let outcome = failing.join().unwrap();
    ///     if outcome.is_err() {
    ///         s.interrupt(); // the four sleepers return now
    ///     }
    ///     outcome
    /// });
    /// assert!(outcome.is_err());
    /// ```
    pub fn interrupt(&self) {
        self.data.interrupt();
    }
}

impl<'scope, T> ScopedJoinHandle<'scope, T> {
    /// The handle of the thread.
    pub fn thread(&self) -> &Thread {
        self.0.thread()
    }

    /// Waits for the thread to end; see [`super::JoinHandle::join`].
    pub fn join(self) -> super::Result<T> {
        self.0.join()
    }

    /// Waits at most `timeout`; see [`super::JoinHandle::join_timeout`].
    pub fn join_timeout(self, timeout: std::time::Duration) -> Result<super::Result<T>, Self> {
        match std::time::Instant::now().checked_add(timeout) {
            Some(deadline) => self.join_deadline(deadline),
            None => Ok(self.join()),
        }
    }

    /// Waits until `deadline` at the latest; see
    /// [`super::JoinHandle::join_deadline`].
    pub fn join_deadline(self, deadline: std::time::Instant) -> Result<super::Result<T>, Self> {
        self.0.join_deadline(deadline).map_err(ScopedJoinHandle)
    }

    /// Waits for the thread to end unless the calling thread is
    /// interrupted first; see [`super::JoinHandle::join_interruptible`].
    pub fn join_interruptible(self) -> Result<super::Result<T>, (super::Interrupted, Self)> {
        self.0.join_interruptible().map_err(|(interrupted, inner)| (interrupted, ScopedJoinHandle(inner)))
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("num_running_threads", &self.data.num_running_threads.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle").field("thread", self.0.thread()).finish_non_exhaustive()
    }
}

//! Cheap threads with the API of [`std::thread`].
//!
//! A myriad thread is a user-space thread: spawning one takes tens of
//! nanoseconds and a few KiB, and blocking it (`join`, `park`, `sleep`, and
//! the blocking calls of `myriad::sync`) switches its worker OS thread to
//! another myriad thread instead of blocking the OS thread. Port a program
//! by changing `std::thread` to `myriad::thread`:
//!
//! ```
//! use myriad::thread;
//! use std::time::Duration;
//!
//! let handles: Vec<_> = (0..1000)
//!     .map(|i| {
//!         thread::spawn(move || {
//!             thread::sleep(Duration::from_millis(1));
//!             i * 2
//!         })
//!     })
//!     .collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 999 * 1000);
//! ```
//!
//! Every function here also works on a plain OS thread (`main`, a thread
//! from `std::thread::spawn`): there it blocks that OS thread, as std would.
//!
//! # Thread-local storage
//!
//! std's `thread_local!` is per **OS** thread. Several myriad threads share
//! a worker OS thread (one after the other, never at once), so they would
//! see one another's values. Use [`myriad::thread_local!`](crate::thread_local)
//! for values that belong to each myriad thread. std's thread-locals remain
//! *sound* to use — a myriad thread never moves to another OS thread once it
//! has started, so a reference into one stays valid — they are just shared.
//!
//! # Blocking while unwinding
//!
//! A thread unwinding from a panic keeps its worker until it is done
//! (std's panic count is per OS thread). Blocking in a `Drop` during the
//! unwind works for IO, timers, `blocking` calls and threads on other
//! workers, but waits forever for anything only a thread pinned to the same
//! worker can do — keep such `Drop`s free of waits on other myriad threads.
//!
//! # Blocking the worker
//!
//! `std::thread::sleep`, a `std::sync::Mutex` held long, `std::net` IO or a
//! long computation inside a myriad thread block its whole worker, and the
//! other threads pinned there wait. Use the myriad equivalents, or
//! [`yield_now`] in long loops.

mod builder;
mod join;
pub(crate) mod local;
mod scope;

use std::fmt;
use std::time::{Duration, Instant};

pub use crate::rt::ThreadId;
pub use builder::Builder;
pub use join::JoinHandle;
pub use local::{AccessError, LocalKey};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use std::thread::{available_parallelism, panicking, Result};

use crate::rt::context;
use crate::rt::task::TaskRef;
use crate::rt::wait;

/// Spawns a new myriad thread, returning a [`JoinHandle`] for it.
///
/// As [`std::thread::spawn`]: the thread runs `f` and its return value (or
/// panic) is delivered by [`JoinHandle::join`].
///
/// # Panics
///
/// Panics if the thread cannot be created, e.g. when the process reached its
/// memory-mapping limit; [`Builder::spawn`] returns that error instead.
///
/// ```
/// let handle = myriad::thread::spawn(|| "hello from a myriad thread");
/// assert_eq!(handle.join().unwrap(), "hello from a myriad thread");
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// A handle to a thread, myriad or OS.
///
/// ```
/// let t = myriad::thread::Builder::new()
///     .name("worker".into())
///     .spawn(|| myriad::thread::current())
///     .unwrap()
///     .join()
///     .unwrap();
/// assert_eq!(t.name(), Some("worker"));
/// ```
#[derive(Clone)]
pub struct Thread {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Myriad(TaskRef),
    Os { thread: std::thread::Thread, id: ThreadId },
}

thread_local! {
    static OS_THREAD_ID: ThreadId = ThreadId::new();
}

impl Thread {
    pub(crate) fn from_task(task: TaskRef) -> Thread {
        Thread { inner: Inner::Myriad(task) }
    }

    /// The myriad thread this handle is for, if it is one.
    pub(crate) fn task(&self) -> Option<&TaskRef> {
        match &self.inner {
            Inner::Myriad(task) => Some(task),
            Inner::Os { .. } => None,
        }
    }

    /// As `task`, by value.
    pub(crate) fn into_task(self) -> Option<TaskRef> {
        match self.inner {
            Inner::Myriad(task) => Some(task),
            Inner::Os { .. } => None,
        }
    }

    /// The thread's unique identifier.
    pub fn id(&self) -> ThreadId {
        match &self.inner {
            Inner::Myriad(task) => task.id,
            Inner::Os { id, .. } => *id,
        }
    }

    /// The thread's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        match &self.inner {
            Inner::Myriad(task) => task.name(),
            Inner::Os { thread, .. } => thread.name(),
        }
    }

    /// Makes the thread's park token available, waking it if it is parked
    /// (see [`park`]).
    pub fn unpark(&self) {
        match &self.inner {
            Inner::Myriad(task) => wait::unpark_task(task),
            Inner::Os { thread, .. } => thread.unpark(),
        }
    }

    /// Whether this is a myriad thread (rather than an OS thread).
    pub fn is_myriad(&self) -> bool {
        matches!(self.inner, Inner::Myriad(_))
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("myriad", &self.is_myriad())
            .finish_non_exhaustive()
    }
}

/// The calling thread's id as a number, cheaply (no handle is made).
pub(crate) fn current_id_u64() -> u64 {
    context::with_current_task(|task| match task {
        Some(task) => task.id.as_u64().get(),
        None => OS_THREAD_ID.with(|id| id.as_u64().get()),
    })
}

/// The handle of the calling thread, myriad or OS.
///
/// ```
/// let main = myriad::thread::current();
/// assert!(!main.is_myriad());
/// let inner = myriad::thread::spawn(|| myriad::thread::current().is_myriad());
/// assert!(inner.join().unwrap());
/// ```
pub fn current() -> Thread {
    match context::current_task() {
        Some(task) => Thread::from_task(task),
        None => Thread { inner: Inner::Os { thread: std::thread::current(), id: OS_THREAD_ID.with(|id| *id) } },
    }
}

/// Blocks until the thread's park token is available, then consumes it;
/// may also return spuriously (see [`std::thread::park`]).
///
/// ```
/// use myriad::thread;
/// let parked = thread::spawn(|| {
///     thread::park();
///     "unparked"
/// });
/// parked.thread().unpark();
/// assert_eq!(parked.join().unwrap(), "unparked");
/// ```
pub fn park() {
    context::with_current_task(|task| match task {
        Some(task) => wait::park_task(task, None),
        None => std::thread::park(),
    })
}

/// As [`park`], but returns after `dur` at the latest.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// myriad::thread::spawn(|| myriad::thread::park_timeout(Duration::from_millis(5))).join().unwrap();
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn park_timeout(dur: Duration) {
    context::with_current_task(|task| match task {
        Some(task) => wait::park_task(task, Instant::now().checked_add(dur)),
        None => std::thread::park_timeout(dur),
    })
}

/// Puts the calling thread to sleep for at least `dur`.
///
/// A sleeping myriad thread costs no CPU and does not hold up its worker;
/// wake-up is accurate to tens of microseconds (timers are not rounded to
/// milliseconds).
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// myriad::thread::spawn(|| myriad::thread::sleep(Duration::from_micros(300))).join().unwrap();
/// assert!(start.elapsed() >= Duration::from_micros(300));
/// ```
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            sleep(Duration::from_secs(u32::MAX as u64));
        },
    }
}

/// Puts the calling thread to sleep until `deadline`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(2);
/// myriad::thread::spawn(move || myriad::thread::sleep_until(deadline)).join().unwrap();
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    wait::sleep_until(deadline);
}

/// Lets other runnable threads of this worker run before continuing.
///
/// Call it in long computations so that they do not hold up the other
/// threads pinned to the same worker. On an OS thread it calls
/// [`std::thread::yield_now`].
///
/// ```
/// let h = myriad::thread::spawn(|| {
///     let mut sum = 0u64;
///     for i in 0..1_000_000u64 {
///         sum += i;
///         if i % 10_000 == 0 {
///             myriad::thread::yield_now();
///         }
///     }
///     sum
/// });
/// assert_eq!(h.join().unwrap(), 499_999_500_000);
/// ```
pub fn yield_now() {
    wait::yield_now();
}

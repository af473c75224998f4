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
//! # Interrupting a thread
//!
//! [`Thread::interrupt`] stops a thread that waits: shutting a server
//! down, or abandoning the fan-out of a request whose client has gone.
//! It raises the thread's *interrupt flag* and ends the wait the thread is
//! in, if that wait is interruptible; an interruptible call that the
//! thread makes later, with the flag raised, returns at once. The flag
//! stays raised until [`Thread::clear_interrupt`]: as with Go's cancelled
//! contexts (and unlike Java, where the exception clears it), a library
//! that catches one error and retries cannot undo a cancellation.
//!
//! Interruptible calls, on myriad threads and OS threads alike:
//!
//! * **IO** (`myriad::net`, `myriad::fs`, `myriad::io`) fails with an
//!   [`io::Error`](std::io::Error) that holds an [`Interrupted`];
//!   [`is_interrupt`] recognises it. Its kind is *not*
//!   [`ErrorKind::Interrupted`](std::io::ErrorKind::Interrupted): std's
//!   `read_exact`, `write_all`, `read_to_end` and `io::copy` retry that
//!   kind, so they would spin on an interrupted thread instead of
//!   returning. The kind is `Other` for an interrupt and `TimedOut` for a
//!   deadline, which std never retries. A file operation in flight on
//!   io_uring is cancelled, and the call returns only once the kernel has
//!   let go of its buffer.
//! * [`sleep`], [`sleep_until`], [`park`] and [`park_timeout`] return
//!   early (for `park`, a spurious wake-up).
//! * Calls whose std signature has no room for the error get their own
//!   variant that returns [`Interrupted`]: [`JoinHandle::join_interruptible`],
//!   [`Condvar::wait_interruptible`](crate::sync::Condvar::wait_interruptible),
//!   [`Barrier::wait_interruptible`](crate::sync::Barrier::wait_interruptible),
//!   [`Semaphore::acquire_interruptible`](crate::sync::Semaphore::acquire_interruptible),
//!   the channels' `recv_interruptible` and `send_interruptible`
//!   ([`mpsc`](crate::sync::mpsc::Receiver::recv_interruptible),
//!   [`channel`](crate::sync::channel::Receiver::recv_interruptible)),
//!   and [`blocking_interruptible`](crate::blocking_interruptible) (whose
//!   closure must be `'static`: the caller leaves while it still runs).
//!   Explicit variants rather than one "interruptible scope" around
//!   std-shaped calls, because there a `recv` would have to report an
//!   interrupt as a disconnection, and a `join` as a panic of the joined
//!   thread: both misread by correct std code.
//! * [`set_deadline`] gives the thread a deadline that every interruptible
//!   call honours; when it passes the thread is interrupted
//!   ([`Interrupted::by_deadline`]). Threads spawned in a [`scope`] start
//!   with their spawner's deadline, and [`Scope::interrupt`] interrupts
//!   every thread of a scope at once (one failure cancels its siblings).
//!
//! Not interruptible, as in std and Java: locking a `Mutex` or `RwLock`,
//! plain `join`, [`blocking`](crate::blocking) (its closure may borrow
//! from the caller, who therefore cannot leave early), and C code
//! intercepted by the `intercept` feature. File IO that runs on the
//! offload pool (where io_uring is unavailable) and the standard streams
//! fail at once on an interrupted thread but finish a call already under
//! way, for the same reason. A computation that makes no interruptible
//! call polls [`check_interrupt`].
//!
//! How: each thread has an interrupt flag; an interruptible wait marks its
//! wait episode interruptible in the thread's wait-state word, and
//! `interrupt` raises the flag and then ends such an episode with a
//! compare-and-swap, racing safely with the wake-up or time-out that would
//! have ended it (exactly one of them wins).
//!
//! ```
//! use myriad::thread;
//! use std::io::Read;
//! use std::time::Duration;
//!
//! let listener = myriad::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let reader = thread::spawn(move || {
//!     let mut conn = myriad::net::TcpStream::connect(addr).unwrap();
//!     let mut buf = [0u8; 4];
//!     conn.read_exact(&mut buf) // the peer never writes
//! });
//! let (_peer, _) = listener.accept().unwrap();
//! thread::sleep(Duration::from_millis(10));
//! reader.thread().interrupt();
//! let err = reader.join().unwrap().unwrap_err();
//! assert!(thread::is_interrupt(&err));
//! ```
//!
//! Uninterrupted, an interruptible wait costs a fence and a load of the
//! thread's flag byte (`park`, one load); nothing else changes.
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

pub use crate::rt::wait::{is_interrupt, Interrupted};
pub use crate::rt::ThreadId;
pub use builder::Builder;
pub use join::JoinHandle;
pub use local::{AccessError, LocalKey};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use std::thread::{available_parallelism, panicking, Result};

use crate::rt::context;
use crate::rt::task::TaskRef;
use crate::rt::wait::{self, OsWaiter};
use std::sync::Arc;

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
    Os { thread: std::thread::Thread, id: ThreadId, waiter: Arc<OsWaiter> },
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
    #[inline]
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

    /// Interrupts the thread: its interruptible call in progress, or the
    /// next one it makes, returns at once with [`Interrupted`] (an IO call
    /// with an `io::Error` holding it), and the thread stays interrupted
    /// until it calls [`clear_interrupt`](Self::clear_interrupt). See
    /// [the module docs](self#interrupting-a-thread).
    ///
    /// ```
    /// use myriad::thread;
    /// use std::time::Duration;
    /// let sleeper = thread::spawn(|| {
    ///     thread::sleep(Duration::from_secs(3600));
    ///     thread::current().is_interrupted()
    /// });
    /// sleeper.thread().interrupt();
    /// assert!(sleeper.join().unwrap());
    /// ```
    pub fn interrupt(&self) {
        match &self.inner {
            Inner::Myriad(task) => wait::interrupt_task(task),
            Inner::Os { thread, waiter, .. } => {
                waiter.interrupt();
                // An OS thread in `park` sleeps in std's parker: a
                // spurious wake-up, after which `park` returns.
                thread.unpark();
            }
        }
    }

    /// Whether the thread is interrupted (its flag is raised; a deadline
    /// that passed counts once the thread has noticed it in a call).
    pub fn is_interrupted(&self) -> bool {
        match &self.inner {
            Inner::Myriad(task) => task.interrupt.get().is_some(),
            Inner::Os { waiter, .. } => waiter.interrupt_flag().get().is_some(),
        }
    }

    /// Lowers the thread's interrupt flag, so that its interruptible calls
    /// block again; whether it was raised. (Its deadline, if it passed,
    /// raises the flag again at the next call: move it with
    /// [`set_deadline`].)
    pub fn clear_interrupt(&self) -> bool {
        match &self.inner {
            Inner::Myriad(task) => task.interrupt.clear(),
            Inner::Os { waiter, .. } => waiter.interrupt_flag().clear(),
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
        None => Thread {
            inner: Inner::Os {
                thread: std::thread::current(),
                id: OS_THREAD_ID.with(|id| *id),
                waiter: wait::os_waiter(),
            },
        },
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
///
/// An interrupt (or the thread's deadline) ends it too, as a spurious
/// wake-up: check [`Thread::is_interrupted`] in the loop around it.
#[inline]
pub fn park() {
    park_inner(None, true);
}

/// `park` or `park_timeout` (`deadline`), interruptible or not.
#[inline]
fn park_inner(deadline: Option<Instant>, interruptible: bool) {
    context::with_current_task(|task| match task {
        Some(task) => wait::park_task(task, deadline, interruptible),
        None => park_os(deadline, interruptible),
    })
}

/// `park_inner` on an OS thread: std's parker.
#[inline(never)]
fn park_os(deadline: Option<Instant>, interruptible: bool) {
    // An interrupt raises the flag, then unparks (`Thread::interrupt`).
    if interruptible && wait::current_interrupt().is_some() {
        return;
    }
    let deadline = if interruptible { earlier(deadline, wait::current_deadline()) } else { deadline };
    match deadline {
        None => std::thread::park(),
        Some(deadline) => std::thread::park_timeout(deadline.saturating_duration_since(Instant::now())),
    }
    if interruptible {
        // Notices a deadline that passed (raising the flag).
        let _ = wait::current_interrupt();
    }
}

fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `park` that only `unpark` ends (for the runtime's own loops, which
/// must not spin on a raised interrupt flag).
pub(crate) fn park_uninterruptible() {
    park_inner(None, false);
}

/// As [`park`], but returns after `dur` at the latest.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// myriad::thread::spawn(|| myriad::thread::park_timeout(Duration::from_millis(5))).join().unwrap();
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
///
/// An interrupt (or the thread's deadline) ends it early, as [`park`].
pub fn park_timeout(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => park_inner(Some(deadline), true),
        None => park(),
    }
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
///
/// An interrupt (or the thread's deadline) ends the sleep early, leaving
/// the thread interrupted ([`Thread::is_interrupted`]).
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            if !wait::sleep_until(Instant::now() + Duration::from_secs(u32::MAX as u64), true) {
                return;
            }
        },
    }
}

/// `sleep` that no interrupt ends (for intercepted C `sleep`s, whose
/// callers expect the time to have passed).
#[cfg_attr(not(feature = "intercept"), allow(dead_code))]
pub(crate) fn sleep_uninterruptible(dur: Duration) {
    if let Some(deadline) = Instant::now().checked_add(dur) {
        wait::sleep_until(deadline, false);
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
///
/// An interrupt ends it early, as [`sleep`].
pub fn sleep_until(deadline: Instant) {
    wait::sleep_until(deadline, true);
}

/// Returns `Err` if the calling thread is interrupted or its deadline has
/// passed: for long computations that make no interruptible call, to stop
/// when asked.
///
/// ```
/// use myriad::thread;
/// let worker = thread::spawn(|| {
///     let mut n = 0u64;
///     while thread::check_interrupt().is_ok() {
///         n += 1;
///         thread::yield_now();
///     }
///     n
/// });
/// worker.thread().interrupt();
/// worker.join().unwrap();
/// ```
pub fn check_interrupt() -> std::result::Result<(), Interrupted> {
    match wait::current_interrupt() {
        Some(interrupted) => Err(interrupted),
        None => Ok(()),
    }
}

/// Sets (or, with `None`, removes) the calling thread's deadline. Every
/// interruptible call the thread makes returns by then at the latest; when
/// the deadline passes during one (or before it), the thread is
/// interrupted, with [`Interrupted::by_deadline`]. Threads spawned in a
/// [`scope`] start with the deadline of the thread that spawned them.
///
/// ```
/// use myriad::thread;
/// use std::time::{Duration, Instant};
/// let h = thread::spawn(|| {
///     thread::set_deadline(Some(Instant::now() + Duration::from_millis(5)));
///     thread::sleep(Duration::from_secs(3600)); // ends at the deadline
///     thread::check_interrupt().unwrap_err().by_deadline()
/// });
/// assert!(h.join().unwrap());
/// ```
pub fn set_deadline(deadline: Option<Instant>) {
    wait::set_current_deadline(deadline);
}

/// The calling thread's deadline (see [`set_deadline`]).
pub fn deadline() -> Option<Instant> {
    wait::current_deadline()
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

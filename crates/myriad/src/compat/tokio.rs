//! `compat::tokio`: tokio's async crates, called from a myriad thread.
//!
//! Why: many clients are async-only and need tokio's reactor and timer
//! (tokio-postgres, reqwest, tonic, cloud SDKs); [`crate::block_on`]
//! cannot drive those.
//!
//! How: one tokio multi-thread runtime per process, built on first use
//! (or by [`Builder::start`]) with its own OS threads named
//! `myriad-tokio`. Those threads drive IO readiness and timers, and run the
//! tasks that futures spawn. [`run`] polls the future on the calling
//! thread itself, as tokio's own `Handle::block_on` does from outside a
//! runtime, with the runtime's context entered during each poll so that IO
//! resources and timers made inside register with it. Between polls the
//! thread parks through myriad's wait primitive (`crate::block_on` over
//! `rt::wait::block`): its worker runs other myriad threads, and the
//! runtime's wake-up makes it runnable again. A ready future thus costs a
//! poll, and each IO event or timer one cross-thread wake-up; there is no
//! hand-off of the future to a tokio worker and back.
//!
//! Choices, and what they rule out:
//!
//! - *Polling on the caller rather than spawning the future on the runtime
//!   and waiting for its `JoinHandle`*: a spawned future must be
//!   `Send + 'static`, and each call would cost a tokio worker's wake-up
//!   (15–20 µs on our VMs when it sleeps; myriad-bench measures that path
//!   as `run(spawn(async {}))`). The future's own code runs on the myriad
//!   worker, like the rest of the thread's code.
//! - *Multi-thread rather than current-thread*: a current-thread runtime
//!   drives IO and timers only inside its own `block_on`, so it would need
//!   a thread parked there anyway and could not run spawned tasks on more
//!   than one core; the multi-thread one drives them from whichever of its
//!   threads is idle, and is the flavour tokio supports `Handle::block_on`
//!   on from outside.
//! - Tokio's context is entered only for the length of a poll, never
//!   across a park, because myriad threads take turns on one OS thread and
//!   tokio's context guards must nest. A future that *blocks* inside a poll
//!   (a blocking myriad call in async code) lets other threads of its
//!   worker run inside that poll; if two of them do so and resume in the
//!   other order, tokio panics ("EnterGuard values dropped out of order").
//!   Async code should not block, here as on any executor.
//! - While a thread waits in `run`, myriad's deadlock detector does not
//!   report the process as deadlocked: the runtime's threads may wake it.

use std::future::{Future, IntoFuture};
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};

use ::tokio::runtime::{Handle, Runtime};

use crate::rt::context;

/// The runtime, once started.
static RUNTIME: OnceLock<Runtime> = OnceLock::new();
/// Held while the runtime is being built, so it is built once.
static STARTING: Mutex<()> = Mutex::new(());

/// Configures the tokio runtime behind [`run`] before its first use.
///
/// Without it, the runtime starts on the first call to [`run`] or
/// [`handle`], with `MYRIAD_TOKIO_THREADS` threads if that variable is set
/// to a number, else tokio's default (one per core).
///
/// ```
/// let handle = myriad::compat::tokio::Builder::new().worker_threads(1).start().unwrap();
/// assert_eq!(handle.metrics().num_workers(), 1);
/// // Started already: a second configuration is refused.
/// assert!(myriad::compat::tokio::Builder::new().start().is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    worker_threads: Option<usize>,
}

impl Builder {
    /// A builder with the defaults (see [`Builder`]).
    ///
    /// ```
    /// let _ = myriad::compat::tokio::Builder::new();
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The number of the runtime's OS threads (at least 1); overrides
    /// `MYRIAD_TOKIO_THREADS`.
    ///
    /// ```
    /// let b = myriad::compat::tokio::Builder::new().worker_threads(2);
    /// b.start().unwrap();
    /// assert_eq!(myriad::compat::tokio::handle().metrics().num_workers(), 2);
    /// ```
    pub fn worker_threads(mut self, n: usize) -> Builder {
        self.worker_threads = Some(n.max(1));
        self
    }

    /// Starts the runtime and returns its handle. Fails with
    /// [`io::ErrorKind::AlreadyExists`] if it was started already (by an
    /// earlier `start`, [`run`] or [`handle`]), or with the OS's error if
    /// its threads cannot start.
    ///
    /// ```
    /// let handle = myriad::compat::tokio::Builder::new().start().unwrap();
    /// assert_eq!(handle.block_on(handle.spawn(async { 5 })).unwrap(), 5);
    /// ```
    pub fn start(self) -> io::Result<&'static Handle> {
        let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        if RUNTIME.get().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "myriad::compat::tokio: the runtime was started already",
            ));
        }
        let threads = self.worker_threads.or_else(env_threads);
        let mut builder = ::tokio::runtime::Builder::new_multi_thread();
        builder.thread_name("myriad-tokio").enable_all();
        if let Some(n) = threads {
            builder.worker_threads(n);
        }
        let runtime = builder.build()?;
        Ok(RUNTIME.get_or_init(|| runtime).handle())
    }
}

/// `MYRIAD_TOKIO_THREADS`, if set to a positive number.
fn env_threads() -> Option<usize> {
    let value = std::env::var("MYRIAD_TOKIO_THREADS").ok()?;
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            crate::rt::report::warn(&format!("myriad: ignoring MYRIAD_TOKIO_THREADS={value:?}: not a positive number"));
            None
        }
    }
}

/// The handle of the runtime behind [`run`], starting it if need be: for
/// spawning tasks on it, or entering its context.
///
/// # Panics
///
/// If the runtime is not started yet and its OS threads cannot start.
///
/// ```
/// let task = myriad::compat::tokio::handle().spawn(async { 6 * 7 });
/// assert_eq!(myriad::compat::tokio::run(task).unwrap(), 42);
/// ```
pub fn handle() -> &'static Handle {
    if let Some(runtime) = RUNTIME.get() {
        return runtime.handle();
    }
    match Builder::new().start() {
        Ok(handle) => handle,
        // Another thread started it meanwhile.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match RUNTIME.get() {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime is set before `start` lets go of the lock"),
        },
        Err(e) => panic!("myriad::compat::tokio: cannot start the tokio runtime: {e}"),
    }
}

/// Runs `future` to completion with tokio's reactor and timer available,
/// and returns its output. On a myriad thread the thread parks between
/// polls (its worker runs other threads); on an OS thread this is tokio's
/// `Handle::block_on`, which blocks it. The future runs on the calling
/// thread, so it need not be `Send` and may borrow from the caller; the
/// tasks it spawns run on the runtime's threads. A panic in the future
/// resumes in the caller.
///
/// Tokio's IO types and timers find their runtime when they are made, so
/// make them inside the future: `run(async { sleep(d).await })`, not
/// `run(sleep(d))`, whose `sleep` runs before `run` enters the runtime's
/// context (tokio's own `block_on` has the same rule).
///
/// # Panics
///
/// If the future panics; if the runtime cannot start (see [`handle`]); on
/// an OS thread, where tokio's `block_on` panics (inside a tokio task).
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let h = myriad::thread::spawn(|| {
///     let t = Instant::now();
///     let greeting = String::from("hello");
///     // A tokio timer, from a myriad thread; the future borrows `greeting`.
///     let n = myriad::compat::tokio::run(async {
///         tokio::time::sleep(Duration::from_millis(20)).await;
///         greeting.len()
///     });
///     (n, t.elapsed())
/// });
/// let (n, took) = h.join().unwrap();
/// assert_eq!(n, 5);
/// assert!(took >= Duration::from_millis(20));
/// ```
pub fn run<F: IntoFuture>(future: F) -> F::Output {
    let handle = handle();
    if !context::on_myriad_thread() {
        return handle.block_on(future.into_future());
    }
    let _waiting = crate::rt::offload::OutsideWait::begin();
    let future = pin!(future.into_future());
    crate::block_on(InContext { handle, future })
}

/// A future polled with tokio's context entered for the length of each
/// poll (see the module comment).
struct InContext<'a, F> {
    handle: &'a Handle,
    future: Pin<&'a mut F>,
}

impl<F: Future> Future for InContext<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // `InContext` is `Unpin`: it only holds a pinned reference.
        let this = self.get_mut();
        let _entered = this.handle.enter();
        this.future.as_mut().poll(cx)
    }
}

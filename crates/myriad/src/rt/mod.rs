//! The runtime: workers, run queues, stacks, timers and the waiting
//! primitive underneath `myriad::thread`, `myriad::sync` and friends.
//!
//! The runtime starts itself the first time a myriad thread is spawned, with
//! one worker per core. [`Builder`] configures it before that, and
//! environment variables override the defaults without recompiling:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `MYRIAD_WORKERS` | worker OS threads | available parallelism |
//! | `MYRIAD_STACK_SIZE` | bytes of stack per thread | 256 KiB |
//! | `MYRIAD_STACK_GUARD` | `madvise`, `mprotect` or `auto` | `auto` |
//! | `MYRIAD_BLOCKING_THREADS` | cap of the offload pool of [`crate::blocking`] | 512 |
//! | `MYRIAD_STALL_MS` | stall monitor threshold, milliseconds | 10 |
//! | `MYRIAD_STALL` | on a stalled worker: `report`, `abort` (for CI), `ignore` | `report` |
//! | `MYRIAD_STUCK_MS` | no progress for this long with every worker held: report (or abort) | 10000 |
//! | `MYRIAD_DEADLOCK` | on a deadlock of every thread: `report`, `panic`, `ignore` | `report` |
//! | `MYRIAD_DUMP_SIGNAL` | print a thread dump on this signal, by name (`USR1`, `USR2`, `QUIT`, ...) | off |
//! | `MYRIAD_TOKIO_THREADS` | with the `tokio` feature: worker threads of `compat::tokio`'s runtime | one per core |
//! | `MYRIAD_INTERCEPT` | with the `intercept` feature: `0` makes blocking libc calls block the worker again | `1` |
//!
//! A value set through [`Builder`] wins over the environment.
//!
//! At start-up the runtime also raises the process's soft limit on open
//! files to its hard limit (as Go does), since one thread per connection
//! means one descriptor per thread.
//!
//! `fork`: a child forked after the runtime started has no runtime (fork
//! copies only the calling OS thread). There, spawning a myriad thread
//! returns an error that says so, and every other myriad call works as on
//! a plain OS thread, blocking it; the parent's descriptors are left
//! alone. A myriad thread that forks must `exec` or `_exit` in the child
//! before its closure returns (the child aborts with a message
//! otherwise). `std::process::Command` (fork + exec) works anywhere.
//!
//! # How the parts fit
//!
//! Each layer uses only the ones below it, with one knot at the core, as
//! in Go's `runtime2.go` and `proc.go`: a thread (`task.rs`), the wait
//! primitive (`wait/`) and the scheduler (`worker.rs`) use each other,
//! because a thread holds the `Wake` of whoever joins it, a `Wake` puts a
//! thread back on its worker's run queue, and the worker fires timers
//! that hold `Wake`s. The one pair of files that import each other is
//! `task.rs` and `wait/mod.rs` (besides a module and its children);
//! `scripts/rt_layers.py` checks that in CI. Everything else reaches the
//! worker it runs on through `context.rs` (the running thread, the
//! worker's number) or through what the worker installs on its OS thread
//! when it starts (its cell cache in `cell_cache.rs`, its ring in
//! `uring.rs`, its next timer deadline in `timer.rs`).
//!
//! * **Threads.** `task.rs` is a thread's control block and the cell it
//!   lives in, `task_state.rs` its reference count and join protocol;
//!   `stack.rs` and `overflow.rs` give it a guarded stack; `context.rs`
//!   says which thread runs on this OS thread, and which worker it is.
//! * **Waiting.** `wait/` is the one blocking primitive (`mod.rs`: wait
//!   episodes and `Wake`s; `state.rs`: the atomic wait-state word;
//!   `token.rs`: `park`/`unpark`'s token and handshake; `suspend.rs`: a
//!   myriad thread's side; `interrupt.rs`: interrupt flags, deadlines and
//!   the `Interrupted` error; `reason.rs`: what it waits for); `coop.rs` is
//!   the budget that makes threads that never block yield now and then;
//!   `lock.rs` is the runtime's own poison-free `Mutex` and `Condvar`.
//! * **Synchronisation.** `sync.rs` is the facade the lock-free protocols
//!   take their atomics and locks from (std's; loom's in the model
//!   checks, which compile `task_state.rs`, `wait/state.rs`,
//!   `wait/token.rs` and `inbox.rs` as they are).
//! * **Scheduling.** `worker.rs` runs the scheduler loop, with
//!   `inbox.rs` (threads other OS threads woke, and its sleep
//!   announcement), `registry.rs` (its started threads), `cell_cache.rs`
//!   (memory for the next thread cells) and `timer.rs` (its deadlines).
//! * **IO drivers.** `poller.rs` is how a worker sleeps (epoll, with an
//!   `event_fd.rs` to be woken); `readiness.rs` is what epoll says about
//!   a descriptor (its readiness word and waiting threads) and the
//!   dispatch of events; `uring.rs` runs file operations on a per-worker
//!   io_uring ring; `io_driver.rs` is a worker's IO (poller, registered
//!   descriptors, ring) and its poll step; `reactor.rs` registers
//!   descriptors and makes IO on them wait for readiness (`IoFd`);
//!   `offload.rs` is the pool behind `myriad::blocking`.
//! * **Process.** `config.rs` settles the configuration; `fork.rs` makes
//!   a forked child safe; `fatal.rs` aborts on what cannot be recovered;
//!   `fd_table.rs` grows the kernel's descriptor table ahead of need, off
//!   the workers.
//! * **Observation.** `watch.rs` is what each worker publishes for the
//!   monitor, `dump.rs` a dump's types, formatting and the workers' side of
//!   a dump request, `kernel.rs` what `/proc` says a thread or descriptor
//!   does: all below the monitor, which uses them and is used by none of
//!   them. `monitor/` watches the workers (one file per watch: stalls, a
//!   stuck program, deadlocks, lock cycles, the dump signal) and takes
//!   `dump()`'s snapshot; `metrics.rs` counts, and `report.rs` sends
//!   reports to the one sink in use (`tracing`, else `log`, else stderr);
//!   `panic_hook.rs` names the myriad thread in panic messages.

mod cell_cache;
mod config;
pub(crate) mod context;
pub(crate) mod coop;
mod dump;
mod event_fd;
mod fatal;
mod fd_table;
mod fork;
mod inbox;
mod io_driver;
mod kernel;
pub(crate) mod locals;
pub(crate) mod lock;
mod metrics;
mod monitor;
pub(crate) mod offload;
mod overflow;
mod panic_hook;
mod poller;
pub(crate) mod reactor;
mod readiness;
mod registry;
pub(crate) mod report;
pub(crate) mod stack;
mod sync;
pub(crate) mod task;
mod task_state;
mod thread_id;
mod timer;
pub(crate) mod uring;
pub(crate) mod wait;
mod watch;
pub(crate) mod worker;

use std::io;
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_deque::{Injector, Worker as Deque};

pub use config::{Builder, OnDeadlock, OnStall, StackGuard};
pub use dump::{Dump, ThreadInfo, ThreadState};
pub use metrics::{metrics, Metrics, WorkerMetrics};
pub use monitor::dump;
pub(crate) use monitor::LOCK_WAITS;
pub use thread_id::ThreadId;
pub use wait::WaitReason;

use config::Config;
use lock::Mutex;
use stack::StackAllocator;
use task::{Packet, Task, TaskRef};
use worker::WorkerShared;

pub(crate) struct Runtime {
    /// All workers that may ever run: the configured ones, then spares that
    /// the stall monitor starts when every running worker is stalled.
    workers: Box<[WorkerShared]>,
    /// How many of `workers` have been started (only grows).
    active: AtomicUsize,
    pub stall_threshold: Duration,
    pub on_deadlock: OnDeadlock,
    pub injector: Injector<TaskRef>,
    pub stacks: StackAllocator,
    /// Workers asleep in their poller.
    pub idle_workers: AtomicUsize,
    pub spawned_from_os: AtomicU64,
    pub offload: offload::OffloadPool,
    pub dumps: dump::DumpRequests,
    /// The workers' own deques, until their threads take them.
    deques: Mutex<Vec<Option<Deque<TaskRef>>>>,
}

/// The configuration, settled by `Builder::start` or by first use.
static RUNTIME_CONFIG: OnceLock<Config> = OnceLock::new();
static RUNTIME: OnceLock<Result<Runtime, (io::ErrorKind, String)>> = OnceLock::new();
static LAUNCHED: OnceLock<()> = OnceLock::new();

/// Most workers (configured plus spares) a runtime has; it has
/// `4 × configured + 8` up to this.
const MAX_WORKERS: usize = 256;

impl Runtime {
    /// The runtime, started on first use.
    pub fn get() -> io::Result<&'static Runtime> {
        if LAUNCHED.get().is_some() {
            if fork::in_child() {
                return Err(fork::error());
            }
            return Ok(Self::get_started());
        }
        let config = RUNTIME_CONFIG.get_or_init(|| Config::from_env(Builder::new()));
        Self::start(config.clone())
    }

    /// The runtime, known to be started (a myriad thread exists).
    pub fn get_started() -> &'static Runtime {
        match RUNTIME.get() {
            Some(Ok(rt)) => rt,
            _ => unreachable!("a myriad thread exists, so the runtime started"),
        }
    }

    fn start(config: Config) -> io::Result<&'static Runtime> {
        let rt = match RUNTIME.get_or_init(|| Runtime::new(config).map_err(|e| (e.kind(), e.to_string()))) {
            Ok(rt) => rt,
            Err((kind, message)) => return Err(io::Error::new(*kind, message.clone())),
        };
        LAUNCHED.get_or_init(|| rt.launch());
        Ok(rt)
    }

    fn new(config: Config) -> io::Result<Runtime> {
        // Pooled stacks are carved 1,024 to a mapping: beyond a TiB each,
        // the arithmetic could overflow, and no machine has the room.
        if config.stack_size > 1 << 40 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "default stack size of {} bytes is too large (MYRIAD_STACK_SIZE or rt::Builder)",
                    config.stack_size
                ),
            ));
        }
        raise_open_file_limit();
        fd_table::reserve_at_start();
        overflow::install_handler();
        if let Some(signal) = config.dump_signal {
            monitor::install_dump_signal(signal);
        }
        panic_hook::install();
        fork::install(worker::forget_worker);
        #[cfg(feature = "intercept")]
        crate::intercept::install(config.intercept);
        let most = (4 * config.workers + 8).min(MAX_WORKERS).max(config.workers);
        let mut workers = Vec::with_capacity(most);
        let mut deques = Vec::with_capacity(most);
        for index in 0..most {
            let deque = Deque::new_lifo();
            workers.push(WorkerShared::new(index, deque.stealer(), poller::Poller::new()?));
            deques.push(Some(deque));
        }
        Ok(Runtime {
            stacks: StackAllocator::new(config.guard, config.stack_size),
            workers: workers.into_boxed_slice(),
            active: AtomicUsize::new(0),
            stall_threshold: config.stall_threshold,
            on_deadlock: config.on_deadlock,
            injector: Injector::new(),
            idle_workers: AtomicUsize::new(0),
            spawned_from_os: AtomicU64::new(0),
            offload: offload::OffloadPool::new(config.blocking_threads),
            dumps: dump::DumpRequests::new(),
            deques: Mutex::new(deques),
        })
    }

    fn launch(&'static self) {
        let configured = RUNTIME_CONFIG.get().map_or(1, |c| c.workers);
        for _ in 0..configured {
            if let Err(err) = self.start_worker() {
                panic!("cannot start a myriad worker OS thread: {err}");
            }
        }
        monitor::start(self);
    }

    /// The workers that have been started.
    pub fn workers(&self) -> &[WorkerShared] {
        &self.workers[..self.active.load(Ordering::Acquire)]
    }

    /// Starts the next spare worker; false if there is none left.
    pub fn start_worker(&'static self) -> io::Result<bool> {
        let mut deques = self.deques.lock();
        let index = self.active.load(Ordering::Acquire);
        let Some(deque) = deques.get_mut(index).and_then(Option::take) else { return Ok(false) };
        // Counted before it runs: its threads must find it in `workers()`.
        self.active.store(index + 1, Ordering::Release);
        let started = std::thread::Builder::new()
            .name(format!("myriad-worker-{index}"))
            .spawn(move || worker::Local::new(self, index, deque).run());
        if let Err(err) = started {
            // Nothing can have been queued on a worker that never ran.
            self.active.store(index, Ordering::Release);
            return Err(err);
        }
        Ok(true)
    }

    /// Wakes one sleeping worker, if any, to take new work. `must` asks for
    /// the sequentially consistent check that cannot miss a worker going to
    /// sleep (needed when nobody else would run the work).
    pub fn wake_idle_worker(&self, must: bool) {
        if must {
            fence(Ordering::SeqCst);
        }
        if self.idle_workers.load(if must { Ordering::SeqCst } else { Ordering::Relaxed }) == 0 {
            return;
        }
        for w in self.workers() {
            if w.wake_if_sleeping() {
                return;
            }
        }
    }

    /// Creates a thread running `f`, which delivers its result to
    /// `packet`, and queues it; returns the join handle's reference.
    ///
    /// # Safety
    ///
    /// Everything `f` and `packet` borrow must outlive the thread (scoped
    /// threads guarantee it by joining before the scope ends).
    #[inline]
    pub unsafe fn spawn_unchecked<P, F>(
        &'static self,
        name: Option<String>,
        stack_size: Option<usize>,
        spawned_at: &'static std::panic::Location<'static>,
        packet: P,
        f: F,
    ) -> io::Result<TaskRef>
    where
        P: Packet,
        F: FnOnce(&P) + Send,
    {
        let stack = match worker::local() {
            Some(local) => self.stacks.allocate(stack_size, Some(&mut local.stacks.borrow_mut())),
            None => self.stacks.allocate(stack_size, None),
        }?;
        let (handle, scheduled) = Task::spawn(name, spawned_at, stack, packet, f);
        worker::place(self, scheduled);
        // Not a switch point, though a spawn never blocks: code written for
        // std holds `std::sync` guards across `spawn` (`handles.lock()
        // .unwrap().push(spawn(..))`), and a yield here would let a thread
        // pinned to this worker block it on that guard for ever
        // (tests/spawn_no_switch.rs). A loop that spawns thousands without
        // blocking holds its worker as any computation does.
        Ok(handle)
    }
}

/// Raises the soft limit on open files to the hard limit.
fn raise_open_file_limit() {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

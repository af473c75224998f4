//! The worker loop: one OS thread per core running myriad threads.
//!
//! # Why threads are pinned
//!
//! Rust code assumes the OS thread under it does not change while it runs:
//! std's `thread_local!`, std's per-thread panic count, `MutexGuard`s, and
//! LLVM, which caches thread-local addresses across calls. So a myriad
//! thread runs on the worker that first starts it until it ends, and load
//! balancing moves only threads that have not started (docs/DESIGN.md).
//!
//! # Queues
//!
//! Each worker has
//!
//! * `handoff`: the thread that the running thread woke last on this
//!   worker, which runs as soon as the running thread blocks (Go's
//!   `runnext`; see "Handoffs" below);
//! * `ready`: started threads pinned here that can run (woken or yielded),
//!   a plain `VecDeque` that only this worker touches;
//! * `next`: the newest thread spawned here that has not started, run
//!   next (a thread that spawns and joins finds its child there): one
//!   atomic slot, taken by the owner with one swap, and by other workers
//!   only while this one is stalled;
//! * `unstarted`: a crossbeam work-stealing deque of the older threads
//!   spawned here and not started, LIFO for the owner and stolen
//!   oldest-first by idle workers;
//! * `inbox`: pinned threads woken by *other* OS threads, handed over under
//!   a mutex and picked up in batches;
//!
//! and the runtime has an `injector` for threads spawned from OS threads.
//!
//! # The loop
//!
//! Run the next ready thread, else the next unstarted one (after a yield,
//! and every 61 runs, the other way round, so that neither kind starves
//! the other); every 61 runs, and
//! whenever there is nothing to run, also look outside: the inbox, due
//! timers, the injector, and other workers' unstarted threads. With nothing
//! anywhere, spin for 20 µs (looking at socket readiness with zero-timeout
//! polls), then sleep in the poller until the next timer
//! or a notification.
//! Before sleeping a worker announces it (`sleeping`, `idle_workers`, with
//! sequentially consistent ordering) and looks once more, and everyone who
//! hands it work looks at the announcement after publishing the work, so no
//! wake-up is lost.
//!
//! # Handoffs
//!
//! A thread that wakes another on its own worker and then blocks (the two
//! halves of a ping-pong, a `park`/`unpark` pair, a rendezvous) wants the
//! woken thread to run next, on a warm cache, as Go's `runnext` and
//! `goready` do. So a wake-up made by the running thread goes into
//! `handoff` (pushing the one there before to the back of `ready`), and
//! when the running thread blocks the scheduler resumes the handed-off
//! thread at once, without a pass through the loop: no queue, no choice,
//! no look outside. The handoff still goes through the scheduler's stack
//! (two half switches): corosensei has no switch from one coroutine to
//! another, and the switches are the cheap part. Under callgrind a
//! one-way handoff took 270 instructions before handoffs, of which the
//! loop pass about 90 and corosensei's two halves about 25 (the suspend
//! with its saved registers, the resume); a resume and suspend of an
//! empty coroutine take about 2.6 ns of CPU here. A direct switch would
//! save one half, about 1.3 ns of a 30-40 ns handoff, for hand-written
//! assembly that corosensei's stack layout and unwinding links would
//! have to agree with.
//!
//! A run of handoffs counts its switches as the loop does, and ends at
//! the loop's next look outside (at most 61 switches), or as soon as a
//! timer is due: the handed-off thread then goes to the *back* of
//! `ready`. So the inbox and timers are served as often as without
//! handoffs, and two threads that keep waking each other share the worker
//! with the other ready threads instead of starving them: like Go's
//! `runnext`, which inherits the time slice of the thread that woke it.
//! A thread that yields sends the handed-off thread to the back of `ready`
//! too, where the wake-up would have put it without a handoff. A thread
//! that ends hands off like one that blocks, and the joiner its end wakes
//! is its handoff: a thread that spawns a child and joins it runs again
//! as soon as the child ends.
//!
//! # Waiting while unwinding
//!
//! std's panic count is per OS thread; if a thread unwinding from a panic
//! gave up its worker, every other thread on that worker would see
//! `panicking() == true`, and a second panic would abort. So a thread that
//! blocks while unwinding (in a `Drop`) keeps its worker: it runs a small
//! loop that handles wake-ups and timers until it is woken, without running
//! any other thread.
//!
//! The price: a `Drop` that, while unwinding, waits for something only a
//! thread pinned to the same worker can provide (a lock it holds, a
//! message it would send) waits forever. Waits served by IO, timers,
//! the offload pool or threads on other workers are fine. (Reproducer:
//! `tests/soundness_probes.rs`, ignored.)

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use corosensei::CoroutineResult;
use crossbeam_deque::{Steal, Stealer, Worker as Deque};

use super::cell_cache::{self, CellCache};
use super::context;
use super::fatal::AbortOnUnwind;
use super::inbox::Inbox;
use super::io_driver::WorkerIo;
use super::metrics::WorkerCounters;
use super::overflow;
use super::poller::Poller;
use super::registry::Registry;
use super::stack::{StackPool, DECAY_STEP};
use super::task::{Switch, Task, TaskRef, NOT_STARTED};
use super::timer::{self, Timers};
use super::uring;
use super::wait::Wake;
use super::watch::{self, OsThreadId, WorkerWatch};
use super::Runtime;

/// How often a busy worker looks outside its own queues.
const OUTSIDE_EVERY: u32 = 61;

/// How long a worker out of work spins before it sleeps.
const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(20);

/// The part of a worker other threads can reach.
pub struct WorkerShared {
    pub index: usize,
    /// Threads woken by other OS threads, and the sleep announcement.
    inbox: Inbox<TaskRef>,
    /// The newest unstarted thread spawned here (see the module comment),
    /// a leaked `TaskRef`; null if none.
    next: AtomicPtr<Task>,
    stealer: Stealer<TaskRef>,
    /// Its poller, registered descriptors and io_uring ring.
    pub io: WorkerIo,
    /// Entries in this worker's timer heap (written by the worker).
    pub timers_pending: AtomicUsize,
    /// Started threads pinned here, and how many of them were runnable,
    /// at the worker's last look outside (written by the worker).
    pub pinned: AtomicUsize,
    pub runnable: AtomicUsize,
    /// Id of the thread running now (0: none), for the stall monitor.
    pub running_id: AtomicU64,
    /// When the current stall began (`watch::nanos_since_epoch`), or 0.
    pub stalled_since: AtomicU64,
    /// The worker's OS thread, for the stall monitor to tell a thread that
    /// computes or blocks in a syscall from one the kernel preempted.
    pub os_thread: OnceLock<OsThreadId>,
    pub counters: WorkerCounters,
    /// How the stall monitor looks inside this worker while it is stalled.
    pub watch: WorkerWatch,
}

impl WorkerShared {
    pub fn new(index: usize, stealer: Stealer<TaskRef>, poller: Poller) -> WorkerShared {
        WorkerShared {
            index,
            inbox: Inbox::new(),
            next: AtomicPtr::new(std::ptr::null_mut()),
            stealer,
            io: WorkerIo::new(poller),
            running_id: AtomicU64::new(0),
            timers_pending: AtomicUsize::new(0),
            pinned: AtomicUsize::new(0),
            runnable: AtomicUsize::new(0),
            stalled_since: AtomicU64::new(0),
            os_thread: OnceLock::new(),
            counters: WorkerCounters::default(),
            watch: Default::default(),
        }
    }

    /// Whether the stall monitor found this worker stalled.
    pub fn is_stalled(&self) -> bool {
        self.stalled_since.load(Ordering::Relaxed) != 0
    }

    /// Whether woken threads wait in this worker's inbox.
    pub fn has_mail(&self) -> bool {
        self.inbox.has_mail()
    }

    pub fn unstarted_len(&self) -> usize {
        self.stealer.len() + usize::from(self.has_next())
    }

    pub fn has_unstarted(&self) -> bool {
        !self.stealer.is_empty() || self.has_next()
    }

    /// Whether an idle worker may take unstarted threads from this one:
    /// the older ones always, the newest only if this worker is stalled
    /// (see `place`).
    fn has_stealable(&self) -> bool {
        !self.stealer.is_empty() || (self.has_next() && self.is_stalled())
    }

    fn has_next(&self) -> bool {
        !self.next.load(Ordering::Relaxed).is_null()
    }

    /// Takes the newest unstarted thread (by the owner, or by a thief from
    /// a stalled worker).
    fn take_next(&self) -> Option<TaskRef> {
        if !self.has_next() {
            return None;
        }
        // Acquire: the owner's Release store published the task.
        let task = self.next.swap(std::ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a non-null `next` is a leaked `TaskRef` (see `put_next`),
        // which the swap made ours alone.
        (!task.is_null()).then(|| unsafe { TaskRef::from_raw(task) })
    }

    /// Makes `task` the newest unstarted thread; returns the one it
    /// displaces. Owner only.
    fn put_next(&self, task: TaskRef) -> Option<TaskRef> {
        let task = task.into_raw();
        if !self.has_next() {
            // Only the owner fills the slot, so it stays empty until this
            // store: no read-modify-write needed.
            self.next.store(task, Ordering::Release);
            return None;
        }
        let old = self.next.swap(task, Ordering::AcqRel);
        // SAFETY: as in `take_next`.
        (!old.is_null()).then(|| unsafe { TaskRef::from_raw(old) })
    }

    pub fn is_sleeping(&self) -> bool {
        self.inbox.is_sleeping()
    }

    /// Waits for IO events, wake-ups or `timeout`, and dispatches the
    /// events (making their threads runnable). `try_only`: give up at once
    /// if someone else is polling.
    pub fn poll(&self, timeout: Option<Duration>, try_only: bool) {
        if self.io.poll(timeout, try_only) {
            self.counters.poll_wakeups.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands a woken thread pinned to this worker over from another thread.
    fn post(&self, task: TaskRef) {
        if self.inbox.post(task) {
            self.io.notify();
        }
    }

    /// Wakes this worker if it sleeps; returns whether it did. Work handed
    /// to it must be published before a `SeqCst` fence (see `inbox.rs`).
    pub fn wake_if_sleeping(&self) -> bool {
        if self.inbox.take_sleeper() {
            self.io.notify();
            return true;
        }
        false
    }
}

/// The part of a worker that lives on its OS thread.
pub struct Local {
    rt: &'static Runtime,
    shared: &'static WorkerShared,
    ready: RefCell<VecDeque<TaskRef>>,
    /// The thread the running thread woke last on this worker, to run when
    /// the running thread blocks (see "Handoffs" in the module comment).
    /// Empty whenever the loop itself runs.
    handoff: Cell<Option<TaskRef>>,
    /// Whether one of this worker's threads runs now (its wake-ups are
    /// handoffs), rather than the loop or a thread blocked while unwinding
    /// (`wait_inline`), whose wake-ups queue as usual.
    in_turn: Cell<bool>,
    unstarted: Deque<TaskRef>,
    /// Its deadlines; the earliest (stale entries included) is published
    /// in `timer::next_due`, for the coop budget to see.
    timers: RefCell<Timers>,
    pub stacks: RefCell<StackPool>,
    /// Memory of freed thread cells, for the next spawns (`cell_cache.rs`).
    cells: RefCell<CellCache>,
    /// Every started thread pinned here (for `rt::dump`); each task knows
    /// its index. The pointers are valid: a registered task is alive (it is
    /// queued, running, or holds its own reference while blocked).
    registry: RefCell<Registry>,
    /// The time at the last look outside: when waits began, to ±a few ms.
    coarse_now: Cell<Instant>,
    /// The newest dump request this worker answered.
    dump_served: Cell<u64>,
    /// The last thread yielded: start a new thread next if there is one.
    after_yield: Cell<bool>,
    /// Switches left until the next look outside (a countdown: cheaper
    /// than a modulo on every handoff).
    until_outside: Cell<u32>,
    next_decay: Cell<Instant>,
}

thread_local! {
    static LOCAL: Cell<*const Local> = const { Cell::new(std::ptr::null()) };
}

/// The worker running on this OS thread, if it is one.
#[inline]
pub fn local() -> Option<&'static Local> {
    let ptr = LOCAL.with(Cell::get);
    // SAFETY: LOCAL is set once, by `run`, to a `Local` that lives until the
    // process exits (workers never return), and only on that OS thread (or
    // cleared, in a forked child).
    unsafe { ptr.as_ref() }
}

/// Makes this OS thread a plain one to myriad: in a forked child (see
/// `fork.rs`), where the worker it was is a copy with no OS thread.
pub fn forget_worker() {
    LOCAL.with(|l| l.set(std::ptr::null()));
    context::set_running(std::ptr::null());
    context::set_worker(None);
    timer::publish_next_due(None);
    // SAFETY: null uninstalls.
    unsafe {
        cell_cache::install(std::ptr::null());
        uring::install(std::ptr::null(), std::ptr::null());
    }
}

/// Makes a woken, started thread runnable on the worker it is pinned to:
/// the running thread's handoff, or queued.
///
/// Not inline: inlined into `Thread::unpark` it saved 20 instructions a
/// park/unpark round trip but, in the bench's child, cost 4-5 ns of CPU
/// a one-way handoff (33-35 ns out of line, 38-40 inline, alternated).
pub fn schedule(task: TaskRef) {
    let worker = task.worker();
    debug_assert_ne!(worker, NOT_STARTED, "only started threads block");
    match local() {
        Some(local) if local.shared.index == worker => local.make_ready(task),
        _ => Runtime::get_started().workers()[worker].post(task),
    }
}

/// Queues a new thread: on this worker if called from one, else in the
/// injector for any worker.
///
/// The new thread goes in the worker's `next` slot, which idle workers
/// leave alone unless the worker is stalled, so a thread that spawns one
/// child and joins it finds the child still here (running it costs a
/// switch; another worker would cost a cross-core wake-up, 15–20 µs on our
/// VMs). A lone child waits until its spawner blocks or yields. The thread
/// it displaces joins the stealable backlog.
pub fn place(rt: &'static Runtime, task: TaskRef) {
    match local() {
        Some(local) => {
            local.shared.counters.spawned.bump();
            if let Some(older) = local.shared.put_next(task) {
                local.unstarted.push(older);
                rt.wake_idle_worker(false);
            }
        }
        None => {
            rt.spawned_from_os.fetch_add(1, Ordering::Relaxed);
            rt.injector.push(task);
            rt.wake_idle_worker(true);
        }
    }
}

impl Local {
    pub fn new(rt: &'static Runtime, index: usize, unstarted: Deque<TaskRef>) -> Local {
        Local {
            rt,
            shared: &rt.workers()[index],
            ready: RefCell::new(VecDeque::new()),
            handoff: Cell::new(None),
            in_turn: Cell::new(false),
            unstarted,
            timers: RefCell::new(Timers::new()),
            stacks: RefCell::new(StackPool::new()),
            cells: RefCell::new(CellCache::default()),
            registry: RefCell::new(Registry::default()),
            coarse_now: Cell::new(Instant::now()),
            dump_served: Cell::new(0),
            after_yield: Cell::new(false),
            until_outside: Cell::new(OUTSIDE_EVERY),
            next_decay: Cell::new(Instant::now() + DECAY_STEP),
        }
    }

    /// The time at the worker's last look outside: when a wait begins, to
    /// within a few milliseconds, without reading the clock.
    pub fn coarse_now(&self) -> Instant {
        self.coarse_now.get()
    }

    /// Arms a timer on this worker's heap: `wake` times out at `deadline`.
    pub fn add_timer(&self, deadline: Instant, wake: Wake) {
        let mut timers = self.timers.borrow_mut();
        timers.insert(deadline, wake);
        self.shared.timers_pending.store(timers.len(), Ordering::Relaxed);
        timer::publish_next_due(timers.next_deadline());
    }

    /// The worker loop. Never returns.
    pub fn run(&self) -> ! {
        // Threads catch their own panics; one that reaches the loop is a
        // bug in the runtime, and a worker that died of it would leave its
        // threads waiting for ever. Never disarmed: the loop never ends.
        let _abort = AbortOnUnwind(|| format!("myriad worker {} unwound out of its scheduler loop", self.shared.index));
        LOCAL.with(|l| l.set(self));
        context::set_worker(Some(self.shared.index));
        // SAFETY: this `Local` lives until the process exits (this loop
        // never returns), and the cache is used only on this OS thread.
        unsafe { cell_cache::install(&self.cells) };
        self.shared.io.install_ring();
        self.shared.os_thread.get_or_init(OsThreadId::current);
        self.shared.watch.set_registry(&self.registry);
        overflow::ensure_alternate_stack();
        loop {
            let mut unstarted_first = self.after_yield.replace(false);
            if self.count_switch() {
                self.until_outside.set(OUTSIDE_EVERY);
                self.look_outside();
                unstarted_first = true;
            }
            // Woken threads go first (they hold resources; finishing them
            // frees memory), but not always: after a yield, and every 61
            // switches, a thread not started yet gets its turn, so threads
            // that keep yielding or waking each other cannot starve it.
            let next = if unstarted_first {
                self.pop_unstarted().or_else(|| self.ready.borrow_mut().pop_front())
            } else {
                self.ready.borrow_mut().pop_front().or_else(|| self.pop_unstarted())
            };
            match next {
                Some(task) => {
                    // Let the memory of the thread after this one load while
                    // this one runs (see `Task::prefetch`).
                    if let Some(following) = self.ready.borrow().front() {
                        following.prefetch();
                    }
                    self.resume(task);
                    self.fire_due_timers();
                }
                None => {
                    if !self.look_outside() {
                        self.sleep();
                    }
                }
            }
        }
    }

    /// The newest unstarted thread spawned here.
    fn pop_unstarted(&self) -> Option<TaskRef> {
        self.shared.take_next().or_else(|| self.unstarted.pop())
    }

    /// Runs `task`, and then the threads it hands the worker to as it
    /// blocks (see "Handoffs" in the module comment).
    fn resume(&self, task: TaskRef) {
        if task.worker() == NOT_STARTED {
            #[cfg(feature = "tracing")]
            tracing::trace!(parent: &task.span, worker = self.shared.index, "myriad thread started");
            task.pin_to(self.shared.index);
            self.shared.counters.started.bump();
            let slot = self.registry.borrow_mut().insert(task.as_ptr());
            // SAFETY: this worker dequeued the task, so it is its scheduler.
            unsafe { *task.registry_index() = slot };
        }
        let mut task = task;
        loop {
            match self.switch_to(&task) {
                CoroutineResult::Yield(Switch::Blocked) => {
                    // The blocked task keeps this reference (`Task::take_blocked_ref`).
                    std::mem::forget(task);
                    match self.take_handoff() {
                        Some(next) => task = next,
                        None => return,
                    }
                }
                CoroutineResult::Yield(Switch::Yielded) => {
                    self.queue_handoff();
                    self.ready.borrow_mut().push_back(task);
                    self.after_yield.set(true);
                    return;
                }
                CoroutineResult::Return(()) => {
                    #[cfg(feature = "tracing")]
                    tracing::trace!(parent: &task.span, "myriad thread exited");
                    // SAFETY: this worker is the task's scheduler.
                    self.registry.borrow_mut().remove(unsafe { *task.registry_index() });
                    // SAFETY: as above; the coroutine just returned.
                    let stack = unsafe { task.take_stack() };
                    self.stacks.borrow_mut().give_back(stack, &self.rt.stacks);
                    self.shared.counters.finished.bump();
                    // The joiner that the end wakes is the ended thread's
                    // handoff, as a thread it woke while running: a thread
                    // that spawns and joins runs again at once.
                    self.in_turn.set(true);
                    task.finish();
                    self.in_turn.set(false);
                    match self.take_handoff() {
                        Some(next) => task = next,
                        None => return,
                    }
                }
            }
        }
    }

    /// Resumes `task`, started and pinned here, until it gives the worker
    /// back.
    #[inline]
    fn switch_to(&self, task: &TaskRef) -> CoroutineResult<Switch, ()> {
        context::set_running(task.as_ptr());
        self.shared.running_id.store(task.id.as_u64().get(), Ordering::Relaxed);
        super::coop::refill();
        // SAFETY: this worker dequeued the task (or took it from
        // `handoff`), so it is its scheduler, on its own OS thread; the
        // reference is dropped before the task can be queued again.
        let coroutine = unsafe { task.coroutine() }.expect("a queued thread has not finished");
        #[cfg(feature = "tracing")]
        let entered = task.span.enter();
        self.shared.watch.resuming(task.as_ptr());
        self.in_turn.set(true);
        let result = coroutine.resume(());
        self.in_turn.set(false);
        // In a forked child (`fork.rs`) the thread is a plain OS thread to
        // myriad, whose waits and yields never switch: only the end of its
        // closure comes back here.
        if matches!(result, CoroutineResult::Return(())) && super::fork::in_child() {
            super::fatal::abort(format_args!(
                "myriad thread '{}' forked, and its closure returned in the child: a forked child has no \
                 myriad runtime; call exec or _exit in the child (std::process::Command does)",
                task.name().unwrap_or("<unnamed>")
            ));
        }
        self.shared.watch.resumed();
        #[cfg(feature = "tracing")]
        drop(entered);
        context::set_running(std::ptr::null());
        self.shared.running_id.store(0, Ordering::Relaxed);
        self.shared.counters.switches.bump();
        if self.shared.is_stalled() {
            watch::stall_ended(self.shared.index, &self.shared.stalled_since, task);
        }
        result
    }

    /// Makes a woken thread pinned here runnable: a handoff if the running
    /// thread woke it, else at the back of `ready`.
    #[inline]
    fn make_ready(&self, task: TaskRef) {
        if self.in_turn.get() {
            if let Some(older) = self.handoff.replace(Some(task)) {
                self.ready.borrow_mut().push_back(older);
            }
        } else {
            self.ready.borrow_mut().push_back(task);
        }
    }

    /// After the running thread blocked: the thread it handed the worker
    /// to, if it did and the run of handoffs may go on (it counts as a
    /// switch of the loop, and ends where the loop would look outside or
    /// when a timer is due; the thread then waits at the back of `ready`).
    #[inline]
    fn take_handoff(&self) -> Option<TaskRef> {
        let next = self.handoff.take()?;
        if timer::due_now() || self.count_switch() {
            self.ready.borrow_mut().push_back(next);
            return None;
        }
        Some(next)
    }

    /// Counts a switch towards the next look outside; true when the look
    /// is due, leaving the count for the loop to reset as it looks.
    #[inline]
    fn count_switch(&self) -> bool {
        let left = self.until_outside.get() - 1;
        if left == 0 {
            return true;
        }
        self.until_outside.set(left);
        false
    }

    /// Queues the handed-off thread, if any, at the back of `ready`, where
    /// its wake-up would have put it without a handoff.
    #[inline]
    fn queue_handoff(&self) {
        if let Some(task) = self.handoff.take() {
            self.ready.borrow_mut().push_back(task);
        }
    }

    /// Collects work from outside this worker's own queues; returns whether
    /// anything is runnable now.
    fn look_outside(&self) -> bool {
        self.shared.inbox.take_mail(&mut *self.ready.borrow_mut());
        if self.shared.io.has_io_to_poll() {
            self.shared.poll(Some(Duration::ZERO), false);
        }
        let now = Instant::now();
        self.coarse_now.set(now);
        self.fire_timers(now);
        self.shared.pinned.store(self.registry.borrow().len(), Ordering::Relaxed);
        self.shared.runnable.store(self.ready.borrow().len(), Ordering::Relaxed);
        if self.rt.dumps.generation.load(Ordering::Relaxed) > self.dump_served.get() {
            self.answer_dump(now);
        }
        if now >= self.next_decay.get() {
            let released = self.stacks.borrow_mut().decay(&self.rt.stacks, now);
            if !released.is_empty() {
                // A madvise and a TLB shootdown per stack: not on a worker.
                let rt = self.rt;
                if let Err(rejected) = rt.offload.submit(Box::new(move || rt.stacks.release(released))) {
                    // No OS thread to be had: release them here instead.
                    (rejected.job)();
                }
            }
            self.next_decay.set(now + DECAY_STEP);
        }
        if !self.ready.borrow().is_empty() || !self.unstarted.is_empty() || self.shared.has_next() {
            // Busy, but threads spawned from OS threads must not wait for
            // this worker to run out of work: take one from the injector.
            if let Steal::Success(task) = self.rt.injector.steal() {
                self.unstarted.push(task);
            }
            return true;
        }
        self.steal()
    }

    /// Wakes the threads whose deadlines passed, and runs them before the
    /// threads that were ready already: a deadline is a promise about
    /// time, and behind a few thousand ready threads a 1 ms sleeper would
    /// wake hundreds of milliseconds late (issue 18). A thread gets there
    /// only by waiting out a timer, so it cannot starve the others.
    fn fire_timers(&self, now: Instant) {
        let ready_before = self.ready.borrow().len();
        let mut timers = self.timers.borrow_mut();
        timers.fire(now);
        self.shared.timers_pending.store(timers.len(), Ordering::Relaxed);
        timer::publish_next_due(timers.next_deadline());
        drop(timers);
        // Timers wake only threads pinned here, queued at the back in
        // deadline order: move them to the front, in that order.
        let mut ready = self.ready.borrow_mut();
        let fired = ready.len() - ready_before;
        ready.rotate_right(fired);
    }

    /// Between two switches: fires the timers that are due. A busy worker
    /// looks outside only every 61 switches, and with threads that each
    /// keep it for milliseconds (large copies, a full budget of socket
    /// operations) a 1 ms sleeper woke 65-100 ms late; this bounds the
    /// delay by one thread's turn. It reads the clock only while a timer
    /// is pending, so switches without timers cost nothing more.
    #[inline]
    fn fire_due_timers(&self) {
        if let Some(due) = timer::next_due() {
            let now = Instant::now();
            if now >= due {
                self.fire_timers(now);
            }
        }
    }

    /// Snapshots the threads pinned here for `rt::dump`.
    fn answer_dump(&self, now: Instant) {
        let generation = self.rt.dumps.generation.load(Ordering::SeqCst);
        let registry = self.registry.borrow();
        let threads = registry
            .iter()
            // SAFETY: registered tasks are alive (see `registry`), and none
            // runs: this is the scheduler, between switches.
            .map(|task| super::dump::describe(unsafe { &*task }, self.shared.index, now))
            .collect();
        drop(registry);
        self.dump_served.set(generation);
        self.rt.dumps.answer(self.shared.index, generation, threads);
    }

    /// Takes unstarted threads from the injector or another worker.
    fn steal(&self) -> bool {
        loop {
            let mut retry = false;
            match self.rt.injector.steal_batch_and_pop(&self.unstarted) {
                Steal::Success(task) => {
                    self.unstarted.push(task);
                    return true;
                }
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let workers = self.rt.workers();
            let n = workers.len();
            for k in 1..n {
                let other = &workers[(self.shared.index + k) % n];
                if !other.has_stealable() {
                    continue;
                }
                if other.stealer.is_empty() {
                    // Only the stalled worker's newest thread is left.
                    if let Some(task) = other.take_next() {
                        self.shared.counters.steals.bump();
                        self.unstarted.push(task);
                        return true;
                    }
                    continue;
                }
                match other.stealer.steal_batch_and_pop(&self.unstarted) {
                    Steal::Success(task) => {
                        self.shared.counters.steals.bump();
                        self.unstarted.push(task);
                        return true;
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return false;
            }
        }
    }

    /// Whether another thread has handed this worker something to do.
    fn work_arrived(&self) -> bool {
        self.shared.inbox.has_mail()
            || !self.rt.injector.is_empty()
            || self.rt.workers().iter().any(WorkerShared::has_stealable)
    }

    fn sleep(&self) {
        // Spin a little first: waking a sleeping OS thread costs 15–20 µs
        // on our VMs, and work often arrives within a few microseconds (the
        // next spawn of a thread that just joined, a reply just sent).
        let spin_until = Instant::now() + SPIN_BEFORE_SLEEP;
        while Instant::now() < spin_until {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            if self.work_arrived() {
                return;
            }
            // Socket readiness comes through the poller, not as handed-over
            // work: look there too (a zero-timeout wait), so that a request
            // arriving now is not left waiting out the spin.
            if self.shared.io.has_io_to_poll() {
                self.shared.poll(Some(Duration::ZERO), true);
                if !self.ready.borrow().is_empty() {
                    return;
                }
            }
        }
        let asleep = self.shared.inbox.announce_sleep();
        self.rt.idle_workers.fetch_add(1, Ordering::SeqCst);
        // Look once more after announcing sleep (see the module comment).
        if !self.work_arrived() {
            let now = Instant::now();
            let mut deadline = self.timers.borrow().next_deadline();
            if self.stacks.borrow().has_surplus(&self.rt.stacks) {
                let decay = self.next_decay.get();
                deadline = Some(deadline.map_or(decay, |d| d.min(decay)));
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(now));
            self.shared.counters.sleeps.bump();
            self.shared.poll(timeout, false);
            self.coarse_now.set(Instant::now());
        }
        drop(asleep);
        self.rt.idle_workers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Blocks `task`, the running thread, without giving up the worker:
    /// handles wake-ups, timers and IO events until `task` is queued, and
    /// dequeues it.
    pub fn wait_inline(&self, task: &Task) {
        // This loop stands in for the scheduler while the thread blocks:
        // wake-ups queue in `ready`, where it looks for `task` (which may
        // have queued itself as a handoff before blocking).
        self.queue_handoff();
        self.in_turn.set(false);
        loop {
            self.shared.inbox.take_mail(&mut *self.ready.borrow_mut());
            self.fire_timers(Instant::now());
            // Whoever ended the wait queued the task exactly once: here, or
            // in the inbox that was just emptied into `ready`.
            let mut ready = self.ready.borrow_mut();
            if let Some(at) = ready.iter().position(|t| std::ptr::eq(t.as_ptr(), task)) {
                ready.remove(at);
                self.in_turn.set(true);
                return;
            }
            drop(ready);
            let asleep = self.shared.inbox.announce_sleep();
            if !self.shared.inbox.has_mail() {
                let timeout = self.timers.borrow().next_deadline().map(|d| d.saturating_duration_since(Instant::now()));
                self.shared.poll(timeout, false);
            }
            drop(asleep);
        }
    }
}

//! A myriad thread as the scheduler sees it: its identity, its wait state,
//! the coroutine it runs on, and the packet its result goes to.
//!
//! Each thread is one allocation, a `TaskCell<P>`: the `Task` header that
//! the runtime works with, followed by the packet `P` of its join handle
//! (`thread/join.rs`: the result, and the scope to tell). The runtime
//! holds the thread through `TaskRef`s, counted references to the header
//! whose count lives in the header's state word together with the join
//! flags (`task_state.rs`); a small per-`P` vtable drops the packet and
//! frees the cell. One allocation and one word instead of an `Arc<Task>`
//! plus an `Arc<Packet>` saves an allocation and about ten atomic
//! operations per spawn and join (issue 2; `cargo run --release -p
//! myriad-bench`). async-task and tokio lay their tasks out the same way;
//! neither fits here, as both are built around polling a `Future`.
//!
//! The header's fields fall in three groups:
//!
//! * shared state that any thread may touch through atomics: the state
//!   word, the wait state (`wait.rs`), the park token, and the worker it is
//!   pinned to;
//! * the coroutine, made and first resumed by whichever worker starts the
//!   thread, then resumed only by that worker, to which the task is pinned
//!   until it ends (see `Run`);
//! * `OwnState`, used only by the thread itself while it runs: its yielder
//!   and its myriad-local storage.
//!
//! That split, and the join protocol's ownership of the joiner slot and
//! the packet (`task_state.rs`), are the invariants behind `Task`'s `Sync`
//! impl.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::Location;
use std::ptr::{addr_of, addr_of_mut, NonNull};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::task::Waker;
use std::time::Instant;

use corosensei::{Coroutine, Yielder};

use super::cell_cache;
use super::fatal::AbortOnUnwind;
use super::locals::Locals;
use super::stack::ThreadStack;
use super::task_state::{HandleGone, TaskState};
use super::wait::WaitReason;
use super::wait::{self, InterruptFlag, ParkToken, WaitState, Wake, Woken};
use crate::rt::ThreadId;

/// Why a running thread handed its worker back to the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// It is blocked; whoever holds its `Wake` will reschedule it.
    Blocked,
    /// It is still runnable (`yield_now`): queue it behind the others.
    Yielded,
}

/// The coroutine a thread runs on.
pub type TaskCoroutine = Coroutine<(), Switch, (), ThreadStack>;

/// A thread's coroutine through its life.
///
/// The coroutine is made when the thread first runs, by the worker that
/// runs it: making it writes the entry frame onto the stack, and doing that
/// at spawn would touch every new stack twice, on two cores (100,000
/// threads spread over many pages: a TLB miss and a cache-line transfer
/// each time). Until then the thread's entry closure waits in its cell.
pub enum Run {
    /// Not started yet: the stack it will run on.
    NotStarted(ThreadStack),
    Started(TaskCoroutine),
    Finished,
}

/// State used by the running thread itself, from its own stack.
pub struct OwnState {
    /// The yielder of the running coroutine; null before the thread starts.
    pub yielder: *const Yielder<(), Switch>,
    /// Values of `myriad::thread_local!` keys that belong to this thread.
    pub locals: Locals,
}

/// `worker()` of a thread that has not run yet.
pub const NOT_STARTED: usize = usize::MAX;

/// What the stack-overflow handler (`overflow.rs`) needs to know about
/// the myriad thread running on a worker.
#[derive(Clone, Copy)]
pub struct RunningStack {
    pub guard_low: usize,
    pub guard_high: usize,
    /// Pointer and length of the thread's name (`<unnamed>` if it has none).
    pub name: *const u8,
    pub name_len: usize,
}

/// The header of a thread's allocation (see the module comment).
#[repr(C)]
pub struct Task {
    /// References and join flags (`task_state.rs`).
    state: TaskState,
    /// How to release the packet and free the allocation.
    vtable: &'static Vtable,
    pub id: ThreadId,
    name: Option<Box<str>>,
    /// This thread's cell, as the pointer the allocation returned: whatever
    /// reaches past the header (the packet, the entry, freeing the cell)
    /// goes through it, never through a pointer made from a `&Task`, whose
    /// provenance covers only the header.
    this: NonNull<Task>,
    /// The lowest address of the thread's stack, where its guard begins.
    stack_low: usize,
    pub wait: WaitState,
    /// `park`/`unpark`'s token, as std's: set by `unpark`, consumed by `park`.
    pub token: ParkToken,
    /// Raised by `Thread::interrupt` (`wait/interrupt.rs`).
    pub interrupt: InterruptFlag,
    /// The worker it is pinned to, or `NOT_STARTED` (a `u32` beside the
    /// token: the header is kept small).
    worker: AtomicU32,
    /// Resumed only by the scheduler.
    run: UnsafeCell<Run>,
    /// Its place in its worker's registry (scheduler-owned, as `coroutine`).
    registry_index: UnsafeCell<usize>,
    /// What the current or last wait was for, and when it began: written
    /// by the thread itself as it blocks, read by its worker between
    /// switches (for `rt::dump`); both on the worker's OS thread.
    wait_record: UnsafeCell<(WaitReason, Option<Instant>)>,
    own: UnsafeCell<OwnState>,
    /// Roughly where the thread's stack pointer was when it last switched
    /// out, for `prefetch` (a hint: Relaxed, and only ever a stack address).
    suspended_at: AtomicUsize,
    /// Who waits for the thread to end; owned as `task_state.rs` says.
    joiner: UnsafeCell<Option<Joiner>>,
    /// Where the thread was spawned (for dumps; cold, so last).
    spawned_at: &'static Location<'static>,
    /// The thread's span, entered by its worker around every resume (the
    /// subscriber's "current span" is per OS thread, so it must be swapped
    /// with the myriad thread, never left entered across a switch).
    #[cfg(feature = "tracing")]
    pub span: tracing::Span,
}

// SAFETY: the shared fields are atomics or immutable. `joiner` is owned by
// one side at a time, handed over by the state word (`task_state.rs`).
// `run` is used by one scheduler at a time: whoever dequeued the unstarted
// task (which makes the coroutine on its own OS thread), then only the
// worker it is pinned to (a task is in at most one queue and is resumed
// only after being dequeued). So the coroutine, which is not `Send` because
// a started coroutine must stay on its OS thread, never leaves the OS
// thread that made it; before that only the stack and the entry closure,
// which is `Send`, cross threads. `own` is used only by the thread itself
// while it runs.
unsafe impl Sync for Task {}
// SAFETY: as above.
unsafe impl Send for Task {}

static UNNAMED: &str = "<unnamed>";

impl Task {
    /// A new thread whose result goes to `packet`: the references of its
    /// join handle and of the scheduler.
    ///
    /// The thread will run `entry` on `stack`.
    pub fn spawn<P, F>(
        name: Option<String>,
        spawned_at: &'static Location<'static>,
        stack: ThreadStack,
        packet: P,
        entry: F,
    ) -> (TaskRef, TaskRef)
    where
        P: Packet,
        F: FnOnce(&P) + Send,
    {
        let id = ThreadId::new();
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!(
            "myriad_thread",
            id = id.as_u64().get(),
            name = name.as_deref().unwrap_or("<unnamed>"),
            spawned_at = %spawned_at
        );
        let cell = cell_cache::allocate(Layout::new::<TaskCell<P, F>>()).cast::<TaskCell<P, F>>();
        let c = cell.as_ptr();
        // Written field by field, in place: built as one value first, the
        // cell (hundreds of bytes) was copied twice on the way in.
        // SAFETY: fresh memory with the cell's layout (the cache gives at
        // least its size and alignment); every field is written once, before
        // any reference to the cell exists.
        unsafe {
            let t = addr_of_mut!((*c).task);
            addr_of_mut!((*t).state).write(TaskState::new(2));
            addr_of_mut!((*t).vtable).write(TaskCell::<P, F>::VTABLE);
            addr_of_mut!((*t).this).write(cell.cast());
            addr_of_mut!((*t).id).write(id);
            addr_of_mut!((*t).name).write(name.map(String::into_boxed_str));
            addr_of_mut!((*t).spawned_at).write(spawned_at);
            addr_of_mut!((*t).stack_low).write(stack.low());
            addr_of_mut!((*t).wait).write(WaitState::new());
            addr_of_mut!((*t).token).write(ParkToken::new());
            addr_of_mut!((*t).interrupt).write(InterruptFlag::new());
            addr_of_mut!((*t).worker).write(AtomicU32::new(u32::MAX));
            addr_of_mut!((*t).run).write(UnsafeCell::new(Run::NotStarted(stack)));
            addr_of_mut!((*t).registry_index).write(UnsafeCell::new(usize::MAX));
            addr_of_mut!((*t).wait_record).write(UnsafeCell::new((WaitReason::Park, None)));
            addr_of_mut!((*t).own)
                .write(UnsafeCell::new(OwnState { yielder: std::ptr::null(), locals: Locals::new() }));
            addr_of_mut!((*t).suspended_at).write(AtomicUsize::new(0));
            addr_of_mut!((*t).joiner).write(UnsafeCell::new(None));
            #[cfg(feature = "tracing")]
            addr_of_mut!((*t).span).write(span);
            addr_of_mut!((*c).packet).write(packet);
            addr_of_mut!((*c).entry).write(UnsafeCell::new(Some(entry)));
        }
        let cell = cell.cast::<Task>();
        // Two references, as counted by `TaskState::new(2)`.
        (TaskRef(cell), TaskRef(cell))
    }

    /// The packet this thread was created with.
    ///
    /// # Safety
    ///
    /// `P` must be the packet type given to `Task::spawn`.
    pub unsafe fn packet<P>(&self) -> &P {
        let cell = self.this.cast::<TaskCell<P, ()>>().as_ptr();
        // SAFETY: the caller names the packet's type; in a `repr(C)` cell
        // the header and packet come first, at the same offsets whatever the
        // entry's type (no reference to the whole cell is made, as its entry
        // is not an `Option<()>`); `&self` borrows the cell alive.
        unsafe { &*addr_of!((*cell).packet) }
    }

    /// Another reference to this task.
    pub fn new_ref(&self) -> TaskRef {
        self.state.add_ref();
        // Only the header is reached through a `TaskRef` (see `this`).
        TaskRef(NonNull::from(self))
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

    /// The thread's deadline (`wait/interrupt.rs`).
    ///
    /// # Safety
    ///
    /// Only the running thread itself may call this.
    #[inline]
    pub unsafe fn deadline(&self) -> Option<Instant> {
        // SAFETY: the caller is the thread, the only user of `own`.
        unsafe { (*self.own.get()).locals.values.as_ref().and_then(|values| values.deadline) }
    }

    /// Sets the thread's deadline.
    ///
    /// # Safety
    ///
    /// Only the running thread itself may call this.
    pub unsafe fn set_deadline(&self, deadline: Option<Instant>) {
        // SAFETY: the caller is the thread, the only user of `own`.
        let locals = unsafe { &mut (*self.own.get()).locals };
        match &mut locals.values {
            Some(values) => values.deadline = deadline,
            // Boxed on first use, as values are (`locals.rs`); not after
            // they were destroyed at the thread's end.
            None if deadline.is_some() && !locals.destroyed => {
                let mut values = Box::<super::locals::Values>::default();
                values.deadline = deadline;
                locals.values = Some(values);
            }
            None => {}
        }
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
        let (guard_low, guard_high) = super::stack::guard_range(self.stack_low);
        RunningStack { guard_low, guard_high, name: name.as_ptr(), name_len: name.len() }
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
    /// (won `WaitState::end`), and must queue the returned reference.
    pub unsafe fn take_blocked_ref(&self) -> TaskRef {
        // The blocked task holds one leaked reference, which the caller's
        // win makes theirs alone.
        TaskRef(NonNull::from(self))
    }

    /// The worker this task is pinned to, or `NOT_STARTED`.
    pub fn worker(&self) -> usize {
        match self.worker.load(Ordering::Acquire) {
            u32::MAX => NOT_STARTED,
            worker => worker as usize,
        }
    }

    pub fn pin_to(&self, worker: usize) {
        let worker = u32::try_from(worker).expect("fewer than 2^32 workers");
        self.worker.store(worker, Ordering::Release);
    }

    /// The coroutine, for the scheduler; made first if the thread has not
    /// started. `None` once the thread has finished.
    ///
    /// # Safety
    ///
    /// Only the scheduler that dequeued this task may call this, on the OS
    /// thread that will resume it, and it must not keep two returned
    /// references alive at once.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub unsafe fn coroutine(&self) -> Option<&mut TaskCoroutine> {
        // SAFETY: exclusive access is the caller's obligation.
        let run = unsafe { &mut *self.run.get() };
        if let Run::NotStarted(stack) = run {
            // SAFETY: the stack is moved out and `run` marked finished (not
            // dropped: it no longer owns the stack) before anything that
            // could unwind, so the stack is never dropped twice. The task is
            // alive (`&self`) and not started, and the vtable is its cell's.
            unsafe {
                let stack = std::ptr::read(stack);
                std::ptr::write(run, Run::Finished);
                *run = Run::Started((self.vtable.start)(self.this, stack));
            }
        }
        match run {
            Run::Started(coroutine) => Some(coroutine),
            _ => None,
        }
    }

    /// The stack of the finished coroutine, for reuse.
    ///
    /// # Safety
    ///
    /// As `coroutine`, and the coroutine has returned.
    pub unsafe fn take_stack(&self) -> ThreadStack {
        // SAFETY: exclusive access is the caller's obligation.
        let run = unsafe { &mut *self.run.get() };
        let Run::Started(coroutine) = run else { unreachable!("take_stack of a thread that did not run") };
        // SAFETY: the coroutine is moved out and `run` overwritten at once,
        // so it is not dropped twice.
        unsafe {
            let coroutine = std::ptr::read(coroutine);
            std::ptr::write(run, Run::Finished);
            coroutine.into_stack()
        }
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
        let here = 0u8;
        self.suspended_at.store(std::ptr::addr_of!(here) as usize, Ordering::Relaxed);
        // SAFETY: the running thread owns `own`; the borrow ends at once.
        let yielder = unsafe { self.own().yielder };
        debug_assert!(!yielder.is_null(), "switch_out outside a running thread");
        // SAFETY: the yielder was stored when the coroutine started and lives
        // on its stack, which is running now.
        unsafe { (*yielder).suspend(why) };
    }

    /// Takes the joiner out of its slot and wakes it.
    ///
    /// # Safety
    ///
    /// The caller owns the joiner slot (see `task_state.rs`).
    unsafe fn wake_joiner(&self) {
        // SAFETY: the caller owns the slot.
        if let Some(joiner) = unsafe { (*self.joiner.get()).take() } {
            joiner.wake();
        }
    }

    /// The thread's own part of its end (see `task_state.rs`): marks it
    /// finished unless a blocked joiner leaves that to the scheduler, and
    /// then, as this thread, wakes a joiner that may leave and releases
    /// the packet of a thread whose handle is gone (dropping its result).
    ///
    /// # Safety
    ///
    /// Called once, by the thread itself after its entry returned; the
    /// scheduler's reference keeps `task` alive.
    unsafe fn end_on_thread(task: NonNull<Task>) {
        // SAFETY: alive, as the caller guarantees.
        let this = unsafe { task.as_ref() };
        let Some(ended) = this.state.end_on_thread() else { return };
        if ended.wake_joiner {
            // SAFETY: setting `DONE` over `JOINER` handed us the slot.
            unsafe { this.wake_joiner() };
        }
        if ended.release_packet {
            // SAFETY: finished, and the handle is gone: ours alone, once.
            unsafe { (this.vtable.release_packet)(task) };
        }
    }

    /// Asks the CPU to start loading what resuming this thread will touch
    /// first: its header and the top of its suspended stack. With 100,000
    /// threads none of that is in any cache, and the scheduler knows which
    /// thread runs next while the current one still runs (issue 2: in the
    /// bench's 100,000-thread rounds this halved the time to wake and join
    /// them all).
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            const LINE: usize = 64;
            let header = self as *const Task as *const i8;
            for line in 0..std::mem::size_of::<Task>().div_ceil(LINE) {
                // SAFETY: a prefetch is only a hint: it never faults, even on
                // an address that is not mapped, and has no effect on memory.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(header.wrapping_add(line * LINE)) };
            }
            // The registers saved by the switch lie just below the spot
            // recorded by `switch_out`, the frames it returns to above.
            let sp = self.suspended_at.load(Ordering::Relaxed);
            if sp != 0 {
                for line in 0..8 {
                    // SAFETY: as above.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>((sp - 4 * LINE + line * LINE) as *const i8) };
                }
            }
        }
    }
}

/// Who waits for a thread to end.
pub enum Joiner {
    /// A thread blocked in `join`.
    Thread(Wake),
    /// A task awaiting the join handle as a future.
    Future(Waker),
}

impl Joiner {
    fn wake(self) {
        match self {
            Joiner::Thread(wake) => {
                wake.wake();
            }
            Joiner::Future(waker) => waker.wake(),
        }
    }
}

/// Where a thread's result goes: what its join handle reads.
///
/// # Safety
///
/// The runtime calls `release` exactly once, when the thread has finished
/// and its handle is gone, with no other access to the packet then.
pub trait Packet: Send + Sync {
    /// Drops what the packet still holds; the last use of the packet.
    fn release(&self);
}

/// What the runtime needs to know about a `TaskCell<P, F>` without
/// knowing `P` and `F`.
struct Vtable {
    start: unsafe fn(NonNull<Task>, ThreadStack) -> TaskCoroutine,
    release_packet: unsafe fn(NonNull<Task>),
    dealloc: unsafe fn(NonNull<Task>),
}

/// A thread's allocation: the header, the packet, and the entry closure
/// until the thread starts.
#[repr(C)]
struct TaskCell<P, F> {
    task: Task,
    packet: P,
    entry: UnsafeCell<Option<F>>,
}

impl<P: Packet, F: FnOnce(&P) + Send> TaskCell<P, F> {
    const VTABLE: &'static Vtable =
        &Vtable { start: Self::start, release_packet: Self::release_packet, dealloc: Self::dealloc };

    /// Makes the coroutine that runs the entry closure on `stack`.
    ///
    /// # Safety
    ///
    /// `task` heads a live `TaskCell<P, F>` that has not started; the
    /// coroutine is resumed only while the task is alive.
    unsafe fn start(task: NonNull<Task>, stack: ThreadStack) -> TaskCoroutine {
        // SAFETY: the header is the first field of a `repr(C)` cell.
        let cell = unsafe { task.cast::<TaskCell<P, F>>().as_ref() };
        // SAFETY: only the starting scheduler touches `entry`, once.
        let entry = unsafe { (*cell.entry.get()).take() }.expect("a thread starts once");
        let packet: *const P = &cell.packet;
        let body = move |yielder: &Yielder<(), Switch>, ()| {
            // SAFETY: the task outlives its coroutine (the scheduler holds a
            // reference while it resumes it), and this is the thread itself,
            // running; the borrows end at once.
            unsafe { task.as_ref().own().yielder = yielder };
            // The entry catches the closure's panics, but what runs after
            // it (myriad-local destructors, a joiner's waker) could still
            // unwind, out of the coroutine and through the worker loop:
            // the thread would never be marked finished and its worker
            // would die. std aborts there too (see `fatal.rs`).
            let guard = AbortOnUnwind(|| {
                // SAFETY: as above; only the name is read.
                let name = unsafe { task.as_ref() }.name().unwrap_or("<unnamed>").to_owned();
                format!(
                    "thread '{name}' panicked after its closure returned (in a myriad::thread_local! \
                     destructor or a joiner's waker)"
                )
            });
            // SAFETY: as above.
            entry(unsafe { &*packet });
            // SAFETY: as above; the entry has returned, and this is the
            // thread's last act.
            unsafe { Task::end_on_thread(task) };
            guard.disarm();
        };
        // SAFETY: what the entry borrows outlives the thread (the spawner's
        // obligation, `Runtime::spawn_unchecked`).
        unsafe { TaskCoroutine::with_stack_unchecked(stack, body) }
    }

    /// # Safety
    ///
    /// `task` heads a live `TaskCell<P, F>`, released as `Packet` demands.
    unsafe fn release_packet(task: NonNull<Task>) {
        // SAFETY: the header is the first field of a `repr(C)` cell.
        unsafe { task.cast::<TaskCell<P, F>>().as_ref() }.packet.release();
    }

    /// # Safety
    ///
    /// `task` heads a `TaskCell<P, F>` made by `Task::spawn`, with no
    /// references left.
    unsafe fn dealloc(task: NonNull<Task>) {
        let cell = task.cast::<TaskCell<P, F>>();
        // SAFETY: `Task::spawn` wrote the cell into memory from
        // `cell_cache::allocate` with this layout; nobody refers to it now.
        unsafe {
            cell.as_ptr().drop_in_place();
            cell_cache::free(cell.cast(), Layout::new::<TaskCell<P, F>>());
        }
    }
}

/// A counted reference to a thread (the runtime's `Arc<Task>`).
pub struct TaskRef(NonNull<Task>);

// SAFETY: `Task` is `Sync` (see there); the count is atomic.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// The task, as a pointer (for identity and registries).
    pub fn as_ptr(&self) -> *const Task {
        self.0.as_ptr()
    }

    /// The scheduler's part of the thread's end, once its coroutine
    /// returned: gives up the scheduler's reference, and wakes the joiner
    /// if the thread left that to it (see `task_state.rs`).
    pub fn finish(self) {
        let this = ManuallyDrop::new(self);
        let task: &Task = &this;
        let (wake_joiner, last) = task.state.finish();
        if wake_joiner {
            // SAFETY: setting `DONE` over `JOINER` handed us the slot; the
            // blocked joiner holds the handle, so the memory, until it runs.
            unsafe { task.wake_joiner() };
        }
        if last {
            // SAFETY: that was the last reference.
            unsafe { (task.vtable.dealloc)(task.this) };
        }
    }

    /// Whether the thread has finished (its result is then visible).
    pub fn is_finished(&self) -> bool {
        self.state.is_done()
    }

    /// Blocks the caller until the thread has finished. Handle only.
    pub fn wait_finished(&self) {
        if self.is_finished() {
            return;
        }
        let register = |wake: Wake| {
            // An OS thread may stop waiting before it is woken: the deadlock
            // detector can make the main thread panic out of its join.
            let keep = wake.is_os_thread();
            // SAFETY: the slot is the handle's while `JOINER` is clear.
            unsafe { *self.joiner.get() = Some(Joiner::Thread(wake)) };
            if self.state.set_joiner(keep).is_err() {
                // Finished meanwhile: the slot is still ours; end our wait.
                // SAFETY: as above.
                unsafe { self.wake_joiner() };
            }
        };
        // SAFETY: the Wake is used once, by `finish` or by `register`; the
        // thread's end is the only thing that ends this wait.
        unsafe { wait::block_once(WaitReason::Join(self.id), register) };
        debug_assert!(self.is_finished(), "only the thread's end wakes a joiner");
    }

    /// Blocks the caller until the thread has finished or `deadline`
    /// passes; whether it finished. Handle only.
    pub fn wait_finished_until(&self, deadline: Instant) -> bool {
        self.wait_finished_or_leave(Some(deadline), false) == Woken::Woken
    }

    /// Blocks the caller until the thread has finished (`Woken::Woken`),
    /// `deadline` passes (`TimedOut`) or, if `interruptible`, the caller
    /// is interrupted (`Interrupted`). Handle only.
    ///
    /// The caller registers as a joiner that may leave (as a future does,
    /// `poll_finished`), and when it leaves takes the joiner slot back; if
    /// the thread's end took it first, the thread finished after all, and
    /// the `Wake` it uses is for an episode that has ended (a no-op).
    pub fn wait_finished_or_leave(&self, deadline: Option<Instant>, interruptible: bool) -> Woken {
        if self.is_finished() {
            return Woken::Woken;
        }
        let register = |wake| {
            // SAFETY: the slot is the handle's while `JOINER` is clear.
            unsafe { *self.joiner.get() = Some(Joiner::Thread(wake)) };
            if self.state.set_joiner(true).is_err() {
                // Finished meanwhile: the slot is still ours; end our wait.
                // SAFETY: as above.
                unsafe { self.wake_joiner() };
            }
        };
        let reason = WaitReason::Join(self.id);
        let woken = if interruptible {
            wait::block_interruptible(reason, deadline, register)
        } else {
            wait::block(reason, deadline, register)
        };
        if woken != Woken::Woken && self.state.has_joiner() && self.state.unset_joiner().is_ok() {
            // Still running, and the slot is ours again: empty it.
            // SAFETY: the slot is the handle's while `JOINER` is clear.
            drop(unsafe { (*self.joiner.get()).take() });
            return woken;
        }
        if self.is_finished() {
            Woken::Woken
        } else {
            woken
        }
    }

    /// Whether the thread has finished; if not, `waker` is woken when it
    /// does. Handle only.
    pub fn poll_finished(&self, waker: &Waker) -> bool {
        if self.is_finished() {
            return true;
        }
        // Take the slot back from an earlier poll to put the new waker in.
        if self.state.has_joiner() && self.state.unset_joiner().is_err() {
            return true;
        }
        // SAFETY: the slot is the handle's while `JOINER` is clear.
        unsafe { *self.joiner.get() = Some(Joiner::Future(waker.clone())) };
        if self.state.set_joiner(true).is_err() {
            // SAFETY: as above: still ours.
            drop(unsafe { (*self.joiner.get()).take() });
            return true;
        }
        false
    }

    /// The join handle goes away, with this, its reference.
    pub fn handle_gone(self) {
        let this = ManuallyDrop::new(self);
        match this.state.handle_gone() {
            HandleGone::ReleasePacket => {
                // SAFETY: finished, and the handle is going: ours alone.
                unsafe { (this.vtable.release_packet)(this.this) };
                // After a join the handle usually holds the last reference.
                if this.state.drop_ref_if_unique() {
                    // SAFETY: that was the last reference.
                    unsafe { (this.vtable.dealloc)(this.this) };
                }
            }
            // The reference was dropped by the transition.
            HandleGone::Detached => {}
        }
    }

    /// Leaks the reference, for `from_raw`.
    pub fn into_raw(self) -> *mut Task {
        ManuallyDrop::new(self).0.as_ptr()
    }

    /// Takes back a reference leaked by `into_raw`.
    ///
    /// # Safety
    ///
    /// `task` came from `into_raw`, and each leak is taken back once.
    pub unsafe fn from_raw(task: *mut Task) -> TaskRef {
        // SAFETY: `into_raw` returned a non-null pointer.
        TaskRef(unsafe { NonNull::new_unchecked(task) })
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        self.new_ref()
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        if self.state.drop_ref() {
            // SAFETY: that was the last reference.
            unsafe { (self.vtable.dealloc)(self.this) };
        }
    }
}

impl Deref for TaskRef {
    type Target = Task;

    fn deref(&self) -> &Task {
        // SAFETY: our reference keeps the task alive.
        unsafe { self.0.as_ref() }
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRef").field("id", &self.id).field("name", &self.name()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parked thread costs its stack page plus its cell; the header is
    /// most of the cell (issue 2's budget is 4.5 KB per parked thread).
    #[test]
    fn the_header_fits_four_cache_lines() {
        assert!(std::mem::size_of::<Task>() <= 256, "Task is {} bytes", std::mem::size_of::<Task>());
    }
}

//! The one waiting primitive: block the current thread — myriad or OS —
//! until a `Wake` handed out for this wait is used, or a deadline passes.
//!
//! Joins, `park`, `sleep`, locks, channels, IO readiness and the async bridge
//! are all built on `block`. A wait goes like this:
//!
//! 1. `block` starts a new *wait episode*: the thread's wait state becomes
//!    `BLOCKED` with a fresh epoch number.
//! 2. It calls `register` with a `Wake` for that episode; `register` stores
//!    it wherever the awaited event will find it (a wait queue, a join
//!    packet, an IO readiness slot). It may also use it at once, if the
//!    event already happened.
//! 3. The thread sleeps: a myriad thread switches back to its worker's
//!    scheduler; an OS thread waits on a condition variable.
//! 4. `Wake::wake` (or the deadline's timer) moves the state from
//!    `BLOCKED` to `WOKEN` (or `TIMED_OUT`) with a compare-and-swap on the
//!    epoch: exactly one of them wins, a stale `Wake` from an earlier
//!    episode always loses, and the winner reschedules the thread.
//!
//! An *interruptible* wait (`block_interruptible`) may also be ended by
//! an interrupt of its thread, or by the thread's deadline
//! (`interrupt.rs`).
//!
//! A myriad thread's state is a single `AtomicU64` (`epoch << 3 | status`, `state.rs`).
//! Waking from another OS thread between steps 2 and 3 is safe: the thread
//! is then queued in its worker's inbox, which the worker reads only after
//! the switch in step 3 has happened.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod interrupt;
mod reason;
mod state;
mod suspend;
mod token;

pub use interrupt::{is_interrupt, InterruptFlag, Interrupted};
pub use reason::WaitReason;
pub use state::{WaitState, Woken};
pub use suspend::{add_timer, note_wait, sleep_until, yield_now, yield_task};
pub use token::ParkToken;

use super::event_fd::EventFd;
use super::lock::{Condvar, Mutex};
use super::task::{Task, TaskRef};
use crate::rt::context;

/// The wait state of an OS thread: the same state word, plus a mutex and
/// condition variable to sleep on after a short spin.
pub struct OsWaiter {
    wait: WaitState,
    interrupt: InterruptFlag,
    /// Made the first time the thread waits in `poll_os`: an interrupt
    /// signals it, so that `poll(2)` returns.
    poll_wake: std::sync::OnceLock<EventFd>,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl OsWaiter {
    fn new() -> OsWaiter {
        OsWaiter {
            wait: WaitState::new(),
            interrupt: InterruptFlag::new(),
            poll_wake: std::sync::OnceLock::new(),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }
}

thread_local! {
    static OS_WAITER: Arc<OsWaiter> = Arc::new(OsWaiter::new());
}

/// The calling OS thread's waiter (for its `Thread` handle, and its
/// waits). In a thread-local destructor that runs after the waiter's own
/// (a value whose `Drop` receives from a myriad channel, as std's do), a
/// fresh waiter serves that one wait, not interrupted and without a
/// deadline, instead of a panic.
pub fn os_waiter() -> Arc<OsWaiter> {
    OS_WAITER.try_with(Arc::clone).unwrap_or_else(|_| Arc::new(OsWaiter::new()))
}

/// How long an OS thread spins before it sleeps on its condition variable
/// (waking a sleeping OS thread costs 15–20 µs on our VMs).
const OS_SPIN: Duration = Duration::from_micros(20);

impl OsWaiter {
    fn end(&self, epoch: u64, outcome: Woken) -> bool {
        if !self.wait.end(epoch, outcome) {
            return false;
        }
        // Taking the lock orders this notification after the waiter's last
        // look at the state (it looks and sleeps under the lock).
        drop(self.lock.lock());
        self.condvar.notify_one();
        true
    }

    /// The OS thread's interrupt flag.
    pub fn interrupt_flag(&self) -> &InterruptFlag {
        &self.interrupt
    }

    /// Interrupts the OS thread: raises its flag and ends its current
    /// wait if that is interruptible.
    pub fn interrupt(&self) {
        self.interrupt.raise(false);
        if self.wait.interrupt() {
            drop(self.lock.lock());
            self.condvar.notify_one();
            // The thread may wait in `poll_os` instead (a count left for
            // a condition-variable wait is drained by its next poll).
            if let Some(poll_wake) = self.poll_wake.get() {
                poll_wake.notify();
            }
        }
    }

    /// Waits until episode `epoch` ends; ends it itself at `deadline`.
    fn wait(&self, epoch: u64, deadline: Option<Instant>) -> Woken {
        let spin_until = Instant::now() + OS_SPIN;
        while self.wait.is_current(epoch) && Instant::now() < spin_until {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
        let mut guard = self.lock.lock();
        while self.wait.is_current(epoch) {
            match deadline {
                None => guard = self.condvar.wait(guard),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.wait.end(epoch, Woken::TimedOut);
                        break;
                    }
                    guard = self.condvar.wait_timeout(guard, deadline - now).0;
                }
            }
        }
        self.wait.outcome()
    }
}

#[derive(Clone)]
enum Waiter {
    Task(TaskRef),
    /// A blocked task that cannot go away before this `Wake` is used (see
    /// `block_once`): it holds its own reference while blocked.
    BorrowedTask(*const Task),
    Os(Arc<OsWaiter>),
}

/// The right to end one wait episode of one thread.
#[derive(Clone)]
pub struct Wake {
    waiter: Waiter,
    epoch: u64,
}

// SAFETY: `Task` and `OsWaiter` are `Sync`; a `BorrowedTask` pointer is
// only made by `block_once`, whose contract keeps the task alive until the
// `Wake` has been used, from whichever thread uses it.
unsafe impl Send for Wake {}
// SAFETY: as above.
unsafe impl Sync for Wake {}

impl Wake {
    pub(crate) fn for_task(task: TaskRef, epoch: u64) -> Wake {
        Wake { waiter: Waiter::Task(task), epoch }
    }

    /// A `Wake` that borrows the blocked `task` (see `block_once`).
    ///
    /// # Safety
    ///
    /// `block_once`'s contract.
    pub(crate) unsafe fn for_task_borrowed(task: &Task, epoch: u64) -> Wake {
        Wake { waiter: Waiter::BorrowedTask(task), epoch }
    }

    /// Wakes the thread if this episode is still its current wait; returns
    /// whether it did.
    pub fn wake(&self) -> bool {
        self.end(Woken::Woken)
    }

    /// Ends the wait as timed out (used by timers).
    pub(crate) fn time_out(&self) -> bool {
        self.end(Woken::TimedOut)
    }

    /// Whether the waiter is an OS thread (which, unlike a myriad thread,
    /// the deadlock detector may make give up its wait).
    pub(crate) fn is_os_thread(&self) -> bool {
        matches!(self.waiter, Waiter::Os(_))
    }

    /// Whether the wait this `Wake` can end is still going on.
    pub(crate) fn is_pending(&self) -> bool {
        match &self.waiter {
            Waiter::Task(task) => task.wait.is_current(self.epoch),
            // SAFETY: see `block_once`: alive until this Wake is used.
            Waiter::BorrowedTask(task) => unsafe { &**task }.wait.is_current(self.epoch),
            Waiter::Os(os) => os.wait.is_current(self.epoch),
        }
    }

    fn end(&self, outcome: Woken) -> bool {
        let task: &Task = match &self.waiter {
            Waiter::Task(task) => {
                if !task.wait.end(self.epoch, outcome) {
                    return false;
                }
                task
            }
            Waiter::BorrowedTask(task) => {
                // SAFETY: see `block_once`: alive until this Wake is used,
                // which is now, and nothing else ends the episode.
                let task = unsafe { &**task };
                task.wait.end_once(self.epoch);
                task
            }
            Waiter::Os(os) => return os.end(self.epoch, outcome),
        };
        // SAFETY: we just ended the episode.
        unsafe { suspend::schedule_woken(task) };
        true
    }
}

/// Blocks the calling thread until the `Wake` passed to `register` is used
/// or `deadline` passes; `reason` says what for (see `rt::dump`). See the
/// module comment.
///
/// On an OS thread with no deadline the wait may also end as
/// `Woken::Abandoned` (the deadlock detector; see there).
pub fn block(reason: WaitReason, deadline: Option<Instant>, register: impl FnOnce(Wake)) -> Woken {
    context::with_current_task(|task| match task {
        Some(task) => suspend::block_task(task, reason, deadline, register),
        None => block_os(deadline, true, register),
    })
}

/// As `block`, for an interruptible call: the wait also ends, with
/// `Woken::Interrupted`, when the thread is interrupted (before or during
/// the wait) or its deadline passes (which raises its interrupt flag).
/// `register` is called in every case, and the caller cleans up after
/// `Interrupted` as after a time-out.
pub fn block_interruptible(reason: WaitReason, deadline: Option<Instant>, register: impl FnOnce(Wake)) -> Woken {
    context::with_current_task(|task| match task {
        Some(task) => suspend::block_task_interruptible(task, reason, deadline, register),
        None => {
            let thread_deadline = interrupt::os_deadline();
            let os = os_waiter();
            let woken = block_os_with(&os, interrupt::earlier(deadline, thread_deadline), false, true, register);
            interrupt_outcome(woken, &os.interrupt, thread_deadline)
        }
    })
}

/// As `block`, but interruptible (`block_interruptible`) while the thread
/// runs an `interruptibly` section: how a blocking operation with std's
/// signature (a channel's) gets an interruptible variant without a second
/// code path. Outside a section it costs one load of the flag byte.
#[inline]
pub fn block_in_section(reason: WaitReason, deadline: Option<Instant>, register: impl FnOnce(Wake)) -> Woken {
    let in_section = context::with_current_task(|task| match task {
        Some(task) => !task.interrupt.is_quiet() && task.interrupt.in_section(),
        None => os_waiter().interrupt.in_section(),
    });
    if in_section {
        block_interruptible(reason, deadline, register)
    } else {
        block(reason, deadline, register)
    }
}

/// Runs `f` with the calling thread's `block_in_section` waits made
/// interruptible; they end as `Woken::Interrupted`, which their callers
/// treat as a time-out. Only for code whose waits all go through
/// `block_in_section` or are interruptible anyway (a channel operation).
pub fn interruptibly<R>(f: impl FnOnce() -> R) -> R {
    fn flag_do<R>(f: impl FnOnce(&InterruptFlag) -> R) -> R {
        context::with_current_task(|task| match task {
            Some(task) => f(&task.interrupt),
            None => f(&os_waiter().interrupt),
        })
    }
    /// Leaves the section, also when `f` panics.
    struct Leave(bool);
    impl Drop for Leave {
        fn drop(&mut self) {
            let was = self.0;
            flag_do(|flag| flag.set_in_section(was));
        }
    }
    let _leave = Leave(flag_do(|flag| flag.set_in_section(true)));
    f()
}

/// What an interruptible wait that ended as `woken` returns: a time-out
/// at or after the thread's deadline interrupts the thread.
#[inline]
fn interrupt_outcome(woken: Woken, flag: &InterruptFlag, thread_deadline: Option<Instant>) -> Woken {
    if woken == Woken::TimedOut && thread_deadline.is_some_and(|d| Instant::now() >= d) {
        flag.raise(true);
        return Woken::Interrupted;
    }
    woken
}

/// Interrupts the myriad thread `task`: raises its flag and ends its
/// current wait if that is interruptible.
pub fn interrupt_task(task: &Task) {
    task.interrupt.raise(false);
    if task.wait.interrupt() {
        // SAFETY: we just ended the episode.
        unsafe { suspend::schedule_woken(task) };
    } else {
        // A `park` is ended by unparking: a spurious wake-up to it, which
        // then sees the flag (and a park that begins later returns at
        // once, on the token).
        unpark_task(task);
    }
}

/// The calling thread's interrupt, if its flag is raised or its deadline
/// has passed (which raises it).
#[inline]
pub fn current_interrupt() -> Option<Interrupted> {
    context::with_current_task(|task| match task {
        Some(task) if task.interrupt.is_quiet() => None,
        // SAFETY: `task` is the running thread, reading its own deadline.
        Some(task) => interrupt::check(&task.interrupt, unsafe { task.deadline() }),
        None => {
            let os = os_waiter();
            if os.interrupt.is_quiet() {
                None
            } else {
                interrupt::check(&os.interrupt, interrupt::os_deadline())
            }
        }
    })
}

/// The error of the calling thread's interruptible call that ended as
/// `Woken::Interrupted`.
pub fn interrupted_error() -> std::io::Error {
    context::with_current_task(|task| match task {
        Some(task) => Interrupted::of(&task.interrupt),
        None => Interrupted::of(&os_waiter().interrupt),
    })
    .into()
}

/// Fails with the calling thread's interrupt, if it is interrupted: the
/// entry check of an interruptible IO call.
#[inline]
pub fn check_interrupt_io() -> std::io::Result<()> {
    match current_interrupt() {
        Some(interrupted) => Err(interrupted.into()),
        None => Ok(()),
    }
}

/// The calling thread's deadline.
pub fn current_deadline() -> Option<Instant> {
    context::with_current_task(|task| match task {
        // SAFETY: `task` is the running thread, reading its own deadline.
        Some(task) => unsafe { task.deadline() },
        None => interrupt::os_deadline(),
    })
}

/// Sets the calling thread's deadline.
pub fn set_current_deadline(deadline: Option<Instant>) {
    context::with_current_task(|task| match task {
        // SAFETY: `task` is the running thread, setting its own deadline.
        Some(task) => {
            // SAFETY: as above.
            unsafe { task.set_deadline(deadline) };
            task.interrupt.set_has_deadline(deadline.is_some());
        }
        None => interrupt::set_os_deadline(&os_waiter().interrupt, deadline),
    })
}

/// As `block` with no deadline, for a wait that exactly one party ends,
/// by using the `Wake` once (a join, an offload call, an io_uring
/// completion). The `Wake` then borrows a waiting myriad thread instead of
/// counting a reference to it: two atomic operations fewer.
///
/// # Safety
///
/// Nothing but the `Wake` handed to `register` may end this wait, and it
/// must not be used (or looked at) after its first use; clones must not
/// outlive that use.
pub unsafe fn block_once(reason: WaitReason, register: impl FnOnce(Wake)) {
    context::with_current_task(|task| match task {
        Some(task) => suspend::block_task_once(task, reason, register),
        None => {
            // Only a join may be given up (the deadlock detector's panic):
            // its thread's end keeps what it touches alive for an OS-thread
            // joiner (`rt/task_state.rs`). An offload call or an io_uring
            // operation may borrow from this stack until its Wake is used.
            let may_give_up = matches!(reason, WaitReason::Join(_));
            if block_os(None, may_give_up, register) == Woken::Abandoned {
                panic_deadlocked();
            }
        }
    })
}

/// Waits on an OS thread with `poll(2)` until `fd` has one of `events`,
/// `deadline` passes (`WouldBlock`, as std's socket timeouts), or the
/// thread is interrupted (its error); the thread's deadline applies.
pub fn poll_os(fd: std::os::fd::RawFd, events: libc::c_short, deadline: Option<Instant>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let os = os_waiter();
    let thread_deadline = interrupt::os_deadline();
    let deadline = interrupt::earlier(deadline, thread_deadline);
    if os.poll_wake.get().is_none() {
        let _ = os.poll_wake.set(EventFd::new()?);
    }
    let poll_wake = os.poll_wake.get().expect("just set");
    loop {
        let timeout = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return match interrupt_outcome(Woken::TimedOut, &os.interrupt, thread_deadline) {
                        Woken::Interrupted => Err(interrupted_error()),
                        _ => Err(std::io::Error::from(std::io::ErrorKind::WouldBlock)),
                    };
                }
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        };
        let epoch = os.wait.begin_interruptible();
        if os.interrupt.get_after_begin().is_some() {
            os.wait.end(epoch, Woken::Interrupted);
        }
        let mut fds = [
            libc::pollfd { fd, events, revents: 0 },
            libc::pollfd { fd: poll_wake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        let rc = if os.wait.is_current(epoch) {
            // SAFETY: two valid pollfds.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) }
        } else {
            0
        };
        let err = (rc < 0).then(std::io::Error::last_os_error);
        if !os.wait.end(epoch, Woken::Woken) {
            // The interrupt ended the episode (its signal, if not drained
            // here, is drained by the next poll).
            return Err(interrupted_error());
        }
        if fds[1].revents != 0 {
            // A signal left for an earlier wait: spurious.
            poll_wake.drain();
        }
        if fds[0].revents != 0 {
            return Ok(());
        }
        if let Some(err) = err {
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// Blocks an OS thread. `may_give_up`: the deadlock detector may end the
/// wait (returning `Woken::Abandoned`) before a `Wake` does.
fn block_os(deadline: Option<Instant>, may_give_up: bool, register: impl FnOnce(Wake)) -> Woken {
    block_os_with(&os_waiter(), deadline, may_give_up, false, register)
}

/// `block_os` for the OS thread of `os`; `interruptible`: an interrupt may
/// end the wait too.
fn block_os_with(
    os: &Arc<OsWaiter>,
    deadline: Option<Instant>,
    may_give_up: bool,
    interruptible: bool,
    register: impl FnOnce(Wake),
) -> Woken {
    let epoch = if interruptible { os.wait.begin_interruptible() } else { os.wait.begin(false) };
    // `register` first: a caller may hold a spin lock until it has queued
    // the `Wake` (a channel), and publishing the wait takes a mutex the
    // deadlock detector also takes. The episode is current already, so a
    // `Wake` used meanwhile just ends it early.
    register(Wake { waiter: Waiter::Os(os.clone()), epoch });
    let main = may_give_up && deadline.is_none() && is_main_thread();
    if main {
        // For the deadlock detector: the main thread waits with nothing
        // but a myriad wake-up to end it.
        *MAIN_WAIT.lock() = Some((os.clone(), epoch));
    }
    if interruptible && os.interrupt.get_after_begin().is_some() {
        // Interrupted before the wait began: end it ourselves (or see
        // that the interrupter, or a `Wake`, did).
        os.wait.end(epoch, Woken::Interrupted);
    }
    let woken = os.wait(epoch, deadline);
    if main {
        MAIN_WAIT.lock().take();
        // With no deadline, only the detector times a wait out.
        if woken == Woken::TimedOut && DEADLOCK_PANIC.load(Ordering::Acquire) {
            return Woken::Abandoned;
        }
    }
    woken
}

/// The main thread's panic when the deadlock detector abandoned its wait
/// (`Woken::Abandoned`), raised by the waiting primitive once it has left
/// every queue and restored its invariants: a panic out of the wait itself
/// would leave queue entries pointing into the unwound frame.
#[cold]
#[track_caller]
pub fn panic_deadlocked() -> ! {
    panic!("all threads are asleep — deadlock (see the thread dump above)");
}

/// The main thread's waiter and episode while it is blocked in a myriad
/// wait without a deadline.
static MAIN_WAIT: Mutex<Option<(Arc<OsWaiter>, u64)>> = Mutex::new(None);

/// Set when the deadlock detector decided to end the main thread's wait
/// with a panic.
static DEADLOCK_PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn is_main_thread() -> bool {
    thread_local! {
        static MAIN: bool = {
            // SAFETY: getpid and gettid have no preconditions.
            unsafe { libc::getpid() == libc::gettid() }
        };
    }
    MAIN.with(|m| *m)
}

/// Whether the main thread is blocked in a myriad wait with no deadline.
pub fn main_thread_blocked() -> bool {
    MAIN_WAIT.lock().as_ref().is_some_and(|(os, epoch)| os.wait.is_current(*epoch))
}

/// Ends the main thread's wait so that it panics with a deadlock message.
pub fn panic_main_thread() {
    DEADLOCK_PANIC.store(true, Ordering::Release);
    if let Some((os, epoch)) = MAIN_WAIT.lock().clone() {
        os.end(epoch, Woken::TimedOut);
    }
}

/// `park` for the running myriad thread `task`, with std's token semantics
/// (`token.rs`). `interruptible`: an interrupt (or the thread's deadline)
/// ends it too, as a spurious wake-up, leaving the interrupt flag raised.
/// An interrupt ends a park by unparking (`interrupt_task`), so the wait
/// itself is the plain one.
#[inline]
pub fn park_task(task: &Task, deadline: Option<Instant>, interruptible: bool) {
    if interruptible && !task.interrupt.is_quiet() {
        // Interrupted, or a deadline of its own.
        // SAFETY: `task` is the running thread, reading its own deadline.
        return park_task_with_deadline(task, deadline, unsafe { task.deadline() });
    }
    park_episode(task, deadline);
}

/// One wait episode of `park_task`.
#[inline]
fn park_episode(task: &Task, deadline: Option<Instant>) {
    task.token.park(
        &task.wait,
        || {
            note_wait(task, WaitReason::Park);
            let epoch = task.wait.begin(true);
            if let Some(deadline) = deadline {
                add_timer(deadline, Wake::for_task(task.new_ref(), epoch));
            }
            epoch
        },
        // SAFETY: `park` just ended the episode.
        || unsafe { suspend::schedule_woken(task) },
        || suspend::suspend_blocked(task),
    );
}

/// `park_task` for an interrupted thread or one with a deadline of its
/// own: the wait ends by then, and interrupts the thread if it ends then.
#[cold]
fn park_task_with_deadline(task: &Task, deadline: Option<Instant>, thread_deadline: Option<Instant>) {
    if interrupt::check(&task.interrupt, thread_deadline).is_some() {
        return;
    }
    park_episode(task, interrupt::earlier(deadline, thread_deadline));
    interrupt_outcome(task.wait.outcome(), &task.interrupt, thread_deadline);
}

/// `unpark` for a myriad thread.
pub fn unpark_task(task: &Task) {
    if task.token.unpark(&task.wait) {
        // SAFETY: `unpark` just ended the episode.
        unsafe { suspend::schedule_woken(task) };
    }
}

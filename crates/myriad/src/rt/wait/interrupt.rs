//! Interrupts: how one thread makes another's interruptible call return
//! at once, and the error that call returns.
//!
//! Every thread (a myriad thread's `Task`, an OS thread's `OsWaiter`) has
//! an [`InterruptFlag`]. `Thread::interrupt` raises it and then ends the
//! thread's current wait episode if that episode is interruptible
//! (`WaitState::interrupt`, a compare-and-swap on the epoch like every
//! other way to end an episode, so an interrupt racing a `Wake` or a timer
//! ends it at most once, and a stale interrupt never ends a later one).
//! An interruptible wait (`wait::block_interruptible`, `park`, `sleep`)
//! begins its episode first and looks at the flag second, with a
//! `fence(SeqCst)` in between, mirroring the interrupter's "raise, then
//! fence, then look at the state" (`state.rs`): whichever comes second sees
//! the other, so an interrupt is never lost between the look and the
//! sleep (checked by loom: tests/loom_wait.rs).
//!
//! The flag stays raised until the thread clears it (sticky, as Go's
//! cancelled contexts are and unlike Java's interrupt, which the exception
//! clears): every later interruptible call fails at once too, so a library
//! that swallows one error and retries cannot undo a cancellation.
//!
//! A thread may also have a *deadline* (`Deadline`, its own to set): its
//! interruptible waits end by then at the latest, and when one ends
//! because of it the flag is raised with [`Interrupted::by_deadline`].
//! Non-interruptible waits (a lock, a plain `join`) are not affected.
//!
//! Uninterrupted, an interruptible wait costs one fence after its release
//! store and two loads of the flag byte. Waits that are not interruptible
//! cost exactly what they did.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

const CLEAR: u8 = 0;
const BY_CALL: u8 = 1;
const BY_DEADLINE: u8 = 2;
const RAISED: u8 = BY_CALL | BY_DEADLINE;
/// Not an interrupt: the thread has a deadline (kept here too so that an
/// interruptible call's fast path is one load of this byte).
const HAS_DEADLINE: u8 = 4;
/// Not an interrupt: the thread runs an `interruptibly` section, whose
/// `block_in_section` waits are interruptible.
const IN_SECTION: u8 = 8;

/// A thread's interrupt flag: clear, or raised with its cause; and whether
/// the thread has a deadline.
pub struct InterruptFlag(AtomicU8);

impl InterruptFlag {
    pub const fn new() -> InterruptFlag {
        InterruptFlag(AtomicU8::new(CLEAR))
    }

    /// Raises the flag. Sequentially consistent: see the module comment.
    pub fn raise(&self, by_deadline: bool) {
        self.0.fetch_or(if by_deadline { BY_DEADLINE } else { BY_CALL }, Ordering::SeqCst);
    }

    /// Whether the flag is down and the thread has no deadline: the fast
    /// path of an interruptible call (a cheap look, before its wait).
    #[inline]
    pub fn is_quiet(&self) -> bool {
        self.0.load(Ordering::Relaxed) == CLEAR
    }

    /// The interrupt, if the flag is raised (a cheap look, for the start
    /// of a call).
    #[inline]
    pub fn get(&self) -> Option<Interrupted> {
        Self::decode(self.0.load(Ordering::Relaxed))
    }

    /// As `get`, ordered after the wait episode began (see the module
    /// comment).
    #[inline]
    pub fn get_after_begin(&self) -> Option<Interrupted> {
        Self::decode(self.0.load(Ordering::SeqCst))
    }

    /// Lowers the flag; whether it was raised.
    pub fn clear(&self) -> bool {
        self.0.fetch_and(!RAISED, Ordering::AcqRel) & RAISED != 0
    }

    /// Records whether the thread has a deadline (only the thread itself
    /// sets its deadline).
    pub fn set_has_deadline(&self, has: bool) {
        if has {
            self.0.fetch_or(HAS_DEADLINE, Ordering::Relaxed);
        } else {
            self.0.fetch_and(!HAS_DEADLINE, Ordering::Relaxed);
        }
    }

    /// Marks the thread as inside (or outside) an `interruptibly` section
    /// (only the thread itself does); whether it was inside before.
    pub fn set_in_section(&self, inside: bool) -> bool {
        let before = if inside {
            self.0.fetch_or(IN_SECTION, Ordering::Relaxed)
        } else {
            self.0.fetch_and(!IN_SECTION, Ordering::Relaxed)
        };
        before & IN_SECTION != 0
    }

    /// Whether the thread is inside an `interruptibly` section.
    #[inline]
    pub fn in_section(&self) -> bool {
        self.0.load(Ordering::Relaxed) & IN_SECTION != 0
    }

    /// An explicit interrupt wins over a deadline that passed.
    #[inline]
    fn decode(value: u8) -> Option<Interrupted> {
        match value & RAISED {
            CLEAR => None,
            BY_DEADLINE => Some(Interrupted { by_deadline: true }),
            _ => Some(Interrupted { by_deadline: false }),
        }
    }
}

/// The error of a call that an interrupt ended: the thread was interrupted
/// ([`Thread::interrupt`](crate::thread::Thread::interrupt)) or its
/// deadline ([`set_deadline`](crate::thread::set_deadline)) passed.
///
/// IO calls return it inside an [`io::Error`]; see
/// [`is_interrupt`](crate::thread::is_interrupt) for why its kind is not
/// [`io::ErrorKind::Interrupted`].
///
/// ```
/// use myriad::thread;
/// let t = thread::current();
/// t.interrupt();
/// let err = thread::check_interrupt().unwrap_err();
/// assert!(!err.by_deadline());
/// t.clear_interrupt();
/// assert!(thread::check_interrupt().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    by_deadline: bool,
}

impl Interrupted {
    /// Whether the thread's deadline passed (rather than an explicit
    /// `interrupt`).
    pub fn by_deadline(&self) -> bool {
        self.by_deadline
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.by_deadline {
            f.write_str("the thread's deadline passed")
        } else {
            f.write_str("the thread was interrupted")
        }
    }
}

impl std::error::Error for Interrupted {}

impl From<Interrupted> for io::Error {
    /// `TimedOut` for a deadline, `Other` for an interrupt, with the
    /// `Interrupted` as the error inside (see `thread::is_interrupt`).
    fn from(interrupted: Interrupted) -> io::Error {
        let kind = if interrupted.by_deadline { io::ErrorKind::TimedOut } else { io::ErrorKind::Other };
        io::Error::new(kind, interrupted)
    }
}

impl Interrupted {
    /// The interrupt of a call that ended as `Woken::Interrupted`, as
    /// its thread's flag says (raised, as it stays until cleared).
    pub(crate) fn of(flag: &InterruptFlag) -> Interrupted {
        flag.get().unwrap_or(Interrupted { by_deadline: false })
    }

    /// The calling thread's interrupt, for a call that ended as
    /// `Woken::Interrupted`.
    pub(crate) fn current() -> Interrupted {
        super::current_interrupt().unwrap_or(Interrupted { by_deadline: false })
    }
}

/// Whether `err` is the error of an interrupted IO call.
pub fn is_interrupt(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<Interrupted>())
}

thread_local! {
    /// An OS thread's deadline (a myriad thread keeps its own in its task).
    static OS_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// An OS thread's deadline.
pub fn os_deadline() -> Option<Instant> {
    OS_DEADLINE.with(Cell::get)
}

/// Sets an OS thread's deadline (`flag`: its interrupt flag).
pub fn set_os_deadline(flag: &InterruptFlag, deadline: Option<Instant>) {
    OS_DEADLINE.with(|d| d.set(deadline));
    flag.set_has_deadline(deadline.is_some());
}

/// The deadline an interruptible wait uses: the earlier of the call's own
/// and the thread's.
#[inline]
pub fn earlier(call: Option<Instant>, thread: Option<Instant>) -> Option<Instant> {
    match (call, thread) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Raises `flag` if the thread's `deadline` has passed; the interrupt, if
/// the flag is raised.
#[inline]
pub fn check(flag: &InterruptFlag, deadline: Option<Instant>) -> Option<Interrupted> {
    if let Some(deadline) = deadline {
        if Instant::now() >= deadline {
            flag.raise(true);
        }
    }
    flag.get()
}

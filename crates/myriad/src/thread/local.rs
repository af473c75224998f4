//! Thread-local storage that belongs to each myriad thread.
//!
//! [`myriad::thread_local!`](crate::thread_local) declares a [`LocalKey`],
//! shaped like std's. Each myriad thread has its own value, created on first
//! access and dropped when the thread ends (before `join` returns). On an OS
//! thread the value is stored per OS thread, as std's would be.
//!
//! When a myriad thread ends its values are destroyed as std destroys its
//! own: one at a time, each key refusing access (`AccessError`) from the
//! moment its own value starts being dropped, while keys not destroyed yet
//! still work — even one first used by another value's destructor, whose
//! value is then destroyed in turn. Each key is destroyed at most once per
//! thread, so this ends.
//!
//! Each key gets an index on first use; a thread's values live in a vector
//! indexed by it, each boxed so that a reference handed to `with` stays
//! valid while other keys are initialised.

use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::rt::context;

use crate::rt::locals::{Locals, Slot};

thread_local! {
    /// Values of myriad keys used on an OS thread (not a myriad thread).
    /// `ManuallyDrop`: no drop glue, so std registers no destructor for it
    /// and it stays usable while the OS thread's std thread-locals are
    /// destroyed — where `OS_GUARD` destroys these values, key by key, as
    /// a myriad thread's end does (a value's drop may use other keys).
    static OS_LOCALS: UnsafeCell<ManuallyDrop<Locals>> =
        const { UnsafeCell::new(ManuallyDrop::new(Locals::new())) };
    /// Destroys `OS_LOCALS`'s values when the OS thread exits; touched on
    /// every use of `OS_LOCALS`, which registers its destructor with std.
    static OS_GUARD: OsGuard = const { OsGuard };
}

/// See `OS_GUARD`.
struct OsGuard;

impl Drop for OsGuard {
    fn drop(&mut self) {
        // Off any myriad thread (this is an OS thread's exit), so this
        // works on `OS_LOCALS`.
        destroy_current();
    }
}

/// Runs `f` on the calling thread's `Locals`. `f` must not run user code.
fn with_locals<R>(f: impl FnOnce(&mut Locals) -> R) -> R {
    context::with_current_task(|task| match task {
        // SAFETY: the thread itself, running; `f` runs no user code, so no
        // other borrow of `own` can begin before this one ends.
        Some(task) => f(unsafe { &mut task.own().locals }),
        None => {
            // Fails only once the guard is gone (the values are then
            // destroyed and `destroyed` refuses new ones).
            let _ = OS_GUARD.try_with(|_| {});
            // SAFETY: as above, for this OS thread's storage. `OS_LOCALS`
            // has no destructor, so `with` cannot fail.
            OS_LOCALS.with(|locals| f(unsafe { &mut *locals.get() }))
        }
    })
}

/// Drops the calling thread's values (a myriad thread's at its end, on its
/// stack; an OS thread's when it exits, from `OS_GUARD`),
/// one at a time, latest key first, until none is left (a value's drop
/// may create values of keys not destroyed yet; see the module docs).
pub(crate) fn destroy_current() {
    // Most threads use no keys: one look, and nothing to drop.
    let used = with_locals(|locals| {
        if locals.values.is_none() {
            locals.destroyed = true;
        }
        locals.values.is_some()
    });
    if !used {
        return;
    }
    loop {
        let value = with_locals(|locals| {
            let values = locals.values.as_deref_mut()?;
            let slot = values.iter_mut().rev().find(|slot| matches!(slot, Slot::Alive(_)))?;
            match std::mem::replace(slot, Slot::Destroyed) {
                Slot::Alive(value) => Some(value),
                Slot::Empty | Slot::Destroyed => None,
            }
        });
        match value {
            // Dropped outside the borrow: the drop may use other keys.
            Some(value) => drop(value),
            None => break,
        }
    }
    let values = with_locals(|locals| {
        locals.destroyed = true;
        locals.values.take()
    });
    // Only `Empty` and `Destroyed` markers are left.
    drop(values);
}

/// The error `try_with` returns for a value accessed while the thread's
/// values are being destroyed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError;

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError").finish()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt("already destroyed", f)
    }
}

impl std::error::Error for AccessError {}

static NEXT_INDEX: AtomicUsize = AtomicUsize::new(1);

/// A key to a value each myriad thread has its own copy of; declare one
/// with [`myriad::thread_local!`](crate::thread_local).
///
/// ```
/// use std::cell::Cell;
/// myriad::thread_local!(static COUNT: Cell<u32> = Cell::new(0));
///
/// let h = myriad::thread::spawn(|| {
///     COUNT.with(|c| c.set(c.get() + 1));
///     COUNT.with(|c| c.get())
/// });
/// assert_eq!(h.join().unwrap(), 1);
/// // Another thread starts from the initial value again.
/// assert_eq!(myriad::thread::spawn(|| COUNT.get()).join().unwrap(), 0);
/// ```
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
    /// 0 until first use, then the key's index + 1.
    index: AtomicUsize,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init, index: AtomicUsize::new(0) }
    }

    fn index(&'static self) -> usize {
        match self.index.load(Ordering::Relaxed) {
            0 => {
                let fresh = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
                match self.index.compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => fresh - 1,
                    Err(winner) => winner - 1,
                }
            }
            n => n - 1,
        }
    }

    fn get_ptr(&'static self) -> Result<*const T, AccessError> {
        let index = self.index();
        let existing = with_locals(|locals| {
            if locals.destroyed {
                return Err(AccessError);
            }
            match locals.values.as_deref().and_then(|values| values.get(index)) {
                Some(Slot::Alive(value)) => Ok(Some(value_ptr::<T>(value))),
                Some(Slot::Destroyed) => Err(AccessError),
                Some(Slot::Empty) | None => Ok(None),
            }
        })?;
        if let Some(ptr) = existing {
            return Ok(ptr);
        }
        // Initialise outside any borrow: `init` may use other keys.
        let value: Box<dyn Any> = Box::new((self.init)());
        // A value that is not stored comes back out, to be dropped after
        // the borrow ends: its drop is user code, which may use keys.
        let mut unused = None;
        let result = with_locals(|locals| {
            if locals.destroyed {
                unused = Some(value);
                return Err(AccessError);
            }
            let values = locals.values.get_or_insert_with(Box::default);
            if values.len() <= index {
                values.resize_with(index + 1, || Slot::Empty);
            }
            let slot = &mut values[index];
            match slot {
                // `init` used this key itself (recursively) and won: keep
                // that value.
                Slot::Alive(_) => unused = Some(value),
                // Destroyed while `init` ran (a destructor's `init`).
                Slot::Destroyed => {
                    unused = Some(value);
                    return Err(AccessError);
                }
                Slot::Empty => *slot = Slot::Alive(value),
            }
            match slot {
                Slot::Alive(value) => Ok(value_ptr::<T>(value)),
                Slot::Empty | Slot::Destroyed => Err(AccessError),
            }
        });
        drop(unused);
        result
    }

    /// Runs `f` with a reference to this thread's value, creating it first
    /// if needed.
    ///
    /// # Panics
    ///
    /// Panics if called while the thread's values are being destroyed.
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.try_with(f).expect("cannot access a myriad thread-local value during or after destruction")
    }

    /// As `with`, but returns an error instead of panicking: when called
    /// from the destructor of this key's own value, or after it ran. Other
    /// keys still work while a thread's values are destroyed, as std's do.
    ///
    /// ```
    /// use std::cell::Cell;
    /// struct Report;
    /// impl Drop for Report {
    ///     fn drop(&mut self) {
    ///         // Its own key is gone; another key still works (and is
    ///         // destroyed after this).
    ///         assert!(REPORT.try_with(|_| ()).is_err());
    ///         assert!(COUNT.try_with(|c| c.get()).is_ok());
    ///     }
    /// }
    /// myriad::thread_local! {
    ///     static REPORT: Report = Report;
    ///     static COUNT: Cell<u32> = Cell::new(0);
    /// }
    /// // The same on a myriad thread and on an OS thread.
    /// myriad::thread::spawn(|| REPORT.with(|_| ())).join().unwrap();
    /// std::thread::spawn(|| REPORT.with(|_| ())).join().unwrap();
    /// ```
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let ptr = self.get_ptr()?;
        // SAFETY: the value is boxed and owned by the calling thread's
        // `Locals`; it is dropped only when the thread ends (or, for an OS
        // thread, exits), never while `f` runs on this thread, and values
        // are never replaced once created.
        Ok(f(unsafe { &*ptr }))
    }
}

fn value_ptr<T: 'static>(value: &Box<dyn Any>) -> *const T {
    value.downcast_ref::<T>().expect("a key's slot holds its own type") as *const T
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets this thread's value.
    pub fn set(&'static self, value: T) {
        self.with(|cell| cell.set(value));
    }

    /// A copy of this thread's value.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes this thread's value, leaving `Default::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces this thread's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` with a shared borrow of this thread's value.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Runs `f` with a mutable borrow of this thread's value.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    /// Sets this thread's value.
    pub fn set(&'static self, value: T) {
        self.with(|cell| *cell.borrow_mut() = value);
    }

    /// Takes this thread's value, leaving `Default::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces this thread's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Declares thread-local values that belong to each **myriad** thread.
///
/// The same syntax as std's `thread_local!`; the keys are
/// [`myriad::thread::LocalKey`](crate::thread::LocalKey)s. std's
/// `thread_local!` would be shared by all myriad threads of one worker.
///
/// ```
/// use std::cell::RefCell;
/// myriad::thread_local! {
///     static NAMES: RefCell<Vec<String>> = RefCell::new(Vec::new());
/// }
/// NAMES.with_borrow_mut(|v| v.push("main".into()));
/// let seen = myriad::thread::spawn(|| NAMES.with_borrow(|v| v.len())).join().unwrap();
/// assert_eq!(seen, 0);
/// ```
///
/// A `const { ... }` initializer is accepted as std accepts it, statements
/// included; here it is evaluated on first use, like any other.
///
/// ```
/// use std::cell::Cell;
/// myriad::thread_local! {
///     static LIMIT: Cell<u32> = const {
///         let base = 10;
///         Cell::new(base * 4)
///     };
/// }
/// assert_eq!(LIMIT.get(), 40);
/// ```
#[macro_export]
macro_rules! thread_local {
    () => {};
    // `const { ... }`: any block, statements included, as std accepts; the
    // block is evaluated like any other initializer (on first use).
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block; $($rest:tt)*) => (
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init; $($rest)*);
    );
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block) => (
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    );
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => (
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::thread_local!($($rest)*);
    );
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => (
        $(#[$attr])* $vis static $name: $crate::thread::LocalKey<$t> = {
            fn __init() -> $t {
                $init
            }
            $crate::thread::LocalKey::new(__init)
        };
    );
}

//! `OnceLock` and `LazyLock`: std's write-once cells, over this module's
//! [`Once`] so that threads waiting for another's initialization park
//! instead of blocking their worker.
//!
//! The value lives in an `UnsafeCell<Option<T>>` written only by the
//! thread that runs the `Once`'s closure, and read only after the `Once`
//! completed (Acquire), which is the invariant behind the `Sync` impls.
//! An initializer that panics leaves the cell empty (the `Once` poisoned
//! but forced through by the next attempt), as std does.
//!
//! # Why `Option<T>` and no `Drop`
//!
//! std keeps `MaybeUninit<T>` and drops it in a `Drop` impl marked
//! `#[may_dangle] T` (nightly-only), which tells the drop checker that
//! dropping a `OnceLock<T>` only drops its `T`. So a `OnceLock<&'a T>` may
//! be dropped after `'a` ends (std's test `dropck`). On stable, any `Drop`
//! impl on `OnceLock<T>` makes the checker assume the impl may use `T`'s
//! borrows, and requires them alive. Instead, `OnceLock` has no `Drop`:
//! the value is an `Option<T>`, whose drop glue drops exactly the `T`
//! (checked like any field: a `&'a T` has no drop glue, so `'a` may have
//! ended). `Some` is written only together with completing the `Once`,
//! and taken out only with `&mut self`, so the two always agree.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};

use super::Once;

/// A cell written at most once, as [`std::sync::OnceLock`].
///
/// ```
/// use myriad::sync::OnceLock;
/// static CELL: OnceLock<String> = OnceLock::new();
///
/// let handles: Vec<_> = (0..8)
///     .map(|i| myriad::thread::spawn(move || CELL.get_or_init(|| format!("set by {i}")).len()))
///     .collect();
/// for h in handles {
///     assert_eq!(h.join().unwrap(), CELL.get().unwrap().len());
/// }
/// ```
pub struct OnceLock<T> {
    once: Once,
    /// `Some` exactly when `once` is complete (see the module docs).
    value: UnsafeCell<Option<T>>,
}

// SAFETY: as std: the value is written once by one thread and then shared
// (`Sync`), and may be moved out (`take`, `into_inner`) or dropped by
// another thread (`Send`).
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for OnceLock<T> {}

// As std: the cell is either empty or fully written.
impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell.
    pub const fn new() -> OnceLock<T> {
        OnceLock { once: Once::new(), value: UnsafeCell::new(None) }
    }

    /// The value, if initialized.
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: completion (seen with Acquire) means the value was
            // written before it, and it is never written again while the
            // cell is shared, so this shared borrow races with no write.
            unsafe { (*self.value.get()).as_ref() }
        } else {
            None
        }
    }

    /// A mutable reference to the value, if initialized.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            self.value.get_mut().as_mut()
        } else {
            None
        }
    }

    /// Blocks until the cell is initialized, and returns the value.
    ///
    /// ```
    /// use myriad::sync::{Arc, OnceLock};
    /// let cell = Arc::new(OnceLock::new());
    /// let c = cell.clone();
    /// let h = myriad::thread::spawn(move || *c.wait());
    /// cell.set(9).unwrap();
    /// assert_eq!(h.join().unwrap(), 9);
    /// ```
    pub fn wait(&self) -> &T {
        self.once.wait_inner(true);
        self.get().expect("the Once completed")
    }

    /// Initializes the cell with `value` if it is empty; otherwise returns
    /// `value` back.
    ///
    /// ```
    /// let cell = myriad::sync::OnceLock::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("runs once"));
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, initializing it with `f` first if the cell is empty. Other
    /// threads calling this meanwhile park until `f` returns. If `f` panics
    /// the panic propagates and the cell stays empty.
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        let slot = &self.value;
        self.once.call_once_force(|_| {
            let value = f();
            // SAFETY: only the thread running the `Once`'s closure writes,
            // and no reader exists until the `Once` completes.
            unsafe { *slot.get() = Some(value) };
        });
        self.get().expect("the Once completed")
    }

    /// The value, if any, consuming the cell.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// let mut cell = myriad::sync::OnceLock::new();
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.take(), Some(3));
    /// assert!(cell.get().is_none());
    /// ```
    pub fn take(&mut self) -> Option<T> {
        if self.once.is_completed() {
            self.once = Once::new();
        }
        self.value.get_mut().take()
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> OnceLock<T> {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> OnceLock<T> {
        let cell = OnceLock::new();
        if let Some(value) = self.get() {
            let _ = cell.set(value.clone());
        }
        cell
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

/// A value initialized on first access, as [`std::sync::LazyLock`].
///
/// ```
/// use myriad::sync::LazyLock;
/// static SQUARES: LazyLock<Vec<u64>> = LazyLock::new(|| (0..10).map(|i| i * i).collect());
/// let h = myriad::thread::spawn(|| SQUARES[3]);
/// assert_eq!(h.join().unwrap() + SQUARES[4], 25);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: UnsafeCell<Option<F>>,
}

// SAFETY: `init` is taken only inside the `OnceLock`'s initialization, which
// one thread at a time runs; the value is shared as in `OnceLock`.
unsafe impl<T: Sync + Send, F: Send> Sync for LazyLock<T, F> {}

impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> {}
impl<T: UnwindSafe, F: UnwindSafe> UnwindSafe for LazyLock<T, F> {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value initialized by `f` on first access.
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock { cell: OnceLock::new(), init: UnsafeCell::new(Some(f)) }
    }

    /// Forces initialization and returns the value. Panics if the
    /// initializer panicked before.
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            // SAFETY: this closure runs inside the `Once`, one thread at a
            // time; nothing else touches `init`.
            let f = unsafe { (*this.init.get()).take() };
            match f {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned"),
            }
        })
    }
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// Forces initialization through an exclusive reference and returns
    /// the value mutably, as std's `LazyLock::force_mut`. No other thread
    /// can be initializing it, so nothing waits. Panics if the initializer
    /// panicked before (here or in [`force`](LazyLock::force)).
    ///
    /// ```
    /// use myriad::sync::LazyLock;
    /// let mut lazy = LazyLock::new(|| vec![1, 2]);
    /// LazyLock::force_mut(&mut lazy).push(3);
    /// assert_eq!(*lazy, [1, 2, 3]);
    /// ```
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        let cell = &mut this.cell;
        if !cell.once.is_completed() {
            // Taken before running it: if it panics, the lock stays
            // poisoned (no initializer left), as in `force`.
            let value = match this.init.get_mut().take() {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned"),
            };
            *cell.value.get_mut() = Some(value);
            // Marks the value present; the closure does nothing, and with
            // `&mut` no other thread can be waiting.
            cell.once.call_once_force(|_| {});
        }
        match cell.value.get_mut() {
            Some(value) => value,
            None => unreachable!("a completed OnceLock holds its value"),
        }
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

/// As std (1.89): `*lazy = ...` and `&mut *lazy` force initialization.
///
/// ```
/// let mut lazy = myriad::sync::LazyLock::new(|| 1);
/// *lazy += 1;
/// assert_eq!(*lazy, 2);
/// ```
impl<T, F: FnOnce() -> T> DerefMut for LazyLock<T, F> {
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

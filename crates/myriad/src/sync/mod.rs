//! Synchronization with the API of [`std::sync`], parking threads instead of
//! blocking workers.
//!
//! `std::sync::Mutex::lock` or `mpsc::Receiver::recv` inside a myriad thread
//! would block its whole worker OS thread, and with it every thread pinned
//! there. The types here have std's names, signatures and semantics
//! (including poisoning and std's own error types) but park only the calling
//! thread — a myriad thread gives its worker to others, an OS thread sleeps —
//! and they work between myriad threads and OS threads alike. Port by
//! changing `std::sync` to `myriad::sync`; [`Arc`], [`Weak`] and [`atomic`]
//! are re-exported from std so that the path keeps working.
//!
//! Everything waits through one place, the *parking lot*: wait queues keyed
//! by address, on top of the runtime's single blocking primitive. Locks are
//! one atomic word whose uncontended lock and unlock cost one
//! compare-and-swap each.
//!
//! Beyond std: [`Semaphore`], [`WaitGroup`], and [`channel`], a
//! multi-producer multi-consumer channel shaped like crossbeam-channel's,
//! with [`select!`](crate::select).
//!
//! ```
//! use myriad::sync::{mpsc, Arc, Mutex};
//!
//! let total = Arc::new(Mutex::new(0));
//! let (tx, rx) = mpsc::channel();
//! for i in 0..10 {
//!     let (tx, total) = (tx.clone(), total.clone());
//!     myriad::thread::spawn(move || {
//!         *total.lock().unwrap() += i;
//!         tx.send(i).unwrap();
//!     });
//! }
//! drop(tx);
//! assert_eq!(rx.iter().sum::<i32>(), 45);
//! assert_eq!(*total.lock().unwrap(), 45);
//! ```

mod barrier;
pub mod channel;
mod condvar;
pub mod mpsc;
mod mutex;
mod once;
mod once_lock;
pub(crate) mod parking_lot;
mod poison;
mod rwlock;
mod semaphore;
mod wait_group;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceState};
pub use once_lock::{LazyLock, OnceLock};
pub use poison::{LockResult, PoisonError, TryLockError, TryLockResult};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphoreGuard};
pub use std::sync::{atomic, Arc, Weak};
pub use wait_group::WaitGroup;

//! Bridges between myriad threads and `async` code.
//!
//! * [`waker`]: a [`Waker`](std::task::Waker) that unparks a thread (myriad
//!   or OS), for handing to async libraries from thread code.
//! * [`block_on`]: drives any future to completion from a thread, parking
//!   (not spinning, not blocking the worker) in between polls, so
//!   runtime-agnostic async libraries and primitives can be used from plain
//!   blocking code.
//! * [`JoinFuture`]: a myriad thread's [`JoinHandle`](crate::thread::JoinHandle)
//!   as a future (`handle.await`, through `IntoFuture`), so async code can
//!   wait for a thread.
//! * `tokio` (cargo feature `tokio`): runs futures that need tokio's
//!   reactor and timer from a thread, with a tokio runtime on its own OS
//!   threads.

mod block_on;
mod join;
#[cfg(feature = "tokio")]
pub mod tokio;
mod waker;

pub use block_on::block_on;
pub use join::JoinFuture;
pub use waker::waker;

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads waiting for something outside the runtime that will wake them
/// (a tokio runtime's threads, `compat::tokio::run`).
static OUTSIDE_WAITS: AtomicUsize = AtomicUsize::new(0);

/// Whether some thread waits for a wake-up from outside the runtime, which
/// the deadlock detector (`rt::monitor`) cannot see coming.
pub(crate) fn waiting_outside() -> bool {
    OUTSIDE_WAITS.load(Ordering::Acquire) > 0
}

/// Counts a wait in `OUTSIDE_WAITS` while it lives.
#[cfg_attr(not(feature = "tokio"), allow(dead_code, reason = "used by the optional bridges"))]
pub(crate) struct OutsideWait(());

#[cfg_attr(not(feature = "tokio"), allow(dead_code, reason = "used by the optional bridges"))]
impl OutsideWait {
    pub(crate) fn begin() -> OutsideWait {
        OUTSIDE_WAITS.fetch_add(1, Ordering::AcqRel);
        OutsideWait(())
    }
}

impl Drop for OutsideWait {
    fn drop(&mut self) {
        OUTSIDE_WAITS.fetch_sub(1, Ordering::AcqRel);
    }
}

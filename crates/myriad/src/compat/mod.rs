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

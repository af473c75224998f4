//! A myriad thread's `JoinHandle` as a `Future`.
//!
//! `JoinHandle<T>: IntoFuture`, so `handle.await` works in async code (on
//! any executor). Polling asks the thread whether it finished and, if not,
//! leaves the task's `Waker` with it; the thread wakes it when it ends
//! (`rt/task_state.rs` documents the handshake).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::thread::{JoinHandle, Result};

/// The future of a [`JoinHandle`]: the thread's result (as
/// [`JoinHandle::join`] returns it) once it ends.
///
/// ```
/// let h = myriad::thread::spawn(|| "done");
/// assert_eq!(myriad::block_on(h).unwrap(), "done");
/// ```
pub struct JoinFuture<T> {
    handle: Option<JoinHandle<T>>,
}

impl<T> Future for JoinFuture<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let handle = self.handle.as_ref().expect("JoinFuture polled after completion");
        if handle.0.poll_finished(cx.waker()) {
            let handle = self.handle.take().expect("checked above");
            // Finished: `join` returns without blocking.
            Poll::Ready(handle.join())
        } else {
            Poll::Pending
        }
    }
}

// `JoinFuture` holds no self-references.
impl<T> Unpin for JoinFuture<T> {}

impl<T> IntoFuture for JoinHandle<T> {
    type Output = Result<T>;
    type IntoFuture = JoinFuture<T>;

    fn into_future(self) -> JoinFuture<T> {
        JoinFuture { handle: Some(self) }
    }
}

impl<T> fmt::Debug for JoinFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinFuture").field("handle", &self.handle).finish()
    }
}

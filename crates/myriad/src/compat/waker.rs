//! A `Waker` that unparks a thread.
//!
//! Waking calls [`Thread::unpark`], so it works for myriad threads and OS
//! threads alike and follows park's token semantics: a wake that comes
//! before the thread parks is not lost, it makes the next `park` return.

use std::sync::Arc;
use std::task::{Wake, Waker};

use crate::thread::Thread;

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A [`Waker`] that unparks `thread` (see [`thread::park`](crate::thread::park)).
///
/// ```
/// use std::future::Future;
/// use std::pin::pin;
/// use std::task::{Context, Poll};
///
/// // Poll a future by hand, parking between polls.
/// let mut fut = pin!(async { 5 });
/// let waker = myriad::compat::waker(myriad::thread::current());
/// let mut cx = Context::from_waker(&waker);
/// let out = loop {
///     match fut.as_mut().poll(&mut cx) {
///         Poll::Ready(v) => break v,
///         Poll::Pending => myriad::thread::park(),
///     }
/// };
/// assert_eq!(out, 5);
/// ```
pub fn waker(thread: Thread) -> Waker {
    Waker::from(Arc::new(Unparker(thread)))
}

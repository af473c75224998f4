//! `block_on`: run a future to completion on the calling thread.
//!
//! Between polls the thread waits through `rt::wait::block`, so a myriad
//! thread gives its worker to other threads and an OS thread sleeps. The
//! waker keeps a `notified` flag and the current wait's `Wake` (under a
//! small mutex): a wake sets the flag, then uses the stored `Wake`; the
//! waiting thread stores its `Wake`, then checks the flag. Whichever comes
//! second sees the other, so no wake-up is lost, whichever thread (myriad,
//! OS, another runtime's) calls it.

use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake as WakeTrait, Waker};

use crate::rt::lock::Mutex;
use crate::rt::wait::{self, Wake, Woken};
use crate::rt::WaitReason;

struct Signal {
    notified: AtomicBool,
    waiting: Mutex<Option<Wake>>,
}

impl WakeTrait for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.notified.swap(true, Ordering::SeqCst) {
            return;
        }
        let wake = self.waiting.lock().take();
        if let Some(wake) = wake {
            wake.wake();
        }
    }
}

/// Runs `future` to completion on the calling thread — myriad or OS —
/// parking it while the future is pending, and returns its output.
///
/// Any future works whose wake-ups come from another thread or from the
/// future itself (runtime-agnostic primitives such as channels, or a
/// myriad [`JoinHandle`](crate::thread::JoinHandle)); futures that need a
/// specific runtime's reactor (e.g. tokio's IO types) still need that
/// runtime.
///
/// ```
/// let h = myriad::thread::spawn(|| 6 * 7);
/// // Await a myriad thread from async code, driven by `block_on`.
/// let answer = myriad::block_on(async move { h.await.unwrap() });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: IntoFuture>(future: F) -> F::Output {
    let mut future = pin!(future.into_future());
    let signal = Arc::new(Signal { notified: AtomicBool::new(false), waiting: Mutex::new(None) });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        // Wakes from here on call for another poll.
        signal.notified.store(false, Ordering::SeqCst);
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let woken = wait::block(WaitReason::Future, None, |wake| {
            *signal.waiting.lock() = Some(wake.clone());
            if signal.notified.load(Ordering::SeqCst) {
                wake.wake();
            }
        });
        signal.waiting.lock().take();
        if woken == Woken::Abandoned {
            wait::panic_deadlocked();
        }
    }
}

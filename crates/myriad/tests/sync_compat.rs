//! The async bridge: `block_on` from myriad and OS threads, over futures
//! woken from other OS threads; a thread `Waker`; async code awaiting a
//! myriad `JoinHandle`, under `block_on` and under a hand-written executor.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use myriad::thread;

/// A future that completes when another thread sets it, waking through the
/// waker it was last polled with.
#[derive(Clone, Default)]
struct Flag(Arc<(AtomicBool, Mutex<Option<Waker>>)>);

impl Flag {
    fn set(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        if let Some(w) = self.0 .1.lock().unwrap().take() {
            w.wake();
        }
    }
}

impl Future for Flag {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0 .1.lock().unwrap() = Some(cx.waker().clone());
        if self.0 .0.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn block_on_a_future_woken_from_another_os_thread() {
    // From the test's OS thread.
    let flag = Flag::default();
    let f = flag.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        f.set();
    });
    myriad::block_on(flag);
    setter.join().unwrap();

    // From many myriad threads at once; each is parked, not spinning.
    let flags: Vec<Flag> = (0..100).map(|_| Flag::default()).collect();
    let handles: Vec<_> = flags
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, flag)| {
            thread::spawn(move || {
                myriad::block_on(async move {
                    flag.await;
                    i
                })
            })
        })
        .collect();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        for f in &flags {
            f.set();
        }
    });
    let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 99 * 100 / 2);
    setter.join().unwrap();
}

#[test]
fn block_on_a_myriad_channel_inside_async() {
    // A future that is ready at once, and one that yields a few times.
    assert_eq!(myriad::block_on(async { 1 + 1 }), 2);
    struct YieldN(u32);
    impl Future for YieldN {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            if self.0 == 0 {
                return Poll::Ready(7);
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    assert_eq!(thread::spawn(|| myriad::block_on(YieldN(100))).join().unwrap(), 7);
}

#[test]
fn await_a_myriad_join_handle_under_block_on() {
    let h = thread::spawn(|| {
        thread::sleep(Duration::from_millis(5));
        "slow result"
    });
    assert_eq!(myriad::block_on(async { h.await.unwrap() }), "slow result");
    // Already finished before the await.
    let h = thread::spawn(|| 3);
    while !h.is_finished() {
        thread::yield_now();
    }
    assert_eq!(myriad::block_on(h).unwrap(), 3);
    // A panic comes back as Err, like `join`.
    let h = thread::spawn(|| -> u8 { panic!("in the thread") });
    assert!(myriad::block_on(h).is_err());
}

/// A minimal single-future executor on an OS thread, with its own waker
/// (not myriad's), to show the JoinHandle future works under any executor.
fn run_by_hand<F: Future>(fut: F) -> F::Output {
    struct Notify {
        woken: Mutex<bool>,
        cv: std::sync::Condvar,
        wakes: AtomicUsize,
    }
    impl Wake for Notify {
        fn wake(self: Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            *self.woken.lock().unwrap() = true;
            self.cv.notify_one();
        }
    }
    let notify =
        Arc::new(Notify { woken: Mutex::new(false), cv: std::sync::Condvar::new(), wakes: AtomicUsize::new(0) });
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        let mut woken = notify.woken.lock().unwrap();
        while !*woken {
            woken = notify.cv.wait(woken).unwrap();
        }
        *woken = false;
    }
}

#[test]
fn await_join_handles_under_a_hand_written_executor() {
    let handles: Vec<_> = (0..50u64)
        .map(|i| {
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(1));
                i * i
            })
        })
        .collect();
    let total = run_by_hand(async move {
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        total
    });
    assert_eq!(total, (0..50u64).map(|i| i * i).sum::<u64>());
}

#[test]
fn thread_waker_unparks_myriad_and_os_threads() {
    for myriad_thread in [true, false] {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let body = move || {
            tx.send(myriad::compat::waker(thread::current())).unwrap();
            while !d.load(Ordering::SeqCst) {
                thread::park();
            }
        };
        let join: Box<dyn FnOnce()> = if myriad_thread {
            let h = thread::spawn(body);
            Box::new(move || h.join().unwrap())
        } else {
            let h = std::thread::spawn(body);
            Box::new(move || h.join().unwrap())
        };
        let waker = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        done.store(true, Ordering::SeqCst);
        waker.wake();
        join();
    }
}

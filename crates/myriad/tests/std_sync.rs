//! std's own tests of `std::sync`, ported to `myriad::sync`: the yardstick
//! of issue 13 for myriad's promise of std's API.
//!
//! Why: the sync primitives are where a runtime of user-space threads most
//! easily drifts from std (parking, poisoning, variance, drop order). How:
//! each test is std's body with its imports changed (`std::sync` ->
//! `myriad::sync`, `std::thread` -> `myriad::thread`), run twice by
//! `std_tests!` (tests/std_support): on the harness's OS thread
//! (`name::os`) and inside a myriad thread (`name::myriad`).
//!
//! Ported from rust-lang/rust `library/std/tests/sync/{barrier, condvar,
//! lazy_lock, mpsc, mpsc_sync, mutex, once, once_lock, rwlock}.rs`
//! (std is MIT OR Apache-2.0, as this project). std runs its lock tests for
//! both `std::sync::poison` and the nightly `std::sync::nonpoison` locks;
//! only the poison variants are here (myriad has std's stable locks), and
//! tests of nightly-only API are left out: TESTING.md lists and counts them.
//! Timing constants are std's except where noted.
#![allow(clippy::all, unused_must_use, static_mut_refs)]
#![recursion_limit = "512"]

#[macro_use]
mod std_support;

/// The lock types std's shared test bodies name as `locks::*` (std's
/// `nonpoison_and_poison_unwrap_test!`; here only the poison variant).
mod locks {
    pub use myriad::sync::{Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
}

/// std's `result_unwrap`, which its shared lock tests call `maybe_unwrap`.
#[track_caller]
fn maybe_unwrap<T, E: std::fmt::Debug>(x: Result<T, E>) -> T {
    x.unwrap()
}

mod barrier {
    use myriad::sync::mpsc::{channel, TryRecvError};
    use myriad::sync::{Arc, Barrier};
    use myriad::thread;
    use std::panic::RefUnwindSafe;

    std_tests! {
        fn test_barrier() {
            const N: usize = 10;

            let barrier = Arc::new(Barrier::new(N));
            let (tx, rx) = channel();

            for _ in 0..N - 1 {
                let c = barrier.clone();
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.send(c.wait().is_leader()).unwrap();
                });
            }

            // At this point, all spawned threads should be blocked,
            // so we shouldn't get anything from the port
            assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));

            let mut leader_found = barrier.wait().is_leader();

            // Now, the barrier is cleared and we should get data.
            for _ in 0..N - 1 {
                if rx.recv().unwrap() {
                    assert!(!leader_found);
                    leader_found = true;
                }
            }
            assert!(leader_found);
        }
    }

    #[expect(dead_code, reason = "this is essentially a compile pass test")]
    fn check_barrier_is_ref_unwind_safe() {
        let barrier = Arc::new(Barrier::new(10));

        fn check<T: RefUnwindSafe>(_: T) {}

        check(barrier);
    }
}

mod condvar {
    use super::{locks, maybe_unwrap};
    use myriad::sync::atomic::{AtomicBool, Ordering};
    use myriad::sync::mpsc::channel;
    use myriad::sync::Arc;
    use myriad::thread;
    use std::time::Duration;

    std_tests! {
        fn poison_smoke() {
            use locks::Condvar;

            let c = Condvar::new();
            c.notify_one();
            c.notify_all();
        }

        fn poison_notify_one() {
            use locks::{Condvar, Mutex};

            let m = Arc::new(Mutex::new(()));
            let m2 = m.clone();
            let c = Arc::new(Condvar::new());
            let c2 = c.clone();

            let g = maybe_unwrap(m.lock());
            let _t = thread::spawn(move || {
                let _g = maybe_unwrap(m2.lock());
                c2.notify_one();
            });
            let g = maybe_unwrap(c.wait(g));
            drop(g);
        }

        fn poison_notify_all() {
            use locks::{Condvar, Mutex};

            const N: usize = 10;

            let data = Arc::new((Mutex::new(0), Condvar::new()));
            let (tx, rx) = channel();
            for _ in 0..N {
                let data = data.clone();
                let tx = tx.clone();
                thread::spawn(move || {
                    let &(ref lock, ref cond) = &*data;
                    let mut cnt = maybe_unwrap(lock.lock());
                    *cnt += 1;
                    if *cnt == N {
                        tx.send(()).unwrap();
                    }
                    while *cnt != 0 {
                        cnt = maybe_unwrap(cond.wait(cnt));
                    }
                    tx.send(()).unwrap();
                });
            }
            drop(tx);

            let &(ref lock, ref cond) = &*data;
            rx.recv().unwrap();
            let mut cnt = maybe_unwrap(lock.lock());
            *cnt = 0;
            cond.notify_all();
            drop(cnt);

            for _ in 0..N {
                rx.recv().unwrap();
            }
        }

        fn poison_test_mutex_arc_condvar() {
            use locks::{Condvar, Mutex};

            struct Packet<T>(Arc<(Mutex<T>, Condvar)>);

            let packet = Packet(Arc::new((Mutex::new(false), Condvar::new())));
            let packet2 = Packet(packet.0.clone());

            let (tx, rx) = channel();

            let _t = thread::spawn(move || {
                // Wait until our parent has taken the lock.
                rx.recv().unwrap();
                let &(ref lock, ref cvar) = &*packet2.0;

                // Set the data to `true` and wake up our parent.
                let mut guard = maybe_unwrap(lock.lock());
                *guard = true;
                cvar.notify_one();
            });

            let &(ref lock, ref cvar) = &*packet.0;
            let mut guard = maybe_unwrap(lock.lock());
            // Wake up our child.
            tx.send(()).unwrap();

            // Wait until our child has set the data to `true`.
            assert!(!*guard);
            while !*guard {
                guard = maybe_unwrap(cvar.wait(guard));
            }
        }

        fn poison_wait_while() {
            use locks::{Condvar, Mutex};

            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let pair2 = pair.clone();

            // Inside of our lock, spawn a new thread, and then wait for it to start.
            thread::spawn(move || {
                let &(ref lock, ref cvar) = &*pair2;
                let mut started = maybe_unwrap(lock.lock());
                *started = true;
                // We notify the condvar that the value has changed.
                cvar.notify_one();
            });

            // Wait for the thread to start up.
            let &(ref lock, ref cvar) = &*pair;
            let guard = cvar.wait_while(maybe_unwrap(lock.lock()), |started| !*started);
            assert!(*maybe_unwrap(guard));
        }

        fn poison_wait_timeout_wait() {
            use locks::{Condvar, Mutex};

            let m = Arc::new(Mutex::new(()));
            let c = Arc::new(Condvar::new());

            loop {
                let g = maybe_unwrap(m.lock());
                let (_g, no_timeout) = maybe_unwrap(c.wait_timeout(g, Duration::from_millis(1)));
                // spurious wakeups mean this isn't necessarily true
                // so execute test again, if not timeout
                if !no_timeout.timed_out() {
                    continue;
                }

                break;
            }
        }

        fn poison_wait_timeout_while_wait() {
            use locks::{Condvar, Mutex};

            let m = Arc::new(Mutex::new(()));
            let c = Arc::new(Condvar::new());

            let g = maybe_unwrap(m.lock());
            let (_g, wait) = maybe_unwrap(c.wait_timeout_while(g, Duration::from_millis(1), |_| true));
            // no spurious wakeups. ensure it timed-out
            assert!(wait.timed_out());
        }

        fn poison_wait_timeout_while_instant_satisfy() {
            use locks::{Condvar, Mutex};

            let m = Arc::new(Mutex::new(()));
            let c = Arc::new(Condvar::new());

            let g = maybe_unwrap(m.lock());
            let (_g, wait) =
                maybe_unwrap(c.wait_timeout_while(g, Duration::from_millis(0), |_| false));
            // ensure it didn't time-out even if we were not given any time.
            assert!(!wait.timed_out());
        }

        fn poison_wait_timeout_while_wake() {
            use locks::{Condvar, Mutex};

            let pair = Arc::new((Mutex::new(false), Condvar::new()));
            let pair_copy = pair.clone();

            let &(ref m, ref c) = &*pair;
            let g = maybe_unwrap(m.lock());
            let _t = thread::spawn(move || {
                let &(ref lock, ref cvar) = &*pair_copy;
                let mut started = maybe_unwrap(lock.lock());
                thread::sleep(Duration::from_millis(1));
                *started = true;
                cvar.notify_one();
            });
            let (g2, wait) = maybe_unwrap(c.wait_timeout_while(
                g,
                Duration::from_millis(u64::MAX),
                |&mut notified| !notified
            ));
            // ensure it didn't time-out even if we were not given any time.
            assert!(!wait.timed_out());
            assert!(*g2);
        }

        fn poison_wait_timeout_wake() {
            use locks::{Condvar, Mutex};

            let m = Arc::new(Mutex::new(()));
            let c = Arc::new(Condvar::new());

            loop {
                let g = maybe_unwrap(m.lock());

                let c2 = c.clone();
                let m2 = m.clone();

                let notified = Arc::new(AtomicBool::new(false));
                let notified_copy = notified.clone();

                let t = thread::spawn(move || {
                    let _g = maybe_unwrap(m2.lock());
                    thread::sleep(Duration::from_millis(1));
                    notified_copy.store(true, Ordering::Relaxed);
                    c2.notify_one();
                });
                let (g, timeout_res) =
                    maybe_unwrap(c.wait_timeout(g, Duration::from_millis(u64::MAX)));
                assert!(!timeout_res.timed_out());
                // spurious wakeups mean this isn't necessarily true
                // so execute test again, if not notified
                if !notified.load(Ordering::Relaxed) {
                    t.join().unwrap();
                    continue;
                }
                drop(g);

                t.join().unwrap();

                break;
            }
        }
    }
}

mod lazy_lock {
    use myriad::sync::atomic::AtomicUsize;
    use myriad::sync::atomic::Ordering::SeqCst;
    use myriad::sync::{LazyLock, Mutex, OnceLock};
    use myriad::thread;
    use std::cell::LazyCell;
    use std::panic;

    fn spawn_and_wait<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        thread::spawn(f).join().unwrap()
    }

    std_tests! {
        fn lazy_default() {
            static CALLED: AtomicUsize = AtomicUsize::new(0);

            struct Foo(u8);
            impl Default for Foo {
                fn default() -> Self {
                    CALLED.fetch_add(1, SeqCst);
                    Foo(42)
                }
            }

            let lazy: LazyCell<Mutex<Foo>> = <_>::default();

            assert_eq!(CALLED.load(SeqCst), 0);

            assert_eq!(lazy.lock().unwrap().0, 42);
            assert_eq!(CALLED.load(SeqCst), 1);

            lazy.lock().unwrap().0 = 21;

            assert_eq!(lazy.lock().unwrap().0, 21);
            assert_eq!(CALLED.load(SeqCst), 1);
        }

        fn sync_lazy_new() {
            static CALLED: AtomicUsize = AtomicUsize::new(0);
            static SYNC_LAZY: LazyLock<i32> = LazyLock::new(|| {
                CALLED.fetch_add(1, SeqCst);
                92
            });

            assert_eq!(CALLED.load(SeqCst), 0);

            spawn_and_wait(|| {
                let y = *SYNC_LAZY - 30;
                assert_eq!(y, 62);
                assert_eq!(CALLED.load(SeqCst), 1);
            });

            let y = *SYNC_LAZY - 30;
            assert_eq!(y, 62);
            assert_eq!(CALLED.load(SeqCst), 1);
        }

        fn sync_lazy_default() {
            static CALLED: AtomicUsize = AtomicUsize::new(0);

            struct Foo(u8);
            impl Default for Foo {
                fn default() -> Self {
                    CALLED.fetch_add(1, SeqCst);
                    Foo(42)
                }
            }

            let lazy: LazyLock<Mutex<Foo>> = <_>::default();

            assert_eq!(CALLED.load(SeqCst), 0);

            assert_eq!(lazy.lock().unwrap().0, 42);
            assert_eq!(CALLED.load(SeqCst), 1);

            lazy.lock().unwrap().0 = 21;

            assert_eq!(lazy.lock().unwrap().0, 21);
            assert_eq!(CALLED.load(SeqCst), 1);
        }

        fn static_sync_lazy() {
            static XS: LazyLock<Vec<i32>> = LazyLock::new(|| {
                let mut xs = Vec::new();
                xs.push(1);
                xs.push(2);
                xs.push(3);
                xs
            });

            spawn_and_wait(|| {
                assert_eq!(&*XS, &vec![1, 2, 3]);
            });

            assert_eq!(&*XS, &vec![1, 2, 3]);
        }

        fn static_sync_lazy_via_fn() {
            fn xs() -> &'static Vec<i32> {
                static XS: OnceLock<Vec<i32>> = OnceLock::new();
                XS.get_or_init(|| {
                    let mut xs = Vec::new();
                    xs.push(1);
                    xs.push(2);
                    xs.push(3);
                    xs
                })
            }
            assert_eq!(xs(), &vec![1, 2, 3]);
        }

        // Check that we can infer `T` from closure's type.
        fn lazy_type_inference() {
            let _ = LazyCell::new(|| ());
        }

        fn is_sync_send() {
            fn assert_traits<T: Send + Sync>() {}
            assert_traits::<LazyLock<String>>();
        }

        fn lazy_force_mut() {
            let s = "abc".to_owned();
            let mut lazy = LazyLock::new(move || s);
            LazyLock::force_mut(&mut lazy);
            let p = LazyLock::force_mut(&mut lazy);
            p.clear();
            LazyLock::force_mut(&mut lazy);
        }

        fn lazy_poisoning() {
            let x: LazyCell<String> = LazyCell::new(|| panic!("kaboom"));
            for _ in 0..2 {
                let res = panic::catch_unwind(panic::AssertUnwindSafe(|| x.len()));
                assert!(res.is_err());
            }
        }

        /// Verifies that when a `LazyLock` is poisoned, it panics with the correct error message ("LazyLock
        /// instance has previously been poisoned") instead of the underlying `Once` error message.
        #[should_panic(expected = "LazyLock instance has previously been poisoned")]
        fn lazy_lock_deref_panic() {
            let lazy: LazyLock<String> = LazyLock::new(|| panic!("initialization failed"));

            // First access will panic during initialization.
            let _ = panic::catch_unwind(panic::AssertUnwindSafe(|| {
                let _ = &*lazy;
            }));

            // Second access should panic with the poisoned message.
            let _ = &*lazy;
        }

        #[should_panic(expected = "LazyLock instance has previously been poisoned")]
        fn lazy_lock_deref_mut_panic() {
            let mut lazy: LazyLock<String> = LazyLock::new(|| panic!("initialization failed"));

            // First access will panic during initialization.
            let _ = panic::catch_unwind(panic::AssertUnwindSafe(|| {
                let _ = LazyLock::force_mut(&mut lazy);
            }));

            // Second access should panic with the poisoned message.
            let _ = &*lazy;
        }

        /// Verifies that when the initialization closure panics with a custom message, that message is
        /// preserved and not overridden by `LazyLock`.
        #[should_panic(expected = "custom panic message from closure")]
        fn lazy_lock_preserves_closure_panic_message() {
            let lazy: LazyLock<String> = LazyLock::new(|| panic!("custom panic message from closure"));

            // This should panic with the original message from the closure.
            let _ = &*lazy;
        }
    }
}

mod mpsc {
    use myriad::sync::mpsc::*;
    use myriad::thread;
    use std::env;
    use std::time::{Duration, Instant};

    pub fn stress_factor() -> usize {
        match env::var("RUST_TEST_STRESS") {
            Ok(val) => val.parse().unwrap(),
            Err(..) => 1,
        }
    }

    std_tests! {
        fn smoke() {
            let (tx, rx) = channel::<i32>();
            tx.send(1).unwrap();
            assert_eq!(rx.recv().unwrap(), 1);
        }

        fn drop_full() {
            let (tx, _rx) = channel::<Box<isize>>();
            tx.send(Box::new(1)).unwrap();
        }

        fn drop_full_shared() {
            let (tx, _rx) = channel::<Box<isize>>();
            drop(tx.clone());
            drop(tx.clone());
            tx.send(Box::new(1)).unwrap();
        }

        fn smoke_shared() {
            let (tx, rx) = channel::<i32>();
            tx.send(1).unwrap();
            assert_eq!(rx.recv().unwrap(), 1);
            let tx = tx.clone();
            tx.send(1).unwrap();
            assert_eq!(rx.recv().unwrap(), 1);
        }

        fn smoke_threads() {
            let (tx, rx) = channel::<i32>();
            let _t = thread::spawn(move || {
                tx.send(1).unwrap();
            });
            assert_eq!(rx.recv().unwrap(), 1);
        }

        fn smoke_port_gone() {
            let (tx, rx) = channel::<i32>();
            drop(rx);
            assert!(tx.send(1).is_err());
        }

        fn smoke_shared_port_gone() {
            let (tx, rx) = channel::<i32>();
            drop(rx);
            assert!(tx.send(1).is_err())
        }

        fn smoke_shared_port_gone2() {
            let (tx, rx) = channel::<i32>();
            drop(rx);
            let tx2 = tx.clone();
            drop(tx);
            assert!(tx2.send(1).is_err());
        }

        fn port_gone_concurrent() {
            let (tx, rx) = channel::<i32>();
            let _t = thread::spawn(move || {
                rx.recv().unwrap();
            });
            while tx.send(1).is_ok() {}
        }

        fn port_gone_concurrent_shared() {
            let (tx, rx) = channel::<i32>();
            let tx2 = tx.clone();
            let _t = thread::spawn(move || {
                rx.recv().unwrap();
            });
            while tx.send(1).is_ok() && tx2.send(1).is_ok() {}
        }

        fn smoke_chan_gone() {
            let (tx, rx) = channel::<i32>();
            drop(tx);
            assert!(rx.recv().is_err());
        }

        fn smoke_chan_gone_shared() {
            let (tx, rx) = channel::<()>();
            let tx2 = tx.clone();
            drop(tx);
            drop(tx2);
            assert!(rx.recv().is_err());
        }

        fn chan_gone_concurrent() {
            let (tx, rx) = channel::<i32>();
            let _t = thread::spawn(move || {
                tx.send(1).unwrap();
                tx.send(1).unwrap();
            });
            while rx.recv().is_ok() {}
        }

        fn stress() {
            let count = if cfg!(miri) { 100 } else { 10000 };
            let (tx, rx) = channel::<i32>();
            let t = thread::spawn(move || {
                for _ in 0..count {
                    tx.send(1).unwrap();
                }
            });
            for _ in 0..count {
                assert_eq!(rx.recv().unwrap(), 1);
            }
            t.join().ok().expect("thread panicked");
        }

        fn stress_shared() {
            const AMT: u32 = if cfg!(miri) { 100 } else { 10000 };
            const NTHREADS: u32 = 8;
            let (tx, rx) = channel::<i32>();

            let t = thread::spawn(move || {
                for _ in 0..AMT * NTHREADS {
                    assert_eq!(rx.recv().unwrap(), 1);
                }
                match rx.try_recv() {
                    Ok(..) => panic!(),
                    _ => {}
                }
            });

            for _ in 0..NTHREADS {
                let tx = tx.clone();
                thread::spawn(move || {
                    for _ in 0..AMT {
                        tx.send(1).unwrap();
                    }
                });
            }
            drop(tx);
            t.join().ok().expect("thread panicked");
        }

        fn send_from_outside_runtime() {
            let (tx1, rx1) = channel::<()>();
            let (tx2, rx2) = channel::<i32>();
            let t1 = thread::spawn(move || {
                tx1.send(()).unwrap();
                for _ in 0..40 {
                    assert_eq!(rx2.recv().unwrap(), 1);
                }
            });
            rx1.recv().unwrap();
            let t2 = thread::spawn(move || {
                for _ in 0..40 {
                    tx2.send(1).unwrap();
                }
            });
            t1.join().ok().expect("thread panicked");
            t2.join().ok().expect("thread panicked");
        }

        fn recv_from_outside_runtime() {
            let (tx, rx) = channel::<i32>();
            let t = thread::spawn(move || {
                for _ in 0..40 {
                    assert_eq!(rx.recv().unwrap(), 1);
                }
            });
            for _ in 0..40 {
                tx.send(1).unwrap();
            }
            t.join().ok().expect("thread panicked");
        }

        fn no_runtime() {
            let (tx1, rx1) = channel::<i32>();
            let (tx2, rx2) = channel::<i32>();
            let t1 = thread::spawn(move || {
                assert_eq!(rx1.recv().unwrap(), 1);
                tx2.send(2).unwrap();
            });
            let t2 = thread::spawn(move || {
                tx1.send(1).unwrap();
                assert_eq!(rx2.recv().unwrap(), 2);
            });
            t1.join().ok().expect("thread panicked");
            t2.join().ok().expect("thread panicked");
        }

        fn oneshot_single_thread_close_port_first() {
            // Simple test of closing without sending
            let (_tx, rx) = channel::<i32>();
            drop(rx);
        }

        fn oneshot_single_thread_close_chan_first() {
            // Simple test of closing without sending
            let (tx, _rx) = channel::<i32>();
            drop(tx);
        }

        fn oneshot_single_thread_send_port_close() {
            // Testing that the sender cleans up the payload if receiver is closed
            let (tx, rx) = channel::<Box<i32>>();
            drop(rx);
            assert!(tx.send(Box::new(0)).is_err());
        }

        fn oneshot_single_thread_recv_chan_close() {
            // Receiving on a closed chan will panic
            let res = thread::spawn(move || {
                let (tx, rx) = channel::<i32>();
                drop(tx);
                rx.recv().unwrap();
            })
            .join();
            // What is our res?
            assert!(res.is_err());
        }

        fn oneshot_single_thread_send_then_recv() {
            let (tx, rx) = channel::<Box<i32>>();
            tx.send(Box::new(10)).unwrap();
            assert!(*rx.recv().unwrap() == 10);
        }

        fn oneshot_single_thread_try_send_open() {
            let (tx, rx) = channel::<i32>();
            assert!(tx.send(10).is_ok());
            assert!(rx.recv().unwrap() == 10);
        }

        fn oneshot_single_thread_try_send_closed() {
            let (tx, rx) = channel::<i32>();
            drop(rx);
            assert!(tx.send(10).is_err());
        }

        fn oneshot_single_thread_try_recv_open() {
            let (tx, rx) = channel::<i32>();
            tx.send(10).unwrap();
            assert!(rx.recv() == Ok(10));
        }

        fn oneshot_single_thread_try_recv_closed() {
            let (tx, rx) = channel::<i32>();
            drop(tx);
            assert!(rx.recv().is_err());
        }

        fn oneshot_single_thread_peek_data() {
            let (tx, rx) = channel::<i32>();
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            tx.send(10).unwrap();
            assert_eq!(rx.try_recv(), Ok(10));
        }

        fn oneshot_single_thread_peek_close() {
            let (tx, rx) = channel::<i32>();
            drop(tx);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        }

        fn oneshot_single_thread_peek_open() {
            let (_tx, rx) = channel::<i32>();
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        }

        fn oneshot_multi_task_recv_then_send() {
            let (tx, rx) = channel::<Box<i32>>();
            let _t = thread::spawn(move || {
                assert!(*rx.recv().unwrap() == 10);
            });

            tx.send(Box::new(10)).unwrap();
        }

        fn oneshot_multi_task_recv_then_close() {
            let (tx, rx) = channel::<Box<i32>>();
            let _t = thread::spawn(move || {
                drop(tx);
            });
            let res = thread::spawn(move || {
                assert!(*rx.recv().unwrap() == 10);
            })
            .join();
            assert!(res.is_err());
        }

        fn oneshot_multi_thread_close_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = channel::<i32>();
                let _t = thread::spawn(move || {
                    drop(rx);
                });
                drop(tx);
            }
        }

        fn oneshot_multi_thread_send_close_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = channel::<i32>();
                let _t = thread::spawn(move || {
                    drop(rx);
                });
                let _ = thread::spawn(move || {
                    tx.send(1).unwrap();
                })
                .join();
            }
        }

        fn oneshot_multi_thread_recv_close_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = channel::<i32>();
                thread::spawn(move || {
                    let res = thread::spawn(move || {
                        rx.recv().unwrap();
                    })
                    .join();
                    assert!(res.is_err());
                });
                let _t = thread::spawn(move || {
                    thread::spawn(move || {
                        drop(tx);
                    });
                });
            }
        }

        fn oneshot_multi_thread_send_recv_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = channel::<Box<isize>>();
                let _t = thread::spawn(move || {
                    tx.send(Box::new(10)).unwrap();
                });
                assert!(*rx.recv().unwrap() == 10);
            }
        }

        fn stream_send_recv_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = channel();

                send(tx, 0);
                recv(rx, 0);

                fn send(tx: Sender<Box<i32>>, i: i32) {
                    if i == 10 {
                        return;
                    }

                    thread::spawn(move || {
                        tx.send(Box::new(i)).unwrap();
                        send(tx, i + 1);
                    });
                }

                fn recv(rx: Receiver<Box<i32>>, i: i32) {
                    if i == 10 {
                        return;
                    }

                    thread::spawn(move || {
                        assert!(*rx.recv().unwrap() == i);
                        recv(rx, i + 1);
                    });
                }
            }
        }

        fn oneshot_single_thread_recv_timeout() {
            let (tx, rx) = channel();
            tx.send(()).unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Ok(()));
            assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
            tx.send(()).unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Ok(()));
        }

        fn stress_recv_timeout_two_threads() {
            let (tx, rx) = channel();
            let stress = stress_factor() + 50;
            let timeout = Duration::from_millis(5);

            thread::spawn(move || {
                for i in 0..stress {
                    if i % 2 == 0 {
                        thread::sleep(timeout * 2);
                    }
                    tx.send(1usize).unwrap();
                }
            });

            let mut recv_count = 0;
            loop {
                match rx.recv_timeout(timeout) {
                    Ok(n) => {
                        assert_eq!(n, 1usize);
                        recv_count += 1;
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }

            assert_eq!(recv_count, stress);
        }

        fn recv_timeout_upgrade() {
            let (tx, rx) = channel::<()>();
            let timeout = Duration::from_millis(1);
            let _tx_clone = tx.clone();

            let start = Instant::now();
            assert_eq!(rx.recv_timeout(timeout), Err(RecvTimeoutError::Timeout));
            assert!(Instant::now() >= start + timeout);
        }

        fn stress_recv_timeout_shared() {
            let (tx, rx) = channel();
            let stress = stress_factor() + 100;

            for i in 0..stress {
                let tx = tx.clone();
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(i as u64 * 10));
                    tx.send(1usize).unwrap();
                });
            }

            drop(tx);

            let mut recv_count = 0;
            loop {
                match rx.recv_timeout(Duration::from_millis(10)) {
                    Ok(n) => {
                        assert_eq!(n, 1usize);
                        recv_count += 1;
                    }
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }

            assert_eq!(recv_count, stress);
        }

        fn very_long_recv_timeout_wont_panic() {
            let (tx, rx) = channel::<()>();
            let join_handle = thread::spawn(move || rx.recv_timeout(Duration::from_secs(u64::MAX)));
            thread::sleep(Duration::from_secs(1));
            assert!(tx.send(()).is_ok());
            assert_eq!(join_handle.join().unwrap(), Ok(()));
        }

        fn recv_a_lot() {
            let count = if cfg!(miri) { 1000 } else { 10000 };
            // Regression test that we don't run out of stack in scheduler context
            let (tx, rx) = channel();
            for _ in 0..count {
                tx.send(()).unwrap();
            }
            for _ in 0..count {
                rx.recv().unwrap();
            }
        }

        fn shared_recv_timeout() {
            let (tx, rx) = channel();
            let total = 5;
            for _ in 0..total {
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.send(()).unwrap();
                });
            }

            for _ in 0..total {
                rx.recv().unwrap();
            }

            assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
            tx.send(()).unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Ok(()));
        }

        fn shared_chan_stress() {
            let (tx, rx) = channel();
            let total = stress_factor() + 100;
            for _ in 0..total {
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.send(()).unwrap();
                });
            }

            for _ in 0..total {
                rx.recv().unwrap();
            }
        }

        fn test_nested_recv_iter() {
            let (tx, rx) = channel::<i32>();
            let (total_tx, total_rx) = channel::<i32>();

            let _t = thread::spawn(move || {
                let mut acc = 0;
                for x in rx.iter() {
                    acc += x;
                }
                total_tx.send(acc).unwrap();
            });

            tx.send(3).unwrap();
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            drop(tx);
            assert_eq!(total_rx.recv().unwrap(), 6);
        }

        fn test_recv_iter_break() {
            let (tx, rx) = channel::<i32>();
            let (count_tx, count_rx) = channel();

            let _t = thread::spawn(move || {
                let mut count = 0;
                for x in rx.iter() {
                    if count >= 3 {
                        break;
                    } else {
                        count += x;
                    }
                }
                count_tx.send(count).unwrap();
            });

            tx.send(2).unwrap();
            tx.send(2).unwrap();
            tx.send(2).unwrap();
            let _ = tx.send(2);
            drop(tx);
            assert_eq!(count_rx.recv().unwrap(), 4);
        }

        fn test_recv_try_iter() {
            let (request_tx, request_rx) = channel();
            let (response_tx, response_rx) = channel();

            // Request `x`s until we have `6`.
            let t = thread::spawn(move || {
                let mut count = 0;
                loop {
                    for x in response_rx.try_iter() {
                        count += x;
                        if count == 6 {
                            return count;
                        }
                    }
                    request_tx.send(()).unwrap();
                }
            });

            for _ in request_rx.iter() {
                if response_tx.send(2).is_err() {
                    break;
                }
            }

            assert_eq!(t.join().unwrap(), 6);
        }

        fn test_recv_into_iter_owned() {
            let mut iter = {
                let (tx, rx) = channel::<i32>();
                tx.send(1).unwrap();
                tx.send(2).unwrap();

                rx.into_iter()
            };
            assert_eq!(iter.next().unwrap(), 1);
            assert_eq!(iter.next().unwrap(), 2);
            assert_eq!(iter.next().is_none(), true);
        }

        fn test_recv_into_iter_borrowed() {
            let (tx, rx) = channel::<i32>();
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            drop(tx);
            let mut iter = (&rx).into_iter();
            assert_eq!(iter.next().unwrap(), 1);
            assert_eq!(iter.next().unwrap(), 2);
            assert_eq!(iter.next().is_none(), true);
        }

        fn try_recv_states() {
            let (tx1, rx1) = channel::<i32>();
            let (tx2, rx2) = channel::<()>();
            let (tx3, rx3) = channel::<()>();
            let _t = thread::spawn(move || {
                rx2.recv().unwrap();
                tx1.send(1).unwrap();
                tx3.send(()).unwrap();
                rx2.recv().unwrap();
                drop(tx1);
                tx3.send(()).unwrap();
            });

            assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
            tx2.send(()).unwrap();
            rx3.recv().unwrap();
            assert_eq!(rx1.try_recv(), Ok(1));
            assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
            tx2.send(()).unwrap();
            rx3.recv().unwrap();
            assert_eq!(rx1.try_recv(), Err(TryRecvError::Disconnected));
        }

        // This bug used to end up in a livelock inside of the Receiver destructor
        // because the internal state of the Shared packet was corrupted
        fn destroy_upgraded_shared_port_when_sender_still_active() {
            let (tx, rx) = channel();
            let (tx2, rx2) = channel();
            let _t = thread::spawn(move || {
                rx.recv().unwrap(); // wait on a oneshot
                drop(rx); // destroy a shared
                tx2.send(()).unwrap();
            });
            // make sure the other thread has gone to sleep
            for _ in 0..5000 {
                thread::yield_now();
            }

            // upgrade to a shared chan and send a message
            let t = tx.clone();
            drop(tx);
            t.send(()).unwrap();

            // wait for the child thread to exit before we exit
            rx2.recv().unwrap();
        }

        fn issue_32114() {
            let (tx, _) = channel();
            let _ = tx.send(123);
            assert_eq!(tx.send(123), Err(SendError(123)));
        }

        fn issue_39364() {
            let (tx, rx) = channel::<()>();
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(300));
                let _ = tx.clone();
                // Don't drop; hand back to caller.
                tx
            });

            let _ = rx.recv_timeout(Duration::from_millis(500));
            let _tx = t.join().unwrap(); // delay dropping until end of test
            let _ = rx.recv_timeout(Duration::from_millis(500));
        }
    }
}

mod mpsc_sync {
    use myriad::sync::mpsc::*;
    use myriad::thread;
    use std::env;
    use std::rc::Rc;
    use std::time::Duration;

    pub fn stress_factor() -> usize {
        match env::var("RUST_TEST_STRESS") {
            Ok(val) => val.parse().unwrap(),
            Err(..) => 1,
        }
    }

    std_tests! {
        fn smoke() {
            let (tx, rx) = sync_channel::<i32>(1);
            tx.send(1).unwrap();
            assert_eq!(rx.recv().unwrap(), 1);
        }

        fn drop_full() {
            let (tx, _rx) = sync_channel::<Box<isize>>(1);
            tx.send(Box::new(1)).unwrap();
        }

        fn smoke_shared() {
            let (tx, rx) = sync_channel::<i32>(1);
            tx.send(1).unwrap();
            assert_eq!(rx.recv().unwrap(), 1);
            let tx = tx.clone();
            tx.send(1).unwrap();
            assert_eq!(rx.recv().unwrap(), 1);
        }

        fn recv_timeout() {
            let (tx, rx) = sync_channel::<i32>(1);
            assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
            tx.send(1).unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Ok(1));
        }

        fn smoke_threads() {
            let (tx, rx) = sync_channel::<i32>(0);
            let _t = thread::spawn(move || {
                tx.send(1).unwrap();
            });
            assert_eq!(rx.recv().unwrap(), 1);
        }

        fn smoke_port_gone() {
            let (tx, rx) = sync_channel::<i32>(0);
            drop(rx);
            assert!(tx.send(1).is_err());
        }

        fn smoke_shared_port_gone2() {
            let (tx, rx) = sync_channel::<i32>(0);
            drop(rx);
            let tx2 = tx.clone();
            drop(tx);
            assert!(tx2.send(1).is_err());
        }

        fn port_gone_concurrent() {
            let (tx, rx) = sync_channel::<i32>(0);
            let _t = thread::spawn(move || {
                rx.recv().unwrap();
            });
            while tx.send(1).is_ok() {}
        }

        fn port_gone_concurrent_shared() {
            let (tx, rx) = sync_channel::<i32>(0);
            let tx2 = tx.clone();
            let _t = thread::spawn(move || {
                rx.recv().unwrap();
            });
            while tx.send(1).is_ok() && tx2.send(1).is_ok() {}
        }

        fn smoke_chan_gone() {
            let (tx, rx) = sync_channel::<i32>(0);
            drop(tx);
            assert!(rx.recv().is_err());
        }

        fn smoke_chan_gone_shared() {
            let (tx, rx) = sync_channel::<()>(0);
            let tx2 = tx.clone();
            drop(tx);
            drop(tx2);
            assert!(rx.recv().is_err());
        }

        fn chan_gone_concurrent() {
            let (tx, rx) = sync_channel::<i32>(0);
            thread::spawn(move || {
                tx.send(1).unwrap();
                tx.send(1).unwrap();
            });
            while rx.recv().is_ok() {}
        }

        fn stress() {
            let count = if cfg!(miri) { 100 } else { 10000 };
            let (tx, rx) = sync_channel::<i32>(0);
            thread::spawn(move || {
                for _ in 0..count {
                    tx.send(1).unwrap();
                }
            });
            for _ in 0..count {
                assert_eq!(rx.recv().unwrap(), 1);
            }
        }

        fn stress_recv_timeout_two_threads() {
            let count = if cfg!(miri) { 100 } else { 10000 };
            let (tx, rx) = sync_channel::<i32>(0);

            thread::spawn(move || {
                for _ in 0..count {
                    tx.send(1).unwrap();
                }
            });

            let mut recv_count = 0;
            loop {
                match rx.recv_timeout(Duration::from_millis(1)) {
                    Ok(v) => {
                        assert_eq!(v, 1);
                        recv_count += 1;
                    }
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }

            assert_eq!(recv_count, count);
        }

        fn stress_recv_timeout_shared() {
            const AMT: u32 = if cfg!(miri) { 100 } else { 1000 };
            const NTHREADS: u32 = 8;
            let (tx, rx) = sync_channel::<i32>(0);
            let (dtx, drx) = sync_channel::<()>(0);

            thread::spawn(move || {
                let mut recv_count = 0;
                loop {
                    match rx.recv_timeout(Duration::from_millis(10)) {
                        Ok(v) => {
                            assert_eq!(v, 1);
                            recv_count += 1;
                        }
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }

                assert_eq!(recv_count, AMT * NTHREADS);
                assert!(rx.try_recv().is_err());

                dtx.send(()).unwrap();
            });

            for _ in 0..NTHREADS {
                let tx = tx.clone();
                thread::spawn(move || {
                    for _ in 0..AMT {
                        tx.send(1).unwrap();
                    }
                });
            }

            drop(tx);

            drx.recv().unwrap();
        }

        fn stress_shared() {
            const AMT: u32 = if cfg!(miri) { 100 } else { 1000 };
            const NTHREADS: u32 = 8;
            let (tx, rx) = sync_channel::<i32>(0);
            let (dtx, drx) = sync_channel::<()>(0);

            thread::spawn(move || {
                for _ in 0..AMT * NTHREADS {
                    assert_eq!(rx.recv().unwrap(), 1);
                }
                match rx.try_recv() {
                    Ok(..) => panic!(),
                    _ => {}
                }
                dtx.send(()).unwrap();
            });

            for _ in 0..NTHREADS {
                let tx = tx.clone();
                thread::spawn(move || {
                    for _ in 0..AMT {
                        tx.send(1).unwrap();
                    }
                });
            }
            drop(tx);
            drx.recv().unwrap();
        }

        fn oneshot_single_thread_close_port_first() {
            // Simple test of closing without sending
            let (_tx, rx) = sync_channel::<i32>(0);
            drop(rx);
        }

        fn oneshot_single_thread_close_chan_first() {
            // Simple test of closing without sending
            let (tx, _rx) = sync_channel::<i32>(0);
            drop(tx);
        }

        fn oneshot_single_thread_send_port_close() {
            // Testing that the sender cleans up the payload if receiver is closed
            let (tx, rx) = sync_channel::<Box<i32>>(0);
            drop(rx);
            assert!(tx.send(Box::new(0)).is_err());
        }

        fn oneshot_single_thread_recv_chan_close() {
            // Receiving on a closed chan will panic
            let res = thread::spawn(move || {
                let (tx, rx) = sync_channel::<i32>(0);
                drop(tx);
                rx.recv().unwrap();
            })
            .join();
            // What is our res?
            assert!(res.is_err());
        }

        fn oneshot_single_thread_send_then_recv() {
            let (tx, rx) = sync_channel::<Box<i32>>(1);
            tx.send(Box::new(10)).unwrap();
            assert!(*rx.recv().unwrap() == 10);
        }

        fn oneshot_single_thread_try_send_open() {
            let (tx, rx) = sync_channel::<i32>(1);
            assert_eq!(tx.try_send(10), Ok(()));
            assert!(rx.recv().unwrap() == 10);
        }

        fn oneshot_single_thread_try_send_closed() {
            let (tx, rx) = sync_channel::<i32>(0);
            drop(rx);
            assert_eq!(tx.try_send(10), Err(TrySendError::Disconnected(10)));
        }

        fn oneshot_single_thread_try_send_closed2() {
            let (tx, _rx) = sync_channel::<i32>(0);
            assert_eq!(tx.try_send(10), Err(TrySendError::Full(10)));
        }

        fn oneshot_single_thread_try_recv_open() {
            let (tx, rx) = sync_channel::<i32>(1);
            tx.send(10).unwrap();
            assert!(rx.recv() == Ok(10));
        }

        fn oneshot_single_thread_try_recv_closed() {
            let (tx, rx) = sync_channel::<i32>(0);
            drop(tx);
            assert!(rx.recv().is_err());
        }

        fn oneshot_single_thread_try_recv_closed_with_data() {
            let (tx, rx) = sync_channel::<i32>(1);
            tx.send(10).unwrap();
            drop(tx);
            assert_eq!(rx.try_recv(), Ok(10));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        }

        fn oneshot_single_thread_peek_data() {
            let (tx, rx) = sync_channel::<i32>(1);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            tx.send(10).unwrap();
            assert_eq!(rx.try_recv(), Ok(10));
        }

        fn oneshot_single_thread_peek_close() {
            let (tx, rx) = sync_channel::<i32>(0);
            drop(tx);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        }

        fn oneshot_single_thread_peek_open() {
            let (_tx, rx) = sync_channel::<i32>(0);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        }

        fn oneshot_multi_task_recv_then_send() {
            let (tx, rx) = sync_channel::<Box<i32>>(0);
            let _t = thread::spawn(move || {
                assert!(*rx.recv().unwrap() == 10);
            });

            tx.send(Box::new(10)).unwrap();
        }

        fn oneshot_multi_task_recv_then_close() {
            let (tx, rx) = sync_channel::<Box<i32>>(0);
            let _t = thread::spawn(move || {
                drop(tx);
            });
            let res = thread::spawn(move || {
                assert!(*rx.recv().unwrap() == 10);
            })
            .join();
            assert!(res.is_err());
        }

        fn oneshot_multi_thread_close_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = sync_channel::<i32>(0);
                let _t = thread::spawn(move || {
                    drop(rx);
                });
                drop(tx);
            }
        }

        fn oneshot_multi_thread_send_close_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = sync_channel::<i32>(0);
                let _t = thread::spawn(move || {
                    drop(rx);
                });
                let _ = thread::spawn(move || {
                    tx.send(1).unwrap();
                })
                .join();
            }
        }

        fn oneshot_multi_thread_recv_close_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = sync_channel::<i32>(0);
                let _t = thread::spawn(move || {
                    let res = thread::spawn(move || {
                        rx.recv().unwrap();
                    })
                    .join();
                    assert!(res.is_err());
                });
                let _t = thread::spawn(move || {
                    thread::spawn(move || {
                        drop(tx);
                    });
                });
            }
        }

        fn oneshot_multi_thread_send_recv_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = sync_channel::<Box<i32>>(0);
                let _t = thread::spawn(move || {
                    tx.send(Box::new(10)).unwrap();
                });
                assert!(*rx.recv().unwrap() == 10);
            }
        }

        fn stream_send_recv_stress() {
            for _ in 0..stress_factor() {
                let (tx, rx) = sync_channel::<Box<i32>>(0);

                send(tx, 0);
                recv(rx, 0);

                fn send(tx: SyncSender<Box<i32>>, i: i32) {
                    if i == 10 {
                        return;
                    }

                    thread::spawn(move || {
                        tx.send(Box::new(i)).unwrap();
                        send(tx, i + 1);
                    });
                }

                fn recv(rx: Receiver<Box<i32>>, i: i32) {
                    if i == 10 {
                        return;
                    }

                    thread::spawn(move || {
                        assert!(*rx.recv().unwrap() == i);
                        recv(rx, i + 1);
                    });
                }
            }
        }

        fn recv_a_lot() {
            let count = if cfg!(miri) { 1000 } else { 10000 };
            // Regression test that we don't run out of stack in scheduler context
            let (tx, rx) = sync_channel(count);
            for _ in 0..count {
                tx.send(()).unwrap();
            }
            for _ in 0..count {
                rx.recv().unwrap();
            }
        }

        fn shared_chan_stress() {
            let (tx, rx) = sync_channel(0);
            let total = stress_factor() + 100;
            for _ in 0..total {
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.send(()).unwrap();
                });
            }

            for _ in 0..total {
                rx.recv().unwrap();
            }
        }

        fn test_nested_recv_iter() {
            let (tx, rx) = sync_channel::<i32>(0);
            let (total_tx, total_rx) = sync_channel::<i32>(0);

            let _t = thread::spawn(move || {
                let mut acc = 0;
                for x in rx.iter() {
                    acc += x;
                }
                total_tx.send(acc).unwrap();
            });

            tx.send(3).unwrap();
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            drop(tx);
            assert_eq!(total_rx.recv().unwrap(), 6);
        }

        fn test_recv_iter_break() {
            let (tx, rx) = sync_channel::<i32>(0);
            let (count_tx, count_rx) = sync_channel(0);

            let _t = thread::spawn(move || {
                let mut count = 0;
                for x in rx.iter() {
                    if count >= 3 {
                        break;
                    } else {
                        count += x;
                    }
                }
                count_tx.send(count).unwrap();
            });

            tx.send(2).unwrap();
            tx.send(2).unwrap();
            tx.send(2).unwrap();
            let _ = tx.try_send(2);
            drop(tx);
            assert_eq!(count_rx.recv().unwrap(), 4);
        }

        fn try_recv_states() {
            let (tx1, rx1) = sync_channel::<i32>(1);
            let (tx2, rx2) = sync_channel::<()>(1);
            let (tx3, rx3) = sync_channel::<()>(1);
            let _t = thread::spawn(move || {
                rx2.recv().unwrap();
                tx1.send(1).unwrap();
                tx3.send(()).unwrap();
                rx2.recv().unwrap();
                drop(tx1);
                tx3.send(()).unwrap();
            });

            assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
            tx2.send(()).unwrap();
            rx3.recv().unwrap();
            assert_eq!(rx1.try_recv(), Ok(1));
            assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
            tx2.send(()).unwrap();
            rx3.recv().unwrap();
            assert_eq!(rx1.try_recv(), Err(TryRecvError::Disconnected));
        }

        // This bug used to end up in a livelock inside of the Receiver destructor
        // because the internal state of the Shared packet was corrupted
        fn destroy_upgraded_shared_port_when_sender_still_active() {
            let (tx, rx) = sync_channel::<()>(0);
            let (tx2, rx2) = sync_channel::<()>(0);
            let _t = thread::spawn(move || {
                rx.recv().unwrap(); // wait on a oneshot
                drop(rx); // destroy a shared
                tx2.send(()).unwrap();
            });
            // make sure the other thread has gone to sleep
            for _ in 0..5000 {
                thread::yield_now();
            }

            // upgrade to a shared chan and send a message
            let t = tx.clone();
            drop(tx);
            t.send(()).unwrap();

            // wait for the child thread to exit before we exit
            rx2.recv().unwrap();
        }

        fn send1() {
            let (tx, rx) = sync_channel::<i32>(0);
            let _t = thread::spawn(move || {
                rx.recv().unwrap();
            });
            assert_eq!(tx.send(1), Ok(()));
        }

        fn send2() {
            let (tx, rx) = sync_channel::<i32>(0);
            let _t = thread::spawn(move || {
                drop(rx);
            });
            assert!(tx.send(1).is_err());
        }

        fn send3() {
            let (tx, rx) = sync_channel::<i32>(1);
            assert_eq!(tx.send(1), Ok(()));
            let _t = thread::spawn(move || {
                drop(rx);
            });
            assert!(tx.send(1).is_err());
        }

        fn send4() {
            let (tx, rx) = sync_channel::<i32>(0);
            let tx2 = tx.clone();
            let (done, donerx) = channel();
            let done2 = done.clone();
            let _t = thread::spawn(move || {
                assert!(tx.send(1).is_err());
                done.send(()).unwrap();
            });
            let _t = thread::spawn(move || {
                assert!(tx2.send(2).is_err());
                done2.send(()).unwrap();
            });
            drop(rx);
            donerx.recv().unwrap();
            donerx.recv().unwrap();
        }

        fn try_send1() {
            let (tx, _rx) = sync_channel::<i32>(0);
            assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        }

        fn try_send2() {
            let (tx, _rx) = sync_channel::<i32>(1);
            assert_eq!(tx.try_send(1), Ok(()));
            assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        }

        fn try_send3() {
            let (tx, rx) = sync_channel::<i32>(1);
            assert_eq!(tx.try_send(1), Ok(()));
            drop(rx);
            assert_eq!(tx.try_send(1), Err(TrySendError::Disconnected(1)));
        }

        fn issue_15761() {
            fn repro() {
                let (tx1, rx1) = sync_channel::<()>(3);
                let (tx2, rx2) = sync_channel::<()>(3);

                let _t = thread::spawn(move || {
                    rx1.recv().unwrap();
                    tx2.try_send(()).unwrap();
                });

                tx1.try_send(()).unwrap();
                rx2.recv().unwrap();
            }

            for _ in 0..100 {
                repro()
            }
        }

        fn drop_unreceived() {
            let (tx, rx) = sync_channel::<Rc<()>>(1);
            let msg = Rc::new(());
            let weak = Rc::downgrade(&msg);
            assert!(tx.send(msg).is_ok());
            drop(rx);
            // Messages should be dropped immediately when the last receiver is destroyed.
            assert!(weak.upgrade().is_none());
            drop(tx);
        }
    }
}

mod mutex {
    use super::{locks, maybe_unwrap};
    use myriad::sync::atomic::{AtomicUsize, Ordering};
    use myriad::sync::mpsc::channel;
    use myriad::sync::{Arc, Mutex};
    use myriad::thread;
    use std::panic::{self, AssertUnwindSafe};
    use std::{hint, mem};

    #[derive(Eq, PartialEq, Debug)]
    struct NonCopy(i32);

    #[derive(Eq, PartialEq, Debug)]
    struct NonCopyNeedsDrop(i32);

    impl Drop for NonCopyNeedsDrop {
        fn drop(&mut self) {
            hint::black_box(());
        }
    }

    /// Creates a mutex that is immediately poisoned.
    fn new_poisoned_mutex<T>(value: T) -> Mutex<T> {
        let mutex = Mutex::new(value);

        let catch_unwind_result = panic::catch_unwind(AssertUnwindSafe(|| {
            let _guard = mutex.lock().unwrap();

            panic!("test panic to poison mutex");
        }));

        assert!(catch_unwind_result.is_err());
        assert!(mutex.is_poisoned());

        mutex
    }

    std_tests! {
        fn poison_smoke() {
            use locks::Mutex;

            let m = Mutex::new(());
            drop(maybe_unwrap(m.lock()));
            drop(maybe_unwrap(m.lock()));
        }

        fn poison_lots_and_lots() {
            use locks::Mutex;

            const J: u32 = 1000;
            const K: u32 = 3;

            let m = Arc::new(Mutex::new(0));

            fn inc(m: &Mutex<u32>) {
                for _ in 0..J {
                    *maybe_unwrap(m.lock()) += 1;
                }
            }

            let (tx, rx) = channel();
            for _ in 0..K {
                let tx2 = tx.clone();
                let m2 = m.clone();
                thread::spawn(move || {
                    inc(&m2);
                    tx2.send(()).unwrap();
                });
                let tx2 = tx.clone();
                let m2 = m.clone();
                thread::spawn(move || {
                    inc(&m2);
                    tx2.send(()).unwrap();
                });
            }

            drop(tx);
            for _ in 0..2 * K {
                rx.recv().unwrap();
            }
            assert_eq!(*maybe_unwrap(m.lock()), J * K * 2);
        }

        fn poison_try_lock() {
            use locks::Mutex;

            let m = Mutex::new(());
            *m.try_lock().unwrap() = ();
        }

        fn test_needs_drop() {
            assert!(!mem::needs_drop::<NonCopy>());
            assert!(mem::needs_drop::<NonCopyNeedsDrop>());
        }

        fn poison_test_into_inner() {
            use locks::Mutex;

            let m = Mutex::new(NonCopy(10));
            assert_eq!(maybe_unwrap(m.into_inner()), NonCopy(10));
        }

        fn poison_test_into_inner_drop() {
            use locks::Mutex;

            struct Foo(Arc<AtomicUsize>);
            impl Drop for Foo {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }

            let num_drops = Arc::new(AtomicUsize::new(0));
            let m = Mutex::new(Foo(num_drops.clone()));
            assert_eq!(num_drops.load(Ordering::SeqCst), 0);
            {
                let _inner = maybe_unwrap(m.into_inner());
                assert_eq!(num_drops.load(Ordering::SeqCst), 0);
            }
            assert_eq!(num_drops.load(Ordering::SeqCst), 1);
        }

        fn poison_test_get_mut() {
            use locks::Mutex;

            let mut m = Mutex::new(NonCopy(10));
            *maybe_unwrap(m.get_mut()) = NonCopy(20);
            assert_eq!(maybe_unwrap(m.into_inner()), NonCopy(20));
        }

        fn poison_test_mutex_arc_nested() {
            use locks::Mutex;

            // Tests nested mutexes and access
            // to underlying data.
            let arc = Arc::new(Mutex::new(1));
            let arc2 = Arc::new(Mutex::new(arc));
            let (tx, rx) = channel();
            let _t = thread::spawn(move || {
                let lock = maybe_unwrap(arc2.lock());
                let lock2 = maybe_unwrap(lock.lock());
                assert_eq!(*lock2, 1);
                tx.send(()).unwrap();
            });
            rx.recv().unwrap();
        }

        fn poison_test_mutex_unsized() {
            use locks::Mutex;

            let mutex: &Mutex<[i32]> = &Mutex::new([1, 2, 3]);
            {
                let b = &mut *maybe_unwrap(mutex.lock());
                b[0] = 4;
                b[2] = 5;
            }
            let comp: &[i32] = &[4, 2, 5];
            assert_eq!(&*maybe_unwrap(mutex.lock()), comp);
        }

        fn poison_test_panics() {
            use locks::Mutex;

            let mutex = Mutex::new(42);

            let catch_unwind_result1 = panic::catch_unwind(AssertUnwindSafe(|| {
                let _guard1 = maybe_unwrap(mutex.lock());

                panic!("test panic with mutex once");
            }));
            assert!(catch_unwind_result1.is_err());

            let catch_unwind_result2 = panic::catch_unwind(AssertUnwindSafe(|| {
                let _guard2 = maybe_unwrap(mutex.lock());

                panic!("test panic with mutex twice");
            }));
            assert!(catch_unwind_result2.is_err());

            let catch_unwind_result3 = panic::catch_unwind(AssertUnwindSafe(|| {
                let _guard3 = maybe_unwrap(mutex.lock());

                panic!("test panic with mutex thrice");
            }));
            assert!(catch_unwind_result3.is_err());
        }

        fn poison_test_mutex_arc_access_in_unwind() {
            use locks::Mutex;

            let arc = Arc::new(Mutex::new(1));
            let arc2 = arc.clone();
            let _ = thread::spawn(move || -> () {
                struct Unwinder {
                    i: Arc<Mutex<i32>>,
                }
                impl Drop for Unwinder {
                    fn drop(&mut self) {
                        *maybe_unwrap(self.i.lock()) += 1;
                    }
                }
                let _u = Unwinder { i: arc2 };
                panic!();
            })
            .join();
            let lock = maybe_unwrap(arc.lock());
            assert_eq!(*lock, 2);
        }

        fn test_into_inner_poison() {
            let m = new_poisoned_mutex(NonCopy(10));

            match m.into_inner() {
                Err(e) => assert_eq!(e.into_inner(), NonCopy(10)),
                Ok(x) => panic!("into_inner of poisoned Mutex is Ok: {x:?}"),
            }
        }

        fn test_get_mut_poison() {
            let mut m = new_poisoned_mutex(NonCopy(10));

            match m.get_mut() {
                Err(e) => assert_eq!(*e.into_inner(), NonCopy(10)),
                Ok(x) => panic!("get_mut of poisoned Mutex is Ok: {x:?}"),
            }
        }

        fn test_mutex_arc_poison() {
            let arc = Arc::new(Mutex::new(1));
            assert!(!arc.is_poisoned());
            let arc2 = arc.clone();
            let _ = thread::spawn(move || {
                let lock = arc2.lock().unwrap();
                assert_eq!(*lock, 2); // deliberate assertion failure to poison the mutex
            })
            .join();
            assert!(arc.lock().is_err());
            assert!(arc.is_poisoned());
        }
    }
}

mod once {
    use myriad::sync::atomic::AtomicBool;
    use myriad::sync::atomic::Ordering::Relaxed;
    use myriad::sync::mpsc::channel;
    use myriad::sync::Once;
    use myriad::thread;
    use std::panic;
    use std::time::Duration;

    std_tests! {
        fn smoke_once() {
            static O: Once = Once::new();
            let mut a = 0;
            O.call_once(|| a += 1);
            assert_eq!(a, 1);
            O.call_once(|| a += 1);
            assert_eq!(a, 1);
        }

        fn stampede_once() {
            static O: Once = Once::new();
            static mut RUN: bool = false;

            let (tx, rx) = channel();
            for _ in 0..10 {
                let tx = tx.clone();
                thread::spawn(move || {
                    for _ in 0..4 {
                        thread::yield_now()
                    }
                    // SAFETY: (added in the port) `RUN` is written only inside the `Once`, once, and read after it completed (which orders the write first).
                    unsafe {
                        O.call_once(|| {
                            assert!(!RUN);
                            RUN = true;
                        });
                        assert!(RUN);
                    }
                    tx.send(()).unwrap();
                });
            }

            // SAFETY: (added in the port) as above.
            unsafe {
                O.call_once(|| {
                    assert!(!RUN);
                    RUN = true;
                });
                assert!(RUN);
            }

            for _ in 0..10 {
                rx.recv().unwrap();
            }
        }

        fn poison_bad() {
            static O: Once = Once::new();

            // poison the once
            let t = panic::catch_unwind(|| {
                O.call_once(|| panic!());
            });
            assert!(t.is_err());

            // poisoning propagates
            let t = panic::catch_unwind(|| {
                O.call_once(|| {});
            });
            assert!(t.is_err());

            // we can subvert poisoning, however
            let mut called = false;
            O.call_once_force(|p| {
                called = true;
                assert!(p.is_poisoned())
            });
            assert!(called);

            // once any success happens, we stop propagating the poison
            O.call_once(|| {});
        }

        fn wait_for_force_to_finish() {
            static O: Once = Once::new();

            // poison the once
            let t = panic::catch_unwind(|| {
                O.call_once(|| panic!());
            });
            assert!(t.is_err());

            // make sure someone's waiting inside the once via a force
            let (tx1, rx1) = channel();
            let (tx2, rx2) = channel();
            let t1 = thread::spawn(move || {
                O.call_once_force(|p| {
                    assert!(p.is_poisoned());
                    tx1.send(()).unwrap();
                    rx2.recv().unwrap();
                });
            });

            rx1.recv().unwrap();

            // put another waiter on the once
            let t2 = thread::spawn(|| {
                let mut called = false;
                O.call_once(|| {
                    called = true;
                });
                assert!(!called);
            });

            tx2.send(()).unwrap();

            assert!(t1.join().is_ok());
            assert!(t2.join().is_ok());
        }

        fn wait() {
            for _ in 0..50 {
                let val = AtomicBool::new(false);
                let once = Once::new();

                thread::scope(|s| {
                    for _ in 0..4 {
                        s.spawn(|| {
                            once.wait();
                            assert!(val.load(Relaxed));
                        });
                    }

                    once.call_once(|| val.store(true, Relaxed));
                });
            }
        }

        fn wait_on_poisoned() {
            let once = Once::new();

            panic::catch_unwind(|| once.call_once(|| panic!())).unwrap_err();
            panic::catch_unwind(|| once.wait()).unwrap_err();
        }

        fn wait_force_on_poisoned() {
            let once = Once::new();

            thread::scope(|s| {
                panic::catch_unwind(|| once.call_once(|| panic!())).unwrap_err();

                s.spawn(|| {
                    thread::sleep(Duration::from_millis(100));

                    once.call_once_force(|_| {});
                });

                once.wait_force();
            })
        }
    }
}

mod once_lock {
    use myriad::sync::atomic::AtomicUsize;
    use myriad::sync::atomic::Ordering::SeqCst;
    use myriad::sync::mpsc::channel;
    use myriad::sync::OnceLock;
    use myriad::thread;

    fn spawn_and_wait<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        thread::spawn(f).join().unwrap()
    }

    std_tests! {
        fn sync_once_cell() {
            static ONCE_CELL: OnceLock<i32> = OnceLock::new();

            assert!(ONCE_CELL.get().is_none());

            spawn_and_wait(|| {
                ONCE_CELL.get_or_init(|| 92);
                assert_eq!(ONCE_CELL.get(), Some(&92));
            });

            ONCE_CELL.get_or_init(|| panic!("Kaboom!"));
            assert_eq!(ONCE_CELL.get(), Some(&92));
        }

        fn sync_once_cell_get_mut() {
            let mut c = OnceLock::new();
            assert!(c.get_mut().is_none());
            c.set(90).unwrap();
            *c.get_mut().unwrap() += 2;
            assert_eq!(c.get_mut(), Some(&mut 92));
        }

        fn sync_once_cell_drop() {
            static DROP_CNT: AtomicUsize = AtomicUsize::new(0);
            struct Dropper;
            impl Drop for Dropper {
                fn drop(&mut self) {
                    DROP_CNT.fetch_add(1, SeqCst);
                }
            }

            let x = OnceLock::new();
            spawn_and_wait(move || {
                x.get_or_init(|| Dropper);
                assert_eq!(DROP_CNT.load(SeqCst), 0);
                drop(x);
            });

            assert_eq!(DROP_CNT.load(SeqCst), 1);
        }

        fn sync_once_cell_drop_empty() {
            let x = OnceLock::<String>::new();
            drop(x);
        }

        fn clone() {
            let s = OnceLock::new();
            let c = s.clone();
            assert!(c.get().is_none());

            s.set("hello".to_string()).unwrap();
            let c = s.clone();
            assert_eq!(c.get().map(String::as_str), Some("hello"));
        }

        fn from_impl() {
            assert_eq!(OnceLock::from("value").get(), Some(&"value"));
            assert_ne!(OnceLock::from("foo").get(), Some(&"bar"));
        }

        fn partialeq_impl() {
            assert!(OnceLock::from("value") == OnceLock::from("value"));
            assert!(OnceLock::from("foo") != OnceLock::from("bar"));

            assert!(OnceLock::<String>::new() == OnceLock::new());
            assert!(OnceLock::<String>::new() != OnceLock::from("value".to_owned()));
        }

        fn into_inner() {
            let cell: OnceLock<String> = OnceLock::new();
            assert_eq!(cell.into_inner(), None);
            let cell = OnceLock::new();
            cell.set("hello".to_string()).unwrap();
            assert_eq!(cell.into_inner(), Some("hello".to_string()));
        }

        fn is_sync_send() {
            fn assert_traits<T: Send + Sync>() {}
            assert_traits::<OnceLock<String>>();
        }

        fn eval_once_macro() {
            macro_rules! eval_once {
                (|| -> $ty:ty {
                    $($body:tt)*
                }) => {{
                    static ONCE_CELL: OnceLock<$ty> = OnceLock::new();
                    fn init() -> $ty {
                        $($body)*
                    }
                    ONCE_CELL.get_or_init(init)
                }};
            }

            let fib: &'static Vec<i32> = eval_once! {
                || -> Vec<i32> {
                    let mut res = vec![1, 1];
                    for i in 0..10 {
                        let next = res[i] + res[i + 1];
                        res.push(next);
                    }
                    res
                }
            };
            assert_eq!(fib[5], 8)
        }

        // Its readers spin on `OnceLock::get` without a myriad call: when
        // they hold every worker, the stall monitor rescues the writers
        // (TESTING.md).
        fn sync_once_cell_does_not_leak_partially_constructed_boxes() {
            static ONCE_CELL: OnceLock<String> = OnceLock::new();

            let n_readers = 10;
            let n_writers = 3;
            const MSG: &str = "Hello, World";

            let (tx, rx) = channel();

            for _ in 0..n_readers {
                let tx = tx.clone();
                thread::spawn(move || {
                    loop {
                        if let Some(msg) = ONCE_CELL.get() {
                            tx.send(msg).unwrap();
                            break;
                        }
                        #[cfg(target_env = "sgx")]
                        std::thread::yield_now();
                    }
                });
            }
            for _ in 0..n_writers {
                thread::spawn(move || {
                    let _ = ONCE_CELL.set(MSG.to_owned());
                });
            }

            for _ in 0..n_readers {
                let msg = rx.recv().unwrap();
                assert_eq!(msg, MSG);
            }
        }

        fn dropck() {
            let cell = OnceLock::new();
            {
                let s = String::new();
                cell.set(&s).unwrap();
            }
        }
    }
}

mod rwlock {
    use super::{locks, maybe_unwrap};
    use myriad::sync::atomic::{AtomicUsize, Ordering};
    use myriad::sync::mpsc::channel;
    use myriad::sync::{Arc, RwLock};
    use myriad::thread;
    use std::panic::{self, AssertUnwindSafe};
    use std::{hint, mem};

    #[derive(Eq, PartialEq, Debug)]
    struct NonCopy(i32);

    #[derive(Eq, PartialEq, Debug)]
    struct NonCopyNeedsDrop(i32);

    impl Drop for NonCopyNeedsDrop {
        fn drop(&mut self) {
            hint::black_box(());
        }
    }

    /// Creates a rwlock that is immediately poisoned.
    fn new_poisoned_rwlock<T>(value: T) -> RwLock<T> {
        let lock = RwLock::new(value);

        let catch_unwind_result = panic::catch_unwind(AssertUnwindSafe(|| {
            let _guard = lock.write().unwrap();

            panic!("test panic to poison RwLock");
        }));

        assert!(catch_unwind_result.is_err());
        assert!(lock.is_poisoned());

        lock
    }

    std_tests! {
        fn test_needs_drop() {
            assert!(!mem::needs_drop::<NonCopy>());
            assert!(mem::needs_drop::<NonCopyNeedsDrop>());
        }

        fn poison_smoke() {
            use locks::RwLock;

            let l = RwLock::new(());
            drop(maybe_unwrap(l.read()));
            drop(maybe_unwrap(l.write()));
            drop((maybe_unwrap(l.read()), maybe_unwrap(l.read())));
            drop(maybe_unwrap(l.write()));
        }

        fn poison_frob() {
            use locks::RwLock;

            const N: u32 = 10;
            const M: usize = if cfg!(miri) { 100 } else { 1000 };

            let r = Arc::new(RwLock::new(()));

            let (tx, rx) = channel::<()>();
            for _ in 0..N {
                let tx = tx.clone();
                let r = r.clone();
                thread::spawn(move || {
                    let mut rng = crate::std_support::test_rng();
                    for _ in 0..M {
                        if rng.random_bool(1.0 / (N as f64)) {
                            drop(maybe_unwrap(r.write()));
                        } else {
                            drop(maybe_unwrap(r.read()));
                        }
                    }
                    drop(tx);
                });
            }
            drop(tx);
            let _ = rx.recv();
        }

        fn poison_test_rw_arc() {
            use locks::RwLock;

            let arc = Arc::new(RwLock::new(0));
            let arc2 = arc.clone();
            let (tx, rx) = channel();

            thread::spawn(move || {
                let mut lock = maybe_unwrap(arc2.write());
                for _ in 0..10 {
                    let tmp = *lock;
                    *lock = -1;
                    thread::yield_now();
                    *lock = tmp + 1;
                }
                tx.send(()).unwrap();
            });

            // Readers try to catch the writer in the act
            let mut children = Vec::new();
            for _ in 0..5 {
                let arc3 = arc.clone();
                children.push(thread::spawn(move || {
                    let lock = maybe_unwrap(arc3.read());
                    assert!(*lock >= 0);
                }));
            }

            // Wait for children to pass their asserts
            for r in children {
                assert!(r.join().is_ok());
            }

            // Wait for writer to finish
            rx.recv().unwrap();
            let lock = maybe_unwrap(arc.read());
            assert_eq!(*lock, 10);
        }

        fn poison_test_rw_arc_access_in_unwind() {
            use locks::RwLock;

            let arc = Arc::new(RwLock::new(1));
            let arc2 = arc.clone();
            let _ = thread::spawn(move || -> () {
                struct Unwinder {
                    i: Arc<RwLock<isize>>,
                }
                impl Drop for Unwinder {
                    fn drop(&mut self) {
                        let mut lock = maybe_unwrap(self.i.write());
                        *lock += 1;
                    }
                }
                let _u = Unwinder { i: arc2 };
                panic!();
            })
            .join();
            let lock = maybe_unwrap(arc.read());
            assert_eq!(*lock, 2);
        }

        fn poison_test_rwlock_unsized() {
            use locks::RwLock;

            let rw: &RwLock<[i32]> = &RwLock::new([1, 2, 3]);
            {
                let b = &mut *maybe_unwrap(rw.write());
                b[0] = 4;
                b[2] = 5;
            }
            let comp: &[i32] = &[4, 2, 5];
            assert_eq!(&*maybe_unwrap(rw.read()), comp);
        }

        fn poison_test_into_inner() {
            use locks::RwLock;

            let m = RwLock::new(NonCopy(10));
            assert_eq!(maybe_unwrap(m.into_inner()), NonCopy(10));
        }

        fn poison_test_into_inner_drop() {
            use locks::RwLock;

            struct Foo(Arc<AtomicUsize>);
            impl Drop for Foo {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }

            let num_drops = Arc::new(AtomicUsize::new(0));
            let m = RwLock::new(Foo(num_drops.clone()));
            assert_eq!(num_drops.load(Ordering::SeqCst), 0);
            {
                let _inner = maybe_unwrap(m.into_inner());
                assert_eq!(num_drops.load(Ordering::SeqCst), 0);
            }
            assert_eq!(num_drops.load(Ordering::SeqCst), 1);
        }

        fn poison_test_get_mut() {
            use locks::RwLock;

            let mut m = RwLock::new(NonCopy(10));
            *maybe_unwrap(m.get_mut()) = NonCopy(20);
            assert_eq!(maybe_unwrap(m.into_inner()), NonCopy(20));
        }

        fn poison_test_read_guard_covariance() {
            use locks::{RwLock, RwLockReadGuard};

            fn do_stuff<'a>(_: RwLockReadGuard<'_, &'a i32>, _: &'a i32) {}
            let j: i32 = 5;
            let lock = RwLock::new(&j);
            {
                let i = 6;
                do_stuff(maybe_unwrap(lock.read()), &i);
            }
            drop(lock);
        }

        fn poison_test_downgrade_basic() {
            use locks::{RwLock, RwLockWriteGuard};

            let r = RwLock::new(());

            let write_guard = maybe_unwrap(r.write());
            let _read_guard = RwLockWriteGuard::downgrade(write_guard);
        }

        fn poison_test_downgrade_observe() {
            use locks::{RwLock, RwLockWriteGuard};

            // Inspired by the test `test_rwlock_downgrade` from:
            // https://github.com/Amanieu/parking_lot/blob/master/src/rwlock.rs

            const W: usize = 20;
            const N: usize = if cfg!(miri) { 40 } else { 100 };

            // This test spawns `W` writer threads, where each will increment a counter `N` times,
            // ensuring that the value they wrote has not changed after downgrading.

            let rw = Arc::new(RwLock::new(0));

            // Spawn the writers that will do `W * N` operations and checks.
            let handles: Vec<_> = (0..W)
                .map(|_| {
                    let rw = rw.clone();
                    thread::spawn(move || {
                        for _ in 0..N {
                            // Increment the counter.
                            let mut write_guard = maybe_unwrap(rw.write());
                            *write_guard += 1;
                            let cur_val = *write_guard;

                            // Downgrade the lock to read mode, where the value protected cannot be
                            // modified.
                            let read_guard = RwLockWriteGuard::downgrade(write_guard);
                            assert_eq!(cur_val, *read_guard);
                        }
                    })
                })
                .collect();

            for handle in handles {
                handle.join().unwrap();
            }

            assert_eq!(*maybe_unwrap(rw.read()), W * N);
        }

        fn poison_test_downgrade_atomic() {
            use locks::{RwLock, RwLockWriteGuard};

            const NEW_VALUE: i32 = -1;

            // This test checks that `downgrade` is atomic, meaning as soon as a write lock has been
            // downgraded, the lock must be in read mode and no other threads can take the write lock to
            // modify the protected value.

            // `W` is the number of evil writer threads.
            const W: usize = 20;
            let rwlock = Arc::new(RwLock::new(0));

            // Spawns many evil writer threads that will try and write to the locked value before the
            // initial writer (who has the exclusive lock) can read after it downgrades.
            // If the `RwLock` behaves correctly, then the initial writer should read the value it wrote
            // itself as no other thread should be able to mutate the protected value.

            // Put the lock in write mode, causing all future threads trying to access this go to sleep.
            let mut main_write_guard = maybe_unwrap(rwlock.write());

            // Spawn all of the evil writer threads. They will each increment the protected value by 1.
            let handles: Vec<_> = (0..W)
                .map(|_| {
                    let rwlock = rwlock.clone();
                    thread::spawn(move || {
                        // Will go to sleep since the main thread initially has the write lock.
                        let mut evil_guard = maybe_unwrap(rwlock.write());
                        *evil_guard += 1;
                    })
                })
                .collect();

            // Wait for a good amount of time so that evil threads go to sleep.
            // Note: this is not strictly necessary...
            let eternity = std::time::Duration::from_millis(42);
            thread::sleep(eternity);

            // Once everyone is asleep, set the value to `NEW_VALUE`.
            *main_write_guard = NEW_VALUE;

            // Atomically downgrade the write guard into a read guard.
            let main_read_guard = RwLockWriteGuard::downgrade(main_write_guard);

            // If the above is not atomic, then it would be possible for an evil thread to get in front
            // of this read and change the value to be non-negative.
            assert_eq!(*main_read_guard, NEW_VALUE, "`downgrade` was not atomic");

            // Drop the main read guard and allow the evil writer threads to start incrementing.
            drop(main_read_guard);

            for handle in handles {
                handle.join().unwrap();
            }

            let final_check = maybe_unwrap(rwlock.read());
            assert_eq!(*final_check, W as i32 + NEW_VALUE);
        }

        fn test_into_inner_poison() {
            let m = new_poisoned_rwlock(NonCopy(10));

            match m.into_inner() {
                Err(e) => assert_eq!(e.into_inner(), NonCopy(10)),
                Ok(x) => panic!("into_inner of poisoned RwLock is Ok: {x:?}"),
            }
        }

        fn test_get_mut_poison() {
            let mut m = new_poisoned_rwlock(NonCopy(10));

            match m.get_mut() {
                Err(e) => assert_eq!(*e.into_inner(), NonCopy(10)),
                Ok(x) => panic!("get_mut of poisoned RwLock is Ok: {x:?}"),
            }
        }

        fn test_rw_arc_poison_wr() {
            let arc = Arc::new(RwLock::new(1));
            let arc2 = arc.clone();
            let _: Result<(), _> = thread::spawn(move || {
                let _lock = arc2.write().unwrap();
                panic!();
            })
            .join();
            assert!(arc.read().is_err());
        }

        fn test_rw_arc_poison_ww() {
            let arc = Arc::new(RwLock::new(1));
            assert!(!arc.is_poisoned());
            let arc2 = arc.clone();
            let _: Result<(), _> = thread::spawn(move || {
                let _lock = arc2.write().unwrap();
                panic!();
            })
            .join();
            assert!(arc.write().is_err());
            assert!(arc.is_poisoned());
        }

        fn test_rw_arc_no_poison_rr() {
            let arc = Arc::new(RwLock::new(1));
            let arc2 = arc.clone();
            let _: Result<(), _> = thread::spawn(move || {
                let _lock = arc2.read().unwrap();
                panic!();
            })
            .join();
            let lock = arc.read().unwrap();
            assert_eq!(*lock, 1);
        }

        fn test_rw_arc_no_poison_rw() {
            let arc = Arc::new(RwLock::new(1));
            let arc2 = arc.clone();
            let _: Result<(), _> = thread::spawn(move || {
                let _lock = arc2.read().unwrap();
                panic!()
            })
            .join();
            let lock = arc.write().unwrap();
            assert_eq!(*lock, 1);
        }
    }
}

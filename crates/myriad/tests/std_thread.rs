//! std's own tests of `std::thread` (and its `thread_local!`), ported to
//! `myriad::thread`: the yardstick of issue 13 for myriad's promise of
//! std's API.
//!
//! Why: spawning, joining, panics, names, ids, parking, scopes and
//! thread-locals are the heart of what a port from std relies on. How:
//! each test is std's body with its imports changed (`std::thread` ->
//! `myriad::thread`, `std::sync` -> `myriad::sync`, `thread_local!` ->
//! `myriad::thread_local!`), run twice by `std_tests!` (tests/std_support):
//! on the harness's OS thread (`name::os`) and inside a myriad thread
//! (`name::myriad`). Threads a body spawns are myriad threads either way.
//!
//! Ported from rust-lang/rust `library/std/src/thread/tests.rs`,
//! `library/std/tests/thread.rs` and `library/std/tests/thread_local/
//! {tests, dynamic_tests}.rs` (std is MIT OR Apache-2.0, as this project).
//! Tests of std internals or nightly-only API are left out, and those that
//! differ on purpose are ignored with the reason: TESTING.md lists both.
#![allow(clippy::all, unused_must_use, static_mut_refs)]
#![recursion_limit = "512"]

#[macro_use]
mod std_support;

/// `library/std/src/thread/tests.rs`.
mod thread_tests {
    use myriad::sync::atomic::{AtomicBool, Ordering};
    use myriad::sync::mpsc::{channel, Sender};
    use myriad::sync::{Arc, Barrier};
    use myriad::thread::{self, Builder, Scope, ThreadId};
    use std::any::Any;
    use std::panic::panic_any;
    use std::result;
    use std::time::{Duration, Instant};

    fn avoid_copying_the_body<F>(spawnfn: F)
    where
        F: FnOnce(Box<dyn Fn() + Send>),
    {
        let (tx, rx) = channel();

        let x: Box<i32> = Box::new(1);
        let x_in_parent = (&raw const *x).addr();

        spawnfn(Box::new(move || {
            let x_in_child = (&raw const *x).addr();
            tx.send(x_in_child).unwrap();
        }));

        let x_in_child = rx.recv().unwrap();
        assert_eq!(x_in_parent, x_in_child);
    }

    // !!! These tests are dangerous. If something is buggy, they will hang, !!!
    // !!! instead of exiting cleanly. This might wedge the buildbots.       !!!
    std_tests! {
        fn test_unnamed_thread() {
            thread::spawn(move || {
                assert!(thread::current().name().is_none());
            })
            .join()
            .ok()
            .expect("thread panicked");
        }

        fn test_named_thread() {
            Builder::new()
                .name("ada lovelace".to_string())
                .spawn(move || {
                    assert!(thread::current().name().unwrap() == "ada lovelace".to_string());
                })
                .unwrap()
                .join()
                .unwrap();
        }

        #[ignore = "deliberate: a myriad thread runs on a shared worker OS thread, which keeps the worker's name"]
        fn test_named_thread_truncation() {
            use std::ffi::CStr;

            let long_name = std::iter::once("test_named_thread_truncation")
                .chain(std::iter::repeat(" yada").take(100))
                .collect::<String>();

            let result = Builder::new().name(long_name.clone()).spawn(move || {
                // Rust remembers the full thread name itself.
                assert_eq!(thread::current().name(), Some(long_name.as_str()));

                // But the system is limited -- make sure we successfully set a truncation.
                let mut buf = vec![0u8; long_name.len() + 1];
                // SAFETY: (added in the port) `buf` is writable for `buf.len()` bytes, and the call writes at most that many.
                unsafe {
                    libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr().cast(), buf.len());
                }
                let cstr = CStr::from_bytes_until_nul(&buf).unwrap();
                assert!(cstr.to_bytes().len() > 0);
                assert!(long_name.as_bytes().starts_with(cstr.to_bytes()));
            });
            result.unwrap().join().unwrap();
        }

        #[should_panic]
        fn test_invalid_named_thread() {
            let _ = Builder::new().name("ada l\0velace".to_string()).spawn(|| {});
        }

        fn test_run_basic() {
            let (tx, rx) = channel();
            thread::spawn(move || {
                tx.send(()).unwrap();
            });
            rx.recv().unwrap();
        }

        fn test_is_finished() {
            let b = Arc::new(Barrier::new(2));
            let t = thread::spawn({
                let b = b.clone();
                move || {
                    b.wait();
                    1234
                }
            });

            // Thread is definitely running here, since it's still waiting for the barrier.
            assert_eq!(t.is_finished(), false);

            // Unblock the barrier.
            b.wait();

            // Now check that t.is_finished() becomes true within a reasonable time.
            let start = Instant::now();
            while !t.is_finished() {
                assert!(start.elapsed() < Duration::from_secs(2));
                thread::sleep(Duration::from_millis(15));
            }

            // Joining the thread should not block for a significant time now.
            let join_time = Instant::now();
            assert_eq!(t.join().unwrap(), 1234);
            assert!(join_time.elapsed() < Duration::from_secs(2));
        }

        fn test_join_panic() {
            match thread::spawn(move || panic!()).join() {
                result::Result::Err(_) => (),
                result::Result::Ok(()) => panic!(),
            }
        }

        fn test_spawn_sched() {
            let (tx, rx) = channel();

            fn f(i: i32, tx: Sender<()>) {
                let tx = tx.clone();
                thread::spawn(move || {
                    if i == 0 {
                        tx.send(()).unwrap();
                    } else {
                        f(i - 1, tx);
                    }
                });
            }
            f(10, tx);
            rx.recv().unwrap();
        }

        fn test_spawn_sched_childs_on_default_sched() {
            let (tx, rx) = channel();

            thread::spawn(move || {
                thread::spawn(move || {
                    tx.send(()).unwrap();
                });
            });

            rx.recv().unwrap();
        }

        fn test_avoid_copying_the_body_spawn() {
            avoid_copying_the_body(|v| {
                thread::spawn(move || v());
            });
        }

        fn test_avoid_copying_the_body_thread_spawn() {
            avoid_copying_the_body(|f| {
                thread::spawn(move || {
                    f();
                });
            })
        }

        fn test_avoid_copying_the_body_join() {
            avoid_copying_the_body(|f| {
                let _ = thread::spawn(move || f()).join();
            })
        }

        fn test_child_doesnt_ref_parent() {
            // If the child refcounts the parent thread, this will stack overflow when
            // climbing the thread tree to dereference each ancestor. (See #1789)
            // (well, it would if the constant were 8000+ - I lowered it to be more
            // valgrind-friendly. try this at home, instead..!)
            const GENERATIONS: u32 = 16;
            fn child_no(x: u32) -> Box<dyn Fn() + Send> {
                return Box::new(move || {
                    if x < GENERATIONS {
                        thread::spawn(move || child_no(x + 1)());
                    }
                });
            }
            thread::spawn(|| child_no(0)());
        }

        fn test_simple_newsched_spawn() {
            thread::spawn(move || {});
        }

        fn test_try_panic_message_string_literal() {
            match thread::spawn(move || {
                panic!("static string");
            })
            .join()
            {
                Err(e) => {
                    type T = &'static str;
                    assert!(e.is::<T>());
                    assert_eq!(*e.downcast::<T>().unwrap(), "static string");
                }
                Ok(()) => panic!(),
            }
        }

        fn test_try_panic_any_message_owned_str() {
            match thread::spawn(move || {
                panic_any("owned string".to_string());
            })
            .join()
            {
                Err(e) => {
                    type T = String;
                    assert!(e.is::<T>());
                    assert_eq!(*e.downcast::<T>().unwrap(), "owned string".to_string());
                }
                Ok(()) => panic!(),
            }
        }

        fn test_try_panic_any_message_any() {
            match thread::spawn(move || {
                panic_any(Box::new(413u16) as Box<dyn Any + Send>);
            })
            .join()
            {
                Err(e) => {
                    type T = Box<dyn Any + Send>;
                    assert!(e.is::<T>());
                    let any = e.downcast::<T>().unwrap();
                    assert!(any.is::<u16>());
                    assert_eq!(*any.downcast::<u16>().unwrap(), 413);
                }
                Ok(()) => panic!(),
            }
        }

        fn test_try_panic_any_message_unit_struct() {
            struct Juju;

            match thread::spawn(move || panic_any(Juju)).join() {
                Err(ref e) if e.is::<Juju>() => {}
                Err(_) | Ok(()) => panic!(),
            }
        }

        fn test_park_unpark_before() {
            for _ in 0..10 {
                thread::current().unpark();
                thread::park();
            }
        }

        fn test_park_unpark_called_other_thread() {
            for _ in 0..10 {
                let th = thread::current();

                // Here we rely on `thread::spawn` (specifically the part that runs after spawning
                // the thread) to not consume the parking token.
                let _guard = thread::spawn(move || {
                    thread::sleep(Duration::from_millis(50));
                    th.unpark();
                });

                thread::park();
            }
        }

        fn test_park_timeout_unpark_before() {
            for _ in 0..10 {
                thread::current().unpark();
                thread::park_timeout(Duration::from_millis(u32::MAX as u64));
            }
        }

        fn test_park_timeout_unpark_not_called() {
            for _ in 0..10 {
                thread::park_timeout(Duration::from_millis(10));
            }
        }

        fn test_park_timeout_unpark_called_other_thread() {
            for _ in 0..10 {
                let th = thread::current();

                // Here we rely on `thread::spawn` (specifically the part that runs after spawning
                // the thread) to not consume the parking token.
                let _guard = thread::spawn(move || {
                    thread::sleep(Duration::from_millis(50));
                    th.unpark();
                });

                thread::park_timeout(Duration::from_millis(u32::MAX as u64));
            }
        }

        fn sleep_ms_smoke() {
            thread::sleep(Duration::from_millis(2));
        }

        fn test_size_of_option_thread_id() {
            assert_eq!(size_of::<Option<ThreadId>>(), size_of::<ThreadId>());
        }

        fn test_thread_id_equal() {
            assert!(thread::current().id() == thread::current().id());
        }

        fn test_thread_id_not_equal() {
            let spawned_id = thread::spawn(|| thread::current().id()).join().unwrap();
            assert!(thread::current().id() != spawned_id);
        }

        fn test_scoped_threads_drop_result_before_join() {
            let actually_finished = &AtomicBool::new(false);
            struct X<'scope, 'env>(&'scope Scope<'scope, 'env>, &'env AtomicBool);
            impl Drop for X<'_, '_> {
                fn drop(&mut self) {
                    thread::sleep(Duration::from_millis(20));
                    let actually_finished = self.1;
                    self.0.spawn(move || {
                        thread::sleep(Duration::from_millis(20));
                        actually_finished.store(true, Ordering::Relaxed);
                    });
                }
            }
            thread::scope(|s| {
                s.spawn(move || {
                    thread::sleep(Duration::from_millis(20));
                    X(s, actually_finished)
                });
            });
            assert!(actually_finished.load(Ordering::Relaxed));
        }

        fn test_scoped_threads_nll() {
            // this is mostly a *compilation test* for this exact function:
            fn foo(x: &u8) {
                thread::scope(|s| {
                    s.spawn(|| match x {
                        _ => (),
                    });
                });
            }
            // let's also run it for good measure
            let x = 42_u8;
            foo(&x);
        }
    }
}

/// `library/std/tests/thread.rs`.
mod thread {
    use myriad::sync::{Arc, Mutex};
    use myriad::thread;
    // Stands for `use myriad::thread_local;`: a glob-imported macro of
    // that name would be ambiguous with std's in the prelude.
    macro_rules! thread_local {
        ($($t:tt)*) => { myriad::thread_local!($($t)*); };
    }
    use std::cell::{Cell, RefCell};
    use std::time::{Duration, Instant};

    std_tests! {
        fn sleep_very_long() {
            let finished = Arc::new(Mutex::new(false));
            let t_finished = finished.clone();
            thread::spawn(move || {
                thread::sleep(Duration::new(u64::MAX, 0));
                *t_finished.lock().unwrap() = true;
            });
            thread::sleep(Duration::from_millis(100));
            assert_eq!(*finished.lock().unwrap(), false);
        }

        fn sleep_until() {
            let now = Instant::now();
            let period = Duration::from_millis(100);
            let deadline = now + period;
            thread::sleep_until(deadline);

            let elapsed = now.elapsed();
            assert!(elapsed >= period);
        }

        fn thread_local_containing_const_statements() {
            // This exercises the `const $init:block` cases of the thread_local macro.
            // Despite overlapping with expression syntax, the `const { ... }` is not
            // parsed as `$init:expr`.
            thread_local! {
                static CELL: Cell<u32> = const {
                    let value = 1;
                    Cell::new(value)
                };

                static REFCELL: RefCell<u32> = const {
                    let value = 1;
                    RefCell::new(value)
                };
            }

            assert_eq!(CELL.get(), 1);
            assert_eq!(REFCELL.take(), 1);
        }

        // (std's `#![allow(dead_code)]` inside the body, moved out: macro
        // fragments cannot carry inner attributes.)
        #[allow(dead_code)]
        fn thread_local_hygeiene() {
            // Previously `thread_local_inner!` had use imports for `LocalKey`, `Storage`, `EagerStorage`
            // and `LazyStorage`. The use imports will shadow a user-provided type or type alias if the
            // user-provided type or type alias has the same name. Make sure that this does not happen. See
            // <https://github.com/rust-lang/rust/issues/131863>.
            //
            // NOTE: if the internal implementation details change (i.e. get renamed), this test should be
            // updated.

            type LocalKey = ();
            type Storage = ();
            type LazyStorage = ();
            type EagerStorage = ();
            #[allow(non_camel_case_types)]
            type usize = ();
            thread_local! {
                static A: LocalKey = const { () };
                static B: Storage = const { () };
                static C: LazyStorage = const { () };
                static D: EagerStorage = const { () };
            }
        }

        fn available_parallelism() {
            // check that std::thread::available_parallelism() returns a valid value
            assert!(thread::available_parallelism().is_ok());
        }
    }
}

/// `library/std/tests/thread_local/tests.rs`.
mod thread_local_tests {
    use myriad::sync::atomic::{AtomicU8, Ordering};
    use myriad::sync::{Arc, Condvar, Mutex};
    use myriad::thread::{self, LocalKey};
    // Stands for `use myriad::thread_local;`: a glob-imported macro of
    // that name would be ambiguous with std's in the prelude.
    macro_rules! thread_local {
        ($($t:tt)*) => { myriad::thread_local!($($t)*); };
    }
    use std::cell::{Cell, UnsafeCell};

    #[derive(Clone, Default)]
    struct Signal(Arc<(Mutex<bool>, Condvar)>);

    impl Signal {
        fn notify(&self) {
            let (set, cvar) = &*self.0;
            *set.lock().unwrap() = true;
            cvar.notify_one();
        }

        fn wait(&self) {
            let (set, cvar) = &*self.0;
            let mut set = set.lock().unwrap();
            while !*set {
                set = cvar.wait(set).unwrap();
            }
        }

        fn is_set(&self) -> bool {
            let (set, _cvar) = &*self.0;
            let set = set.lock().unwrap();
            *set
        }
    }

    struct NotifyOnDrop(Signal);

    impl Drop for NotifyOnDrop {
        fn drop(&mut self) {
            let NotifyOnDrop(ref f) = *self;
            f.notify();
        }
    }

    std_tests! {
        fn smoke_no_dtor() {
            thread_local!(static FOO: Cell<i32> = Cell::new(1));
            run(&FOO);
            thread_local!(static FOO2: Cell<i32> = const { Cell::new(1) });
            run(&FOO2);

            fn run(key: &'static LocalKey<Cell<i32>>) {
                key.with(|f| {
                    assert_eq!(f.get(), 1);
                    f.set(2);
                });
                let t = thread::spawn(move || {
                    key.with(|f| {
                        assert_eq!(f.get(), 1);
                    });
                });
                t.join().unwrap();

                key.with(|f| {
                    assert_eq!(f.get(), 2);
                });
            }
        }

        fn states() {
            struct Foo(&'static LocalKey<Foo>);
            impl Drop for Foo {
                fn drop(&mut self) {
                    assert!(self.0.try_with(|_| ()).is_err());
                }
            }

            thread_local!(static FOO: Foo = Foo(&FOO));
            run(&FOO);
            thread_local!(static FOO2: Foo = const { Foo(&FOO2) });
            run(&FOO2);

            fn run(foo: &'static LocalKey<Foo>) {
                thread::spawn(move || {
                    assert!(foo.try_with(|_| ()).is_ok());
                })
                .join()
                .unwrap();
            }
        }

        fn smoke_dtor() {
            thread_local!(static FOO: UnsafeCell<Option<NotifyOnDrop>> = UnsafeCell::new(None));
            run(&FOO);
            thread_local!(static FOO2: UnsafeCell<Option<NotifyOnDrop>> = const { UnsafeCell::new(None) });
            run(&FOO2);

            fn run(key: &'static LocalKey<UnsafeCell<Option<NotifyOnDrop>>>) {
                let signal = Signal::default();
                let signal2 = signal.clone();
                // SAFETY: (added in the port) the `UnsafeCell` is this thread's own key value, written with no other borrow of it alive.
                let t = thread::spawn(move || unsafe {
                    let mut signal = Some(signal2);
                    key.with(|f| {
                        *f.get() = Some(NotifyOnDrop(signal.take().unwrap()));
                    });
                });
                signal.wait();
                assert!(signal.is_set());
                t.join().unwrap();
            }
        }

        fn circular() {
            // FIXME(static_mut_refs): use raw pointers instead of references
            // (std's `#![allow(static_mut_refs)]` here: this file allows it)

            struct S1(&'static LocalKey<UnsafeCell<Option<S1>>>, &'static LocalKey<UnsafeCell<Option<S2>>>);
            struct S2(&'static LocalKey<UnsafeCell<Option<S1>>>, &'static LocalKey<UnsafeCell<Option<S2>>>);
            thread_local!(static K1: UnsafeCell<Option<S1>> = UnsafeCell::new(None));
            thread_local!(static K2: UnsafeCell<Option<S2>> = UnsafeCell::new(None));
            thread_local!(static K3: UnsafeCell<Option<S1>> = const { UnsafeCell::new(None) });
            thread_local!(static K4: UnsafeCell<Option<S2>> = const { UnsafeCell::new(None) });
            static mut HITS: usize = 0;

            impl Drop for S1 {
                fn drop(&mut self) {
                    // SAFETY: (added in the port) `HITS` is touched only by the one thread the test runs at a time (spawned, then joined).
                    unsafe {
                        HITS += 1;
                        if self.1.try_with(|_| ()).is_err() {
                            assert_eq!(HITS, 3);
                        } else {
                            if HITS == 1 {
                                self.1.with(|s| *s.get() = Some(S2(self.0, self.1)));
                            } else {
                                assert_eq!(HITS, 3);
                            }
                        }
                    }
                }
            }
            impl Drop for S2 {
                fn drop(&mut self) {
                    // SAFETY: (added in the port) as above: `HITS` has one user at a time; the cell is this thread's own, with no other borrow.
                    unsafe {
                        HITS += 1;
                        assert!(self.0.try_with(|_| ()).is_ok());
                        assert_eq!(HITS, 2);
                        self.0.with(|s| *s.get() = Some(S1(self.0, self.1)));
                    }
                }
            }

            thread::spawn(move || {
                drop(S1(&K1, &K2));
            })
            .join()
            .unwrap();

            // SAFETY: (added in the port) the thread that used `HITS` has been joined.
            unsafe {
                HITS = 0;
            }

            thread::spawn(move || {
                drop(S1(&K3, &K4));
            })
            .join()
            .unwrap();
        }

        fn self_referential() {
            struct S1(&'static LocalKey<UnsafeCell<Option<S1>>>);

            thread_local!(static K1: UnsafeCell<Option<S1>> = UnsafeCell::new(None));
            thread_local!(static K2: UnsafeCell<Option<S1>> = const { UnsafeCell::new(None) });

            impl Drop for S1 {
                fn drop(&mut self) {
                    assert!(self.0.try_with(|_| ()).is_err());
                }
            }

            // SAFETY: (added in the port) the `UnsafeCell` is this thread's own key value, with no other borrow of it alive.
            thread::spawn(move || unsafe {
                K1.with(|s| *s.get() = Some(S1(&K1)));
            })
            .join()
            .unwrap();

            // SAFETY: (added in the port) as above.
            thread::spawn(move || unsafe {
                K2.with(|s| *s.get() = Some(S1(&K2)));
            })
            .join()
            .unwrap();
        }

        // Note that this test will deadlock if TLS destructors aren't run (this
        // requires the destructor to be run to pass the test).
        fn dtors_in_dtors_in_dtors() {
            struct S1(Signal);
            thread_local!(static K1: UnsafeCell<Option<S1>> = UnsafeCell::new(None));
            thread_local!(static K2: UnsafeCell<Option<NotifyOnDrop>> = UnsafeCell::new(None));

            impl Drop for S1 {
                fn drop(&mut self) {
                    let S1(ref signal) = *self;
                    // SAFETY: (added in the port) K2's `UnsafeCell` is this thread's own, with no other borrow of it alive.
                    unsafe {
                        let _ = K2.try_with(|s| *s.get() = Some(NotifyOnDrop(signal.clone())));
                    }
                }
            }

            let signal = Signal::default();
            let signal2 = signal.clone();
            // SAFETY: (added in the port) K1's `UnsafeCell` is this thread's own, with no other borrow of it alive.
            let _t = thread::spawn(move || unsafe {
                let mut signal = Some(signal2);
                K1.with(|s| *s.get() = Some(S1(signal.take().unwrap())));
            });
            signal.wait();
        }

        fn dtors_in_dtors_in_dtors_const_init() {
            struct S1(Signal);
            thread_local!(static K1: UnsafeCell<Option<S1>> = const { UnsafeCell::new(None) });
            thread_local!(static K2: UnsafeCell<Option<NotifyOnDrop>> = const { UnsafeCell::new(None) });

            impl Drop for S1 {
                fn drop(&mut self) {
                    let S1(ref signal) = *self;
                    // SAFETY: (added in the port) K2's `UnsafeCell` is this thread's own, with no other borrow of it alive.
                    unsafe {
                        let _ = K2.try_with(|s| *s.get() = Some(NotifyOnDrop(signal.clone())));
                    }
                }
            }

            let signal = Signal::default();
            let signal2 = signal.clone();
            // SAFETY: (added in the port) K1's `UnsafeCell` is this thread's own, with no other borrow of it alive.
            let _t = thread::spawn(move || unsafe {
                let mut signal = Some(signal2);
                K1.with(|s| *s.get() = Some(S1(signal.take().unwrap())));
            });
            signal.wait();
        }

        // This test tests that TLS destructors have run before the thread joins. The
        // test has no false positives (meaning: if the test fails, there's actually
        // an ordering problem). It may have false negatives, where the test passes but
        // join is not guaranteed to be after the TLS destructors. However, false
        // negatives should be exceedingly rare due to judicious use of
        // thread::yield_now and running the test several times.
        fn join_orders_after_tls_destructors() {
            // We emulate a synchronous MPSC rendezvous channel using only atomics and
            // thread::yield_now. We can't use std::mpsc as the implementation itself
            // may rely on thread locals.
            //
            // The basic state machine for an SPSC rendezvous channel is:
            //           FRESH -> THREAD1_WAITING -> MAIN_THREAD_RENDEZVOUS
            // where the first transition is done by the “receiving” thread and the 2nd
            // transition is done by the “sending” thread.
            //
            // We add an additional state `THREAD2_LAUNCHED` between `FRESH` and
            // `THREAD1_WAITING` to block until all threads are actually running.
            //
            // A thread that joins on the “receiving” thread completion should never
            // observe the channel in the `THREAD1_WAITING` state. If this does occur,
            // we switch to the “poison” state `THREAD2_JOINED` and panic all around.
            // (This is equivalent to “sending” from an alternate producer thread.)
            //
            // Relaxed memory ordering is fine because and spawn()/join() already provide all the
            // synchronization we need here.
            const FRESH: u8 = 0;
            const THREAD2_LAUNCHED: u8 = 1;
            const THREAD1_WAITING: u8 = 2;
            const MAIN_THREAD_RENDEZVOUS: u8 = 3;
            const THREAD2_JOINED: u8 = 4;
            static SYNC_STATE: AtomicU8 = AtomicU8::new(FRESH);

            for _ in 0..10 {
                SYNC_STATE.store(FRESH, Ordering::Relaxed);

                let jh = thread::Builder::new()
                    .name("thread1".into())
                    .spawn(move || {
                        struct TlDrop;

                        impl Drop for TlDrop {
                            fn drop(&mut self) {
                                let mut sync_state = SYNC_STATE.swap(THREAD1_WAITING, Ordering::Relaxed);
                                loop {
                                    match sync_state {
                                        THREAD2_LAUNCHED | THREAD1_WAITING => thread::yield_now(),
                                        MAIN_THREAD_RENDEZVOUS => break,
                                        THREAD2_JOINED => panic!(
                                            "Thread 1 still running after thread 2 joined on thread 1"
                                        ),
                                        v => unreachable!("sync state: {}", v),
                                    }
                                    sync_state = SYNC_STATE.load(Ordering::Relaxed);
                                }
                            }
                        }

                        thread_local! {
                            static TL_DROP: TlDrop = TlDrop;
                        }

                        TL_DROP.with(|_| {});

                        loop {
                            match SYNC_STATE.load(Ordering::Relaxed) {
                                FRESH => thread::yield_now(),
                                THREAD2_LAUNCHED => break,
                                v => unreachable!("sync state: {}", v),
                            }
                        }
                    })
                    .unwrap();

                let jh2 = thread::Builder::new()
                    .name("thread2".into())
                    .spawn(move || {
                        assert_eq!(SYNC_STATE.swap(THREAD2_LAUNCHED, Ordering::Relaxed), FRESH);
                        jh.join().unwrap();
                        match SYNC_STATE.swap(THREAD2_JOINED, Ordering::Relaxed) {
                            MAIN_THREAD_RENDEZVOUS => return,
                            THREAD2_LAUNCHED | THREAD1_WAITING => {
                                panic!("Thread 2 running after thread 1 join before main thread rendezvous")
                            }
                            v => unreachable!("sync state: {:?}", v),
                        }
                    })
                    .unwrap();

                loop {
                    match SYNC_STATE.compare_exchange(
                        THREAD1_WAITING,
                        MAIN_THREAD_RENDEZVOUS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(FRESH) => thread::yield_now(),
                        Err(THREAD2_LAUNCHED) => thread::yield_now(),
                        Err(THREAD2_JOINED) => {
                            panic!("Main thread rendezvous after thread 2 joined thread 1")
                        }
                        v => unreachable!("sync state: {:?}", v),
                    }
                }
                jh2.join().unwrap();
            }
        }

        // Test that thread::current is still available in TLS destructors.
        fn thread_current_in_dtor() {
            use myriad::thread::Builder;

            // Go through one round of TLS destruction first.
            struct Defer;
            impl Drop for Defer {
                fn drop(&mut self) {
                    RETRIEVE.with(|_| {});
                }
            }

            struct RetrieveName;
            impl Drop for RetrieveName {
                fn drop(&mut self) {
                    *NAME.lock().unwrap() = Some(thread::current().name().unwrap().to_owned());
                }
            }

            static NAME: Mutex<Option<String>> = Mutex::new(None);

            thread_local! {
                static DEFER: Defer = const { Defer };
                static RETRIEVE: RetrieveName = const { RetrieveName };
            }

            Builder::new().name("test".to_owned()).spawn(|| DEFER.with(|_| {})).unwrap().join().unwrap();
            let name = NAME.lock().unwrap();
            let name = name.as_ref().unwrap();
            assert_eq!(name, "test");
        }
    }
}

/// `library/std/tests/thread_local/dynamic_tests.rs`.
mod thread_local_dynamic_tests {
    // Stands for `use myriad::thread_local;`: a glob-imported macro of
    // that name would be ambiguous with std's in the prelude.
    macro_rules! thread_local {
        ($($t:tt)*) => { myriad::thread_local!($($t)*); };
    }
    use std::cell::RefCell;
    use std::collections::HashMap;

    std_tests! {
        fn smoke() {
            fn square(i: i32) -> i32 {
                i * i
            }
            thread_local!(static FOO: i32 = square(3));

            FOO.with(|f| {
                assert_eq!(*f, 9);
            });
        }

        fn hashmap() {
            fn map() -> RefCell<HashMap<i32, i32>> {
                let mut m = HashMap::new();
                m.insert(1, 2);
                RefCell::new(m)
            }
            thread_local!(static FOO: RefCell<HashMap<i32, i32>> = map());

            FOO.with(|map| {
                assert_eq!(map.borrow()[&1], 2);
            });
        }

        fn refcell_vec() {
            thread_local!(static FOO: RefCell<Vec<u32>> = RefCell::new(vec![1, 2, 3]));

            FOO.with(|vec| {
                assert_eq!(vec.borrow().len(), 3);
                vec.borrow_mut().push(4);
                assert_eq!(vec.borrow()[3], 4);
            });
        }
    }
}

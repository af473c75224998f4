//! std::thread's API on myriad threads: joins, panics, scopes, park/unpark,
//! sleep, names, locals — from myriad threads and from OS threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use myriad::thread;

#[test]
fn join_returns_the_value() {
    let h = thread::spawn(|| (1..=10).sum::<u32>());
    assert_eq!(h.join().unwrap(), 55);
}

#[test]
fn join_returns_the_panic() {
    let h = thread::Builder::new()
        .name("doomed".into())
        .spawn(|| -> u32 { panic!("boom {}", std::hint::black_box(7)) })
        .unwrap();
    let err = h.join().unwrap_err();
    assert_eq!(err.downcast_ref::<String>().map(String::as_str), Some("boom 7"));
    // The worker survived: more threads still run.
    assert_eq!(thread::spawn(|| 5).join().unwrap(), 5);
}

#[test]
fn nested_spawns_several_levels() {
    fn tree(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let a = thread::spawn(move || tree(depth - 1));
        let b = thread::spawn(move || tree(depth - 1));
        a.join().unwrap() + b.join().unwrap()
    }
    assert_eq!(thread::spawn(|| tree(10)).join().unwrap(), 1024);
}

#[test]
fn spawn_from_many_os_threads() {
    let os: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                (0..100).map(|j| thread::spawn(move || i * 1000 + j)).map(|h| h.join().unwrap()).sum::<u64>()
            })
        })
        .collect();
    let total: u64 = os.into_iter().map(|h| h.join().unwrap()).sum();
    let expected: u64 = (0..8u64).map(|i| (0..100u64).map(|j| i * 1000 + j).sum::<u64>()).sum();
    assert_eq!(total, expected);
}

#[test]
fn scoped_threads_mutate_borrowed_data() {
    let mut data = vec![0u64; 64];
    let total = AtomicUsize::new(0);
    thread::scope(|s| {
        for (i, chunk) in data.chunks_mut(8).enumerate() {
            let total = &total;
            s.spawn(move || {
                for (j, x) in chunk.iter_mut().enumerate() {
                    *x = (i * 8 + j) as u64;
                    total.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(data, (0..64).collect::<Vec<u64>>());
    assert_eq!(total.load(Ordering::Relaxed), 64);
}

#[test]
fn scoped_handles_join_and_unjoined_panics_propagate() {
    let x = 21;
    let doubled = thread::scope(|s| s.spawn(|| x * 2).join().unwrap());
    assert_eq!(doubled, 42);
    let r = std::panic::catch_unwind(|| {
        thread::scope(|s| {
            s.spawn(|| panic!("scoped failure"));
        })
    });
    let msg = r.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"a scoped thread panicked"));
}

#[test]
fn scope_inside_a_myriad_thread() {
    let sum = thread::spawn(|| {
        let v: Vec<u32> = (1..=100).collect();
        thread::scope(|s| {
            let (a, b) = v.split_at(50);
            let ha = s.spawn(|| a.iter().sum::<u32>());
            let hb = s.spawn(|| b.iter().sum::<u32>());
            ha.join().unwrap() + hb.join().unwrap()
        })
    })
    .join()
    .unwrap();
    assert_eq!(sum, 5050);
}

#[test]
fn unpark_before_park_is_not_lost() {
    for _ in 0..100 {
        let ready = Arc::new(AtomicBool::new(false));
        let r = ready.clone();
        let h = thread::spawn(move || {
            while !r.load(Ordering::Acquire) {
                std::hint::spin_loop();
                thread::yield_now();
            }
            thread::park(); // the token is already there
        });
        h.thread().unpark();
        ready.store(true, Ordering::Release);
        h.join().unwrap();
    }
}

#[test]
fn many_unparkers_wake_a_parked_thread() {
    for _ in 0..20 {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let parked = thread::spawn(move || {
            while !d.load(Ordering::Acquire) {
                thread::park();
            }
        });
        let t = parked.thread().clone();
        let unparkers: Vec<_> = (0..8)
            .map(|i| {
                let t = t.clone();
                let done = done.clone();
                let f = move || {
                    for _ in 0..50 {
                        t.unpark();
                    }
                    if i == 7 {
                        done.store(true, Ordering::Release);
                        t.unpark();
                    }
                };
                if i % 2 == 0 {
                    thread::spawn(f).join().unwrap();
                } else {
                    std::thread::spawn(f).join().unwrap();
                }
            })
            .collect::<Vec<_>>();
        drop(unparkers);
        parked.join().unwrap();
    }
}

#[test]
fn park_timeout_returns_without_unpark() {
    let start = Instant::now();
    thread::spawn(|| thread::park_timeout(Duration::from_millis(20))).join().unwrap();
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn sleeps_end_in_deadline_order() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = [4u64, 1, 3, 0, 2]
        .into_iter()
        .map(|k| {
            let order = order.clone();
            thread::spawn(move || {
                let start = Instant::now();
                thread::sleep(Duration::from_millis(5 + 25 * k));
                assert!(start.elapsed() >= Duration::from_millis(5 + 25 * k));
                order.lock().unwrap().push(k);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn sleeping_threads_do_not_hold_up_others() {
    // 1,000 threads sleep 100 ms each while another computes; all sleeps
    // overlap, so the whole takes about one sleep, not a thousand.
    let start = Instant::now();
    let sleepers: Vec<_> = (0..1000).map(|_| thread::spawn(|| thread::sleep(Duration::from_millis(100)))).collect();
    let busy = thread::spawn(|| (0..1_000_000u64).sum::<u64>());
    assert_eq!(busy.join().unwrap(), 499_999_500_000);
    for s in sleepers {
        s.join().unwrap();
    }
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[test]
fn names_ids_and_current() {
    let h = thread::Builder::new().name("named".into()).spawn(|| {
        let me = thread::current();
        (me.name().map(str::to_owned), me.id(), me.is_myriad())
    });
    let h = h.unwrap();
    let id = h.thread().id();
    let (name, seen_id, myriad) = h.join().unwrap();
    assert_eq!(name.as_deref(), Some("named"));
    assert_eq!(seen_id, id);
    assert!(myriad);
    assert_eq!(thread::spawn(|| thread::current().name().map(str::to_owned)).join().unwrap(), None);
    assert_ne!(thread::current().id(), id);
    assert_eq!(thread::current().id(), thread::current().id());
}

#[test]
fn is_finished_turns_true() {
    // The thread ends only when told to, so the first look cannot race its
    // end however slow the machine (under valgrind, a 10 ms sleep did).
    let (go, wait) = myriad::sync::mpsc::channel::<()>();
    let h = thread::spawn(move || wait.recv().unwrap());
    assert!(!h.is_finished());
    go.send(()).unwrap();
    while !h.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    h.join().unwrap();
}

myriad::thread_local! {
    static COUNTER: std::cell::Cell<u64> = std::cell::Cell::new(0);
    static LOG: std::cell::RefCell<Vec<u64>> = std::cell::RefCell::new(Vec::new());
}

#[test]
fn myriad_thread_locals_belong_to_each_thread() {
    let handles: Vec<_> = (0..200u64)
        .map(|i| {
            thread::spawn(move || {
                for _ in 0..10 {
                    COUNTER.set(COUNTER.get() + i);
                    LOG.with_borrow_mut(|l| l.push(i));
                    thread::yield_now(); // others on this worker run in between
                }
                (COUNTER.get(), LOG.with_borrow(|l| l.clone()))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (count, log) = h.join().unwrap();
        assert_eq!(count, 10 * i as u64);
        assert_eq!(log, vec![i as u64; 10]);
    }
}

#[test]
fn thread_local_destructors_run_before_join_returns() {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    myriad::thread_local!(static FLAG: std::cell::RefCell<Option<Flag>> = std::cell::RefCell::new(None));
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    thread::spawn(move || FLAG.set(Some(Flag(d)))).join().unwrap();
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn yield_now_lets_others_run() {
    // Two threads pinned to whichever workers; each waits for the other's
    // progress while yielding, which only terminates if yields switch.
    let turn = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..2)
        .map(|me| {
            let turn = turn.clone();
            thread::spawn(move || {
                for round in 0..1000 {
                    while turn.load(Ordering::Acquire) != round * 2 + me {
                        thread::yield_now();
                    }
                    turn.fetch_add(1, Ordering::AcqRel);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(turn.load(Ordering::Relaxed), 2000);
}

#[test]
fn deep_recursion_fits_the_default_stack() {
    fn depth(n: u32) -> u32 {
        let pad = [n as u8; 512];
        if n == 0 {
            pad[0] as u32
        } else {
            depth(n - 1) + std::hint::black_box(pad)[1] as u32 / 1000
        }
    }
    // ~1.7 KB a frame in a debug build: 100 frames fit in 256 KiB.
    assert_eq!(thread::spawn(|| depth(100)).join().unwrap(), 0);
    // The default stack is sized for ordinary code: serde_json on input
    // nested to its recursion limit.
    let nested = "[".repeat(127) + &"]".repeat(127);
    let parsed = thread::spawn(move || serde_json::from_str::<serde_json::Value>(&nested).is_ok());
    assert!(parsed.join().unwrap());
    // A bigger stack on request.
    let big = thread::Builder::new().stack_size(8 << 20).spawn(|| depth(5000)).unwrap();
    assert_eq!(big.join().unwrap(), 0);
}

#[test]
fn yielding_threads_do_not_starve_a_new_thread_on_their_worker() {
    // On one worker's view: threads that only yield must let a thread
    // spawned meanwhile start (the whole test runs in one myriad thread so
    // that everything is placed on its worker).
    let started = thread::spawn(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        thread::yield_now();
                    }
                })
            })
            .collect();
        thread::yield_now();
        let newcomer = thread::spawn(|| 7);
        let value = newcomer.join().unwrap();
        stop.store(true, Ordering::Release);
        for s in spinners {
            s.join().unwrap();
        }
        value
    });
    assert_eq!(started.join().unwrap(), 7);
}

#[test]
fn a_scoped_spawn_that_fails_returns_the_error_and_the_scope_still_ends() {
    // Run in an OS thread so that a scope left waiting fails the test
    // instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let err = thread::scope(|s| thread::Builder::new().stack_size(usize::MAX).spawn_scoped(s, || ()).err());
        tx.send(err.map(|e| e.kind())).unwrap();
    });
    let kind = rx.recv_timeout(Duration::from_secs(10)).expect("the scope never ended");
    assert_eq!(kind, Some(std::io::ErrorKind::InvalidInput));
}

#[test]
fn a_detached_threads_result_is_dropped_by_that_thread() {
    // A result whose handle is gone is dropped where std drops it: by the
    // thread itself as it ends (so a blocking Drop blocks only that thread).
    /// Who dropped the result: whether a myriad thread, and which.
    type DroppedBy = Arc<Mutex<Option<(bool, thread::ThreadId)>>>;
    struct Tell(DroppedBy);
    impl Drop for Tell {
        fn drop(&mut self) {
            let me = thread::current();
            *self.0.lock().unwrap() = Some((me.is_myriad(), me.id()));
        }
    }
    let seen: DroppedBy = Arc::new(Mutex::new(None));
    let go = Arc::new(AtomicBool::new(false));
    let (s, g) = (seen.clone(), go.clone());
    let handle = thread::spawn(move || {
        while !g.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(1));
        }
        Tell(s)
    });
    let id = handle.thread().id();
    drop(handle);
    go.store(true, Ordering::Release);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((on_myriad, by)) = *seen.lock().unwrap() {
            assert!(on_myriad, "the result was dropped outside any myriad thread");
            assert_eq!(by, id, "the result was dropped by another thread");
            break;
        }
        assert!(Instant::now() < deadline, "the result was never dropped");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `join_timeout` on both kinds of thread: the handle comes back while the
/// thread runs, and joins later with the result; a finished or panicked
/// thread answers at once.
fn join_timeout_cases() {
    let gate = Arc::new(AtomicBool::new(false));
    let g = gate.clone();
    let handle = thread::spawn(move || {
        while !g.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(1));
        }
        7
    });
    let start = Instant::now();
    let handle = handle.join_timeout(Duration::from_millis(20)).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(20));
    let handle = handle.join_deadline(Instant::now()).unwrap_err();
    gate.store(true, Ordering::Release);
    assert_eq!(handle.join_timeout(Duration::from_secs(30)).unwrap().unwrap(), 7);
    let panicked = thread::spawn(|| panic!("boom"));
    let result = panicked.join_timeout(Duration::from_secs(30)).unwrap();
    assert!(result.is_err());
    // Scoped handles too.
    let value = 5;
    thread::scope(|s| {
        let h = s.spawn(|| value * 2);
        assert_eq!(h.join_timeout(Duration::from_secs(30)).unwrap().unwrap(), 10);
    });
}

#[test]
fn join_timeout_from_an_os_thread() {
    join_timeout_cases();
}

#[test]
fn join_timeout_from_a_myriad_thread() {
    thread::spawn(join_timeout_cases).join().unwrap();
}

/// Time-outs racing the thread's end: whichever wins, the result is
/// there exactly once and nothing is left registered. (Scaled down by
/// `MYRIAD_TEST_SCALE` under valgrind, where every 50 µs time-out is due
/// at once and 500 pollers take minutes.)
#[test]
fn join_timeouts_racing_the_end_lose_nothing() {
    let scale: f64 = std::env::var("MYRIAD_TEST_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let n = ((500.0 * scale) as u64).max(5);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            thread::spawn(move || {
                let mut handle = thread::spawn(move || {
                    thread::sleep(Duration::from_micros(i % 200));
                    i
                });
                loop {
                    match handle.join_timeout(Duration::from_micros(50)) {
                        Ok(result) => return result.unwrap(),
                        Err(back) => handle = back,
                    }
                }
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i as u64);
    }
}

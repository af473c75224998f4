//! myriad::sync's locks and friends between myriad threads, between OS
//! threads, and mixed: mutual exclusion, poisoning, condvars with loops that
//! tolerate spurious wake-ups, timeouts (lower bounds only), barriers,
//! one-time initialization, semaphores and wait groups.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use myriad::sync::{
    Arc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock, Semaphore, TryLockError, WaitGroup,
};
use myriad::thread;

/// Which kind of thread the i-th worker of a test runs on.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Myriad,
    Os,
    Mixed,
}

const KINDS: [Kind; 3] = [Kind::Myriad, Kind::Os, Kind::Mixed];

enum Handle<T> {
    Myriad(thread::JoinHandle<T>),
    Os(std::thread::JoinHandle<T>),
}

impl<T> Handle<T> {
    fn join(self) -> std::thread::Result<T> {
        match self {
            Handle::Myriad(h) => h.join(),
            Handle::Os(h) => h.join(),
        }
    }
}

fn spawn<T: Send + 'static>(kind: Kind, i: usize, f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
    let myriad = match kind {
        Kind::Myriad => true,
        Kind::Os => false,
        Kind::Mixed => i.is_multiple_of(2),
    };
    if myriad {
        Handle::Myriad(thread::spawn(f))
    } else {
        Handle::Os(std::thread::spawn(f))
    }
}

#[test]
fn ten_thousand_myriad_threads_on_one_mutex() {
    let counter = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..10_000)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || {
                for _ in 0..10 {
                    let mut g = counter.lock().unwrap();
                    let v = *g;
                    // Give up the worker while holding the lock, so others
                    // really contend.
                    thread::yield_now();
                    *g = v + 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*counter.lock().unwrap(), 100_000);
}

#[test]
fn mutex_counter_exact_for_every_kind() {
    for kind in KINDS {
        let counter = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let counter = counter.clone();
                spawn(kind, i, move || {
                    for _ in 0..2_000 {
                        *counter.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), 16_000, "{kind:?}");
    }
}

#[test]
fn try_lock_into_inner_get_mut() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().unwrap().push(2);
    {
        let _g = m.lock().unwrap();
        assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    }
    assert_eq!(*m.try_lock().unwrap(), [1, 2]);
    assert_eq!(m.into_inner().unwrap(), [1, 2]);
}

#[test]
fn mutex_poisoning() {
    for kind in KINDS {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let r = spawn(kind, 0, move || {
            let _g = m2.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(r.is_err());
        assert!(m.is_poisoned());
        let err = m.lock().unwrap_err();
        assert_eq!(**err.get_ref(), 1);
        drop(err);
        assert!(matches!(m.try_lock(), Err(TryLockError::Poisoned(_))));
        m.clear_poison();
        assert_eq!(*m.lock().unwrap(), 1);
        let m = Arc::try_unwrap(m).unwrap();
        assert_eq!(m.into_inner().unwrap(), 1);
    }
}

#[test]
fn rwlock_readers_share_writers_exclude() {
    for kind in KINDS {
        let lock = Arc::new(RwLock::new((0u64, 0u64)));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let lock = lock.clone();
                spawn(kind, i, move || {
                    for n in 0..1_000 {
                        if (n + i) % 4 == 0 {
                            let mut w = lock.write().unwrap();
                            w.0 += 1;
                            w.1 += 1;
                        } else {
                            let r = lock.read().unwrap();
                            assert_eq!(r.0, r.1, "a reader saw a half-done write");
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(lock.read().unwrap().0, 2_000, "{kind:?}");
    }
}

#[test]
fn rwlock_writer_is_not_starved_by_readers() {
    // Readers keep the lock read-held at all times (overlapping); a writer
    // must still get in, because waiting writers stop new readers. A barrier
    // makes sure every thread has started before the contention begins.
    let lock = Arc::new(RwLock::new(0u32));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Arc::new(Barrier::new(5));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (lock, stop, start) = (lock.clone(), stop.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let _r = lock.read().unwrap();
                    thread::yield_now();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let l = lock.clone();
    let writer = thread::spawn(move || {
        start.wait();
        for _ in 0..100 {
            *l.write().unwrap() += 1;
            thread::yield_now();
        }
    });
    writer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(*lock.read().unwrap(), 100);
}

#[test]
fn rwlock_poisoned_by_writer_only() {
    let lock = Arc::new(RwLock::new(0));
    let l = lock.clone();
    let _ = thread::spawn(move || {
        let _r = l.read().unwrap();
        panic!("reader panics");
    })
    .join();
    assert!(!lock.is_poisoned());
    let l = lock.clone();
    let _ = thread::spawn(move || {
        let _w = l.write().unwrap();
        panic!("writer panics");
    })
    .join();
    assert!(lock.is_poisoned());
    assert!(lock.read().is_err());
    assert!(matches!(lock.try_write(), Err(TryLockError::Poisoned(_))));
}

#[test]
fn condvar_producer_consumer_with_loops() {
    for kind in KINDS {
        let state = Arc::new((Mutex::new(Vec::<u32>::new()), Condvar::new()));
        let consumers: Vec<_> = (0..4)
            .map(|i| {
                let state = state.clone();
                spawn(kind, i, move || {
                    let (lock, cvar) = &*state;
                    let mut sum = 0u64;
                    loop {
                        let mut q = lock.lock().unwrap();
                        // Spurious-wake-up-safe: re-check after every wait.
                        while q.is_empty() {
                            q = cvar.wait(q).unwrap();
                        }
                        let v = q.remove(0);
                        drop(q);
                        if v == u32::MAX {
                            return sum;
                        }
                        sum += u64::from(v);
                    }
                })
            })
            .collect();
        let producer = {
            let state = state.clone();
            spawn(kind, 1, move || {
                let (lock, cvar) = &*state;
                for v in 1..=1_000u32 {
                    lock.lock().unwrap().push(v);
                    cvar.notify_one();
                }
                for _ in 0..4 {
                    lock.lock().unwrap().push(u32::MAX);
                    cvar.notify_all();
                }
            })
        };
        producer.join().unwrap();
        let total: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 500_500, "{kind:?}");
    }
}

#[test]
fn condvar_wait_while_and_timeouts() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let start = Instant::now();
    let (g, r) = pair.1.wait_timeout(pair.0.lock().unwrap(), Duration::from_millis(20)).unwrap();
    assert!(r.timed_out() && start.elapsed() >= Duration::from_millis(20));
    drop(g);

    let start = Instant::now();
    let (g, r) = pair.1.wait_timeout_while(pair.0.lock().unwrap(), Duration::from_millis(20), |ready| !*ready).unwrap();
    assert!(r.timed_out() && !*g && start.elapsed() >= Duration::from_millis(20));
    drop(g);

    // From inside a myriad thread too.
    let p = pair.clone();
    thread::spawn(move || {
        let start = Instant::now();
        let (_g, r) = p.1.wait_timeout(p.0.lock().unwrap(), Duration::from_millis(10)).unwrap();
        assert!(r.timed_out() && start.elapsed() >= Duration::from_millis(10));
    })
    .join()
    .unwrap();

    let p = pair.clone();
    let setter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        *p.0.lock().unwrap() = true;
        p.1.notify_all();
    });
    let g = pair.1.wait_while(pair.0.lock().unwrap(), |ready| !*ready).unwrap();
    assert!(*g);
    drop(g);
    setter.join().unwrap();
    let (g, r) = pair.1.wait_timeout_while(pair.0.lock().unwrap(), Duration::from_secs(60), |ready| !*ready).unwrap();
    assert!(!r.timed_out() && *g);
}

#[test]
fn condvar_wait_reports_poison() {
    let pair = Arc::new((Mutex::new(0), Condvar::new()));
    let p = pair.clone();
    let _ = thread::spawn(move || {
        let _g = p.0.lock().unwrap();
        panic!("poison");
    })
    .join();
    let g = pair.0.lock().unwrap_err().into_inner();
    let r = pair.1.wait_timeout(g, Duration::from_millis(1));
    assert!(r.is_err());
}

#[test]
fn barrier_rounds_have_one_leader_each() {
    for kind in KINDS {
        let n = 6;
        let barrier = Arc::new(Barrier::new(n));
        let leaders = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, leaders) = (barrier.clone(), leaders.clone());
                spawn(kind, i, move || {
                    for _ in 0..50 {
                        if barrier.wait().is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(leaders.load(Ordering::SeqCst), 50, "{kind:?}");
    }
}

#[test]
fn once_runs_once_and_waiters_wait() {
    for kind in KINDS {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (once, runs) = (once.clone(), runs.clone());
                spawn(kind, i, move || {
                    once.call_once(|| {
                        thread::sleep(Duration::from_millis(5));
                        runs.fetch_add(1, Ordering::SeqCst);
                    });
                    // Everyone returns only after the closure finished.
                    assert_eq!(runs.load(Ordering::SeqCst), 1);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(once.is_completed());
    }
}

#[test]
fn once_poisoning() {
    let once = Once::new();
    let r = catch_unwind(AssertUnwindSafe(|| once.call_once(|| panic!("init fails"))));
    assert!(r.is_err());
    assert!(!once.is_completed());
    let r = catch_unwind(AssertUnwindSafe(|| once.call_once(|| {})));
    assert!(r.is_err(), "call_once on a poisoned Once panics");
    once.call_once_force(|state| assert!(state.is_poisoned()));
    assert!(once.is_completed());
}

#[test]
fn once_lock_and_lazy_lock() {
    static LAZY: LazyLock<u64> = LazyLock::new(|| {
        thread::sleep(Duration::from_millis(2));
        (1..=100).sum()
    });
    let cell = Arc::new(OnceLock::new());
    let inits = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (cell, inits) = (cell.clone(), inits.clone());
            spawn(Kind::Mixed, i, move || {
                let v = *cell.get_or_init(|| {
                    inits.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(2));
                    i
                });
                assert_eq!(*LAZY, 5050);
                v
            })
        })
        .collect();
    let values: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(values.iter().all(|&v| v == values[0]));
    assert_eq!(inits.load(Ordering::SeqCst), 1);

    // A panicking initializer leaves the cell empty; the next one runs.
    let cell = OnceLock::new();
    let r = catch_unwind(AssertUnwindSafe(|| cell.get_or_init(|| -> u8 { panic!("no") })));
    assert!(r.is_err());
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| 3), 3);
    assert_eq!(cell.set(4), Err(4));

    // `wait` parks until another thread sets the value.
    let cell = Arc::new(OnceLock::new());
    let c = cell.clone();
    let waiter = thread::spawn(move || *c.wait());
    thread::sleep(Duration::from_millis(2));
    cell.set(11u8).unwrap();
    assert_eq!(waiter.join().unwrap(), 11);

    // A LazyLock whose initializer panicked panics from then on.
    let lazy = LazyLock::new(|| -> u8 { panic!("bad init") });
    assert!(catch_unwind(AssertUnwindSafe(|| *lazy)).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| *lazy)).is_err());
}

#[test]
fn semaphore_bounds_concurrency() {
    for kind in KINDS {
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                spawn(kind, i, move || {
                    for _ in 0..100 {
                        let _p = sem.acquire();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(max.load(Ordering::SeqCst) <= 3, "{kind:?}");
        assert_eq!(sem.available_permits(), 3);
    }
    let sem = Semaphore::new(0);
    let start = Instant::now();
    assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    assert!(start.elapsed() >= Duration::from_millis(10));
    sem.add_permits(1);
    sem.acquire().forget();
    assert_eq!(sem.available_permits(), 0);
}

#[test]
fn wait_group_waits_for_all() {
    for kind in KINDS {
        let wg = WaitGroup::new();
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..20 {
            let (wg, done) = (wg.clone(), done.clone());
            drop(spawn(kind, i, move || {
                thread::sleep(Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst);
                drop(wg);
            }));
        }
        wg.wait();
        assert_eq!(done.load(Ordering::SeqCst), 20, "{kind:?}");
    }
}

#[test]
fn mutex_handoff_between_myriad_and_os_threads() {
    // A myriad thread holds the lock while an OS thread blocks on it, and
    // the other way round.
    let m = Arc::new(Mutex::new(0));
    let g = m.lock().unwrap();
    let m2 = m.clone();
    let os = std::thread::spawn(move || *m2.lock().unwrap() += 1);
    let m3 = m.clone();
    let my = thread::spawn(move || *m3.lock().unwrap() += 1);
    thread::sleep(Duration::from_millis(5));
    drop(g);
    os.join().unwrap();
    my.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 2);
}

#[test]
fn timeouts_racing_wakeups_lose_nothing() {
    // Timed waits that expire while being woken: permits are neither lost
    // nor duplicated, and every thread finishes.
    let sem = Arc::new(Semaphore::new(2));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let sem = sem.clone();
            spawn(Kind::Mixed, i, move || {
                let mut got = 0;
                for n in 0..300 {
                    if let Some(p) = sem.acquire_timeout(Duration::from_micros(n % 50)) {
                        got += 1;
                        if n % 3 == 0 {
                            thread::yield_now();
                        }
                        drop(p);
                    }
                }
                got
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 2);

    // Condvar timed waits racing notifications; the counter stays exact.
    let state = Arc::new((Mutex::new(0u64), Condvar::new()));
    let waiters: Vec<_> = (0..8)
        .map(|i| {
            let state = state.clone();
            spawn(Kind::Mixed, i, move || {
                let (m, cv) = &*state;
                let mut g = m.lock().unwrap();
                while *g < 2_000 {
                    g = cv.wait_timeout(g, Duration::from_micros(20)).unwrap().0;
                    *g += 1;
                    cv.notify_one();
                }
            })
        })
        .collect();
    for h in waiters {
        h.join().unwrap();
    }
    assert!(*state.0.lock().unwrap() >= 2_000);
}

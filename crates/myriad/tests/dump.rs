//! Thread dumps name what every thread waits for.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::rt::{dump, ThreadState, WaitReason};
use myriad::sync::{mpsc, Condvar, Mutex};
use myriad::thread;

/// Waits until the dump shows thread `name` waiting; returns its reason.
fn reason_of(name: &str) -> WaitReason {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = dump();
        if let Some(t) = d.threads.iter().find(|t| t.name.as_deref() == Some(name)) {
            if let ThreadState::Waiting(reason) = &t.state {
                return reason.clone();
            }
        }
        assert!(Instant::now() < deadline, "{name} never showed up waiting:\n{d}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn named(name: &str, f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::Builder::new().name(name.into()).spawn(f).unwrap()
}

#[test]
fn a_dump_lists_what_each_thread_waits_for() {
    let stop = Arc::new(AtomicBool::new(false));
    let lock = Arc::new(Mutex::new(()));
    let held = lock.lock().unwrap();
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (tx, rx) = mpsc::channel::<u32>();
    let (sock_a, _sock_b) = std::os::unix::net::UnixStream::pair().unwrap();
    let sock = myriad::net::unix::UnixStream::from(sock_a);

    // Everything below waits until the end of the test, however slowly a
    // loaded machine gets through the checks.
    let s = stop.clone();
    let sleeper = named("sleeper", move || {
        while !s.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(20));
        }
    });
    let s = stop.clone();
    let parker = named("parker", move || {
        while !s.load(Ordering::Acquire) {
            thread::park();
        }
    });
    let l = lock.clone();
    let locker = named("locker", move || drop(l.lock().unwrap()));
    let p = pair.clone();
    let waiter = named("waiter", move || {
        let mut ready = p.0.lock().unwrap();
        while !*ready {
            ready = p.1.wait(ready).unwrap();
        }
    });
    let receiver = named("receiver", move || {
        let _ = rx.recv();
    });
    let reader = named("reader", move || {
        let mut buf = [0u8; 8];
        let _ = (&sock).read(&mut buf);
    });
    let (release_blocker, blocked) = std::sync::mpsc::channel::<()>();
    let blocker = named("blocker", move || {
        let _ = myriad::blocking(move || blocked.recv());
    });
    let joiner = named("joiner", move || sleeper.join().unwrap());

    assert_eq!(reason_of("parker"), WaitReason::Park);
    assert!(matches!(reason_of("locker"), WaitReason::Lock { kind: "Mutex", .. }));
    assert!(matches!(reason_of("waiter"), WaitReason::Lock { kind: "Condvar", .. }));
    assert!(matches!(reason_of("receiver"), WaitReason::Channel { op: "recv", .. }));
    assert!(matches!(reason_of("reader"), WaitReason::Socket { op: "read", .. }));
    assert_eq!(reason_of("blocker"), WaitReason::Blocking);
    assert!(matches!(reason_of("joiner"), WaitReason::Join(_)));

    let d = dump();
    let text = d.to_string();
    assert!(text.contains("waiting on park"), "{text}");
    assert!(text.contains("waiting on Mutex"), "{text}");
    assert!(text.contains("spawned at"), "{text}");
    let locker_info = d.threads.iter().find(|t| t.name.as_deref() == Some("locker")).unwrap();
    assert!(locker_info.spawned_at.file().ends_with("dump.rs"));
    assert!(locker_info.waiting_for.is_some());

    stop.store(true, Ordering::Release);
    parker.thread().unpark();
    drop(held);
    *pair.0.lock().unwrap() = true;
    pair.1.notify_all();
    tx.send(1).unwrap();
    drop(_sock_b);
    release_blocker.send(()).unwrap();
    for h in [parker, locker, waiter, receiver, reader, blocker, joiner] {
        h.join().unwrap();
    }
}

#[test]
fn a_sleeping_thread_shows_as_sleeping_from_a_myriad_thread_too() {
    let napper = named("napper", || thread::sleep(Duration::from_millis(500)));
    let seen = thread::spawn(|| reason_of("napper")).join().unwrap();
    assert_eq!(seen, WaitReason::Sleep);
    napper.join().unwrap();
}

#[test]
fn a_signal_prints_a_dump_without_stopping_the_program() {
    if std::env::var("MYRIAD_TEST_CHILD").is_ok() {
        let napper = named("signalled-napper", || thread::sleep(Duration::from_millis(1500)));
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY (test): raising a signal whose handler the runtime set.
        unsafe { libc::raise(libc::SIGUSR1) };
        napper.join().unwrap();
        println!("CHILD-DONE");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["a_signal_prints_a_dump_without_stopping_the_program", "--exact", "--nocapture"])
        .env("MYRIAD_TEST_CHILD", "1")
        .env("MYRIAD_DUMP_SIGNAL", "USR1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CHILD-DONE"));
    assert!(stderr.contains("myriad thread dump"), "{stderr}");
    assert!(stderr.contains("'signalled-napper'") && stderr.contains("waiting on sleep"), "{stderr}");
}

#[test]
fn metrics_add_up_across_workers() {
    let before = myriad::rt::metrics();
    let gate = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let gate = gate.clone();
            thread::spawn(move || {
                while !gate.load(Ordering::Acquire) {
                    thread::park();
                }
            })
        })
        .collect();
    // The workers publish what they hold at their next look around.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = myriad::rt::metrics();
        if m.threads_parked() >= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never saw 200 parked threads: {m:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    gate.store(true, Ordering::Release);
    for h in &handles {
        h.thread().unpark();
    }
    for h in handles {
        h.join().unwrap();
    }
    let after = myriad::rt::metrics();
    assert!(after.threads_spawned() >= before.threads_spawned() + 200);
    let started: u64 = after.workers.iter().map(|w| w.started).sum();
    let finished: u64 = after.workers.iter().map(|w| w.finished).sum();
    assert!(started >= finished);
    assert!(after.threads_spawned() >= started);
    assert!(after.context_switches() > before.context_switches());
}

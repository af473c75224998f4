//! Deadlock detection, each scenario in a child process whose *main* thread
//! blocks (this test has no libtest harness, so `main` is the real main
//! thread): every-thread deadlocks are reported with the threads involved;
//! a live timer or an open listening socket is not a deadlock; a wait the
//! detector panics leaves nothing behind (issue 13, defect 2).

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use myriad::sync::{mpsc, Barrier, Condvar, Mutex, TryLockError};
use myriad::thread;

/// Starts two threads that lock two mutexes in opposite orders.
fn lock_cycle() -> (thread::JoinHandle<()>, thread::JoinHandle<()>) {
    let a = Arc::new(Mutex::new(0));
    let b = Arc::new(Mutex::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let (a2, b2, barrier2) = (a.clone(), b.clone(), barrier.clone());
    let first = thread::Builder::new()
        .name("takes-a-then-b".into())
        .spawn(move || {
            let _a = a.lock().unwrap();
            barrier.wait();
            let _b = b.lock().unwrap();
        })
        .unwrap();
    let second = thread::Builder::new()
        .name("takes-b-then-a".into())
        .spawn(move || {
            let _b = b2.lock().unwrap();
            barrier2.wait();
            let _a = a2.lock().unwrap();
        })
        .unwrap();
    (first, second)
}

fn scenario(name: &str) {
    match name {
        // Three threads wait on a channel whose only sender main keeps
        // while joining them.
        "channel" => {
            let (tx, rx) = myriad::sync::channel::unbounded::<u32>();
            let handles: Vec<_> = (0..3)
                .map(|i| {
                    let rx = rx.clone();
                    thread::Builder::new().name(format!("consumer-{i}")).spawn(move || rx.recv().ok()).unwrap()
                })
                .collect();
            for h in handles {
                let _ = h.join();
            }
            drop(tx);
        }
        // Two threads take two locks in opposite orders while main goes on
        // with other work: a partial deadlock.
        "partial" => {
            let (first, second) = lock_cycle();
            std::thread::sleep(Duration::from_secs(4));
            assert!(!first.is_finished() && !second.is_finished());
            println!("main carried on");
        }
        // Two threads take two locks in opposite orders.
        "locks" => {
            let (first, second) = lock_cycle();
            let _ = first.join();
            let _ = second.join();
        }
        // Not deadlocks: a thread sleeping, and a thread accepting on an
        // open listener that an outside OS thread connects to later.
        "timer" => {
            thread::spawn(|| thread::sleep(Duration::from_millis(2500))).join().unwrap();
        }
        "listener" => {
            let listener = myriad::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2500));
                let _ = std::net::TcpStream::connect(addr);
                tx.send(()).unwrap();
            });
            thread::spawn(move || listener.accept().map(drop)).join().unwrap().unwrap();
            rx.recv().unwrap();
        }
        // The detector panics main out of a lock wait while a plain OS
        // thread holds the lock; then main reuses the stack the wait's
        // queue entry pointed into, and the holder unlocks.
        "abandoned_lock" => {
            static M: Mutex<u32> = Mutex::new(0);
            thread::spawn(|| ()).join().unwrap();
            let (held_tx, held_rx) = std::sync::mpsc::channel();
            let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
            let holder = std::thread::spawn(move || {
                let guard = M.lock().unwrap();
                held_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                drop(guard);
            });
            held_rx.recv().unwrap();
            let caught = std::panic::catch_unwind(|| drop(M.lock()));
            assert!(caught.is_err(), "the detector did not panic the lock wait");
            let changed = scribble_while(|| {
                release_tx.send(()).unwrap();
                holder.join().unwrap();
            });
            assert_eq!(changed, 0, "the unlock wrote into a dead frame");
            drop(M.lock().unwrap());
            println!("stack intact");
        }
        // The detector panics main out of a condvar wait while a plain OS
        // thread holds the mutex: the wait must take the mutex back before
        // its guard unwinds, or the guard unlocks it under its holder.
        "abandoned_condvar" => {
            static M: Mutex<()> = Mutex::new(());
            static CV: Condvar = Condvar::new();
            static INSIDE: AtomicBool = AtomicBool::new(false);
            thread::spawn(|| ()).join().unwrap();
            let guard = M.lock().unwrap();
            let holder = std::thread::spawn(|| {
                // Taken once main waits on the condvar.
                let guard = M.lock().unwrap_or_else(|e| e.into_inner());
                INSIDE.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(3));
                INSIDE.store(false, Ordering::SeqCst);
                drop(guard);
            });
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(CV.wait(guard))));
            assert!(caught.is_err(), "the detector did not panic the condvar wait");
            // (A poisoned lock is taken too: only `WouldBlock` is not.)
            let taken = !matches!(M.try_lock(), Err(TryLockError::WouldBlock));
            let stolen = taken && INSIDE.load(Ordering::SeqCst);
            assert!(!stolen, "main took the mutex while the holder was inside");
            holder.join().unwrap();
            println!("mutual exclusion kept");
        }
        // The detector panics main out of a channel receive; a message
        // sent afterwards must stay in the channel for the receiver that
        // is still there, not go to the abandoned wait.
        "abandoned_recv" => {
            thread::spawn(|| ()).join().unwrap();
            let (tx, rx) = myriad::sync::channel::unbounded::<u32>();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let sender = std::thread::spawn(move || {
                go_rx.recv().unwrap();
                tx.send(42).unwrap();
            });
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.recv()));
            assert!(caught.is_err(), "the detector did not panic the receive");
            go_tx.send(()).unwrap();
            sender.join().unwrap();
            assert_eq!(rx.try_recv().ok(), Some(42), "the message went to the abandoned wait");
            println!("message kept");
        }
        // The detector panics main out of a rendezvous send: its message
        // comes back and is dropped with the unwound frame, and a receive
        // afterwards neither finds it nor touches that frame.
        "abandoned_send" => {
            thread::spawn(|| ()).join().unwrap();
            let (tx, rx) = myriad::sync::channel::bounded::<u32>(0);
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let receiver = std::thread::spawn(move || {
                go_rx.recv().unwrap();
                rx.recv_timeout(Duration::from_millis(100)).ok()
            });
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.send(42)));
            assert!(caught.is_err(), "the detector did not panic the send");
            let mut received = None;
            let changed = scribble_with(0xFF, || {
                go_tx.send(()).unwrap();
                received = receiver.join().unwrap();
            });
            assert_eq!(changed, 0, "the receive wrote into the abandoned send's frame");
            assert_eq!(received, None, "the abandoned send's message was received");
            println!("frame intact");
        }
        // The same for a select of two receives: neither channel may keep
        // an entry pointing into the unwound frame.
        "abandoned_select" => {
            thread::spawn(|| ()).join().unwrap();
            let (tx_a, rx_a) = myriad::sync::channel::unbounded::<u32>();
            let (tx_b, rx_b) = myriad::sync::channel::bounded::<u32>(0);
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let sender = std::thread::spawn(move || {
                go_rx.recv().unwrap();
                tx_a.send(1).unwrap();
                tx_b.send_timeout(2, Duration::from_millis(100)).is_ok()
            });
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                myriad::select! {
                    recv(rx_a) -> v => v.ok(),
                    recv(rx_b) -> v => v.ok(),
                }
            }));
            assert!(caught.is_err(), "the detector did not panic the select");
            let mut b_sent = true;
            let changed = scribble_with(0xFF, || {
                go_tx.send(()).unwrap();
                b_sent = sender.join().unwrap();
            });
            assert_eq!(changed, 0, "a send wrote into the abandoned select's frame");
            assert!(!b_sent, "a rendezvous send completed with no receiver");
            assert_eq!(rx_a.try_recv().ok(), Some(1), "the message went to the abandoned select");
            println!("frame intact");
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Fills 128 KiB of stack below the caller with a pattern, runs `f`, and
/// returns how many bytes of the pattern changed meanwhile.
fn scribble_while(f: impl FnOnce()) -> usize {
    scribble_with(0xA5, f)
}

/// `scribble_while` with all-ones bytes: read as a channel waiter's
/// outcome word they say "still waiting", so a peer that found a stale
/// entry would claim it (writing into the frame, or crashing) rather than
/// skip it.
#[inline(never)]
fn scribble_with(pattern: u8, f: impl FnOnce()) -> usize {
    let mut buf = [pattern; 128 * 1024];
    std::hint::black_box(&mut buf);
    f();
    std::hint::black_box(&buf).iter().filter(|&&b| b != pattern).count()
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
}

fn run(name: &str, action: &str) -> Outcome {
    let out = Command::new(std::env::current_exe().unwrap()).arg(name).env("MYRIAD_DEADLOCK", action).output().unwrap();
    Outcome { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn main() {
    if let Some(name) = std::env::args().nth(1).filter(|a| !a.starts_with('-')) {
        scenario(&name);
        return;
    }
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut check = |what: &str, ok: bool, detail: &dyn Fn() -> String| {
        if ok {
            passed += 1;
            println!("test {what} ... ok");
        } else {
            println!("test {what} ... FAILED");
            failures.push(format!("{what}:\n{}", detail()));
        }
    };

    let channel = run("channel", "panic");
    check(
        "a channel deadlock is reported with its threads and panics main",
        channel.code == Some(101)
            && channel.stderr.contains("all threads are asleep — deadlock")
            && (0..3).all(|i| channel.stderr.contains(&format!("'consumer-{i}'")))
            && channel.stderr.contains("channel recv"),
        &|| channel.stderr.clone(),
    );
    let locks = run("locks", "panic");
    check(
        "a lock-order deadlock is reported with both threads",
        locks.code == Some(101)
            && locks.stderr.contains("all threads are asleep — deadlock")
            && locks.stderr.contains("'takes-a-then-b'")
            && locks.stderr.contains("'takes-b-then-a'")
            && locks.stderr.contains("Mutex"),
        &|| locks.stderr.clone(),
    );
    let partial = run("partial", "panic");
    check(
        "a lock cycle is reported while the rest of the program goes on",
        partial.code == Some(0)
            && partial.stderr.contains("deadlock between 2 threads waiting on each other's locks")
            && partial.stderr.contains("'takes-a-then-b'")
            && partial.stderr.contains("'takes-b-then-a'")
            && partial.stderr.contains("held by thread"),
        &|| partial.stderr.clone(),
    );
    let abandoned = run("abandoned_lock", "panic");
    check(
        "a lock wait the detector panics leaves no queue entry in the unwound frame",
        abandoned.code == Some(0) && abandoned.stderr.contains("all threads are asleep — deadlock"),
        &|| abandoned.stderr.clone(),
    );
    let condvar = run("abandoned_condvar", "panic");
    check(
        "a condvar wait the detector panics takes the mutex back before its guard unwinds",
        condvar.code == Some(0) && condvar.stderr.contains("all threads are asleep — deadlock"),
        &|| condvar.stderr.clone(),
    );
    let recv = run("abandoned_recv", "panic");
    check(
        "a message sent after the detector panicked a receive stays in the channel",
        recv.code == Some(0) && recv.stderr.contains("all threads are asleep — deadlock"),
        &|| recv.stderr.clone(),
    );
    for scenario in ["abandoned_send", "abandoned_select"] {
        let outcome = run(scenario, "panic");
        check(
            &format!("a channel wait the detector panics leaves no entry in the unwound frame ({scenario})"),
            outcome.code == Some(0) && outcome.stderr.contains("all threads are asleep — deadlock"),
            &|| outcome.stderr.clone(),
        );
    }
    for live in ["timer", "listener"] {
        let outcome = run(live, "panic");
        check(
            &format!("a program with a live {live} is not reported"),
            outcome.code == Some(0) && !outcome.stderr.contains("deadlock"),
            &|| outcome.stderr.clone(),
        );
    }
    println!("\ndeadlock: {passed} passed, {} failed", failures.len());
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{f}\n");
        }
        std::process::exit(1);
    }
}

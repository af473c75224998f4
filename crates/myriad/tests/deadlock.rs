//! Deadlock detection, each scenario in a child process whose *main* thread
//! blocks (this test has no libtest harness, so `main` is the real main
//! thread): every-thread deadlocks are reported with the threads involved;
//! a live timer or an open listening socket is not a deadlock.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use myriad::sync::{mpsc, Barrier, Mutex};
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
        other => panic!("unknown scenario {other}"),
    }
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

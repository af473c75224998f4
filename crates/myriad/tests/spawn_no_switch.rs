//! `spawn` is not a switch point: a myriad thread that spawns while it
//! holds a `std::sync::Mutex` guard — as code written for std does, e.g.
//! `handles.lock().unwrap().push(spawn(..))` — must not give its worker to
//! another thread that then blocks that worker on the same guard for ever.
//!
//! The scenario runs in a child process with one worker, so that a
//! deadlock ends in a kill after a bound rather than a hung test.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD: &str = "MYRIAD_SPAWN_NO_SWITCH_CHILD";

/// The child: a thread takes the lock in a loop, yielding between turns,
/// while another spawns 1,000 threads (far past the cooperative budget of
/// 128 operations) under one guard of the same lock.
fn spawn_under_a_std_guard() {
    let handles: Arc<Mutex<Vec<myriad::thread::JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let contender = {
        let (handles, done) = (handles.clone(), done.clone());
        myriad::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                drop(handles.lock().unwrap());
                myriad::thread::yield_now();
            }
        })
    };
    // Let the contender start its loop on the one worker first.
    std::thread::sleep(Duration::from_millis(20));
    let spawner = {
        let handles = handles.clone();
        myriad::thread::spawn(move || {
            let mut guard = handles.lock().unwrap();
            for _ in 0..1000 {
                guard.push(myriad::thread::spawn(|| {}));
            }
        })
    };
    spawner.join().unwrap();
    done.store(true, Ordering::Relaxed);
    contender.join().unwrap();
    let spawned: Vec<_> = handles.lock().unwrap().drain(..).collect();
    assert_eq!(spawned.len(), 1000);
    for h in spawned {
        h.join().unwrap();
    }
    println!("CHILD-DONE");
}

#[test]
fn spawning_under_a_std_guard_does_not_give_the_worker_away() {
    if std::env::var_os(CHILD).is_some() {
        spawn_under_a_std_guard();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["spawning_under_a_std_guard_does_not_give_the_worker_away", "--exact", "--nocapture"])
        .env(CHILD, "1")
        .env("MYRIAD_WORKERS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.is_some(), "the worker deadlocked on the std guard (child killed after 60 s): {err}");
    assert!(status.unwrap().success() && out.contains("CHILD-DONE"), "child failed: {out}\n{err}");
}

//! Handoffs (`rt/worker.rs`): a thread woken by the running thread on its
//! own worker runs as soon as the waker blocks, ahead of the other ready
//! threads — but two threads that keep waking each other must still let
//! those run.
//!
//! One worker, so that every thread shares it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use myriad::thread;

fn one_worker() {
    // Every test of this file wants one worker; the first to get here
    // starts the runtime so (the others find it started).
    let _ = myriad::rt::Builder::new().workers(1).start();
}

/// Spawns a thread that parks until `go` is set, then runs `then`; returns
/// once it has started and parked.
fn parked_thread(go: &Arc<AtomicBool>, then: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    let started = Arc::new(AtomicBool::new(false));
    let handle = thread::spawn({
        let (go, started) = (go.clone(), started.clone());
        move || {
            started.store(true, Ordering::Release);
            while !go.load(Ordering::Acquire) {
                thread::park();
            }
            then();
        }
    });
    while !started.load(Ordering::Acquire) {
        thread::yield_now();
    }
    handle
}

#[test]
fn a_ping_pong_pair_does_not_starve_a_third_ready_thread() {
    one_worker();
    // Round trips the pair makes at most: far more than a fair worker lets
    // it make before the third thread runs.
    const CAP: usize = 10_000;
    let rounds = thread::spawn(|| {
        let go = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicBool::new(false));
        let bystander = parked_thread(&go, {
            let ran = ran.clone();
            move || ran.store(true, Ordering::Release)
        });
        // The partner: on its turn, gives the turn back and wakes us.
        let turn = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let me = thread::current();
        let started = Arc::new(AtomicBool::new(false));
        let partner = thread::spawn({
            let (turn, stop, started) = (turn.clone(), stop.clone(), started.clone());
            move || loop {
                started.store(true, Ordering::Release);
                while turn.load(Ordering::Acquire) != 1 {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    thread::park();
                }
                turn.store(0, Ordering::Release);
                me.unpark();
            }
        });
        // Let the partner start and park: a thread not started yet is not
        // woken by `unpark`, only given its token.
        while !started.load(Ordering::Acquire) {
            thread::yield_now();
        }
        // Make the bystander ready: our wake-up hands it the worker, but
        // waking the partner next sends it to the ready queue, behind
        // nothing. From here on only the pair wakes anyone.
        go.store(true, Ordering::Release);
        bystander.thread().unpark();
        let mut rounds = 0;
        while rounds < CAP && !ran.load(Ordering::Acquire) {
            turn.store(1, Ordering::Release);
            partner.thread().unpark();
            while turn.load(Ordering::Acquire) != 0 {
                thread::park();
            }
            rounds += 1;
        }
        stop.store(true, Ordering::Release);
        partner.thread().unpark();
        partner.join().unwrap();
        bystander.join().unwrap();
        rounds
    })
    .join()
    .unwrap();
    // The worker serves its ready queue at least every 61 switches.
    assert!(rounds < 100, "the ping-pong pair made {rounds} round trips before a ready thread ran");
}

#[test]
fn the_thread_woken_last_runs_first_when_its_waker_blocks() {
    one_worker();
    let order = thread::spawn(|| {
        let order = Arc::new(Mutex::new(Vec::new()));
        let go = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let order = order.clone();
                parked_thread(&go, move || order.lock().unwrap().push(i))
            })
            .collect();
        go.store(true, Ordering::Release);
        // Woken in order 0, 1, 2 by the running thread: 2 is the handoff,
        // 0 and 1 wait in the ready queue in their order.
        for t in &threads {
            t.thread().unpark();
        }
        for t in threads {
            t.join().unwrap();
        }
        Arc::try_unwrap(order).unwrap().into_inner().unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(order, [2, 0, 1]);
}

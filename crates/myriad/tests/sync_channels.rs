//! myriad::sync::mpsc and myriad::sync::channel: handoffs between myriad
//! threads, OS threads and both; rendezvous channels; timeouts (lower bounds
//! only); disconnection; `select!` choosing fairly among ready operations.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::select;
use myriad::sync::channel::{self, SendTimeoutError};
use myriad::sync::mpsc::{self, RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
use myriad::thread;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Myriad,
    Os,
}

fn spawn<T: Send + 'static>(kind: Kind, f: impl FnOnce() -> T + Send + 'static) -> Box<dyn FnOnce() -> T> {
    match kind {
        Kind::Myriad => {
            let h = thread::spawn(f);
            Box::new(move || h.join().unwrap())
        }
        Kind::Os => {
            let h = std::thread::spawn(f);
            Box::new(move || h.join().unwrap())
        }
    }
}

/// (producer kind, consumer kind): every combination.
const PAIRS: [(Kind, Kind); 4] =
    [(Kind::Myriad, Kind::Myriad), (Kind::Os, Kind::Os), (Kind::Myriad, Kind::Os), (Kind::Os, Kind::Myriad)];

#[test]
fn mpsc_every_capacity_and_thread_kind() {
    for (p, c) in PAIRS {
        for cap in [None, Some(0), Some(1), Some(16)] {
            let (tx, rx): (Box<dyn Fn(u64) + Send>, mpsc::Receiver<u64>) = match cap {
                None => {
                    let (tx, rx) = mpsc::channel();
                    (Box::new(move |v| tx.send(v).unwrap()), rx)
                }
                Some(n) => {
                    let (tx, rx) = mpsc::sync_channel(n);
                    (Box::new(move |v| tx.send(v).unwrap()), rx)
                }
            };
            let producer = spawn(p, move || (0..2_000).for_each(tx));
            let consumer = spawn(c, move || {
                let got: Vec<u64> = rx.iter().collect();
                assert_eq!(got, (0..2_000).collect::<Vec<_>>(), "FIFO order");
                got.len()
            });
            producer();
            assert_eq!(consumer(), 2_000, "{p:?} -> {c:?}, cap {cap:?}");
        }
    }
}

#[test]
fn mpsc_many_producers() {
    let (tx, rx) = mpsc::channel();
    for i in 0..100u64 {
        let tx = tx.clone();
        if i % 2 == 0 {
            thread::spawn(move || tx.send(i).unwrap());
        } else {
            std::thread::spawn(move || tx.send(i).unwrap());
        }
    }
    drop(tx);
    assert_eq!(rx.into_iter().sum::<u64>(), 4950);
}

#[test]
fn rendezvous_send_waits_for_the_receiver() {
    for (p, c) in PAIRS {
        let (tx, rx) = mpsc::sync_channel(0);
        let received = Arc::new(AtomicUsize::new(0));
        let r = received.clone();
        let producer = spawn(p, move || {
            for i in 0..500 {
                tx.send(i).unwrap();
                // A rendezvous send returns only once the message was taken.
                assert!(r.load(Ordering::SeqCst) >= i, "send {i} returned before its receive began");
            }
        });
        let consumer = spawn(c, move || {
            for i in 0..500 {
                received.store(i, Ordering::SeqCst);
                assert_eq!(rx.recv(), Ok(i));
            }
        });
        producer();
        consumer();
    }
}

#[test]
fn rendezvous_try_send_needs_a_waiting_receiver() {
    let (tx, rx) = mpsc::sync_channel(0);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    let h = thread::spawn(move || rx.recv().unwrap());
    loop {
        match tx.try_send(2) {
            Ok(()) => break,
            Err(TrySendError::Full(_)) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(h.join().unwrap(), 2);
}

#[test]
fn timeouts() {
    let (tx, rx) = mpsc::channel::<u8>();
    let start = Instant::now();
    assert_eq!(rx.recv_timeout(Duration::from_millis(20)), Err(RecvTimeoutError::Timeout));
    assert!(start.elapsed() >= Duration::from_millis(20));
    thread::spawn(move || {
        let start = Instant::now();
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Err(RecvTimeoutError::Timeout));
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok(5));
    });
    thread::sleep(Duration::from_millis(15));
    tx.send(5).unwrap();

    let (tx, _rx) = channel::bounded(0);
    let start = Instant::now();
    assert_eq!(tx.send_timeout(7, Duration::from_millis(10)), Err(SendTimeoutError::Timeout(7)));
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn disconnection() {
    // Buffered messages outlive the senders; then recv fails.
    let (tx, rx) = mpsc::channel();
    tx.send(1).unwrap();
    drop(tx);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Disconnected));

    // Sending to a dropped receiver gives the message back.
    let (tx, rx) = mpsc::sync_channel(1);
    drop(rx);
    assert_eq!(tx.send(3), Err(SendError(3)));
    assert_eq!(tx.try_send(4), Err(TrySendError::Disconnected(4)));

    // Blocked receivers and senders wake up on disconnection.
    for kind in [Kind::Myriad, Kind::Os] {
        let (tx, rx) = mpsc::channel::<u8>();
        let h = spawn(kind, move || rx.recv());
        thread::sleep(Duration::from_millis(5));
        drop(tx);
        assert_eq!(h(), Err(RecvError));

        let (tx, rx) = mpsc::sync_channel(0);
        let h = spawn(kind, move || tx.send(9));
        thread::sleep(Duration::from_millis(5));
        drop(rx);
        assert_eq!(h(), Err(SendError(9)));

        let (tx, rx) = channel::bounded(1);
        tx.send(1).unwrap();
        let h = spawn(kind, move || tx.send(2));
        thread::sleep(Duration::from_millis(5));
        drop(rx);
        assert_eq!(h(), Err(channel::SendError(2)));
    }
}

#[test]
fn messages_are_dropped_exactly_once() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::bounded(4);
    for _ in 0..4 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop(rx.recv().unwrap());
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    // A failed send returns the message (not dropped yet).
    let err = tx.send(Counted(drops.clone())).unwrap_err();
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    drop(err);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

#[test]
fn mpmc_every_message_once() {
    let (tx, rx) = channel::bounded(8);
    let consumers: Vec<_> = (0..6)
        .map(|i| {
            let rx = rx.clone();
            spawn(if i % 2 == 0 { Kind::Myriad } else { Kind::Os }, move || rx.iter().collect::<Vec<u32>>())
        })
        .collect();
    drop(rx);
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let tx = tx.clone();
            spawn(if p % 2 == 0 { Kind::Os } else { Kind::Myriad }, move || {
                for i in 0..1_000 {
                    tx.send(p * 1_000 + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for p in producers {
        p();
    }
    let mut all: Vec<u32> = consumers.into_iter().flat_map(|c| c()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..4_000).collect::<Vec<_>>());
}

#[test]
fn select_is_fair_among_ready_operations() {
    let (tx1, rx1) = channel::unbounded();
    let (tx2, rx2) = channel::unbounded();
    for _ in 0..1_000 {
        tx1.send(1).unwrap();
        tx2.send(2).unwrap();
    }
    let mut counts = [0; 3];
    for _ in 0..1_000 {
        let v = select! {
            recv(rx1) -> v => v.unwrap(),
            recv(rx2) -> v => v.unwrap(),
        };
        counts[v] += 1;
    }
    assert!(counts[1] >= 300 && counts[2] >= 300, "unfair: {counts:?}");

    // A send and a receive, both always ready.
    let (tx3, rx3) = channel::unbounded::<u8>();
    let mut chosen = [0; 2];
    for _ in 0..1_000 {
        select! {
            recv(rx1) -> v => { v.unwrap(); chosen[0] += 1; }
            send(tx3, 0) -> r => { r.unwrap(); chosen[1] += 1; }
        }
    }
    assert!(chosen[0] >= 300 && chosen[1] >= 300, "unfair: {chosen:?}");
    assert_eq!(rx3.try_iter().count(), chosen[1]);
}

#[test]
fn select_picks_each_of_several_ready_operations() {
    let rxs: Vec<_> = (0..4)
        .map(|i| {
            let (tx, rx) = channel::unbounded();
            for _ in 0..200 {
                tx.send(i).unwrap();
            }
            (tx, rx)
        })
        .collect();
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let v = select! {
            recv(rxs[0].1) -> v => v.unwrap(),
            recv(rxs[1].1) -> v => v.unwrap(),
            recv(rxs[2].1) -> v => v.unwrap(),
            recv(rxs[3].1) -> v => v.unwrap(),
        };
        seen.insert(v);
    }
    assert_eq!(seen.len(), 4);
}

#[test]
fn select_blocks_until_one_is_ready() {
    for kind in [Kind::Myriad, Kind::Os] {
        let (tx1, rx1) = channel::bounded::<u32>(0);
        let (tx2, rx2) = mpsc::sync_channel::<u32>(0);
        let sender = spawn(kind, move || {
            thread::sleep(Duration::from_millis(5));
            tx2.send(22).unwrap();
            drop(tx1);
        });
        let got = select! {
            recv(rx1) -> v => v.map(|v| v + 1000),
            recv(rx2) -> v => v,
        };
        assert_eq!(got, Ok(22));
        sender();
        // rx1 is now disconnected: ready, with an error.
        let r = select! {
            recv(rx1) -> v => v,
            default(Duration::from_secs(60)) => Ok(0),
        };
        assert_eq!(r, Err(channel::RecvError));
    }
}

#[test]
fn select_rendezvous_between_two_selects() {
    // Each side only offers inside a select: a send select meets a receive
    // select on a zero-capacity channel.
    let (tx, rx) = channel::bounded::<u32>(0);
    let (_unused_tx, unused_rx) = channel::bounded::<u32>(0);
    let h = thread::spawn(move || {
        let mut sum = 0;
        for _ in 0..200 {
            select! {
                recv(rx) -> v => sum += v.unwrap(),
                recv(unused_rx) -> _ => unreachable!(),
            }
        }
        sum
    });
    let (_unused_tx2, unused_rx2) = channel::bounded::<u32>(0);
    for i in 0..200 {
        select! {
            send(tx, i) -> r => r.unwrap(),
            recv(unused_rx2) -> _ => unreachable!(),
        }
    }
    assert_eq!(h.join().unwrap(), 199 * 200 / 2);
}

#[test]
fn select_default_and_timeout() {
    let (_tx, rx) = channel::unbounded::<u8>();
    let r = select! {
        recv(rx) -> _ => "message",
        default => "nothing ready",
    };
    assert_eq!(r, "nothing ready");
    let start = Instant::now();
    let r = select! {
        recv(rx) -> _ => "message",
        default(Duration::from_millis(20)) => "timed out",
    };
    assert_eq!(r, "timed out");
    assert!(start.elapsed() >= Duration::from_millis(20));
    // A full bounded channel's send is not ready.
    let (tx, _rx2) = channel::bounded(1);
    tx.send(1).unwrap();
    let sent = select! {
        send(tx, 2) -> _ => true,
        default => false,
    };
    assert!(!sent);
}

#[test]
fn select_timeout_does_not_lose_messages() {
    // Many racing timeouts against sends: every message sent is received
    // exactly once.
    let (tx, rx) = channel::bounded::<u32>(0);
    let h = thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            select! {
                recv(rx) -> v => match v {
                    Ok(v) => got.push(v),
                    Err(_) => return got,
                },
                default(short_timeout(50)) => {}
            }
        }
    });
    let mut sent = Vec::new();
    // Scaled under valgrind, where the 2,000 racing rounds took ten minutes.
    for i in 0..scaled(2_000, 200) as u32 {
        match tx.send_timeout(i, short_timeout(70)) {
            Ok(()) => sent.push(i),
            Err(SendTimeoutError::Timeout(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    drop(tx);
    assert_eq!(h.join().unwrap(), sent);
}

/// `MYRIAD_TEST_SCALE` (valgrind runs this suite at 0.01).
fn test_scale() -> f64 {
    std::env::var("MYRIAD_TEST_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

/// `n` scaled by `MYRIAD_TEST_SCALE`, at least `min`.
fn scaled(n: usize, min: usize) -> usize {
    ((n as f64 * test_scale()) as usize).max(min)
}

/// A time-out of `micros` µs, stretched as `MYRIAD_TEST_SCALE` shrinks:
/// under valgrind a 30 µs deadline passes before the wait even begins, and
/// a thread that never waits keeps its worker from the threads it races.
fn short_timeout(micros: u64) -> Duration {
    Duration::from_micros(micros).div_f64(test_scale().clamp(0.001, 1.0))
}

/// Fills 8 KiB of stack below the caller with all-ones bytes (which, read
/// as a waiting select's outcome word, say "still waiting": a peer would
/// act on a stale entry rather than skip it), and keeps them there for
/// 100 µs, long enough for a peer on another OS thread to come.
#[inline(never)]
fn scribble_stack() {
    let buf = [0xFFu8; 8 * 1024];
    std::hint::black_box(&buf);
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(100) {
        std::hint::black_box(&buf);
    }
}

#[test]
fn blocking_timeouts_racing_handoffs_lose_nothing() {
    // A blocking recv/send whose deadline passes while a peer claims it:
    // the waiter's frame (context and packet) must outlive the claim, and
    // the message either arrives or comes back, once.
    for (producer, consumer) in PAIRS {
        let (tx, rx) = channel::bounded::<usize>(0);
        let received = spawn(consumer, move || {
            let mut got = Vec::new();
            loop {
                match rx.recv_timeout(short_timeout(30)) {
                    Ok(v) => got.push(v),
                    // Overwrite the frame the wait used: an entry left
                    // behind pointing into it would now point to garbage.
                    Err(RecvTimeoutError::Timeout) => scribble_stack(),
                    Err(RecvTimeoutError::Disconnected) => return got,
                }
            }
        });
        let n = scaled(1_000, 20);
        let sent = spawn(producer, move || {
            (0..n).filter(|&i| tx.send_timeout(i, short_timeout(40)).is_ok()).collect::<Vec<_>>()
        })();
        assert_eq!(received(), sent, "{producer:?} -> {consumer:?}");
    }
}

#[test]
fn a_select_claimed_by_one_channel_leaves_the_other_intact() {
    // Two senders race for one waiting select; the loser's message must
    // stay with the loser (or be taken by a later select), never be lost
    // or delivered twice.
    let (tx_a, rx_a) = channel::bounded::<usize>(0);
    let (tx_b, rx_b) = channel::bounded::<usize>(0);
    let n = scaled(1_000, 20);
    let producer = |tx: channel::Sender<usize>, base: usize| {
        thread::spawn(move || {
            (base..base + n).filter(|&i| tx.send_timeout(i, short_timeout(40)).is_ok()).collect::<Vec<_>>()
        })
    };
    let (pa, pb) = (producer(tx_a, 0), producer(tx_b, 1 << 20));
    let consumer = std::thread::spawn(move || {
        let (mut got, mut a_done, mut b_done) = (Vec::new(), false, false);
        while !(a_done && b_done) {
            select! {
                recv(rx_a) -> v => match v { Ok(v) => got.push(v), Err(_) => a_done = true },
                recv(rx_b) -> v => match v { Ok(v) => got.push(v), Err(_) => b_done = true },
                default(short_timeout(50)) => {}
            }
        }
        got
    });
    let mut sent: Vec<usize> = pa.join().unwrap();
    sent.extend(pb.join().unwrap());
    let mut got = consumer.join().unwrap();
    sent.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, sent);
}

/// Runs `body` on a myriad thread; fails (instead of hanging the run) if
/// it has not finished within `limit`.
fn on_myriad_thread_within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    thread::spawn(move || done_tx.send(body()).unwrap());
    done_rx.recv_timeout(limit).expect("starved: the body did not finish")
}

/// std's `test_recv_try_iter`, on a myriad thread: the spawned thread never
/// blocks (it polls with `try_iter` and sends), and the thread it wakes is
/// pinned to the same worker. Without the cooperative budget
/// (`rt/coop.rs`) the woken thread never ran and a core spun for ever.
#[test]
fn a_thread_that_never_blocks_lets_the_thread_it_woke_run() {
    let count = on_myriad_thread_within(Duration::from_secs(20), || {
        let (request_tx, request_rx) = mpsc::channel();
        let (response_tx, response_rx) = mpsc::channel();
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
        t.join().unwrap()
    });
    assert_eq!(count, 6);
}

/// The same with `try_recv` alone: a thread polls `try_recv` for a message
/// from a thread it just woke, which waits behind it on its worker when
/// placed there (the poller sends nothing in its loop, so only the budget
/// that `try_recv` spends lets the sender run).
#[test]
fn a_thread_polling_try_recv_lets_the_thread_it_woke_run() {
    let (value, polled_for) = on_myriad_thread_within(Duration::from_secs(40), || {
        let (ready_tx, ready_rx) = mpsc::sync_channel::<()>(0);
        let (go_tx, go_rx) = mpsc::sync_channel::<()>(1);
        let (tx, rx) = mpsc::channel::<u32>();
        let child = thread::spawn(move || {
            ready_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            tx.send(42).unwrap();
        });
        ready_rx.recv().unwrap();
        go_tx.send(()).unwrap(); // wakes the child: queued on its worker
        let start = Instant::now();
        let value = loop {
            if let Ok(v) = rx.try_recv() {
                break Some(v);
            }
            if start.elapsed() > Duration::from_secs(20) {
                break None; // the child never ran: its worker is held here
            }
        };
        let polled_for = start.elapsed();
        child.join().unwrap();
        (value, polled_for)
    });
    assert_eq!(value, Some(42), "the woken sender never ran (polled for {polled_for:?})");
}

/// The same with a lock: a thread polls `try_lock` for a mutex that a
/// thread on its worker holds across a sleep; the sleeper's timer fires
/// only when the worker gets back to its scheduler.
#[test]
fn a_thread_polling_try_lock_lets_the_holder_run() {
    on_myriad_thread_within(Duration::from_secs(20), || {
        let lock = Arc::new(myriad::sync::Mutex::new(0));
        let l = lock.clone();
        let holder = thread::spawn(move || {
            let mut guard = l.lock().unwrap();
            thread::sleep(Duration::from_millis(5));
            *guard += 1;
        });
        // The holder starts now (on this worker), takes the lock and sleeps.
        thread::yield_now();
        let start = Instant::now();
        loop {
            if let Ok(value) = lock.try_lock() {
                if *value == 1 {
                    break;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(10), "the holder never ran");
        }
        holder.join().unwrap();
    });
}

/// A value whose `Drop` blocks in `recv`, as std allows: held in an OS
/// thread's thread-local that is destroyed after the runtime's own
/// per-thread waiter, the receive still works (it used to panic on the
/// destroyed thread-local).
struct RecvOnDrop(Option<mpsc::Receiver<u32>>, std::sync::mpsc::Sender<Option<u32>>);

impl Drop for RecvOnDrop {
    fn drop(&mut self) {
        let rx = self.0.take().unwrap();
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.recv().ok()));
        let _ = self.1.send(got.unwrap_or(None));
    }
}

thread_local! {
    static RECV_ON_DROP: std::cell::RefCell<Option<RecvOnDrop>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn a_blocking_recv_in_an_os_thread_local_destructor_works() {
    let (tx, rx) = mpsc::channel::<u32>();
    let (result_tx, result_rx) = std::sync::mpsc::channel();
    let (tx2, rx2) = mpsc::channel::<u32>();
    let t = std::thread::spawn(move || {
        RECV_ON_DROP.with(|slot| *slot.borrow_mut() = Some(RecvOnDrop(Some(rx), result_tx)));
        // The runtime's waiter is made after RECV_ON_DROP, so it is
        // destroyed first.
        let _ = rx2.recv_timeout(Duration::from_millis(1));
    });
    std::thread::sleep(Duration::from_millis(200));
    tx.send(7).unwrap();
    drop(tx2);
    let received = result_rx.recv_timeout(Duration::from_secs(20));
    t.join().unwrap();
    assert_eq!(received, Ok(Some(7)), "std's mpsc receives 7 here");
}

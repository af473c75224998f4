//! The channel workloads, on every system, in one file:
//!
//! - **channel handoff** (`chan-handoff`): two threads ping-pong a counter
//!   over a pair of channels; one round trip is two one-way handoffs, each
//!   a send that a parked receiver takes. The channels are rendezvous ones
//!   where the system has them (myriad and std `sync_channel(0)`, as Go's
//!   unbounded `make(chan int)`); tokio has none, so its `mpsc::channel(1)`
//!   (the smallest bounded one; in a ping-pong it never fills, so every
//!   receive parks and every send wakes, as a rendezvous does); may has
//!   only an unbounded `mpsc`, so that one.
//! - **channel stream** (`chan-stream`): one thread sends as fast as it can
//!   into a channel of capacity 64, another receives; time per message.
//!   Not on may, whose only channel is unbounded (the sender would run
//!   ahead without limit).
//!
//! Every system runs both sides on its own threads (myriad threads, OS
//! threads, tokio tasks, may coroutines) with its default worker count
//! unless the system says 1 worker.

use std::hint::black_box;
use std::time::Instant;

use super::emit_samples;
use crate::calib::Calib;

/// The capacity of the stream workload's channel.
pub const STREAM_CAPACITY: usize = 64;

/// The rendezvous ping-pong on a std-shaped API (myriad's mirrors std's):
/// `$spawn` starts the ponger, `$sync_channel` makes the channels; the
/// calling thread drives it. Evaluates to the filled `Calib`.
macro_rules! sync_channel_handoff {
    ($spawn:path, $sync_channel:path, $cal:ident) => {{
        let mut cal = $cal;
        let (ping_tx, ping_rx) = $sync_channel(0);
        let (pong_tx, pong_rx) = $sync_channel(0);
        let ponger = $spawn(move || {
            for v in ping_rx.iter() {
                if pong_tx.send(v + 1).is_err() {
                    return;
                }
            }
        });
        let mut v = 0u64;
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                ping_tx.send(v).unwrap();
                v = pong_rx.recv().unwrap();
            }
            cal.record(n, t.elapsed());
        }
        drop(ping_tx);
        ponger.join().unwrap();
        black_box(v);
        cal
    }};
}

/// The stream on a std-shaped API: a producer started with `$spawn` fills
/// a `$sync_channel(STREAM_CAPACITY)` the calling thread drains.
macro_rules! sync_channel_stream {
    ($spawn:path, $sync_channel:path, $cal:ident) => {{
        let mut cal = $cal;
        let (tx, rx) = $sync_channel(STREAM_CAPACITY);
        let producer = $spawn(move || {
            let mut i = 0u64;
            while tx.send(i).is_ok() {
                i += 1;
            }
        });
        while let Some(n) = cal.next() {
            let t = Instant::now();
            for _ in 0..n {
                black_box(rx.recv().unwrap());
            }
            cal.record(n, t.elapsed());
        }
        drop(rx);
        producer.join().unwrap();
        cal
    }};
}

/// myriad: `sync_channel(0)` ping-pong between two myriad threads.
pub fn myriad_handoff(cal: Calib) {
    let cal = myriad::thread::spawn(move || {
        sync_channel_handoff!(myriad::thread::spawn, myriad::sync::mpsc::sync_channel, cal)
    })
    .join()
    .expect("controller thread panicked");
    emit_samples(&cal);
}

/// myriad: a `sync_channel(STREAM_CAPACITY)` stream between two myriad
/// threads.
pub fn myriad_stream(cal: Calib) {
    let cal = myriad::thread::spawn(move || {
        sync_channel_stream!(myriad::thread::spawn, myriad::sync::mpsc::sync_channel, cal)
    })
    .join()
    .expect("controller thread panicked");
    emit_samples(&cal);
}

/// std: `std::sync::mpsc::sync_channel(0)` ping-pong between OS threads.
pub fn std_handoff(cal: Calib) {
    let cal = sync_channel_handoff!(std::thread::spawn, std::sync::mpsc::sync_channel, cal);
    emit_samples(&cal);
}

/// std: a `sync_channel(STREAM_CAPACITY)` stream between OS threads.
pub fn std_stream(cal: Calib) {
    let cal = sync_channel_stream!(std::thread::spawn, std::sync::mpsc::sync_channel, cal);
    emit_samples(&cal);
}

/// tokio: `tokio::sync::mpsc::channel(1)` ping-pong between two tasks.
pub fn tokio_handoff(rt: &tokio::runtime::Runtime, mut cal: Calib) {
    use tokio::sync::mpsc::channel;
    let cal = rt.block_on(async move {
        tokio::spawn(async move {
            let (ping_tx, mut ping_rx) = channel::<u64>(1);
            let (pong_tx, mut pong_rx) = channel::<u64>(1);
            let ponger = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v + 1).await.is_err() {
                        return;
                    }
                }
            });
            let mut v = 0u64;
            while let Some(n) = cal.next() {
                let t = Instant::now();
                for _ in 0..n {
                    ping_tx.send(v).await.unwrap();
                    v = pong_rx.recv().await.unwrap();
                }
                cal.record(n, t.elapsed());
            }
            drop(ping_tx);
            ponger.await.unwrap();
            black_box(v);
            cal
        })
        .await
        .expect("controller task panicked")
    });
    emit_samples(&cal);
}

/// tokio: a `tokio::sync::mpsc::channel(STREAM_CAPACITY)` stream between
/// two tasks.
pub fn tokio_stream(rt: &tokio::runtime::Runtime, mut cal: Calib) {
    let cal = rt.block_on(async move {
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(STREAM_CAPACITY);
            let producer = tokio::spawn(async move {
                let mut i = 0u64;
                while tx.send(i).await.is_ok() {
                    i += 1;
                }
            });
            while let Some(n) = cal.next() {
                let t = Instant::now();
                for _ in 0..n {
                    black_box(rx.recv().await.unwrap());
                }
                cal.record(n, t.elapsed());
            }
            drop(rx);
            producer.await.unwrap();
            cal
        })
        .await
        .expect("controller task panicked")
    });
    emit_samples(&cal);
}

/// may: `may::sync::mpsc::channel()` (unbounded; may has no bounded
/// channel) ping-pong between two coroutines.
pub fn may_handoff(mut cal: Calib) {
    use may::sync::mpsc::channel;
    // SAFETY: the coroutines touch no thread-local storage and hold nothing
    // tied to an OS thread across a park, as may's `spawn` requires.
    let controller = unsafe {
        may::coroutine::spawn(move || {
            let (ping_tx, ping_rx) = channel::<u64>();
            let (pong_tx, pong_rx) = channel::<u64>();
            // SAFETY: as above.
            let ponger = may::coroutine::spawn(move || {
                for v in ping_rx.iter() {
                    if pong_tx.send(v + 1).is_err() {
                        return;
                    }
                }
            });
            let mut v = 0u64;
            while let Some(n) = cal.next() {
                let t = Instant::now();
                for _ in 0..n {
                    ping_tx.send(v).unwrap();
                    v = pong_rx.recv().unwrap();
                }
                cal.record(n, t.elapsed());
            }
            drop(ping_tx);
            ponger.join().unwrap();
            black_box(v);
            cal
        })
    };
    let cal = controller.join().expect("controller coroutine panicked");
    emit_samples(&cal);
}

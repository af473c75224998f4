//! A file read through io_uring completes while the worker it runs on is
//! busy with a thread that computes and yields (issue 13, defect 3). The
//! ring signals completions on an eventfd in the worker's poller, and a
//! busy worker used to look at its poller only when it had sockets
//! registered: the read then waited until the computation ended.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::thread;

#[test]
fn a_file_read_completes_while_its_worker_is_busy_yielding() {
    // One worker, so the reader and the computation share it.
    myriad::rt::Builder::new().workers(1).start().unwrap();
    let path = std::env::temp_dir().join(format!("myriad-uring-busy-{}", std::process::id()));
    std::fs::File::create(&path).unwrap().write_all(&[7u8; 4096]).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let computing = Arc::new(AtomicBool::new(false));
    let (d, c) = (done.clone(), computing.clone());
    let busy = thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(5);
        let mut x = 0u64;
        c.store(true, Ordering::Release);
        while !d.load(Ordering::Acquire) && Instant::now() < until {
            for i in 0..1_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            thread::yield_now();
        }
        x
    });
    let p = path.clone();
    let reader = thread::spawn(move || {
        while !computing.load(Ordering::Acquire) {
            thread::yield_now();
        }
        let mut file = myriad::fs::File::open(&p).unwrap();
        let mut buf = vec![0u8; 4096];
        let start = Instant::now();
        file.read_exact(&mut buf).unwrap();
        let took = start.elapsed();
        done.store(true, Ordering::Release);
        assert!(buf.iter().all(|&b| b == 7));
        took
    });
    let took = reader.join().unwrap();
    busy.join().unwrap();
    std::fs::remove_file(&path).unwrap();
    // Normally a few milliseconds; without the fix, the whole 5 s.
    assert!(took < Duration::from_secs(2), "the read took {took:?} on a busy worker");
}

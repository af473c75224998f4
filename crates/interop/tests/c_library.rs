//! A C function that waits with `poll(2)` and reads with `recv(2)`
//! (`c/blocking_client.c`), called from 1,000 myriad threads at once: each
//! waits for a reply that a peer thread on the same two workers sends only
//! later, which works only if the C calls park their myriad thread.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use interop::c_wait_and_recv;

#[test]
fn c_poll_and_recv_park_only_the_calling_myriad_thread() {
    let handles: Vec<_> = (0..1_000)
        .map(|i| {
            myriad::thread::spawn(move || {
                let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
                // The peer answers after the C call has begun to wait.
                let peer = myriad::thread::spawn(move || {
                    myriad::thread::sleep(Duration::from_millis(20));
                    theirs.write_all(format!("reply {i}").as_bytes()).unwrap();
                    theirs
                });
                let mut buf = [0u8; 64];
                let n = c_wait_and_recv(ours.as_raw_fd(), &mut buf, 30_000).unwrap();
                drop(peer.join().unwrap());
                String::from_utf8(buf[..n].to_vec()).unwrap()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), format!("reply {i}"));
    }
}

#[test]
fn c_poll_times_out_with_its_timeout() {
    let elapsed = myriad::thread::spawn(|| {
        let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut buf = [0u8; 8];
        let start = Instant::now();
        let err = c_wait_and_recv(ours.as_raw_fd(), &mut buf, 50).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        start.elapsed()
    })
    .join()
    .unwrap();
    assert!(elapsed >= Duration::from_millis(45), "{elapsed:?}");
}

//! The runtime grows the process's descriptor table ahead of need
//! (`rt/fd_table.rs`): to 8,192 entries when it starts, and again, on a
//! pool thread, once sockets reach half of it.

use std::time::{Duration, Instant};

/// The size of this process's descriptor table (`FDSize` in
/// `/proc/self/status`).
fn table_size() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("FDSize:")).expect("FDSize in /proc/self/status");
    line["FDSize:".len()..].trim().parse().unwrap()
}

fn open_file_limit() -> u64 {
    // SAFETY: getrlimit fills the struct it is given.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur
    }
}

#[test]
fn descriptor_table_is_reserved_at_start_and_grown_ahead() {
    myriad::thread::spawn(|| ()).join().unwrap();
    if open_file_limit() < 16_384 {
        eprintln!("open-file limit below 16,384: nothing to check");
        return;
    }
    assert!(table_size() >= 8192, "table of {} entries after start", table_size());
    // Sockets past half the reserve: the table doubles in the background,
    // before any descriptor needs it.
    let sockets = myriad::thread::spawn(|| {
        (0..4200).map(|_| myriad::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    assert!(sockets.iter().any(|s| std::os::fd::AsRawFd::as_raw_fd(s) >= 4096));
    let deadline = Instant::now() + Duration::from_secs(10);
    while table_size() < 16_384 {
        assert!(Instant::now() < deadline, "table still {} entries with fds past 4,096", table_size());
        std::thread::sleep(Duration::from_millis(5));
    }
}

//! The `intercept` feature (`src/intercept/`): unmodified std code —
//! `std::thread::sleep`, `std::net` — parks only its myriad thread, from
//! thousands of threads at once, with the servers on myriad threads in the
//! same process; and on plain OS threads every intercepted call behaves as
//! libc's (errno, `EAGAIN` on non-blocking descriptors, socket timeouts,
//! `poll` with a timeout). Bounds are generous: the point is that the work
//! finishes at all while workers stay free (without interception the sleeps
//! alone take 100 s, and the client test hangs).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener as StdListener, TcpStream as StdStream, UdpSocket as StdUdp};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use myriad::thread;

mod probe_support;
use probe_support::{child_mode, run_child_within};

/// A line-echo server written with `myriad::net`, on myriad threads.
fn myriad_echo_server() -> std::net::SocketAddr {
    let listener = myriad::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    if writer.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    addr
}

#[test]
fn std_thread_sleep_parks_only_the_myriad_thread() {
    let start = Instant::now();
    let handles: Vec<_> =
        (0..2_000).map(|_| thread::spawn(|| std::thread::sleep(Duration::from_millis(100)))).collect();
    for h in handles {
        h.join().unwrap();
    }
    // Blocking two workers, 2,000 sleeps of 100 ms would take 100 s.
    assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
}

#[test]
fn std_net_clients_on_myriad_threads_talk_to_a_myriad_server_in_the_same_process() {
    let addr = myriad_echo_server();
    let handles: Vec<_> = (0..500)
        .map(|i| {
            thread::spawn(move || {
                let mut stream = StdStream::connect(addr).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                for round in 0..3 {
                    let sent = format!("client {i} round {round}\n");
                    stream.write_all(sent.as_bytes()).unwrap();
                    let mut got = String::new();
                    reader.read_line(&mut got).unwrap();
                    assert_eq!(got, sent);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn std_net_server_on_myriad_threads_accepts_and_serves() {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        for _ in 0..50 {
            let (mut stream, _) = listener.accept().unwrap();
            thread::spawn(move || {
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).unwrap();
                stream.write_all(&buf[..n]).unwrap();
            });
        }
    });
    let clients: Vec<_> = (0..50)
        .map(|i| {
            thread::spawn(move || {
                let mut stream = StdStream::connect(addr).unwrap();
                let msg = format!("hello {i}");
                stream.write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0u8; msg.len()];
                stream.read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
}

/// What each kind of thread must see from libc-level calls.
fn libc_meaning_is_kept() {
    // A non-blocking descriptor still says EAGAIN.
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let mut client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    listener.set_nonblocking(true).unwrap();
    assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    // errno on the calling thread, and partial reads as the kernel gives.
    client.write_all(b"abc").unwrap();
    server.set_nonblocking(false).unwrap();
    let n = server.read(&mut buf).unwrap();
    assert!((1..=3).contains(&n));
    // SAFETY: a read on a closed descriptor number, which fails.
    let r = unsafe { libc::read(-1, buf.as_mut_ptr().cast(), 1) };
    assert_eq!((r, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EBADF)));
    // SO_RCVTIMEO still times out, with EAGAIN.
    server.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let _ = server.read(&mut buf); // whatever is left of "abc"
    let start = Instant::now();
    assert_eq!(server.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(start.elapsed() >= Duration::from_millis(45));
    // poll with a timeout and no events returns 0 after the timeout.
    let mut pfd = libc::pollfd { fd: server.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let start = Instant::now();
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 30) }, 0);
    assert!(start.elapsed() >= Duration::from_millis(25));
    // ...and reports readiness as the kernel does.
    client.write_all(b"x").unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5_000) }, 1);
    assert!(pfd.revents & libc::POLLIN != 0);
    // UDP: recv_from with a timeout, then a datagram.
    let udp = StdUdp::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(udp.recv_from(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    let peer = StdUdp::bind("127.0.0.1:0").unwrap();
    peer.send_to(b"dgram", udp.local_addr().unwrap()).unwrap();
    let (n, from) = udp.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"dgram"[..], peer.local_addr().unwrap()));
    // connect_timeout (poll underneath) and name resolution.
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", listener.local_addr().unwrap().port()))
        .unwrap()
        .find(|a| a.is_ipv4())
        .unwrap();
    StdStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    // A refused connection is an error, not a hang.
    let closed = StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    assert_eq!(StdStream::connect(closed).unwrap_err().kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn libc_meaning_is_kept_on_an_os_thread() {
    libc_meaning_is_kept();
}

#[test]
fn libc_meaning_is_kept_on_a_myriad_thread() {
    thread::spawn(libc_meaning_is_kept).join().unwrap();
}

#[test]
fn poll_on_a_myriad_thread_leaves_the_worker_to_others() {
    // One thread waits in poll on a silent socket; thousands of others
    // must still run (they would not if the worker were blocked).
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
    let waiter = thread::spawn(move || {
        let mut pfd = libc::pollfd { fd: client.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 1_000) }
    });
    let workers: Vec<_> = (0..2_000).map(|i| thread::spawn(move || i * 2)).collect();
    let sum: u64 = workers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 1_999 * 2_000);
    assert_eq!(waiter.join().unwrap(), 0);
}

#[test]
fn myriad_intercept_0_turns_it_off() {
    if child_mode().as_deref() == Some("intercept-off") {
        // One worker: a thread parked on a 20 ms sleep is pinned to it,
        // then another thread calls std's sleep for 300 ms there. Only if
        // that parks can the first one wake on time (a spare worker can
        // take new threads, never a pinned one).
        myriad::rt::Builder::new().workers(1).start().unwrap();
        let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = started.clone();
        let pinned = thread::spawn(move || {
            let start = Instant::now();
            s.store(true, std::sync::atomic::Ordering::Release);
            thread::sleep(Duration::from_millis(20));
            start.elapsed()
        });
        // Started, so pinned to the worker (an unstarted thread could be
        // taken by a spare worker while the blocker holds this one).
        while !started.load(std::sync::atomic::Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let blocker = thread::spawn(|| std::thread::sleep(Duration::from_millis(300)));
        println!("woke_after_ms={}", pinned.join().unwrap().as_millis());
        blocker.join().unwrap();
        return;
    }
    let test = "myriad_intercept_0_turns_it_off";
    let woke_after = |env: &[(&str, &str)]| {
        let out = run_child_within(test, "intercept-off", env, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let line = stdout.lines().find_map(|l| l.split("woke_after_ms=").nth(1));
        let ms: u64 = line.unwrap_or_else(|| panic!("no figure in:\n{stdout}")).trim().parse().unwrap();
        Duration::from_millis(ms)
    };
    assert!(woke_after(&[("MYRIAD_INTERCEPT", "0")]) >= Duration::from_millis(250));
    assert!(woke_after(&[]) < Duration::from_millis(250));
}

//! `Thread::interrupt` and deadlines: for each interruptible call, the
//! call interrupted while it blocks, interrupted before it is entered, and
//! not interrupted (unchanged); on myriad threads and on OS threads.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::net::{TcpListener, TcpStream, UdpSocket};
use myriad::thread::{self, Thread};

/// Long enough never to end by itself within a test.
const FOREVER: Duration = Duration::from_secs(3600);

fn scale() -> f64 {
    std::env::var("MYRIAD_TEST_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

/// Gives `thread` time to reach its wait, then interrupts it.
fn interrupt_when_blocked(thread: &Thread) {
    // A short sleep is enough for the thread to reach its wait; if it has
    // not, the interrupt is still seen when it enters the call (which the
    // "before" tests cover), so this only makes the "while blocked" case
    // the likely one, not a condition of passing.
    std::thread::sleep(Duration::from_millis(20));
    thread.interrupt();
}

fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

// ---- sleep ----

#[test]
fn sleep_interrupted_while_blocked_returns_early() {
    let start = Instant::now();
    let h = thread::spawn(|| {
        thread::sleep(FOREVER);
        thread::current().is_interrupted()
    });
    interrupt_when_blocked(h.thread());
    assert!(h.join().unwrap());
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn sleep_interrupted_before_entering_returns_at_once() {
    let h = thread::spawn(|| {
        thread::current().interrupt();
        let start = Instant::now();
        thread::sleep(FOREVER);
        thread::sleep_until(Instant::now() + FOREVER);
        start.elapsed()
    });
    assert!(h.join().unwrap() < Duration::from_secs(5));
}

#[test]
fn sleep_not_interrupted_sleeps_its_time_and_clearing_restores_it() {
    let h = thread::spawn(|| {
        let t = thread::current();
        t.interrupt();
        assert!(t.clear_interrupt());
        assert!(!t.clear_interrupt());
        let start = Instant::now();
        thread::sleep(Duration::from_millis(20));
        (start.elapsed(), t.is_interrupted())
    });
    let (slept, interrupted) = h.join().unwrap();
    assert!(slept >= Duration::from_millis(20));
    assert!(!interrupted);
}

#[test]
fn os_thread_sleep_interrupted_while_blocked() {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        let start = Instant::now();
        thread::sleep(FOREVER);
        (start.elapsed(), thread::current().is_interrupted())
    });
    let t = rx.recv().unwrap();
    assert!(!t.is_myriad());
    interrupt_when_blocked(&t);
    let (slept, interrupted) = h.join().unwrap();
    assert!(slept < Duration::from_secs(10));
    assert!(interrupted);
}

// ---- park ----

#[test]
fn park_interrupted_while_blocked_returns() {
    let h = thread::spawn(|| {
        while !thread::current().is_interrupted() {
            thread::park();
        }
    });
    interrupt_when_blocked(h.thread());
    h.join().unwrap();
}

#[test]
fn park_timeout_interrupted_before_entering_returns_at_once() {
    let h = thread::spawn(|| {
        thread::current().interrupt();
        let start = Instant::now();
        thread::park();
        thread::park_timeout(FOREVER);
        start.elapsed()
    });
    assert!(h.join().unwrap() < Duration::from_secs(5));
}

#[test]
fn park_not_interrupted_waits_for_unpark() {
    let unparked = Arc::new(AtomicBool::new(false));
    let seen = unparked.clone();
    let h = thread::spawn(move || {
        while !seen.load(Ordering::Acquire) {
            thread::park();
        }
        thread::current().is_interrupted()
    });
    std::thread::sleep(Duration::from_millis(10));
    unparked.store(true, Ordering::Release);
    h.thread().unpark();
    assert!(!h.join().unwrap());
    // park_timeout times out as before.
    let start = Instant::now();
    thread::spawn(|| thread::park_timeout(Duration::from_millis(10))).join().unwrap();
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn os_thread_park_interrupted_while_blocked() {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        while !thread::current().is_interrupted() {
            thread::park();
        }
    });
    interrupt_when_blocked(&rx.recv().unwrap());
    h.join().unwrap();
}

// ---- join ----

#[test]
fn join_interruptible_interrupted_while_blocked_gives_the_handle_back() {
    let outer = thread::spawn(|| {
        let slow = thread::spawn(|| {
            thread::sleep(Duration::from_millis(100));
            7
        });
        let (interrupted, slow) = slow.join_interruptible().unwrap_err();
        assert!(!interrupted.by_deadline());
        thread::current().clear_interrupt();
        slow.join_interruptible().unwrap().unwrap()
    });
    interrupt_when_blocked(outer.thread());
    assert_eq!(outer.join().unwrap(), 7);
}

#[test]
fn join_interruptible_interrupted_before_entering_and_not_interrupted() {
    let h = thread::spawn(|| {
        let slow = thread::spawn(|| thread::sleep(Duration::from_millis(50)));
        thread::current().interrupt();
        let (_, slow) = slow.join_interruptible().unwrap_err();
        thread::current().clear_interrupt();
        slow.join_interruptible().unwrap().unwrap();
        // A finished thread joins even when interrupted: nothing to wait for.
        let done = thread::spawn(|| 1);
        while !done.is_finished() {
            thread::yield_now();
        }
        thread::current().interrupt();
        done.join_interruptible().ok().unwrap().unwrap()
    });
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn os_thread_join_interruptible_interrupted_while_blocked() {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        let slow = thread::spawn(|| thread::sleep(Duration::from_secs(2)));
        let start = Instant::now();
        let (_, slow) = slow.join_interruptible().unwrap_err();
        let waited = start.elapsed();
        slow.thread().interrupt();
        slow.join().unwrap();
        waited
    });
    interrupt_when_blocked(&rx.recv().unwrap());
    assert!(h.join().unwrap() < Duration::from_secs(2));
}

// ---- sockets ----

#[test]
fn tcp_read_interrupted_while_blocked_fails_with_an_interrupt_error() {
    let (client, _server) = connected_pair();
    let h = thread::spawn(move || {
        let mut client = client;
        client.read(&mut [0u8; 16])
    });
    interrupt_when_blocked(h.thread());
    let err = h.join().unwrap().unwrap_err();
    assert!(thread::is_interrupt(&err));
    assert_eq!(err.kind(), io::ErrorKind::Other);
    assert_ne!(err.kind(), io::ErrorKind::Interrupted, "std's loops retry that kind");
}

/// std's `read_exact` and `write_all` retry `ErrorKind::Interrupted`; an
/// interrupted thread must get out of them.
#[test]
fn read_exact_and_write_all_return_on_an_interrupted_thread() {
    let (client, mut server) = connected_pair();
    let h = thread::spawn(move || {
        let mut client = client;
        let mut buf = [0u8; 8];
        let read = client.read_exact(&mut buf);
        // Already interrupted: `write_all` fails at once, even though the
        // socket has room.
        let write = client.write_all(b"hello");
        (read, write)
    });
    server.write_all(b"abc").unwrap(); // less than read_exact wants
    interrupt_when_blocked(h.thread());
    let (read, write) = h.join().unwrap();
    assert!(thread::is_interrupt(&read.unwrap_err()));
    assert!(thread::is_interrupt(&write.unwrap_err()));
}

#[test]
fn tcp_read_interrupted_before_entering_fails_even_with_data_waiting() {
    let (client, mut server) = connected_pair();
    server.write_all(b"data").unwrap();
    let h = thread::spawn(move || {
        let mut client = client;
        thread::current().interrupt();
        let first = client.read(&mut [0u8; 16]).map_err(|e| thread::is_interrupt(&e));
        thread::current().clear_interrupt();
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).unwrap();
        (first, buf)
    });
    let (first, buf) = h.join().unwrap();
    assert_eq!(first, Err(true));
    assert_eq!(&buf, b"data", "nothing was consumed by the interrupted call");
}

#[test]
fn tcp_io_not_interrupted_is_unchanged() {
    let (client, server) = connected_pair();
    let echo = thread::spawn(move || {
        let mut server = server;
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).unwrap();
        server.write_all(&buf).unwrap();
    });
    let h = thread::spawn(move || {
        let mut client = client;
        thread::sleep(Duration::from_millis(5));
        client.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).unwrap();
        buf
    });
    assert_eq!(&h.join().unwrap(), b"hello");
    echo.join().unwrap();
}

#[test]
fn accept_interrupted_while_blocked_and_before_entering() {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let l = listener.clone();
    let h = thread::spawn(move || l.accept().map(|_| ()));
    interrupt_when_blocked(h.thread());
    assert!(thread::is_interrupt(&h.join().unwrap().unwrap_err()));
    let l = listener.clone();
    let h = thread::spawn(move || {
        thread::current().interrupt();
        l.accept().map(|_| ())
    });
    assert!(thread::is_interrupt(&h.join().unwrap().unwrap_err()));
    // Not interrupted: accepts.
    let addr = listener.local_addr().unwrap();
    let l = listener.clone();
    let h = thread::spawn(move || l.accept().map(|_| ()));
    let _c = TcpStream::connect(addr).unwrap();
    h.join().unwrap().unwrap();
}

#[test]
fn tcp_write_interrupted_while_blocked_on_a_full_socket() {
    let (client, _server) = connected_pair();
    let h = thread::spawn(move || {
        let mut client = client;
        let chunk = vec![0u8; 1 << 16];
        loop {
            if let Err(e) = client.write(&chunk) {
                return e;
            }
        }
    });
    interrupt_when_blocked(h.thread());
    assert!(thread::is_interrupt(&h.join().unwrap()));
}

#[test]
fn udp_recv_interrupted_while_blocked() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let h = thread::spawn(move || socket.recv_from(&mut [0u8; 16]).map(|_| ()));
    interrupt_when_blocked(h.thread());
    assert!(thread::is_interrupt(&h.join().unwrap().unwrap_err()));
}

// ---- deadlines ----

#[test]
fn a_deadline_ends_a_blocked_read_with_timed_out_and_interrupts_the_thread() {
    let (client, _server) = connected_pair();
    let h = thread::spawn(move || {
        let mut client = client;
        let start = Instant::now();
        thread::set_deadline(Some(start + Duration::from_millis(20)));
        let err = client.read(&mut [0u8; 4]).unwrap_err();
        (err, start.elapsed(), thread::check_interrupt())
    });
    let (err, waited, check) = h.join().unwrap();
    assert!(thread::is_interrupt(&err));
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(waited >= Duration::from_millis(20) && waited < Duration::from_secs(10));
    assert!(check.unwrap_err().by_deadline());
}

#[test]
fn a_deadline_does_not_end_a_call_that_finishes_first() {
    let h = thread::spawn(|| {
        thread::set_deadline(Some(Instant::now() + Duration::from_secs(60)));
        thread::sleep(Duration::from_millis(5));
        let (tx, rx) = myriad::sync::mpsc::channel();
        tx.send(1).unwrap();
        (rx.recv().unwrap(), thread::check_interrupt().is_ok(), thread::deadline().is_some())
    });
    assert_eq!(h.join().unwrap(), (1, true, true));
}

#[test]
fn os_thread_deadline_ends_its_sleep() {
    let h = std::thread::spawn(|| {
        let start = Instant::now();
        thread::set_deadline(Some(start + Duration::from_millis(10)));
        thread::sleep(FOREVER);
        let slept = start.elapsed();
        let by_deadline = thread::check_interrupt().unwrap_err().by_deadline();
        thread::set_deadline(None);
        thread::current().clear_interrupt();
        (slept, by_deadline, thread::check_interrupt().is_ok())
    });
    let (slept, by_deadline, clear) = h.join().unwrap();
    assert!(slept >= Duration::from_millis(10) && slept < Duration::from_secs(10));
    assert!(by_deadline && clear);
}

// ---- many ----

/// 10,000 threads blocked in `recv` on idle loopback sockets (5,000
/// connections, both ends read), all interrupted and joined. The goal is
/// well under a second on a 2-core VM; the bound is generous for loaded
/// CI machines.
#[test]
fn ten_thousand_threads_blocked_in_recv_are_all_interrupted_and_joined() {
    let pairs = ((5_000.0 * scale()) as usize).max(2);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut readers = Vec::with_capacity(2 * pairs);
    // Kept open until every reader is done: a reader that ends closes
    // nothing its peer reads from.
    let mut streams = Vec::with_capacity(2 * pairs);
    for _ in 0..pairs {
        let client = TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        for stream in [client, server] {
            let stream = Arc::new(stream);
            streams.push(stream.clone());
            readers.push(thread::spawn(move || (&*stream).read(&mut [0u8; 64])));
        }
    }
    // Let them all block.
    thread::sleep(Duration::from_millis(100));
    assert!(!readers.iter().any(|h| h.is_finished()), "a reader of an idle socket returned");
    let start = Instant::now();
    for h in &readers {
        h.thread().interrupt();
    }
    let results: Vec<io::Result<usize>> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    let took = start.elapsed();
    eprintln!("{} threads blocked in recv: interrupted and joined in {took:?}", 2 * pairs);
    let other: Vec<_> = results.iter().filter(|r| !r.as_ref().err().is_some_and(thread::is_interrupt)).collect();
    assert!(other.is_empty(), "not interrupted: {other:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

// ---- files on io_uring ----

/// A FIFO opened read-write (so `open` does not wait for a writer): a read
/// of it waits in the kernel until data comes, as a slow disk would.
fn fifo(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("myriad-interrupt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    path
}

/// The read is in flight on the worker's io_uring ring when the interrupt
/// comes: it is cancelled, and the call returns only after the kernel's
/// completion (valgrind, in `scripts/valgrind.sh`, checks that the buffer
/// is not touched after the frame that owns it is gone). The ring keeps
/// working afterwards.
#[test]
fn a_file_read_in_flight_on_io_uring_is_cancelled() {
    let path = fifo("cancel");
    let file = myriad::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    let file = Arc::new(file);
    let f = file.clone();
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 64];
        let result = (&*f).read(&mut buf);
        drop(buf);
        result
    });
    interrupt_when_blocked(reader.thread());
    let err = reader.join().unwrap().unwrap_err();
    assert!(thread::is_interrupt(&err), "{err:?}");
    // Interrupted before entering: fails at once, even with data waiting.
    (&*file).write_all(b"ping").unwrap();
    let f = file.clone();
    let early = thread::spawn(move || {
        thread::current().interrupt();
        (&*f).read(&mut [0u8; 4]).map_err(|e| thread::is_interrupt(&e))
    });
    assert_eq!(early.join().unwrap(), Err(true));
    // Not interrupted: reads what was written, nothing lost to the
    // cancelled read.
    let f = file.clone();
    let again = thread::spawn(move || {
        let mut buf = [0u8; 4];
        (&*f).read_exact(&mut buf).map(|_| buf)
    });
    assert_eq!(&again.join().unwrap().unwrap(), b"ping");
    std::fs::remove_file(&path).unwrap();
    if myriad::fs::io_uring_active() {
        eprintln!("io_uring was active");
    }
}

// ---- scopes ----

#[test]
fn a_deadline_is_inherited_by_scoped_children() {
    let h = thread::spawn(|| {
        let deadline = Instant::now() + Duration::from_millis(30);
        thread::set_deadline(Some(deadline));
        let start = Instant::now();
        let children = thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(move || {
                        let inherited = thread::deadline();
                        // The grandchild inherits it too, through a nested scope.
                        let grandchild = thread::scope(|s2| {
                            s2.spawn(|| {
                                thread::sleep(FOREVER);
                                thread::check_interrupt().unwrap_err().by_deadline()
                            })
                            .join()
                            .unwrap()
                        });
                        thread::sleep(FOREVER);
                        (inherited, grandchild, thread::check_interrupt().unwrap_err().by_deadline())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
        });
        (deadline, start.elapsed(), children)
    });
    let (deadline, took, children) = h.join().unwrap();
    assert!(took >= Duration::from_millis(30) && took < Duration::from_secs(10), "{took:?}");
    for (inherited, grandchild, by_deadline) in children {
        assert_eq!(inherited, Some(deadline));
        assert!(grandchild && by_deadline);
    }
    // A thread spawned outside a scope does not inherit it.
    let h = thread::spawn(|| {
        thread::set_deadline(Some(Instant::now() + Duration::from_millis(1)));
        thread::spawn(thread::deadline).join().unwrap()
    });
    assert_eq!(h.join().unwrap(), None);
}

#[test]
fn scope_interrupt_cancels_every_sibling_and_later_ones() {
    let (tx, rx) = std::sync::mpsc::channel();
    let start = Instant::now();
    let interrupted = thread::scope(|s| {
        let sleepers: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    thread::sleep(FOREVER);
                    thread::current().is_interrupted()
                })
            })
            .collect();
        let (client, _server) = connected_pair();
        let reader = s.spawn(move || {
            let mut client = client;
            client.read(&mut [0u8; 1]).map_err(|e| thread::is_interrupt(&e))
        });
        // One fails and cancels the rest, from inside the scope.
        s.spawn(|| {
            thread::sleep(Duration::from_millis(10));
            s.interrupt();
            tx.send(()).unwrap();
        });
        rx.recv().unwrap();
        // Spawned after the interrupt: starts interrupted.
        let late = s.spawn(|| {
            thread::sleep(FOREVER);
            thread::current().is_interrupted()
        });
        assert_eq!(reader.join().unwrap(), Err(true));
        assert!(late.join().unwrap());
        sleepers.into_iter().all(|h| h.join().unwrap())
    });
    assert!(interrupted);
    assert!(start.elapsed() < Duration::from_secs(10));
    // The scope's creator was not interrupted.
    assert!(!thread::current().is_interrupted());
}

// ---- blocking ----

/// Records which OS thread drops it.
struct DroppedOn(Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>);

impl Drop for DroppedOn {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(std::thread::current().id());
    }
}

#[test]
fn blocking_interruptible_releases_the_caller_and_drops_the_result_on_the_pool_thread() {
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    let d = dropped_on.clone();
    let (ran_tx, ran_rx) = std::sync::mpsc::channel();
    let caller = thread::spawn(move || {
        let start = Instant::now();
        let result = myriad::blocking_interruptible(move || {
            std::thread::sleep(Duration::from_millis(300));
            ran_tx.send(std::thread::current().id()).unwrap();
            DroppedOn(d)
        });
        (result.is_err(), start.elapsed(), std::thread::current().id())
    });
    interrupt_when_blocked(caller.thread());
    let (interrupted, waited, caller_os_thread) = caller.join().unwrap();
    assert!(interrupted);
    assert!(waited < Duration::from_millis(300), "released before the call ended: {waited:?}");
    let pool_thread = ran_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // The job finishes and drops its result on its own thread.
    let deadline = Instant::now() + Duration::from_secs(10);
    while dropped_on.lock().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(*dropped_on.lock().unwrap(), Some(pool_thread));
    assert_ne!(pool_thread, caller_os_thread);
}

#[test]
fn blocking_interruptible_before_entering_does_not_run_and_not_interrupted_returns() {
    let h = thread::spawn(|| {
        thread::current().interrupt();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let early = myriad::blocking_interruptible(move || r.store(true, Ordering::SeqCst));
        thread::current().clear_interrupt();
        let value = myriad::blocking_interruptible(|| 6 * 7);
        (early.is_err(), ran.load(Ordering::SeqCst), value)
    });
    assert_eq!(h.join().unwrap(), (true, false, Ok(42)));
}

#[test]
fn os_thread_blocking_interruptible_interrupted_while_blocked() {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        let start = Instant::now();
        let r = myriad::blocking_interruptible(|| std::thread::sleep(Duration::from_millis(500)));
        (r.is_err(), start.elapsed())
    });
    interrupt_when_blocked(&rx.recv().unwrap());
    let (interrupted, waited) = h.join().unwrap();
    assert!(interrupted && waited < Duration::from_millis(500), "{waited:?}");
}

#[test]
fn os_thread_tcp_read_interrupted_while_blocked_and_not_interrupted() {
    let (client, mut server) = connected_pair();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        let mut client = client;
        let interrupted = client.read(&mut [0u8; 8]).map_err(|e| thread::is_interrupt(&e));
        thread::current().clear_interrupt();
        // Not interrupted: it waits for the data as before.
        let mut buf = [0u8; 2];
        client.read_exact(&mut buf).unwrap();
        (interrupted, buf)
    });
    interrupt_when_blocked(&rx.recv().unwrap());
    std::thread::sleep(Duration::from_millis(20));
    server.write_all(b"ok").unwrap();
    let (interrupted, buf) = h.join().unwrap();
    assert_eq!(interrupted, Err(true));
    assert_eq!(&buf, b"ok");
}

// ---- Condvar, Barrier, Semaphore ----

#[test]
fn condvar_wait_interruptible_interrupted_while_blocked_before_and_not() {
    use myriad::sync::{Condvar, Mutex};
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p = pair.clone();
    let h = thread::spawn(move || {
        let (lock, cvar) = &*p;
        let guard = lock.lock().unwrap();
        let (guard, outcome) = cvar.wait_interruptible(guard).unwrap();
        let interrupted = outcome.is_err();
        drop(guard);
        // Before entering: returns at once, the lock held again.
        let (guard, outcome) = cvar.wait_interruptible(lock.lock().unwrap()).unwrap();
        let early = outcome.is_err();
        drop(guard);
        thread::current().clear_interrupt();
        // Not interrupted: a notification ends it.
        let mut guard = lock.lock().unwrap();
        while *guard == 0 {
            let (g, outcome) = cvar.wait_interruptible(guard).unwrap();
            assert!(outcome.is_ok());
            guard = g;
        }
        (interrupted, early, *guard)
    });
    interrupt_when_blocked(h.thread());
    std::thread::sleep(Duration::from_millis(20));
    *pair.0.lock().unwrap() = 5;
    pair.1.notify_all();
    assert_eq!(h.join().unwrap(), (true, true, 5));
}

#[test]
fn barrier_wait_interruptible_withdraws_the_interrupted_arrival() {
    use myriad::sync::Barrier;
    let barrier = Arc::new(Barrier::new(2));
    let b = barrier.clone();
    let h = thread::spawn(move || b.wait_interruptible().map(|r| r.is_leader()));
    interrupt_when_blocked(h.thread());
    assert!(h.join().unwrap().is_err());
    // The interrupted thread no longer counts: the round needs two again.
    let b = barrier.clone();
    let other = thread::spawn(move || b.wait_interruptible().is_ok());
    std::thread::sleep(Duration::from_millis(20));
    assert!(!other.is_finished(), "one arrival must not complete a round of two");
    let b = barrier.clone();
    let before = thread::spawn(move || {
        thread::current().interrupt();
        b.wait_interruptible().is_err()
    });
    assert!(before.join().unwrap());
    barrier.wait();
    assert!(other.join().unwrap());
}

#[test]
fn semaphore_acquire_interruptible_interrupted_while_blocked_before_and_not() {
    use myriad::sync::Semaphore;
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    let h = thread::spawn(move || s.acquire_interruptible().map(|g| g.forget()).is_err());
    interrupt_when_blocked(h.thread());
    assert!(h.join().unwrap());
    let s = sem.clone();
    let before = thread::spawn(move || {
        thread::current().interrupt();
        s.acquire_interruptible().map(|g| g.forget()).is_err()
    });
    assert!(before.join().unwrap());
    assert_eq!(sem.available_permits(), 0);
    let s = sem.clone();
    let waiting = thread::spawn(move || s.acquire_interruptible().map(|g| g.forget()).is_ok());
    std::thread::sleep(Duration::from_millis(10));
    sem.add_permits(1);
    assert!(waiting.join().unwrap());
}

#[test]
fn os_thread_condvar_wait_interruptible_interrupted_while_blocked() {
    use myriad::sync::{Condvar, Mutex};
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        let (lock, cvar) = (Mutex::new(()), Condvar::new());
        let (_guard, outcome) = cvar.wait_interruptible(lock.lock().unwrap()).unwrap();
        outcome.is_err()
    });
    interrupt_when_blocked(&rx.recv().unwrap());
    assert!(h.join().unwrap());
}

// ---- races ----

/// Interrupts racing the wake-ups and timers that end the same waits:
/// each wait ends once (a double schedule would resume a running thread
/// and crash), none hangs, and a thread interrupted and cleared blocks
/// again afterwards.
#[test]
fn interrupts_racing_wakeups_and_timers_end_each_wait_once() {
    let rounds = ((2_000.0 * scale()) as usize).max(20);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let (client, mut server) = connected_pair();
    let waiter = thread::spawn(move || {
        let mut client = client;
        let mut ended = 0usize;
        let mut i = 0u64;
        while !s.load(Ordering::Acquire) {
            i += 1;
            match i % 3 {
                0 => thread::park_timeout(Duration::from_micros(i % 50)),
                1 => thread::sleep(Duration::from_micros(i % 40)),
                _ => {
                    let _ = client.read(&mut [0u8; 1]);
                }
            }
            thread::current().clear_interrupt();
            ended += 1;
        }
        ended
    });
    let t = waiter.thread().clone();
    let pinger = thread::spawn(move || {
        for i in 0..rounds {
            t.unpark();
            if i % 2 == 0 {
                t.interrupt();
            }
            if i % 5 == 0 {
                let _ = server.write_all(b"x");
            }
            thread::yield_now();
        }
        server
    });
    let _server = pinger.join().unwrap();
    stop.store(true, Ordering::Release);
    // Wake it from whatever it waits in now.
    waiter.thread().interrupt();
    let ended = waiter.join().unwrap();
    assert!(ended > 0);
}

// ---- channels ----

#[test]
fn mpsc_recv_interruptible_interrupted_while_blocked_before_and_not() {
    use myriad::sync::mpsc::{channel, RecvInterruptError};
    let (tx, rx) = channel::<u32>();
    let rx = Arc::new(rx);
    let r = rx.clone();
    let h = thread::spawn(move || r.recv_interruptible());
    interrupt_when_blocked(h.thread());
    assert!(matches!(h.join().unwrap(), Err(RecvInterruptError::Interrupted(_))));
    tx.send(9).unwrap();
    let r = rx.clone();
    let before = thread::spawn(move || {
        thread::current().interrupt();
        let early = r.recv_interruptible();
        thread::current().clear_interrupt();
        (early, r.recv_interruptible())
    });
    let (early, after) = before.join().unwrap();
    assert!(matches!(early, Err(RecvInterruptError::Interrupted(_))), "the message stays for later");
    assert_eq!(after, Ok(9));
    // Not interrupted: waits for a message as recv does.
    let r = rx.clone();
    let waiting = thread::spawn(move || r.recv_interruptible());
    std::thread::sleep(Duration::from_millis(10));
    tx.send(10).unwrap();
    assert_eq!(waiting.join().unwrap(), Ok(10));
    drop(tx);
    assert_eq!(rx.recv_interruptible(), Err(RecvInterruptError::Disconnected));
}

#[test]
fn bounded_send_interruptible_interrupted_while_blocked_gives_the_message_back() {
    use myriad::sync::channel::{bounded, SendInterruptError};
    let (tx, rx) = bounded::<String>(0);
    let h = thread::spawn(move || tx.send_interruptible("kept".to_string()).map_err(|e| (e.to_string(), e)));
    interrupt_when_blocked(h.thread());
    let (text, err) = h.join().unwrap().unwrap_err();
    assert!(text.contains("interrupted"));
    assert!(matches!(&err, SendInterruptError::Interrupted(m, _) if m == "kept"));
    assert_eq!(err.into_inner(), "kept");
    // The rendezvous channel saw no message.
    assert!(rx.try_recv().is_err());
}

#[test]
fn sync_channel_send_interruptible_not_interrupted_rendezvous_works() {
    let (tx, rx) = myriad::sync::mpsc::sync_channel::<u32>(0);
    let h = thread::spawn(move || tx.send_interruptible(5).is_ok());
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(rx.recv(), Ok(5));
    assert!(h.join().unwrap());
}

#[test]
fn a_deadline_ends_recv_interruptible_and_leaves_plain_recv_alone() {
    use myriad::sync::mpsc::{channel, RecvInterruptError};
    let (tx, rx) = channel::<u32>();
    let (timed_out_tx, timed_out) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        thread::set_deadline(Some(Instant::now() + Duration::from_millis(15)));
        let err = rx.recv_interruptible().unwrap_err();
        timed_out_tx.send(()).unwrap();
        // Plain `recv` is not interruptible: it still gets the message.
        let plain = rx.recv();
        (err, plain)
    });
    timed_out.recv().unwrap();
    std::thread::sleep(Duration::from_millis(10));
    tx.send(3).unwrap();
    let (err, plain) = h.join().unwrap();
    assert!(matches!(err, RecvInterruptError::Interrupted(i) if i.by_deadline()));
    assert_eq!(plain, Ok(3));
}

#[test]
fn os_thread_recv_interruptible_interrupted_while_blocked() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (_keep, chan_rx) = myriad::sync::mpsc::channel::<u32>();
    let h = std::thread::spawn(move || {
        tx.send(thread::current()).unwrap();
        chan_rx.recv_interruptible().is_err()
    });
    interrupt_when_blocked(&rx.recv().unwrap());
    assert!(h.join().unwrap());
}

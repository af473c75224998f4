//! The c100k example's workload, scaled down to CI size: 1,000
//! connections keeping 8 pipelined requests each in flight (8,000 requests
//! at once, a thread each), every response verified and in order; and the
//! server's answers to bad input, also in the middle of a pipeline.

// The test uses part of what the example shares between its two sides.
#[allow(dead_code)]
#[path = "../examples/c100k/shared.rs"]
mod shared;

#[allow(dead_code)]
mod on_myriad {
    use myriad::fs::FileExt;
    use myriad::{fs, net, sync, thread};
    include!("../examples/c100k/stop_myriad.rs");
    include!("../examples/c100k/workload.rs");
}

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use shared::{Config, Progress};

fn config(connections: usize, pipeline: usize, requests: usize, read_timeout: Duration) -> Config {
    Config {
        connections,
        pipeline,
        fanout: 0,
        requests_per_connection: requests,
        backend_connections: 32,
        deadline: Duration::from_secs(120),
        read_timeout,
        downstream_ms: 300,
    }
}

fn data_file(tag: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("myriad-c100k-test-{tag}-{}", std::process::id()));
    shared::write_data_file(&path).unwrap();
    path
}

#[test]
fn scaled_down_run_verifies_every_response() {
    let path = data_file("run");
    let progress: &'static Progress = Box::leak(Box::default());
    // Each request waits 2–4 s downstream: far longer than it takes to
    // receive the first 8,000 (tens of milliseconds; seconds on a machine
    // with a load average in the hundreds), so all of them are in flight
    // at once.
    let mut config = config(1000, 8, 16, Duration::from_secs(30));
    config.downstream_ms = 2000;
    let report = on_myriad::run(&config, &path, progress);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(report.errors, 0, "first error: {:?}", report.first_error);
    // Every response verified, in order (the client checks each body
    // against the id it sent in that position).
    assert_eq!(report.requests, 16_000);
    assert_eq!(report.latencies_us.len(), 16_000);
    // All 8,000 of the first window arrive before the first answer can
    // leave. A user never has more than 8 outstanding, but the server may
    // read a user's next request in the instant between writing a
    // response and counting it answered: at most one more per connection.
    assert!((8000..=9000).contains(&report.peak_in_flight), "peak in flight {}", report.peak_in_flight);
    assert_eq!(progress.in_flight.load(std::sync::atomic::Ordering::Relaxed), 0);
    // A thread per request in flight, plus a thread per connection on each end.
    assert!(report.peak_threads >= 8000 + 2000, "peak threads {}", report.peak_threads);
}

/// Sends `request` on a fresh connection and returns the status line and
/// whether the server then closed the connection.
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (String, bool) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut rest = Vec::new();
    let closed = reader.read_to_end(&mut rest).is_ok();
    (status.trim_end().to_string(), closed)
}

#[test]
fn bad_input_gets_a_clear_status_and_the_connection_closes() {
    let path = data_file("bad");
    let progress: &'static Progress = Box::leak(Box::default());
    let mut config = config(1, 1, 1, Duration::from_millis(500));
    config.downstream_ms = 50;
    let addr = on_myriad::start_server(&config, &path, progress).unwrap();
    assert_eq!(exchange(addr, b"BLAH\r\n\r\n"), ("HTTP/1.1 400 Bad Request".into(), true));
    assert_eq!(exchange(addr, b"GET /nowhere HTTP/1.1\r\n\r\n"), ("HTTP/1.1 404 Not Found".into(), true));
    let huge = format!("GET /work/1 HTTP/1.1\r\nX-Filler: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(exchange(addr, huge.as_bytes()), ("HTTP/1.1 413 Content Too Large".into(), true));
    let big_body = b"GET /work/1 HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n";
    assert_eq!(exchange(addr, big_body), ("HTTP/1.1 413 Content Too Large".into(), true));
    assert_eq!(exchange(addr, b"GET /work/1 HTTP/1.1\r\nContent-Length: x\r\n\r\n").0, "HTTP/1.1 400 Bad Request");
    // A good request still works after all that.
    let (status, _) = exchange(addr, b"GET /work/5 HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    // A client that stalls mid-request is timed out and disconnected.
    let mut stalled = std::net::TcpStream::connect(addr).unwrap();
    stalled.write_all(b"GET /work/1 HTT").unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(stalled.read(&mut buf).unwrap(), 0, "the server closes a stalled connection");
    // Pipelined: two good requests, a bad one, and one after it. The
    // answers come in order, the bad one's after the good ones', and the
    // connection closes without answering what followed.
    let (statuses, closed) = exchange_all(
        addr,
        b"GET /work/7 HTTP/1.1\r\n\r\nGET /work/8 HTTP/1.1\r\n\r\nGET /elsewhere HTTP/1.1\r\n\r\nGET /work/9 HTTP/1.1\r\n\r\n",
    );
    assert_eq!(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"]);
    assert!(closed);
    assert_eq!(progress.errors.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(progress.in_flight.load(std::sync::atomic::Ordering::Relaxed), 0);
    std::fs::remove_file(&path).unwrap();
}

/// Sends `requests` at once on a fresh connection; returns the status line
/// of every response (checking each 200's body) until the server closes.
fn exchange_all(addr: std::net::SocketAddr, requests: &[u8]) -> (Vec<String>, bool) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(requests).unwrap();
    let mut reader = BufReader::new(stream);
    let mut statuses = Vec::new();
    let ids = [7u64, 8, 9];
    loop {
        let mut status = String::new();
        if reader.read_line(&mut status).unwrap() == 0 {
            return (statuses, true);
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim_end().is_empty() {
                break;
            }
            if let Some(v) = header.trim_end().strip_prefix("Content-Length: ") {
                length = v.parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        if status.starts_with("HTTP/1.1 200") {
            let id = ids[statuses.len()];
            assert_eq!(String::from_utf8(body).unwrap(), shared::expected_body(id, 0), "response {id} in order");
        }
        statuses.push(status.trim_end().to_string());
    }
}

/// Waits up to `bound` for `done`; whether it came.
fn wait_for(bound: Duration, done: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while !done() {
        if start.elapsed() > bound {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// A client that goes away (resets its connection) with its request still
/// being worked on: the connection thread interrupts the request's thread,
/// which interrupts its fan-out, whose downstream calls (a minute long
/// here) end at once.
#[test]
fn a_client_that_disconnects_interrupts_its_requests_fan_out() {
    use std::sync::atomic::Ordering::Relaxed;
    let path = data_file("gone");
    let progress: &'static Progress = Box::leak(Box::default());
    let mut config = config(1, 1, 1, Duration::from_secs(30));
    config.fanout = 4;
    config.downstream_ms = 60_000;
    let addr = on_myriad::start_server(&config, &path, progress).unwrap();
    // The backend's threads, one per pooled connection, once all started.
    let base = config.backend_connections;
    assert!(wait_for(Duration::from_secs(30), || progress.threads_alive.load(Relaxed) == base));
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.write_all(b"GET /work/3 HTTP/1.1\r\n\r\n").unwrap();
    // The connection's, the request's and the 4 fan-out threads.
    assert!(wait_for(Duration::from_secs(30), || progress.in_flight.load(Relaxed) == 1
        && progress.threads_alive.load(Relaxed) >= base + 6));
    let start = std::time::Instant::now();
    // Linger 0: the close resets the connection.
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on an open socket with a valid `linger`.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&client),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(client);
    assert!(
        wait_for(Duration::from_secs(20), || progress.in_flight.load(Relaxed) == 0
            && progress.threads_alive.load(Relaxed) == base),
        "the request and its fan-out were not stopped: {} in flight, {} threads",
        progress.in_flight.load(Relaxed),
        progress.threads_alive.load(Relaxed)
    );
    eprintln!("request and fan-out stopped {:?} after the client left", start.elapsed());
    std::fs::remove_file(&path).unwrap();
}

/// `shut_down` (what Ctrl-C does in the example): every connection thread
/// is interrupted, and with it every request thread, long before their
/// downstream calls would have ended.
#[test]
fn shut_down_interrupts_every_connection_and_request() {
    use std::sync::atomic::Ordering::Relaxed;
    let path = data_file("shutdown");
    let progress: &'static Progress = Box::leak(Box::default());
    let mut config = config(50, 4, 4, Duration::from_secs(30));
    config.downstream_ms = 60_000;
    let addr = on_myriad::start_server(&config, &path, progress).unwrap();
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"GET /work/1 HTTP/1.1\r\n\r\nGET /work/2 HTTP/1.1\r\n\r\n").unwrap();
            c
        })
        .collect();
    assert!(wait_for(Duration::from_secs(30), || progress.in_flight.load(Relaxed) == 100));
    let start = std::time::Instant::now();
    assert_eq!(on_myriad::shut_down(Some(addr)), 50);
    assert!(
        wait_for(Duration::from_secs(20), || progress.connections_open.load(Relaxed) == 0
            && progress.in_flight.load(Relaxed) == 0),
        "{} connections, {} requests left",
        progress.connections_open.load(Relaxed),
        progress.in_flight.load(Relaxed)
    );
    eprintln!("50 connections and 100 requests stopped in {:?}", start.elapsed());
    // The listener is closed too: new connections are refused.
    assert!(wait_for(Duration::from_secs(20), || std::net::TcpStream::connect(addr).is_err()));
    drop(clients);
    std::fs::remove_file(&path).unwrap();
}

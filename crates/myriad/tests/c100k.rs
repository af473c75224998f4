//! The c100k example's workload, scaled down to CI size: 2,000
//! connections and 20,000+ threads at once, every response verified; and
//! the server's answers to bad input.

// The test uses part of what the example shares between its two sides.
#[allow(dead_code)]
#[path = "../examples/c100k/shared.rs"]
mod shared;

#[allow(dead_code)]
mod on_myriad {
    use myriad::fs::FileExt;
    use myriad::{fs, net, sync, thread};
    include!("../examples/c100k/workload.rs");
}

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use shared::{Config, Progress};

fn config(connections: usize, fanout: usize, requests: usize, read_timeout: Duration) -> Config {
    Config {
        connections,
        fanout,
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
    let config = config(2000, 9, 3, Duration::from_secs(30));
    let report = on_myriad::run(&config, &path, progress);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(report.errors, 0, "first error: {:?}", report.first_error);
    assert_eq!(report.requests, 6000);
    assert_eq!(report.latencies_us.len(), 6000);
    // All users connect before any sends, and each request's fan-out
    // threads wait for the backend: 2,000 × (1 user + 1 handler + 9).
    assert!(report.peak_threads >= 20_000, "peak {}", report.peak_threads);
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
    let addr = on_myriad::start_server(&config(1, 2, 1, Duration::from_millis(500)), &path, progress).unwrap();
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
    assert_eq!(progress.errors.load(std::sync::atomic::Ordering::Relaxed), 0);
    std::fs::remove_file(&path).unwrap();
}

//! The `redis` crate's synchronous client, used as its docs show, against a
//! real `redis-server` (Debian's package; `.ci/run` installs it) started on
//! a free loopback port, from 1,000 myriad threads at once. The `BLPOP`
//! case blocks 200 threads in `recv` until other threads, on the same two
//! workers, push: without interception the blocked ones would hold both
//! workers and the pushers would never run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;

struct RedisServer {
    child: Child,
    url: String,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> RedisServer {
    // One server at a time from picking a free port to its listening on
    // it: two tests picking the same port would share one server, and the
    // first to end would kill it under the other.
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--maxclients", "4000"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server not found: install Debian's redis-server package (.ci/run does)");
    let mut server = RedisServer { child, url: format!("redis://127.0.0.1:{port}/") };
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(server.child.try_wait().unwrap().is_none(), "redis-server exited (port {port} taken?)");
        assert!(Instant::now() < until, "redis-server did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[test]
fn a_thousand_redis_clients_on_myriad_threads() {
    let server = start_redis();
    let handles: Vec<_> = (0..1_000)
        .map(|i| {
            let url = server.url.clone();
            myriad::thread::spawn(move || -> redis::RedisResult<String> {
                let client = redis::Client::open(url)?;
                let mut con = client.get_connection()?;
                let key = format!("key-{i}");
                let _: () = con.set(&key, format!("value-{i}"))?;
                con.get(&key)
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap().unwrap(), format!("value-{i}"));
    }
}

#[test]
fn blpop_parks_only_its_thread() {
    let server = start_redis();
    let poppers: Vec<_> = (0..200)
        .map(|i| {
            let url = server.url.clone();
            myriad::thread::spawn(move || -> redis::RedisResult<Option<(String, String)>> {
                let mut con = redis::Client::open(url)?.get_connection()?;
                con.blpop(format!("list-{i}"), 30.0)
            })
        })
        .collect();
    // Give the poppers time to block, then push from other threads.
    myriad::thread::sleep(Duration::from_millis(200));
    let pushers: Vec<_> = (0..200)
        .map(|i| {
            let url = server.url.clone();
            myriad::thread::spawn(move || -> redis::RedisResult<()> {
                let mut con = redis::Client::open(url)?.get_connection()?;
                con.lpush(format!("list-{i}"), format!("item-{i}"))
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap().unwrap();
    }
    for (i, p) in poppers.into_iter().enumerate() {
        assert_eq!(p.join().unwrap().unwrap(), Some((format!("list-{i}"), format!("item-{i}"))));
    }
}

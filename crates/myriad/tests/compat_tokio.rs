//! `myriad::compat::tokio` (feature `tokio`): futures that need tokio's
//! reactor and timer, run from myriad threads — 10,000 at once — and from
//! OS threads.
//!
//! `cargo test -p myriad --features tokio --test compat_tokio`

use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use myriad::compat::tokio::run;
use myriad::net::TcpListener;
use myriad::sync::Semaphore;
use myriad::thread;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A line-echo server on myriad threads: one thread per connection.
fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut buf = [0u8; 256];
                // Ends at EOF or at the client's reset (it closes with linger 0).
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    if stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// 10,000 myriad threads at once each sleep on a tokio timer, then open a
/// `tokio::net::TcpStream` to a myriad echo server and check their own
/// message comes back. At most `CONNECTIONS` are open at a time (client and
/// server ends both count against `RLIMIT_NOFILE`).
#[test]
fn ten_thousand_threads_sleep_and_echo_through_tokio() {
    const THREADS: usize = 10_000;
    const CONNECTIONS: usize = 100;
    let addr = echo_server();
    let gate = Arc::new(Semaphore::new(CONNECTIONS));
    let slept = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (gate, slept) = (gate.clone(), slept.clone());
            thread::spawn(move || {
                let nap = Duration::from_millis(20 + (i % 30) as u64);
                let t = Instant::now();
                // Made inside `run`, where the runtime's context is entered.
                run(async { tokio::time::sleep(nap).await });
                assert!(t.elapsed() >= nap, "thread {i} slept {:?} < {nap:?}", t.elapsed());
                slept.fetch_add(1, Ordering::Relaxed);
                let _permit = gate.acquire();
                let message = format!("hello from thread {i}\n");
                let echoed = run(async {
                    let mut stream = tokio::net::TcpStream::connect(addr).await?;
                    // No TIME_WAIT left behind: 10,000 of them would eat the
                    // ephemeral ports of later runs.
                    stream.set_zero_linger()?;
                    stream.write_all(message.as_bytes()).await?;
                    let mut back = vec![0u8; message.len()];
                    stream.read_exact(&mut back).await?;
                    std::io::Result::Ok(back)
                })
                .unwrap_or_else(|e| panic!("thread {i}: {e}"));
                assert_eq!(echoed, message.as_bytes(), "thread {i}");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(slept.load(Ordering::Relaxed), THREADS);
    // Sleeps of 20-49 ms, all at once, and 10,000 short connections: a few
    // seconds even in a debug build on a loaded 2-core VM.
    assert!(start.elapsed() < Duration::from_secs(60), "took {:?}", start.elapsed());
}

#[test]
fn a_panic_in_the_future_resumes_in_the_caller() {
    let r = thread::spawn(|| {
        run(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            panic!("inside the future");
        })
    })
    .join();
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"inside the future"));
    // From an OS thread too.
    let r = std::panic::catch_unwind(|| run(async { panic!("on an OS thread") }));
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"on an OS thread"));
    // The bridge still works.
    assert_eq!(thread::spawn(|| run(async { 7 })).join().unwrap(), 7);
}

#[test]
fn an_os_thread_just_blocks() {
    let t = Instant::now();
    let local = String::from("borrowed");
    let n = run(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        local.len()
    });
    assert_eq!(n, 8);
    assert!(t.elapsed() >= Duration::from_millis(10));
}

/// The future runs on the calling thread: it need not be `Send`, and may
/// borrow; the tasks it spawns run on the runtime's threads.
#[test]
fn the_future_runs_on_the_caller_and_its_tasks_on_the_runtime() {
    let (caller, in_future, in_task) = thread::spawn(|| {
        let caller = std::thread::current().name().map(str::to_owned);
        let data = [1u32, 2, 3];
        run(async {
            let not_send = Rc::new(data.iter().sum::<u32>());
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert_eq!(*not_send, 6);
            let in_future = std::thread::current().name().map(str::to_owned);
            let in_task = tokio::spawn(async { std::thread::current().name().map(str::to_owned) }).await.unwrap();
            (caller, in_future, in_task)
        })
    })
    .join()
    .unwrap();
    assert!(caller.as_deref().unwrap().starts_with("myriad-worker"), "{caller:?}");
    assert_eq!(in_future, caller);
    assert_eq!(in_task.as_deref(), Some("myriad-tokio"));
}

/// `MYRIAD_TOKIO_THREADS` sets the runtime's thread count; a `Builder`
/// overrides it, once, before first use.
#[test]
fn the_runtime_is_configurable() {
    match std::env::var("MYRIAD_TEST_CHILD").as_deref() {
        Ok("env") => {
            assert_eq!(thread::spawn(|| run(async { 1 })).join().unwrap(), 1);
            println!("threads {}", myriad::compat::tokio::handle().metrics().num_workers());
            return;
        }
        Ok("builder") => {
            myriad::compat::tokio::Builder::new().worker_threads(2).start().unwrap();
            let again = myriad::compat::tokio::Builder::new().start().unwrap_err();
            assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
            assert_eq!(thread::spawn(|| run(async { 1 })).join().unwrap(), 1);
            println!("threads {}", myriad::compat::tokio::handle().metrics().num_workers());
            return;
        }
        _ => {}
    }
    let out = child("the_runtime_is_configurable", "env", &[("MYRIAD_TOKIO_THREADS", "3")]);
    assert!(out.contains("threads 3"), "{out}");
    let out = child("the_runtime_is_configurable", "builder", &[("MYRIAD_TOKIO_THREADS", "3")]);
    assert!(out.contains("threads 2"), "{out}");
}

/// Runs test `name` of this binary in a child with `MYRIAD_TEST_CHILD=role`;
/// returns its stdout and stderr, after checking it passed.
fn child(name: &str, role: &str, env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("MYRIAD_TEST_CHILD", role)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}\n{text}", out.status);
    text
}

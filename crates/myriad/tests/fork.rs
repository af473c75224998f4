//! `fork` after the runtime started (issue 13, defect 5; `rt/fork.rs`): in
//! the child, spawning a myriad thread fails with an error naming fork,
//! every other myriad call works as on a plain OS thread, nothing hangs,
//! and the parent's events stay the parent's. `std::process::Command`
//! (fork + exec) keeps working from myriad threads.
//!
//! Each case runs in a child process of its own (a fresh runtime), which
//! then forks; the workers are left idle before the fork so that no
//! runtime lock is held at that instant.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use myriad::net::{TcpListener, TcpStream};
use myriad::thread;

mod probe_support;
use probe_support::{child_mode, run_child_within};

/// A myriad echo server on loopback; returns its address.
fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            thread::spawn(move || {
                let mut buf = [0u8; 256];
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

fn echo_once(stream: &mut TcpStream, what: &[u8]) -> Vec<u8> {
    stream.write_all(what).unwrap();
    let mut back = vec![0u8; what.len()];
    stream.read_exact(&mut back).unwrap();
    back
}

/// What the forked child does; its exit code says how it went.
fn in_the_child(stream: &mut TcpStream) -> i32 {
    let spawn = thread::Builder::new().spawn(|| ());
    let Err(err) = spawn else { return 10 };
    if !err.to_string().contains("forked") {
        return 11;
    }
    // Calls that need no worker work as on an OS thread.
    thread::sleep(Duration::from_millis(5));
    let lock = myriad::sync::Mutex::new(1);
    if *lock.lock().unwrap() != 1 {
        return 12;
    }
    // The inherited socket waits in poll(2), not on the parent's epoll.
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if echo_once(stream, b"from the child") != b"from the child" {
        return 13;
    }
    0
}

/// Forks (from the calling thread) and returns the child's exit status.
fn fork_and_wait(child: impl FnOnce() -> i32) -> i32 {
    // Let the workers go idle, so that no runtime lock is held when the
    // one calling thread is copied.
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: the child runs `child` and leaves with `_exit`, never
    // returning into code that expects the parent's other threads; the
    // runtime's locks are free (idle workers), and malloc is fork-safe
    // in glibc.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child();
        // SAFETY: ends the child at once, as after a fork it must.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // Off the worker (on a myriad thread): the child talks to a server
    // whose threads may be pinned to this one.
    // SAFETY: waits for our own child, with a valid status pointer.
    let waited = myriad::blocking(|| unsafe { libc::waitpid(pid, &mut status, 0) });
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "the forked child died: status {status:#x}");
    libc::WEXITSTATUS(status)
}

fn fork_from(on_myriad_thread: bool) {
    let addr = echo_server();
    let mut stream = TcpStream::connect(addr).unwrap();
    assert_eq!(echo_once(&mut stream, b"before"), b"before");
    let code = if on_myriad_thread {
        let mut s = stream.try_clone().unwrap();
        thread::spawn(move || fork_and_wait(|| in_the_child(&mut s))).join().unwrap()
    } else {
        let mut s = stream.try_clone().unwrap();
        fork_and_wait(|| in_the_child(&mut s))
    };
    assert_eq!(code, 0, "the forked child failed its checks");
    // The parent's runtime goes on, its events its own.
    assert_eq!(echo_once(&mut stream, b"after"), b"after");
    let mut fresh = TcpStream::connect(addr).unwrap();
    assert_eq!(echo_once(&mut fresh, b"fresh"), b"fresh");
    assert_eq!(thread::spawn(|| 7).join().unwrap(), 7);
    println!("parent and child both fine");
}

fn checked_child(test: &str, mode: &str) {
    let out = run_child_within(test, mode, &[], Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("parent and child both fine"),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_child_forked_from_an_os_thread_works_without_myriad_threads() {
    if child_mode().as_deref() == Some("fork-os") {
        return fork_from(false);
    }
    checked_child("a_child_forked_from_an_os_thread_works_without_myriad_threads", "fork-os");
}

#[test]
fn a_child_forked_from_a_myriad_thread_works_without_myriad_threads() {
    if child_mode().as_deref() == Some("fork-myriad") {
        return fork_from(true);
    }
    checked_child("a_child_forked_from_a_myriad_thread_works_without_myriad_threads", "fork-myriad");
}

#[test]
fn a_forked_myriad_thread_that_returns_in_the_child_aborts_with_a_message() {
    if child_mode().as_deref() == Some("fork-return") {
        thread::sleep(Duration::from_millis(1));
        let status = thread::Builder::new()
            .name("forker".into())
            .spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                // SAFETY: the child returns into the runtime's copy, which
                // must abort rather than run it.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    return 0;
                }
                let mut status = 0;
                // SAFETY: waits for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                status
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT, "status {status:#x}");
        println!("parent and child both fine");
        return;
    }
    let test = "a_forked_myriad_thread_that_returns_in_the_child_aborts_with_a_message";
    let out = run_child_within(test, "fork-return", &[], Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    assert!(
        stderr.contains("fatal runtime error: myriad thread 'forker' forked, and its closure returned in the child"),
        "{stderr}"
    );
    assert!(out.status.signal().is_none());
}

#[test]
fn std_process_command_works_from_many_myriad_threads() {
    let handles: Vec<_> = (0..20)
        .map(|i| {
            thread::spawn(move || {
                let out = std::process::Command::new("echo").arg(format!("child {i}")).output().unwrap();
                assert!(out.status.success());
                String::from_utf8(out.stdout).unwrap()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), format!("child {i}\n"));
    }
}

//! A main thread waiting on a myriad thread that waits in
//! `compat::tokio::run` is not reported as deadlocked, however long the
//! wait: the tokio runtime's threads will wake it, though the deadlock
//! detector cannot see them. No libtest harness: the detector watches only
//! the process's main thread, and libtest runs tests on other threads.
//!
//! `cargo test -p myriad --features tokio --test compat_tokio_deadlock`

use std::process::Command;
use std::time::Duration;

use myriad::compat::tokio::run;
use myriad::thread;

fn main() {
    if std::env::var("MYRIAD_TEST_CHILD").as_deref() == Ok("long-wait") {
        // Longer than the detector's quiet second, twice over.
        thread::spawn(|| run(async { tokio::time::sleep(Duration::from_millis(2500)).await })).join().unwrap();
        println!("woke up");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap()).env("MYRIAD_TEST_CHILD", "long-wait").output().unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}\n{text}", out.status);
    assert!(text.contains("woke up") && !text.contains("all threads are asleep"), "{text}");
    println!("test a_long_wait_in_run_is_not_a_deadlock ... ok");
    println!("1 passed, 0 failed");
}

//! What runs after a thread's closure returned — its `myriad::thread_local!`
//! destructors, the waker of a task awaiting its join handle — must not
//! unwind out of the thread: the thread would never be marked finished and
//! its worker OS thread would die, leaving every thread pinned there, and
//! every joiner, waiting for ever (issue 13, defect 1). Such a panic aborts
//! the process with a message, as std's "thread local panicked on drop"
//! does. Each case runs in a child process; a hang is caught by a time
//! limit. Under `scripts/valgrind.sh` (which traces children) the child
//! must also show no invalid memory access: a std thread-local holding the
//! last `Sender` of a myriad channel used to be dropped against a freed
//! worker when the worker died.

use std::cell::RefCell;
use std::future::{Future, IntoFuture};
use std::os::unix::process::ExitStatusExt;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use myriad::thread;

mod probe_support;
use probe_support::{child_mode, run_child_within};

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("a myriad-local value panics in drop");
    }
}

myriad::thread_local! {
    static PANICKY: RefCell<Option<PanicOnDrop>> = RefCell::new(None);
}

std::thread_local! {
    /// Lives on the worker OS thread: dropped only if that thread ends.
    static LAST_SENDER: RefCell<Option<myriad::sync::mpsc::Sender<u32>>> = const { RefCell::new(None) };
}

/// The reproducer of the review: one worker, a thread asleep on it, and a
/// thread whose myriad-local value panics in drop.
fn local_panics_in_drop() {
    myriad::rt::Builder::new().workers(1).start().unwrap();
    let (tx, rx) = myriad::sync::mpsc::channel::<u32>();
    let sleeper = thread::spawn(|| thread::sleep(Duration::from_millis(200)));
    let panicky = thread::Builder::new()
        .name("panicky-local".into())
        .spawn(move || {
            LAST_SENDER.with(|s| *s.borrow_mut() = Some(tx));
            PANICKY.with(|p| *p.borrow_mut() = Some(PanicOnDrop));
            5
        })
        .unwrap();
    let _ = panicky.join();
    let _ = sleeper.join();
    drop(rx);
    println!("both joins returned");
}

struct PanicOnWake;

impl Wake for PanicOnWake {
    fn wake(self: Arc<Self>) {
        panic!("a joiner's waker panics");
    }
}

/// A task awaiting a join handle with a waker that panics when the thread
/// ends.
fn waker_panics() {
    myriad::rt::Builder::new().workers(1).start().unwrap();
    let handle = thread::Builder::new()
        .name("joined-by-a-future".into())
        .spawn(|| thread::sleep(Duration::from_millis(100)))
        .unwrap();
    let waker = Waker::from(Arc::new(PanicOnWake));
    let mut join = pin!(handle.into_future());
    assert!(join.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
    std::thread::sleep(Duration::from_secs(3));
    // Not reached if the process aborted, as it should.
    let _ = thread::spawn(|| ()).join();
    println!("the runtime went on");
}

/// Runs this test binary in `mode`; a hang fails within a minute (valgrind
/// is slow).
fn run_child(test: &str, mode: &str) -> (std::process::ExitStatus, String) {
    let out = run_child_within(test, mode, &[("RUST_BACKTRACE", "0")], Duration::from_secs(60));
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn assert_aborted_cleanly(status: std::process::ExitStatus, stderr: &str, thread_name: &str) {
    assert_eq!(status.signal(), Some(libc::SIGABRT), "expected an abort; stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("fatal runtime error: thread '{thread_name}' panicked after its closure returned")),
        "no fatal-error line naming the thread; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("Invalid read") && !stderr.contains("Invalid write"), "memory error:\n{stderr}");
}

#[test]
fn a_myriad_local_panicking_in_drop_aborts_instead_of_killing_the_worker() {
    if child_mode().as_deref() == Some("local") {
        return local_panics_in_drop();
    }
    let (status, stderr) = run_child("a_myriad_local_panicking_in_drop_aborts_instead_of_killing_the_worker", "local");
    assert_aborted_cleanly(status, &stderr, "panicky-local");
}

#[test]
fn a_joiners_waker_panicking_aborts_instead_of_killing_the_worker() {
    if child_mode().as_deref() == Some("waker") {
        return waker_panics();
    }
    let (status, stderr) = run_child("a_joiners_waker_panicking_aborts_instead_of_killing_the_worker", "waker");
    assert_aborted_cleanly(status, &stderr, "joined-by-a-future");
}

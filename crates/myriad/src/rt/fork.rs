//! `fork`: a child forked after the runtime started has no runtime.
//!
//! `fork` copies only the calling OS thread. The child would see a runtime
//! that launched — workers, queues, stacks, all copied — with no worker OS
//! thread to run any of it, and it would share the parent's epoll
//! instances, eventfds and io_uring rings: a worker loop resumed in the
//! child could take the parent's events, and a queue entry pushed to a
//! shared ring would be completed in the parent with a pointer that means
//! nothing there.
//!
//! So, at the fork (a `pthread_atfork` child handler), the child forgets
//! that its one thread is a worker. From then on that thread is a plain
//! OS thread to myriad: every blocking call blocks it, as on any OS thread
//! (sockets wait in `poll(2)`, files and `blocking` run inline, locks and
//! channels sleep on its condition variable), and nothing touches the
//! parent's descriptors. Spawning a myriad thread fails with an error that
//! says why (`Runtime::get`). A thread that forked on a myriad thread and
//! lets that thread's closure return in the child reaches the copied
//! scheduler, which aborts with a message instead of running copied
//! threads.
//!
//! `fork` + `exec`, as `std::process::Command` does, is unaffected: the
//! handler only sets two words in the child before `exec` replaces it.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Set in a child forked after the runtime started.
static IN_CHILD: AtomicBool = AtomicBool::new(false);

/// What the child handler calls to make its thread a plain OS thread to
/// myriad: the scheduler's `worker::forget_worker`, handed in by the
/// runtime (this file is below the scheduler, which asks `in_child`).
static FORGET_WORKER: OnceLock<fn()> = OnceLock::new();

/// Registers the child handler, which also calls `forget_worker`; called
/// once, when the runtime starts.
pub fn install(forget_worker: fn()) {
    extern "C" fn in_child() {
        IN_CHILD.store(true, Ordering::Relaxed);
        if let Some(forget_worker) = FORGET_WORKER.get() {
            forget_worker();
        }
    }
    if FORGET_WORKER.set(forget_worker).is_err() {
        return;
    }
    // SAFETY: registers a handler that only loads and stores atomics (the
    // `OnceLock`, set before) and a thread-local `Cell` (`forget_worker`),
    // which is sound in a forked child. A failure
    // (ENOMEM) leaves forked children as they were before this handler
    // existed; there is no better fallback.
    unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
}

/// Whether this process is a child forked after the runtime started.
pub fn in_child() -> bool {
    IN_CHILD.load(Ordering::Relaxed)
}

/// What spawning a myriad thread in such a child returns.
pub fn error() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "myriad: this process was forked after the runtime started, and fork copies only the calling OS \
         thread: myriad threads cannot run in the child (other myriad calls work there as on an OS thread). \
         Use std::process::Command (fork + exec), or fork before the first use of myriad",
    )
}

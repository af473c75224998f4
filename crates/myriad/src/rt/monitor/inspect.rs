//! Looking inside a stalled worker from another OS thread, soundly and
//! without slowing the worker down.
//!
//! A stalled worker cannot answer a dump: it is stuck inside one thread's
//! code. Yet a report must name that thread, and the threads pinned behind
//! it. Both live in the worker's own memory (the running task, freed when
//! it ends; the registry, changed between switches), so another thread may
//! read them only while the worker is kept from ending that task or going
//! back to its scheduler.
//!
//! That is an asymmetric Dekker handshake. On every switch the worker
//! stores the task it resumes (`WorkerWatch::resuming`, in `rt/watch.rs`, a plain store)
//! and, when the task gives the worker back, clears it and looks at an
//! `inspecting` flag (`WorkerWatch::resumed`, a plain store and load,
//! with only a compiler fence between them). The inspector sets the flag,
//! then calls `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes
//! every running thread of the process pass a full memory barrier, and only
//! then reads the running task. Either the worker's clearing store was
//! before its barrier, and the inspector sees no task (and reads nothing),
//! or its look at the flag comes after, sees it set, and the worker waits
//! (spinning, for the microseconds the inspection takes) before it drops
//! the task or touches its registry. The expensive half, a system call and
//! interprocessor interrupts, is paid only by the inspector, which runs at
//! report time; the switch pays two plain stores and a load. Without
//! `membarrier` (Linux before 4.14), nothing is inspected and reports name
//! the thread by id only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::super::registry::Registry;
use super::super::task::Task;
use super::super::watch::WorkerWatch;

/// A stalled worker held still: the thread it runs, and the other threads
/// pinned to it.
pub struct Frozen<'a> {
    /// The thread holding the worker.
    pub running: &'a Task,
    registry: &'a Registry,
}

impl Frozen<'_> {
    /// The other started threads pinned to the worker.
    pub fn behind(&self) -> impl Iterator<Item = &Task> + '_ {
        let running: *const Task = self.running;
        self.registry
            .iter()
            .filter(move |task| !std::ptr::eq(*task, running))
            // SAFETY: registered tasks are alive (see `registry.rs`), and
            // the registry cannot change while the worker is held.
            .map(|task| unsafe { &*task })
    }
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// Registers the process for expedited membarriers; false if the kernel
/// has none. Called by the monitor at start-up.
pub fn enable() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        // SAFETY: membarrier takes plain integers and touches no memory of
        // ours.
        unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 }
    })
}

/// Clears the flag when the inspection ends, even by a panic.
struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Runs `f` on the worker watched by `watch` while it is held still, if it
/// is running a thread now; `None` if it is not, or if it cannot be held
/// (no membarrier, or another inspection in progress). `f` must be quick:
/// the worker waits for it if its thread gives it back meanwhile.
///
/// Must not be called from the watched worker's own OS thread.
pub fn inspect<R>(watch: &WorkerWatch, f: impl FnOnce(&Frozen<'_>) -> R) -> Option<R> {
    if !enable() {
        return None;
    }
    if watch.inspecting.compare_exchange(false, true, Ordering::Relaxed, Ordering::Relaxed).is_err() {
        return None;
    }
    let _release = Release(&watch.inspecting);
    // SAFETY: as in `enable`; registration succeeded.
    if unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) } != 0 {
        return None;
    }
    let running = watch.running.load(Ordering::Acquire);
    let registry = watch.registry.load(Ordering::Acquire);
    if running.is_null() || registry.is_null() {
        return None;
    }
    // SAFETY: a non-null `running` read after the barrier is a task whose
    // resume has not ended, and will not until `_release` clears the flag
    // (module comment); the worker keeps it alive for the resume. The
    // registry's `Local` lives for ever, and the worker changes the registry
    // only between resumes, so not until then either; its last change came
    // before the Release store of `running` read above. `as_ptr` does not
    // touch the RefCell's borrow flag, which belongs to the worker.
    let frozen = unsafe { Frozen { running: &*running, registry: &*(*registry).as_ptr() } };
    Some(f(&frozen))
}

//! A thread's reference count and join state, in one atomic word.
//!
//! Spawning and joining a thread is myriad's hottest path, and on our VMs
//! each locked read-modify-write costs 5–10 ns, as much as a whole context
//! switch. So, like tokio's task state, one word holds both the count of
//! references to the thread's allocation (`TaskRef`s: the join handle, the
//! scheduler's, `Thread` handles, pending `Wake`s) and the flags of the
//! join protocol, and each step of spawn → join → end is one operation on
//! it:
//!
//! * spawn creates the word with two references (handle and scheduler):
//!   no atomic operation;
//! * a joiner that finds the thread running publishes itself (`JOINER`,
//!   plus `ASYNC` for a future's `Waker`) with one compare-and-swap;
//! * the thread's end (`finish`) sets `DONE` and, when it can, drops the
//!   scheduler's reference in the same compare-and-swap;
//! * the handle, once done with the result, drops its reference.
//!
//! The thread's result (its *packet*) is released — dropped, and a scope
//! told — exactly once, when the thread has finished and its handle is
//! gone: by the handle if it sees `DONE`, else by `finish`, which then sees
//! `HANDLE_GONE`.
//!
//! Who owns what: the joiner slot belongs to the handle while `JOINER` is
//! clear, and to `finish` once it set `DONE` over `JOINER`. The packet's
//! result is written by the thread before `DONE` (published with Release)
//! and read by the handle after it saw `DONE` (Acquire).
//!
//! Memory stays valid for whoever still looks: `finish` keeps its
//! reference through the wake-up if the joiner is a future (whose handle
//! may be dropped at any moment) or the handle is gone (it must release the
//! packet); a blocked *thread* joiner holds the handle, and so the memory,
//! until the wake-up reaches it.
//!
//! The atomics come from `super::atomics` so that `tests/loom_task_state.rs`
//! can compile this very file over loom's.

use super::atomics::{fence, AtomicUsize, Ordering};

/// The thread has finished running (its result is in the packet).
const DONE: usize = 1;
/// The join handle is gone; whoever finishes releases the packet.
const HANDLE_GONE: usize = 1 << 1;
/// A joiner waits in the joiner slot.
const JOINER: usize = 1 << 2;
/// The joiner in the slot is a future (whose handle can vanish any time).
const ASYNC: usize = 1 << 3;
/// One reference.
const REF: usize = 1 << 4;
/// Beyond this many references something leaks them: abort, as `Arc` does.
#[cfg_attr(loom, allow(dead_code))]
const MAX_REFS: usize = usize::MAX / REF / 2;

/// What `finish` must do after its transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    /// Take the joiner out of the slot and wake it.
    pub wake_joiner: bool,
    /// The handle is gone: release the packet.
    pub release_packet: bool,
    /// The scheduler's reference was kept: drop it when done.
    pub drop_ref: bool,
}

/// What the handle must do as it goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleGone {
    /// The thread had finished: release the packet, then drop the handle's
    /// reference (still held).
    ReleasePacket,
    /// The thread runs on; `finish` will release the packet. The handle's
    /// reference is already dropped.
    Detached,
}

/// Reference count and join flags of one thread.
pub struct TaskState(AtomicUsize);

// `tests/loom_join.rs` compiles this file without the reference-cloning
// half of the runtime.
#[cfg_attr(loom, allow(dead_code))]
impl TaskState {
    /// A new thread's state: running, with `refs` references.
    pub fn new(refs: usize) -> TaskState {
        TaskState(AtomicUsize::new(refs * REF))
    }

    /// Counts one more reference.
    pub fn add_ref(&self) {
        // Relaxed, as `Arc::clone`: a new reference is made from an
        // existing one, which keeps the allocation alive meanwhile.
        let old = self.0.fetch_add(REF, Ordering::Relaxed);
        if old / REF > MAX_REFS {
            std::process::abort();
        }
    }

    /// Drops one reference; true if it was the last (the caller frees).
    pub fn drop_ref(&self) -> bool {
        // Release, and Acquire by the last one, as `Arc::drop`: every use
        // through other references happens before the free.
        let old = self.0.fetch_sub(REF, Ordering::Release);
        if old / REF == 1 {
            fence(Ordering::Acquire);
            return true;
        }
        false
    }

    /// Drops one reference known not to be shared: true if it was the only
    /// one (the caller frees, with no atomic read-modify-write), else as
    /// `drop_ref`. The holder of the only reference is the only one who
    /// could make another, so a unique count cannot change under us.
    pub fn drop_ref_if_unique(&self) -> bool {
        if self.0.load(Ordering::Acquire) / REF == 1 {
            return true;
        }
        self.drop_ref()
    }

    /// Whether the thread has finished; if so, its result is visible.
    pub fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire) & DONE != 0
    }

    /// Whether the handle has a joiner in the slot.
    pub fn has_joiner(&self) -> bool {
        self.0.load(Ordering::Relaxed) & JOINER != 0
    }

    /// Hands the (just filled) joiner slot over to `finish`; `Err` if the
    /// thread finished meanwhile (the slot stays the caller's). Handle only.
    pub fn set_joiner(&self, is_async: bool) -> Result<(), ()> {
        let flags = if is_async { JOINER | ASYNC } else { JOINER };
        // AcqRel: Release publishes the slot's contents to `finish`; on
        // failure, Acquire makes the result visible.
        self.update(|s| (s & DONE == 0).then_some(s | flags)).map(drop).map_err(drop)
    }

    /// Takes the joiner slot back from `finish` (a future polled with a
    /// new waker); `Err` if the thread finished meanwhile (then `finish`
    /// owns the slot). Handle only, with `JOINER` set.
    pub fn unset_joiner(&self) -> Result<(), ()> {
        self.update(|s| (s & DONE == 0).then_some(s & !(JOINER | ASYNC))).map(drop).map_err(drop)
    }

    /// Marks the thread finished. Called once, by the scheduler, which
    /// gives up its reference (now, or after acting on the result).
    pub fn finish(&self) -> Finished {
        let old = self
            .update(|s| {
                let keep_ref = s & (HANDLE_GONE | ASYNC) != 0;
                Some(if keep_ref { s | DONE } else { s - REF + DONE })
            })
            .unwrap_or_else(|_| unreachable!("finish always updates"));
        Finished {
            wake_joiner: old & JOINER != 0,
            release_packet: old & HANDLE_GONE != 0,
            drop_ref: old & (HANDLE_GONE | ASYNC) != 0,
        }
    }

    /// The join handle goes away, giving up its reference. Called once.
    pub fn handle_gone(&self) -> HandleGone {
        let old = self
            .update(|s| {
                if s & DONE != 0 {
                    // Nothing to change: the packet is the handle's alone,
                    // and it drops its reference after releasing it.
                    None
                } else {
                    // A running thread holds the scheduler's reference, so
                    // this is never the last one. A stale joiner (a future
                    // dropped while waiting) is not woken.
                    Some((s - REF + HANDLE_GONE) & !(JOINER | ASYNC))
                }
            })
            .unwrap_or_else(|unchanged| unchanged);
        if old & DONE != 0 {
            HandleGone::ReleasePacket
        } else {
            HandleGone::Detached
        }
    }

    /// Applies `f` with a compare-and-swap loop (AcqRel); `Ok(old)` if it
    /// changed the word, `Err(current)` if `f` declined.
    fn update(&self, f: impl Fn(usize) -> Option<usize>) -> Result<usize, usize> {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let new = f(current).ok_or(current)?;
            match self.0.compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(old) => return Ok(old),
                Err(now) => current = now,
            }
        }
    }
}

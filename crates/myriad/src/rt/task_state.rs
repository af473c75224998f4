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
//!   plus `KEEP` if it may stop waiting before it is woken: a future's
//!   `Waker`, or an OS thread, which the deadlock detector may make panic)
//!   with one compare-and-swap;
//! * the thread's end is marked (`DONE`) on the thread itself, so that
//!   what the end runs — dropping a detached thread's result, waking a
//!   future — runs as that thread, never in the scheduler. The one
//!   exception is the hot path: a thread whose joiner is blocked (no
//!   `KEEP`) leaves the mark to its scheduler (`finish`), which drops its
//!   reference in the same compare-and-swap; that joiner holds the handle
//!   until it is woken, so nothing else can happen meanwhile;
//! * the handle, once done with the result, drops its reference.
//!
//! The thread's result (its *packet*) is released — dropped, and a scope
//! told — exactly once, when the thread has finished and its handle is
//! gone: by the handle if it sees `DONE`, else by the thread's end, which
//! then sees `HANDLE_GONE`.
//!
//! Who owns what: the joiner slot belongs to the handle while `JOINER` is
//! clear, and to the thread's end once it set `DONE` over `JOINER`. The
//! packet's result is written by the thread before `DONE` (published with
//! Release) and read by the handle after it saw `DONE` (Acquire).
//!
//! Memory stays valid for whoever still looks: the thread's end on the
//! thread keeps the scheduler's reference (the scheduler drops it after
//! the coroutine returns); `finish` drops it only when a blocked joiner
//! holds the handle, and so the memory, until the wake-up reaches it.
//!
//! The atomics come from `rt::sync` so that `tests/loom_join.rs` can
//! compile this very file over loom's.

use crate::rt::sync::{fence, AtomicUsize, Ordering};

/// The thread has finished running (its result is in the packet).
const DONE: usize = 1;
/// The join handle is gone; whoever finishes releases the packet.
const HANDLE_GONE: usize = 1 << 1;
/// A joiner waits in the joiner slot.
const JOINER: usize = 1 << 2;
/// The joiner may stop waiting (and its handle vanish) before it is woken.
const KEEP: usize = 1 << 3;
/// One reference.
const REF: usize = 1 << 4;
/// Beyond this many references something leaks them: abort, as `Arc` does.
#[cfg_attr(loom, allow(dead_code))]
const MAX_REFS: usize = usize::MAX / REF / 2;

/// What the thread's end must do after marking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Take the joiner out of the slot and wake it.
    pub wake_joiner: bool,
    /// The handle is gone: release the packet.
    pub release_packet: bool,
}

/// What the handle must do as it goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleGone {
    /// The thread had finished: release the packet, then drop the handle's
    /// reference (still held).
    ReleasePacket,
    /// The thread runs on; its end will release the packet. The handle's
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

    /// Hands the (just filled) joiner slot over to the thread's end; `Err`
    /// if the thread finished meanwhile (the slot stays the caller's).
    /// `keep`: the joiner may stop waiting before it is woken. Handle only.
    pub fn set_joiner(&self, keep: bool) -> Result<(), ()> {
        let flags = if keep { JOINER | KEEP } else { JOINER };
        // AcqRel: Release publishes the slot's contents to the thread's end;
        // on failure, Acquire makes the result visible.
        self.update(|s| (s & DONE == 0).then_some(s | flags)).map(drop).map_err(drop)
    }

    /// Takes the joiner slot back (a future polled with a new waker); `Err`
    /// if the thread finished meanwhile (then its end owns the slot).
    /// Handle only, with `JOINER` set.
    pub fn unset_joiner(&self) -> Result<(), ()> {
        self.update(|s| (s & DONE == 0).then_some(s & !(JOINER | KEEP))).map(drop).map_err(drop)
    }

    /// The thread's end, on the thread itself: marks it `DONE`, keeping
    /// the scheduler's reference; `None` if a blocked joiner leaves that to
    /// `finish`. Called once, by the thread.
    pub fn end_on_thread(&self) -> Option<Ended> {
        let s = self.0.load(Ordering::Acquire);
        if s & (JOINER | KEEP) == JOINER {
            // A joiner is blocked until it is woken: nothing can change
            // but the count, so `finish` may mark the end.
            return None;
        }
        let old = self.update(|s| Some(s | DONE)).unwrap_or_else(|_| unreachable!("always updates"));
        Some(Ended { wake_joiner: old & JOINER != 0, release_packet: old & HANDLE_GONE != 0 })
    }

    /// The scheduler, once the thread's coroutine returned, gives up its
    /// reference, marking the end first if the thread left it (see
    /// `end_on_thread`): then it must wake the joiner. Returns whether to
    /// wake the joiner and whether that was the last reference (free).
    pub fn finish(&self) -> (bool, bool) {
        let old = self
            .update(|s| Some(if s & DONE != 0 { s - REF } else { s - REF + DONE }))
            .unwrap_or_else(|_| unreachable!("always updates"));
        let wake_joiner = old & DONE == 0;
        let last = old / REF == 1;
        if last {
            fence(Ordering::Acquire);
        }
        debug_assert!(!(wake_joiner && last), "a blocked joiner holds a reference");
        debug_assert!(!wake_joiner || old & HANDLE_GONE == 0, "a blocked joiner holds the handle");
        (wake_joiner, last)
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
                    // dropped while waiting, or an OS thread that gave up)
                    // is not woken.
                    Some((s - REF + HANDLE_GONE) & !(JOINER | KEEP))
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

//! Thread identifiers shared by myriad threads and OS threads.
//!
//! Ids come from one process-wide counter, handed out to each OS thread in
//! blocks of 1,024 so that spawning does not contend on a shared atomic.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// A unique identifier for a running thread, myriad or OS.
///
/// Like [`std::thread::ThreadId`], ids are never reused in a process.
///
/// ```
/// let a = myriad::thread::current().id();
/// let b = myriad::thread::spawn(|| myriad::thread::current().id()).join().unwrap();
/// assert_ne!(a, b);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(NonZeroU64);

const BLOCK: u64 = 1024;
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The next id to hand out on this OS thread and the end of its block.
    static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl ThreadId {
    pub(crate) fn new() -> ThreadId {
        RANGE.with(|range| {
            let (mut next, mut end) = range.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            range.set((next + 1, end));
            ThreadId(NonZeroU64::new(next).expect("thread ids start at 1"))
        })
    }

    /// The id with this number, if it is one (not 0).
    pub(crate) fn from_u64(n: u64) -> Option<ThreadId> {
        NonZeroU64::new(n).map(ThreadId)
    }

    /// The id as a number, unique within the process.
    pub fn as_u64(&self) -> NonZeroU64 {
        self.0
    }
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThreadId({})", self.0)
    }
}

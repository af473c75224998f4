//! A worker's timers: a binary heap of deadlines, each with the `Wake` of
//! the wait it ends.
//!
//! Timers belong to the worker of the thread that set them, so the heap
//! needs no lock. A wait that ends before its deadline leaves its entry
//! behind; the entry's `Wake` is then stale and firing it does nothing
//! (see `wait/mod.rs`). Such entries are dropped when due, or swept when they
//! outnumber the live ones, so a server that sets long read timeouts and
//! is mostly woken early does not grow the heap without bound.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::wait::Wake;

struct Entry {
    deadline: Instant,
    seq: u64,
    wake: Wake,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

pub struct Timers {
    heap: BinaryHeap<Entry>,
    seq: u64,
    /// Heap size at which to sweep out entries whose wait already ended.
    sweep_at: usize,
}

impl Timers {
    pub fn new() -> Timers {
        Timers { heap: BinaryHeap::new(), seq: 0, sweep_at: 1024 }
    }

    pub fn insert(&mut self, deadline: Instant, wake: Wake) {
        self.seq += 1;
        self.heap.push(Entry { deadline, seq: self.seq, wake });
        if self.heap.len() >= self.sweep_at {
            self.heap.retain(|e| e.wake.is_pending());
            self.sweep_at = (2 * self.heap.len()).max(1024);
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.deadline)
    }

    /// Ends every wait whose deadline is not after `now`; returns how many
    /// entries were due.
    pub fn fire(&mut self, now: Instant) -> usize {
        let mut fired = 0;
        while self.heap.peek().is_some_and(|e| e.deadline <= now) {
            let entry = self.heap.pop().expect("peeked");
            entry.wake.time_out();
            fired += 1;
        }
        fired
    }
}

thread_local! {
    /// The earliest deadline of the timers of the worker on this OS thread.
    static NEXT_DUE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Publishes the earliest deadline of this worker's timers (after the
/// heap changed), for `due_now` and the scheduler loop. Worker only.
#[inline]
pub fn publish_next_due(deadline: Option<Instant>) {
    NEXT_DUE.with(|next| next.set(deadline));
}

/// The earliest deadline of the timers of the worker on this OS thread.
#[inline]
pub fn next_due() -> Option<Instant> {
    NEXT_DUE.with(Cell::get)
}

/// Whether a timer of the worker on this OS thread is due: the running
/// thread should let the scheduler fire it (`coop.rs` asks, every few
/// operations). Reads the clock only while a timer is pending.
#[inline]
pub fn due_now() -> bool {
    next_due().is_some_and(|due| Instant::now() >= due)
}

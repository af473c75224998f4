//! Partial deadlocks: threads waiting on each other's `myriad::sync` locks
//! while the rest of the program goes on. While any thread waits on a lock
//! (`LOCK_WAITS`, kept by `sync::Mutex`), a dump every second is searched
//! for wait-for cycles; a cycle found in two dumps in a row is reported
//! once.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::super::report;

/// Threads waiting on a `Mutex` right now (kept by `sync::Mutex`).
pub static LOCK_WAITS: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
pub(super) struct CycleWatch {
    next: Option<Instant>,
    /// Cycles seen in the previous dump, as sorted thread ids.
    seen: BTreeSet<Vec<u64>>,
    reported: BTreeSet<Vec<u64>>,
}

impl CycleWatch {
    pub(super) fn check(&mut self, now: Instant) {
        if LOCK_WAITS.load(Ordering::Relaxed) == 0 {
            self.next = None;
            self.seen.clear();
            self.reported.clear();
            return;
        }
        let next = *self.next.get_or_insert(now + Duration::from_secs(1));
        if now < next {
            return;
        }
        self.next = Some(now + Duration::from_secs(1));
        let dump = super::super::dump();
        let mut seen = BTreeSet::new();
        for cycle in dump.lock_cycles() {
            let mut key: Vec<u64> = cycle.iter().map(|t| t.id.as_u64().get()).collect();
            key.sort_unstable();
            if self.seen.contains(&key) && self.reported.insert(key.clone()) {
                let text = super::super::dump::describe_cycle(&cycle);
                report::error(&format!(
                    "myriad: deadlock between {} threads waiting on each other's locks:\n{text}",
                    cycle.len()
                ));
            }
            seen.insert(key);
        }
        self.seen = seen;
    }
}

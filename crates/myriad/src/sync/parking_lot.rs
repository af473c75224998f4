//! The parking lot: wait queues keyed by address, for every thread kind.
//!
//! # Why
//!
//! A lock or a once-cell should be one small atomic word, yet a thread that
//! finds it taken must wait somewhere. Rather than give every primitive its
//! own queue, waiters are kept in a global hash table keyed by the address
//! of what they wait on (the scheme of WebKit's and the `parking_lot`
//! crate's parking lots). The waiting itself goes through the runtime's one
//! primitive, `rt::wait::block`, so a parked myriad thread frees its worker
//! and a parked OS thread sleeps on its condition variable; either kind can
//! unpark the other.
//!
//! # How
//!
//! The table has cache-padded buckets; each is a short-held
//! `std::sync::Mutex` around a queue of `(addr, Wake, slot)` entries. No
//! blocking call is made while a bucket lock is held, so the lock is held
//! for a few dozen instructions at most.
//!
//! The table grows with the number of parked threads, as the
//! `parking_lot` crate's does: it starts at 1,024 buckets and doubles
//! whenever more than three threads per bucket are parked, so that a
//! bucket's queue stays short with 100,000 threads parked on 100,000
//! different locks (issue 18). Growing (one grower at a time) allocates
//! the new table, with room in each queue, then locks every bucket of the
//! current table (in order; everyone else holds at most one bucket lock),
//! moves the entries over, publishes the new table, and unlocks: parks and
//! unparks wait only for the moves. Whoever locked a
//! bucket of the old table meanwhile sees that it is no longer current
//! and looks again. Old tables are never freed (each is half the size of
//! the next, so they cost at most as much as the current one), which is
//! what lets a bucket reference be `'static`.
//!
//! `park(addr, validate, deadline)` blocks the caller; inside `block`'s
//! `register` step it locks the bucket, runs `validate` (is the primitive
//! still in the state that makes waiting right?) and, if it holds, queues an
//! entry carrying the `Wake`. Because `validate` runs under the same lock
//! that `unpark_*` takes, a waker that changes the primitive's state and then
//! unparks either makes `validate` fail or finds the entry: no lost wake-up.
//!
//! Each entry points at a `Slot` on the parked thread's stack. An unparker
//! removes the entry, writes a *token* (e.g. "the lock is handed to you")
//! into the slot and clears `queued`, all under the bucket lock, and only
//! then, after unlocking, uses the `Wake`. The parked thread does not return
//! (and so does not free its slot) while `queued` is set: after waking it
//! looks at `queued`, and if it is still set (the deadline passed first) it
//! takes the bucket lock and removes its entry itself. A timed-out thread
//! whose entry was already removed reports the unpark instead, so handed-over
//! tokens are never lost.
//!
//! The queues are `VecDeque`s whose capacity stays with the bucket: once
//! warm, parking allocates nothing. Uncontended locks never come here at all.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use crate::rt::lock::{Mutex as StdMutex, MutexGuard as StdMutexGuard};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::rt::wait::{self, Wake, Woken};
use crate::rt::WaitReason;

/// The first table has `1 << MIN_BUCKET_BITS` buckets.
const MIN_BUCKET_BITS: u32 = 10;
/// Parked threads per bucket beyond which the table doubles.
const LOAD_FACTOR: usize = 3;

/// The token an unpark passes when it has nothing special to say.
pub(crate) const TOKEN_NORMAL: usize = 0;
/// The token meaning "what you waited for was handed over to you".
pub(crate) const TOKEN_HANDOFF: usize = 1;

/// How a `park` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParkResult {
    /// An `unpark_*` woke the thread and passed this token.
    Unparked(usize),
    /// `validate` returned false; the thread did not wait.
    Invalid,
    /// The deadline passed first.
    TimedOut,
    /// The thread was interrupted (`park_interruptible` only); it has
    /// left the queue.
    Interrupted,
    /// The deadlock detector gave up the wait of an OS thread parked with
    /// no deadline (`rt::wait::Woken::Abandoned`). The thread has left the
    /// queue; the caller restores its primitive's invariants and then
    /// calls `rt::wait::panic_deadlocked`.
    Abandoned,
}

/// What an `unpark_one` found, passed to its callback under the bucket lock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UnparkResult {
    /// Whether a thread was unparked.
    pub unparked: bool,
    /// Whether more threads are still parked on the same address.
    pub have_more: bool,
    /// Whether it is time to be fair (hand a lock over instead of letting a
    /// running thread barge in): true every half millisecond or so per
    /// bucket, as in `parking_lot`'s eventual fairness.
    pub be_fair: bool,
}

/// Lives on the parked thread's stack for the duration of one `park`.
struct Slot {
    /// Set while the entry pointing here is in a queue.
    queued: AtomicBool,
    token: AtomicUsize,
}

struct Entry {
    addr: usize,
    wake: Wake,
    slot: *const Slot,
}

// SAFETY: `slot` is only dereferenced under the bucket lock while the entry
// is queued, and the thread owning the `Slot` does not leave `park` while
// its entry is queued (see the module comment); the `Slot`'s fields are
// atomics, so any thread may access them.
unsafe impl Send for Entry {}

struct Queue {
    entries: VecDeque<Entry>,
    /// When the next unpark should be fair (see `UnparkResult::be_fair`).
    fair_at: Option<Instant>,
    seed: u32,
}

struct Bucket {
    queue: StdMutex<Queue>,
}

impl Bucket {
    fn new(seed: u32, room: usize) -> Bucket {
        Bucket { queue: StdMutex::new(Queue { entries: VecDeque::with_capacity(room), fair_at: None, seed }) }
    }

    fn lock(&self) -> StdMutexGuard<'_, Queue> {
        // No user code runs under a bucket lock, so it cannot be poisoned in
        // a way that matters; keep going if it is.
        self.queue.lock()
    }
}

struct Table {
    buckets: Box<[CachePadded<Bucket>]>,
    bits: u32,
    /// The table this one replaced: kept reachable (never freed, see the
    /// module comment), so that leak checkers see it is kept on purpose.
    _previous: Option<&'static Table>,
}

impl Table {
    /// A table of `1 << bits` buckets; past the first, each queue has room
    /// for a full bucket's entries (see `grow`).
    fn new(bits: u32, previous: Option<&'static Table>) -> Table {
        let room = if previous.is_some() { LOAD_FACTOR + 1 } else { 0 };
        let buckets =
            (0..1usize << bits).map(|i| CachePadded::new(Bucket::new(0x9E37_79B9 ^ i as u32, room))).collect();
        Table { buckets, bits, _previous: previous }
    }

    /// The index of `addr`'s bucket.
    fn index(&self, addr: usize) -> usize {
        // Fibonacci hashing of the address.
        ((addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.bits)) as usize
    }

    fn bucket(&self, addr: usize) -> &Bucket {
        &self.buckets[self.index(addr)]
    }
}

/// The current table (leaked; see the module comment); null until the
/// first park.
static TABLE: AtomicPtr<Table> = AtomicPtr::new(std::ptr::null_mut());
/// Entries in the queues of the current table.
static PARKED: AtomicUsize = AtomicUsize::new(0);

fn table() -> &'static Table {
    let current = TABLE.load(Ordering::Acquire);
    if !current.is_null() {
        // SAFETY: a published table is leaked, never freed.
        return unsafe { &*current };
    }
    let fresh = Box::into_raw(Box::new(Table::new(MIN_BUCKET_BITS, None)));
    match TABLE.compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just published (and so leaked).
        Ok(_) => unsafe { &*fresh },
        Err(winner) => {
            // SAFETY: ours, never published; the winner's is leaked.
            unsafe {
                drop(Box::from_raw(fresh));
                &*winner
            }
        }
    }
}

/// Locks the bucket of `addr` in the current table.
fn lock_bucket(addr: usize) -> StdMutexGuard<'static, Queue> {
    loop {
        let table = table();
        let guard = table.bucket(addr).lock();
        // Still current? (`grow` swaps tables with every bucket locked.)
        if std::ptr::eq(TABLE.load(Ordering::Relaxed), table) {
            return guard;
        }
    }
}

/// Doubles the table until it has room for `parked` threads.
///
/// Every park and unpark waits while the buckets are locked, so the work
/// under the locks is kept to moving the entries: the new table, with room
/// in each queue for a full bucket's entries, is allocated before (by one
/// thread at a time, and thrown away if another grew the table meanwhile).
/// The last doubling on the way to 100,000 parked threads (98,000 entries
/// moved) held the locks for 7–17 ms, against 100–195 ms when each queue
/// was allocated as its first entry arrived, under the locks (on a loaded
/// 2-core VM, alternated runs of myriad-bench's parking-lot child).
#[cold]
fn grow(parked: usize) {
    static GROWING: StdMutex<()> = StdMutex::new(());
    let _one_grower = GROWING.lock();
    loop {
        let old = table();
        if old.buckets.len() * LOAD_FACTOR >= parked {
            return;
        }
        let mut bits = old.bits + 1;
        while (1usize << bits) * LOAD_FACTOR < parked {
            bits += 1;
        }
        let mut new = Box::new(Table::new(bits, Some(old)));
        let mut guards: Vec<_> = old.buckets.iter().map(|bucket| bucket.lock()).collect();
        if !std::ptr::eq(TABLE.load(Ordering::Relaxed), old) {
            continue; // Someone else grew it meanwhile.
        }
        for guard in &mut guards {
            // Entries keep their order, so each address's queue stays FIFO.
            for entry in guard.entries.drain(..) {
                let at = new.index(entry.addr);
                new.buckets[at].queue.get_mut().entries.push_back(entry);
            }
        }
        TABLE.store(Box::into_raw(new), Ordering::Release);
        return;
    }
}

/// The number of buckets now (for tests and metrics).
#[cfg(test)]
fn buckets() -> usize {
    table().buckets.len()
}

impl Queue {
    /// Whether this unpark should be fair, and schedules the next fair one.
    fn fair_due(&mut self) -> bool {
        let now = Instant::now();
        let due = self.fair_at.is_some_and(|at| now >= at);
        if due || self.fair_at.is_none() {
            // xorshift32: a jitter of 0..1 ms, as parking_lot does.
            let mut x = self.seed;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.seed = x;
            self.fair_at = Some(now + Duration::from_nanos(u64::from(x % 1_000_000)));
        }
        due
    }
}

/// Parks the calling thread on `addr` if `validate` (run under the bucket
/// lock, so it must not park or unpark) returns true, until an `unpark_*`
/// on `addr` or `deadline`. `kind` names the primitive for `rt::dump`.
pub(crate) fn park(
    addr: usize,
    kind: &'static str,
    validate: impl FnOnce() -> bool,
    deadline: Option<Instant>,
) -> ParkResult {
    park_holding(addr, kind, None, validate, deadline)
}

/// `park` that an interrupt of the thread (or its deadline) also ends,
/// with `ParkResult::Interrupted`.
pub(crate) fn park_interruptible(
    addr: usize,
    kind: &'static str,
    validate: impl FnOnce() -> bool,
    deadline: Option<Instant>,
) -> ParkResult {
    park_inner(addr, kind, None, validate, deadline, true)
}

/// `park`, naming the thread that holds what is waited for (for
/// `rt::dump` and the lock-cycle detector).
pub(crate) fn park_holding(
    addr: usize,
    kind: &'static str,
    holder: Option<crate::thread::ThreadId>,
    validate: impl FnOnce() -> bool,
    deadline: Option<Instant>,
) -> ParkResult {
    park_inner(addr, kind, holder, validate, deadline, false)
}

/// `park_holding`, interruptible or not.
#[inline]
fn park_inner(
    addr: usize,
    kind: &'static str,
    holder: Option<crate::thread::ThreadId>,
    validate: impl FnOnce() -> bool,
    deadline: Option<Instant>,
    interruptible: bool,
) -> ParkResult {
    let parked = PARKED.load(Ordering::Relaxed) + 1;
    if parked > table().buckets.len() * LOAD_FACTOR {
        grow(parked);
    }
    let slot = Slot { queued: AtomicBool::new(false), token: AtomicUsize::new(TOKEN_NORMAL) };
    let mut invalid = false;
    let reason = WaitReason::Lock { kind, addr, holder };
    let register = |wake: Wake| {
        let mut queue = lock_bucket(addr);
        if !validate() {
            drop(queue);
            invalid = true;
            wake.wake();
            return;
        }
        slot.queued.store(true, Ordering::Relaxed);
        queue.entries.push_back(Entry { addr, wake, slot: &slot });
        PARKED.fetch_add(1, Ordering::Relaxed);
    };
    let woken = if interruptible {
        wait::block_interruptible(reason, deadline, register)
    } else {
        wait::block(reason, deadline, register)
    };
    if invalid {
        return ParkResult::Invalid;
    }
    if slot.queued.load(Ordering::Acquire) {
        let mut queue = lock_bucket(addr);
        if slot.queued.load(Ordering::Relaxed) {
            // Nobody unparked us: the deadline passed (or the deadlock
            // detector gave up our wait). Leave the queue before the slot
            // goes away.
            if let Some(at) = queue.entries.iter().position(|e| std::ptr::eq(e.slot, &slot)) {
                queue.entries.remove(at);
                PARKED.fetch_sub(1, Ordering::Relaxed);
            }
            slot.queued.store(false, Ordering::Relaxed);
            return match woken {
                Woken::Abandoned => ParkResult::Abandoned,
                Woken::Interrupted => ParkResult::Interrupted,
                _ => ParkResult::TimedOut,
            };
        }
    }
    ParkResult::Unparked(slot.token.load(Ordering::Acquire))
}

/// Takes entry `at` out of `queue`, giving its thread `token`; returns the
/// `Wake` to use once the bucket lock is released.
fn release(queue: &mut Queue, at: usize, token: usize) -> Wake {
    let entry = queue.entries.remove(at).expect("index from a search of this queue");
    PARKED.fetch_sub(1, Ordering::Relaxed);
    // SAFETY: the entry was queued until just now and we hold the bucket
    // lock, so its thread is still inside `park` and the slot is alive.
    let slot = unsafe { &*entry.slot };
    slot.token.store(token, Ordering::Relaxed);
    // After this store the parked thread may return and free the slot; it
    // is not touched again.
    slot.queued.store(false, Ordering::Release);
    entry.wake
}

/// Unparks the longest-waiting thread parked on `addr`, if any. `callback`
/// runs under the bucket lock with what was found (also when nothing was)
/// and returns the token for the unparked thread.
pub(crate) fn unpark_one(addr: usize, callback: impl FnOnce(UnparkResult) -> usize) -> UnparkResult {
    let mut queue = lock_bucket(addr);
    let Some(at) = queue.entries.iter().position(|e| e.addr == addr) else {
        let result = UnparkResult::default();
        callback(result);
        return result;
    };
    let have_more = queue.entries.iter().skip(at + 1).any(|e| e.addr == addr);
    let be_fair = queue.fair_due();
    let result = UnparkResult { unparked: true, have_more, be_fair };
    let token = callback(result);
    let wake = release(&mut queue, at, token);
    drop(queue);
    wake.wake();
    result
}

/// Unparks every thread parked on `addr`, giving each `token`; returns how
/// many.
pub(crate) fn unpark_all(addr: usize, token: usize) -> usize {
    let mut queue = lock_bucket(addr);
    let mut wakes = Vec::new();
    let mut at = 0;
    while at < queue.entries.len() {
        if queue.entries[at].addr == addr {
            wakes.push(release(&mut queue, at, token));
        } else {
            at += 1;
        }
    }
    drop(queue);
    for wake in &wakes {
        wake.wake();
    }
    wakes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    #[test]
    fn the_table_grows_with_the_parked_threads_and_loses_none() {
        const N: usize = 5_000;
        let addrs: Arc<Vec<AtomicU32>> = Arc::new((0..N).map(|_| AtomicU32::new(0)).collect());
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let addrs = addrs.clone();
                crate::thread::spawn(move || {
                    let word = &addrs[i];
                    let addr = word as *const AtomicU32 as usize;
                    while word.load(Ordering::Acquire) == 0 {
                        park(addr, "test", || word.load(Ordering::Relaxed) == 0, None);
                    }
                })
            })
            .collect();
        // Wait until all are parked (or have seen their word set).
        while PARKED.load(Ordering::Relaxed) < N {
            crate::thread::yield_now();
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(buckets() * LOAD_FACTOR >= N, "{} buckets for {N} parked threads", buckets());
        for word in addrs.iter() {
            word.store(1, Ordering::Release);
            let addr = word as *const AtomicU32 as usize;
            unpark_all(addr, TOKEN_NORMAL);
        }
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn invalid_park_returns_at_once() {
        let x = 0u8;
        assert_eq!(park(&x as *const u8 as usize, "test", || false, None), ParkResult::Invalid);
    }

    #[test]
    fn park_times_out() {
        let x = 0u8;
        let start = Instant::now();
        let r = park(&x as *const u8 as usize, "test", || true, Some(start + Duration::from_millis(5)));
        assert_eq!(r, ParkResult::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(5));
    }

    #[test]
    fn unpark_passes_token_across_thread_kinds() {
        let flag = Arc::new(AtomicU32::new(0));
        let addr = Arc::as_ptr(&flag) as usize;
        let f = flag.clone();
        let h = crate::thread::spawn(move || {
            let r = park(addr, "test", || f.load(Ordering::Relaxed) == 0, None);
            assert!(matches!(r, ParkResult::Unparked(7) | ParkResult::Invalid));
        });
        loop {
            let r = unpark_one(addr, |r| {
                if r.unparked {
                    flag.store(1, Ordering::Relaxed);
                }
                7
            });
            if r.unparked || h.is_finished() {
                break;
            }
            crate::thread::yield_now();
        }
        h.join().unwrap();
    }
}

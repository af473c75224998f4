//! Guarded stacks for myriad threads, and the pools that recycle them.
//!
//! Every myriad thread runs on its own stack: a slot of `guard + size` bytes
//! whose lowest `guard` bytes fault on any access, so that running off the end
//! ends the process with a message (see `overflow.rs`) instead of silently
//! corrupting the neighbouring stack.
//!
//! Slots are carved out of large anonymous mappings ("chunks"). Where the
//! kernel has `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+), the guard is a
//! marker in the page tables and a chunk of a thousand stacks stays one
//! memory mapping. Elsewhere the guard is `mprotect(PROT_NONE)`, which splits
//! the chunk: two mappings per stack, so `vm.max_map_count` (65,530 by
//! default) caps the process at ~32,000 stacks, and reaching it is reported
//! as an `io::Error` that names the sysctl rather than an abort. The mode is
//! probed once at start-up; `MYRIAD_STACK_GUARD=mprotect` forces the fallback.
//! With `MADV_GUARD_INSTALL`, a new chunk's 1,024 guards are installed in
//! one `process_madvise` call (Linux 6.15+, else one `madvise` per slot as
//! it is carved), outside the carver's lock: see `guard_chunk`. Each chunk
//! sits above a one-page `PROT_NONE` fence, so that chunks never merge into
//! one memory area (see `map_chunk`).
//!
//! Stack memory is recycled at three temperatures:
//!
//! * **warm**: each worker keeps the stacks its finished threads left behind,
//!   pages still faulted in, and hands them to the next spawn (no syscall and
//!   no page fault: this is what keeps spawn in the tens of nanoseconds).
//!   Past a few hundred it passes the older half to a shared warm list, so
//!   that a thread spawning on one worker reuses stacks freed on another;
//! * **cold**: once a second a worker releases half of the warm stacks (its
//!   own and the shared list's) that were not needed during that second
//!   (`MADV_DONTNEED`: memory returned to the kernel, guard kept) to a
//!   shared cold list, so memory decays slowly after a burst instead of
//!   being released and faulted in again at once;
//! * **new**: slots never used yet, carved from the current chunk.
//!
//! A new or cold slot costs its first thread a page fault, on the stack's
//! top page (the first frame, up to the first `park`, fits in one page),
//! and a new slot also its guard marker. That is the floor of a cold spawn
//! with a guarded stack per thread: 1.4 µs per fault on our VMs (2 µs and
//! more under load), the same however the page is faulted in
//! (`MADV_POPULATE_WRITE` in batches included), and two cores fault at
//! most twice as fast as one; measured in `crates/myriad-bench/README.md`,
//! "Cold spawns". The guards are taken off the spawning worker (the
//! preparer); the fault stays with the worker that first runs the thread.
//!
//! Address space is never unmapped: it is cheap (47 bits of it), and keeping
//! it means a slot's guard is installed once in the life of the process.
//! Stacks of a non-default size (`Builder::stack_size`) get a mapping of
//! their own that is unmapped when the thread ends.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::lock::{Condvar, Mutex};
use std::time::{Duration, Instant};

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};

/// `madvise` advice that installs guard markers in the page tables (Linux 6.13).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Slots carved per chunk mapping (at most `MAX_RANGES`: see `guard_chunk`).
const SLOTS_PER_CHUNK: usize = 1024;

/// Cold slots moved between the shared list and a worker in one lock.
const COLD_BATCH: usize = 64;

/// Warm stacks moved from the shared list to a worker in one lock.
const WARM_BATCH: usize = 64;

/// Warm stacks a worker keeps for itself before passing some on.
const LOCAL_WARM_MAX: usize = 256;

/// How often warm stacks decay: each warm list releases half of what it
/// did not need over the last step.
pub const DECAY_STEP: Duration = Duration::from_secs(1);

/// How a stack's guard region is made to fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: no extra memory mapping per stack.
    Madvise,
    /// `mprotect(PROT_NONE)`: two memory mappings per stack.
    Mprotect,
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Finds out whether this kernel supports `MADV_GUARD_INSTALL`.
pub fn probe_guard_mode() -> GuardMode {
    let page = page_size();
    // SAFETY: a fresh private anonymous mapping, used only here and unmapped
    // before returning.
    unsafe {
        let map = libc::mmap(
            ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        if map == libc::MAP_FAILED {
            return GuardMode::Mprotect;
        }
        let ok = libc::madvise(map, page, MADV_GUARD_INSTALL) == 0;
        libc::munmap(map, 2 * page);
        if ok {
            GuardMode::Madvise
        } else {
            GuardMode::Mprotect
        }
    }
}

/// One thread's stack: `guard_len()` faulting bytes at `low`, then the
/// usable part, `len` bytes in all. Kept small (it is moved on every spawn
/// and sits in the pools by the hundred thousand).
pub struct ThreadStack {
    low: usize,
    len: usize,
    /// `None` for a default-size pooled slot; for a stack with a mapping of
    /// its own (which it unmaps when dropped), its registration with
    /// valgrind (pooled slots are registered with their chunk).
    own_mapping: Option<Box<ValgrindStackRegistration>>,
}

/// Bytes of guard at the bottom of every stack: four pages (set once, by
/// the first `StackAllocator`).
static GUARD_LEN: AtomicUsize = AtomicUsize::new(0);

fn guard_len() -> usize {
    GUARD_LEN.load(Ordering::Relaxed)
}

/// The address range that faults when the stack at `low` overflows.
pub fn guard_range(low: usize) -> (usize, usize) {
    (low, low + guard_len())
}

impl ThreadStack {
    /// The lowest address of the stack: its guard starts there.
    pub fn low(&self) -> usize {
        self.low
    }

    fn is_pooled(&self) -> bool {
        self.own_mapping.is_none()
    }
}

// SAFETY: `base` is the top of a mapping of `len` bytes that this value owns
// exclusively (a slot is in exactly one pool, one thread, or the cold list);
// `limit` is its lowest address, below which nothing is part of the stack, and
// the lowest `guard_len()` bytes (four pages) fault on access.
unsafe impl Stack for ThreadStack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.low + self.len).expect("stack address is not null")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.low).expect("stack address is not null")
    }
}

impl Drop for ThreadStack {
    fn drop(&mut self) {
        if !self.is_pooled() {
            // SAFETY: a non-pooled stack owns exactly this mapping, and nothing
            // runs on it any more (corosensei hands the stack back only after
            // the coroutine finished).
            unsafe { libc::munmap(self.low as *mut libc::c_void, self.len) };
        }
    }
}

/// Where new slots are carved from.
struct Carver {
    next: usize,
    end: usize,
    /// Whether every slot of the current chunk got its guard when the chunk
    /// was mapped (`guard_chunk`); if not, each gets it when carved.
    guarded: bool,
    /// The next chunk, mapped and guarded ahead of need by the preparer
    /// thread: its lowest address and whether its guards are in.
    spare: Option<(usize, bool)>,
    /// Whether the preparer was asked for a spare it has not delivered yet.
    preparing: bool,
}

impl Carver {
    const EMPTY: Carver = Carver { next: 0, end: 0, guarded: false, spare: None, preparing: false };

    /// Whether the preparer should be asked for the next chunk now: once
    /// half of the current one is carved (a process that never needs more
    /// than half a chunk of stacks never maps a second).
    fn wants_spare(&self, chunk_len: usize) -> bool {
        self.spare.is_none() && !self.preparing && self.end - self.next <= chunk_len / 2
    }
}

/// The process-wide source of stacks.
pub struct StackAllocator {
    mode: GuardMode,
    page: usize,
    /// Usable bytes of a default stack.
    default_size: usize,
    carver: Mutex<Carver>,
    /// Warm stacks passed on by workers with more than they keep.
    warm: Mutex<WarmList>,
    cold: Mutex<Vec<usize>>,
    /// Slots ever guarded; with `Mprotect` each costs two mappings.
    slots_guarded: AtomicUsize,
    preparer: Preparer,
}

impl StackAllocator {
    pub fn new(mode: GuardMode, default_size: usize) -> Self {
        let page = page_size();
        let default_size = round_up(default_size.max(corosensei::stack::MIN_STACK_SIZE), page);
        GUARD_LEN.store(4 * page, Ordering::Relaxed);
        StackAllocator {
            mode,
            page,
            default_size,
            carver: Mutex::new(Carver::EMPTY),
            warm: Mutex::new(WarmList::default()),
            cold: Mutex::new(Vec::new()),
            slots_guarded: AtomicUsize::new(0),
            preparer: Preparer::default(),
        }
    }

    fn slot_len(&self) -> usize {
        guard_len() + self.default_size
    }

    /// A stack with at least `size` usable bytes (`None`: the default size),
    /// taking a warm stack from the calling worker's `pool` when it can.
    pub fn allocate(&'static self, size: Option<usize>, pool: Option<&mut StackPool>) -> io::Result<ThreadStack> {
        match size {
            Some(size) => {
                let usable = size.max(corosensei::stack::MIN_STACK_SIZE);
                let len =
                    usable.div_ceil(self.page).checked_mul(self.page).and_then(|size| size.checked_add(guard_len()));
                match len {
                    Some(len) if len == self.slot_len() => self.allocate_slot(pool),
                    Some(len) => self.allocate_own(len),
                    None => Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("stack size of {size} bytes is too large for this machine's address space"),
                    )),
                }
            }
            None => self.allocate_slot(pool),
        }
    }

    fn allocate_slot(&'static self, pool: Option<&mut StackPool>) -> io::Result<ThreadStack> {
        let low = match pool {
            Some(pool) => {
                if let Some(low) = pool.warm.pop() {
                    return Ok(self.slot(low));
                }
                {
                    let mut shared = self.warm.lock();
                    let rest = shared.stacks.len().saturating_sub(WARM_BATCH);
                    pool.warm.stacks.extend(shared.stacks.drain(rest..));
                    shared.low_water = shared.low_water.min(shared.stacks.len());
                    drop(shared);
                    if let Some(low) = pool.warm.pop() {
                        return Ok(self.slot(low));
                    }
                }
                if pool.cold.is_empty() {
                    let mut cold = self.cold.lock();
                    let rest = cold.len().saturating_sub(COLD_BATCH);
                    pool.cold.extend(cold.drain(rest..));
                }
                pool.cold.pop()
            }
            None => {
                if let Some(low) = self.warm.lock().pop() {
                    return Ok(self.slot(low));
                }
                self.cold.lock().pop()
            }
        };
        match low {
            Some(low) => Ok(self.slot(low)),
            None => Ok(self.slot(self.carve()?)),
        }
    }

    fn slot(&self, low: usize) -> ThreadStack {
        ThreadStack { low, len: self.slot_len(), own_mapping: None }
    }

    fn chunk_len(&self) -> usize {
        self.slot_len() * SLOTS_PER_CHUNK
    }

    /// Carves and guards a never-used slot.
    fn carve(&'static self) -> io::Result<usize> {
        let slot_len = self.slot_len();
        let mut carver = self.carver.lock();
        if carver.next == carver.end {
            if let Some((chunk, guarded)) = carver.spare.take() {
                // Prepared ahead: the common case past the first chunk.
                carver.next = chunk;
                carver.end = chunk + self.chunk_len();
                carver.guarded = guarded;
            }
        }
        if carver.next == carver.end {
            // Map and guard the next chunk without the lock: the guards take
            // a while (one syscall, but 1,024 ranges), and threads spawning
            // on other workers meanwhile must not queue behind it.
            drop(carver);
            let len = self.chunk_len();
            let (chunk, guarded) = self.new_chunk()?;
            carver = self.carver.lock();
            if carver.next == carver.end {
                (carver.next, carver.end, carver.guarded) = (chunk, chunk + len, guarded);
            } else if guarded {
                // Another thread installed a chunk meanwhile. Ours is
                // guarded and never used, as good as cold: keep it there.
                drop(carver);
                self.slots_guarded.fetch_add(SLOTS_PER_CHUNK, Ordering::Relaxed);
                let mut cold = self.cold.lock();
                cold.extend((0..SLOTS_PER_CHUNK).map(|k| chunk + k * slot_len));
                carver = self.carver.lock();
            }
            // (An unguarded chunk that lost the race stays unused: address
            // space only, see the module comment.)
        }
        if carver.next == carver.end {
            // Drained by other threads between the two locks (rare): try again.
            drop(carver);
            return self.carve();
        }
        let low = carver.next;
        carver.next += slot_len;
        let guarded = carver.guarded;
        let prepare = carver.wants_spare(self.chunk_len());
        carver.preparing |= prepare;
        drop(carver);
        if prepare {
            self.preparer.request(self);
        }
        if guarded {
            self.slots_guarded.fetch_add(1, Ordering::Relaxed);
        } else {
            // On failure the slot stays unguarded and is never used.
            self.install_guard(low)?;
        }
        Ok(low)
    }

    /// Maps a chunk and installs its guards (`guard_chunk`): its lowest
    /// address, and whether the guards are in.
    fn new_chunk(&self) -> io::Result<(usize, bool)> {
        let len = self.chunk_len();
        let chunk = self.map_chunk(len)?;
        // Slots are registered with valgrind one chunk at a time, and
        // stay registered for the life of the process.
        std::mem::forget(ValgrindStackRegistration::new(chunk as *mut u8, len));
        Ok((chunk, self.guard_chunk(chunk)))
    }

    /// Maps and guards the next chunk for the carver (on the preparer
    /// thread).
    fn prepare_spare(&self) {
        let spare = self.new_chunk().ok();
        let mut carver = self.carver.lock();
        carver.spare = spare;
        carver.preparing = false;
    }

    /// Installs the guards of all the slots of a fresh chunk at `chunk` in
    /// one `process_madvise` on this process (`PIDFD_SELF`, Linux 6.15+)
    /// with `MADV_GUARD_INSTALL`; returns whether it did.
    ///
    /// Why: a guard per carved slot is a syscall per new thread, and each
    /// takes the address space's lock (`mmap_lock`) on the worker that
    /// spawns. In a spawn storm (the c100k run starts 125,000 threads in a
    /// few seconds) that is 125,000 syscalls, and each can wait behind a
    /// writer of the lock (`malloc` growing a heap with `mprotect`, on
    /// another thread that the kernel preempted): workers were seen blocked
    /// in `madvise_lock` for 17 ms. One call per 1,024 slots takes the lock
    /// once for all of them.
    fn guard_chunk(&self, chunk: usize) -> bool {
        if self.mode != GuardMode::Madvise {
            return false;
        }
        let slot_len = self.slot_len();
        let ranges: Vec<libc::iovec> = (0..SLOTS_PER_CHUNK)
            .map(|k| libc::iovec { iov_base: (chunk + k * slot_len) as *mut libc::c_void, iov_len: guard_len() })
            .collect();
        // SAFETY: every range is the guard of a slot of a chunk this
        // allocator just mapped and that no thread uses yet; making them
        // fault affects nothing else. A failure leaves the per-slot path to
        // finish the job: installing a guard twice is harmless.
        unsafe { advise_self(&ranges, MADV_GUARD_INSTALL) }
    }

    /// Maps a chunk of `len` bytes for pooled slots, with one more page
    /// below it that is never accessible (a fence); returns the chunk's
    /// lowest address, above the fence.
    ///
    /// Why: the kernel places each new mapping right below the last one,
    /// and merges neighbours with the same flags into one memory area
    /// (VMA). Merging the new chunk into the last one must first lock that
    /// area for writing, which waits for every page fault in flight there
    /// (the stacks in use fault in their pages under the area's lock)
    /// while holding the address space's lock (`mmap_lock`) for writing:
    /// in the c100k run a worker mapping a chunk slept in
    /// `vma_merge_new_range -> __vma_start_write`, and every `mprotect`
    /// and `madvise` of the process queued behind it. The fence, a
    /// `PROT_NONE` page with other flags, keeps each chunk an area of its
    /// own (two areas per 1,024 stacks). Without it (`mprotect` failed)
    /// the chunk only merges, as before.
    fn map_chunk(&self, len: usize) -> io::Result<usize> {
        let fenced =
            len.checked_add(self.page).ok_or_else(|| self.explain(io::Error::from_raw_os_error(libc::ENOMEM)))?;
        let low = self.map(fenced)?;
        // SAFETY: the lowest page of the mapping just made, which nothing
        // uses; making it inaccessible affects nothing else.
        unsafe { libc::mprotect(low as *mut libc::c_void, self.page, libc::PROT_NONE) };
        Ok(low + self.page)
    }

    /// A stack with a mapping of its own, `len` bytes with the guard.
    fn allocate_own(&self, len: usize) -> io::Result<ThreadStack> {
        let low = self.map(len)?;
        let stack =
            ThreadStack { low, len, own_mapping: Some(Box::new(ValgrindStackRegistration::new(low as *mut u8, len))) };
        self.install_guard(low)?;
        Ok(stack)
    }

    fn map(&self, len: usize) -> io::Result<usize> {
        // SAFETY: asks for fresh private anonymous memory; no existing memory
        // is affected.
        let map = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(self.explain(io::Error::last_os_error()));
        }
        Ok(map as usize)
    }

    fn install_guard(&self, low: usize) -> io::Result<()> {
        let addr = low as *mut libc::c_void;
        // SAFETY: `low..low + guard` lies in a mapping this allocator made and
        // that no thread uses yet; making it fault affects nothing else.
        let rc = unsafe {
            match self.mode {
                GuardMode::Madvise => libc::madvise(addr, guard_len(), MADV_GUARD_INSTALL),
                GuardMode::Mprotect => libc::mprotect(addr, guard_len(), libc::PROT_NONE),
            }
        };
        if rc != 0 {
            return Err(self.explain(io::Error::last_os_error()));
        }
        self.slots_guarded.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Turns `ENOMEM` into an error that names the limit that was hit.
    fn explain(&self, err: io::Error) -> io::Error {
        if err.raw_os_error() != Some(libc::ENOMEM) {
            return err;
        }
        let limit =
            std::fs::read_to_string("/proc/sys/vm/max_map_count").ok().and_then(|s| s.trim().parse::<usize>().ok());
        let stacks = self.slots_guarded.load(Ordering::Relaxed);
        let message = match (self.mode, limit) {
            (GuardMode::Mprotect, Some(limit)) => format!(
                "cannot create a guarded stack for a new thread: the process reached the \
                 kernel's memory-mapping limit vm.max_map_count = {limit} ({stacks} stacks \
                 use 2 mappings each because their guards are made with mprotect: \
                 MYRIAD_STACK_GUARD=mprotect, or a kernel without MADV_GUARD_INSTALL, \
                 which Linux 6.13 added). Raise the limit, e.g. \
                 `sysctl -w vm.max_map_count={}` for twice as many threads",
                limit.max(2 * stacks).saturating_mul(2)
            ),
            _ => format!(
                "cannot map memory for a new thread's stack ({stacks} stacks exist): out of \
                 memory or address space, or the memory-mapping limit vm.max_map_count \
                 ({}) was reached; raise it with `sysctl -w vm.max_map_count=N`",
                limit.map_or("unknown".to_string(), |l| l.to_string())
            ),
        };
        io::Error::new(io::ErrorKind::OutOfMemory, message)
    }

    /// Returns warm stacks' memory to the kernel and their slots to the
    /// shared cold list.
    pub fn release(&self, slots: Vec<usize>) {
        for batch in slots.chunks(MAX_RANGES) {
            let ranges: Vec<libc::iovec> = batch
                .iter()
                .map(|&low| libc::iovec {
                    iov_base: (low + guard_len()) as *mut libc::c_void,
                    iov_len: self.default_size,
                })
                .collect();
            // SAFETY: as below, for every slot of the batch.
            if unsafe { advise_self(&ranges, libc::MADV_DONTNEED) } {
                continue;
            }
            for range in &ranges {
                // SAFETY: the slot is in no thread's use; dropping its pages
                // only makes the next use read zeroes. The guard is not
                // touched (MADV_DONTNEED keeps guard markers and PROT_NONE
                // alike).
                unsafe { libc::madvise(range.iov_base, range.iov_len, libc::MADV_DONTNEED) };
            }
        }
        self.cold.lock().extend(slots);
    }
}

/// Warm pooled slots (pages still in memory), by their low address (8 bytes
/// each: the pools may hold a million), most recently used on top, with
/// the fewest held since the last decay step.
#[derive(Default)]
struct WarmList {
    stacks: Vec<usize>,
    low_water: usize,
    /// When `low_water` began to be tracked. Every worker steps the shared
    /// list: without this, a step right after another's would see a
    /// moment's low-water mark, not a whole step's, and release stacks
    /// still in steady use.
    since: Option<Instant>,
}

impl WarmList {
    fn pop(&mut self) -> Option<usize> {
        let stack = self.stacks.pop()?;
        self.low_water = self.low_water.min(self.stacks.len());
        Some(stack)
    }

    /// Takes out half of the stacks that were not needed since the last
    /// step (the oldest: they are at the bottom) for release.
    fn decay(&mut self, now: Instant) -> Vec<usize> {
        let released = match self.since {
            // Mid-step: keep tracking the low-water mark.
            Some(since) if now.saturating_duration_since(since) < DECAY_STEP => return Vec::new(),
            Some(_) => self.stacks.drain(..self.low_water.div_ceil(2)).collect(),
            None => Vec::new(),
        };
        self.since = Some(now);
        self.low_water = self.stacks.len();
        released
    }
}

/// A worker's own stacks: warm ones with their pages in memory, and a few
/// cold slots taken from the shared list in a batch.
pub struct StackPool {
    warm: WarmList,
    cold: Vec<usize>,
}

impl StackPool {
    pub fn new() -> Self {
        StackPool { warm: WarmList::default(), cold: Vec::new() }
    }

    /// Takes back the stack of a finished thread; beyond `LOCAL_WARM_MAX`,
    /// passes the older half on to the shared warm list, where threads
    /// spawned on other workers find them.
    pub fn give_back(&mut self, stack: ThreadStack, allocator: &StackAllocator) {
        if !stack.is_pooled() {
            return; // Dropping it unmaps it.
        }
        self.warm.stacks.push(stack.low);
        if self.warm.stacks.len() > LOCAL_WARM_MAX {
            let mut shared = allocator.warm.lock();
            shared.stacks.extend(self.warm.stacks.drain(..LOCAL_WARM_MAX / 2));
            drop(shared);
            self.warm.low_water = self.warm.low_water.min(self.warm.stacks.len());
        }
    }

    /// Whether a decay step would release anything here or in the shared
    /// warm list.
    pub fn has_surplus(&self, allocator: &StackAllocator) -> bool {
        self.warm.low_water > 0 || allocator.warm.lock().low_water > 0
    }

    /// One step of the slow decay (at most one per `DECAY_STEP` for each
    /// list): takes out half of the warm stacks that were not needed over
    /// the last step, here and in the shared list, for
    /// `StackAllocator::release` (a syscall per stack: the caller runs it
    /// off the worker).
    pub fn decay(&mut self, allocator: &StackAllocator, now: Instant) -> Vec<usize> {
        let mut released = self.warm.decay(now);
        released.extend(allocator.warm.lock().decay(now));
        released
    }
}

/// How long the preparer thread waits for another request before it ends.
const PREPARER_IDLE: Duration = Duration::from_secs(2);

/// An OS thread that maps and guards the next chunk of stacks while the
/// current one is carved, so that a burst of spawns does not stop every
/// 1,024 stacks for the mapping and the 1,024 guards (`guard_chunk`: a
/// page-table walk and a guard marker per slot, about 0.6 µs per slot
/// here, 15 % of a cold spawn's CPU time) on the worker that spawns.
///
/// Started on the first request (a process that never carves past half a
/// chunk never starts it); it ends after `PREPARER_IDLE` without one, and
/// the next request starts it again. If it has not delivered when the
/// carver needs the chunk, the carver maps one itself, as it would without
/// it, and the preparer's chunk waits as the spare. If it cannot be
/// started (no OS thread to be had), the carver maps every chunk itself
/// from then on, rather than try again on every spawn.
///
/// Its own thread, not a job for the offload pool (`offload.rs`, which
/// `fd_table.rs` uses for its background work): the pool parks and wakes
/// through the wait primitive, which sits above threads and so above their
/// stacks; the allocator stays below them.
#[derive(Default)]
struct Preparer {
    state: Mutex<PreparerState>,
    wake: Condvar,
}

#[derive(Default)]
struct PreparerState {
    /// A spare chunk is wanted.
    wanted: bool,
    /// The thread is alive (it clears this, under the lock, when it ends).
    running: bool,
}

impl Preparer {
    fn request(&self, allocator: &'static StackAllocator) {
        let mut state = self.state.lock();
        state.wanted = true;
        if state.running {
            drop(state);
            self.wake.notify_one();
            return;
        }
        state.running = true;
        drop(state);
        let started = std::thread::Builder::new()
            .name("myriad-stacks".into())
            .stack_size(PREPARER_STACK)
            .spawn(move || allocator.preparer.serve(allocator));
        if started.is_err() {
            // `carver.preparing` stays set: no spare will come, and none
            // is asked for again.
            self.state.lock().running = false;
        }
    }

    /// The preparer thread: prepares a chunk per request until idle.
    fn serve(&self, allocator: &StackAllocator) {
        let mut state = self.state.lock();
        loop {
            if state.wanted {
                state.wanted = false;
                drop(state);
                allocator.prepare_spare();
                state = self.state.lock();
                continue;
            }
            let (next, timed_out) = self.wake.wait_timeout(state, PREPARER_IDLE);
            state = next;
            if timed_out && !state.wanted {
                state.running = false;
                return;
            }
        }
    }
}

/// The preparer thread's stack: it runs two system calls and builds a
/// vector of 1,024 ranges.
const PREPARER_STACK: usize = 64 * 1024;

/// Ranges one `process_madvise` call takes at most (the kernel's
/// `UIO_MAXIOV`).
const MAX_RANGES: usize = 1024;

/// `madvise(advice)` on every range in one `process_madvise` call on this
/// process (`PIDFD_SELF_THREAD_GROUP`, Linux 6.15+: no descriptor, and a
/// forked child advises its own memory, not its parent's); returns whether
/// the kernel did all of it. Taking the address space's lock once, and on
/// recent kernels flushing the TLBs once, for up to 1,024 ranges.
///
/// # Safety
///
/// As for `madvise(advice)` on each range.
unsafe fn advise_self(ranges: &[libc::iovec], advice: libc::c_int) -> bool {
    const PIDFD_SELF: libc::c_int = -10001;
    if ranges.is_empty() || ranges.len() > MAX_RANGES {
        return ranges.is_empty();
    }
    let expected: usize = ranges.iter().map(|r| r.iov_len).sum();
    // SAFETY: `ranges` is a valid array of `ranges.len()` iovecs that
    // outlives the call; the caller answers for what the advice does.
    let advised =
        unsafe { libc::syscall(libc::SYS_process_madvise, PIDFD_SELF, ranges.as_ptr(), ranges.len(), advice, 0) };
    advised >= 0 && advised as usize == expected
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An allocator for one test (the carver needs one that lives for
    /// ever, as the runtime's does, to hand to its preparer thread). Kept
    /// in a list, so that valgrind sees it still reachable at exit.
    fn leaked(stack_size: usize) -> &'static StackAllocator {
        static KEPT: Mutex<Vec<&'static StackAllocator>> = Mutex::new(Vec::new());
        let alloc = Box::leak(Box::new(StackAllocator::new(probe_guard_mode(), stack_size)));
        KEPT.lock().push(alloc);
        alloc
    }

    #[test]
    fn the_next_chunk_is_prepared_while_the_current_one_is_carved() {
        let alloc = leaked(16 * 1024);
        let mut stacks: Vec<_> = (0..SLOTS_PER_CHUNK / 2 + 1).map(|_| alloc.allocate(None, None).unwrap()).collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        let spare = loop {
            if let Some((spare, _)) = alloc.carver.lock().spare {
                break spare;
            }
            assert!(Instant::now() < deadline, "no spare chunk was prepared");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(memory_area(spare).is_some(), "the spare chunk is mapped");
        while stacks.len() <= SLOTS_PER_CHUNK {
            stacks.push(alloc.allocate(None, None).unwrap());
        }
        assert_eq!(stacks[SLOTS_PER_CHUNK].low, spare, "the next chunk is the prepared one");
        assert!(alloc.carver.lock().spare.is_none());
    }

    #[test]
    fn slots_are_recycled_warm_then_released_cold() {
        let alloc = leaked(64 * 1024);
        let mut pool = StackPool::new();
        let a = alloc.allocate(None, Some(&mut pool)).unwrap();
        let a_low = a.low;
        pool.give_back(a, alloc);
        let b = alloc.allocate(None, Some(&mut pool)).unwrap();
        assert_eq!(b.low, a_low, "a warm stack is reused first");
        pool.give_back(b, alloc);
        let start = Instant::now();
        assert!(pool.decay(alloc, start).is_empty()); // starts the step: 1 unused
        assert!(pool.has_surplus(alloc));
        assert!(pool.decay(alloc, start + DECAY_STEP / 2).is_empty(), "a step lasts DECAY_STEP");
        alloc.release(pool.decay(alloc, start + DECAY_STEP)); // releases it
        assert!(pool.warm.stacks.is_empty());
        let c = alloc.allocate(None, Some(&mut pool)).unwrap();
        assert_eq!(c.low, a_low, "a released slot is reused cold");
    }

    #[test]
    fn stacks_in_use_every_step_are_not_released_however_often_workers_step() {
        let alloc = leaked(16 * 1024);
        let (mut a, mut b) = (StackPool::new(), StackPool::new());
        let start = Instant::now();
        a.decay(alloc, start);
        b.decay(alloc, start);
        // Over the step, the shared list is drained and refilled (a burst of
        // threads), then it sits full while another worker steps.
        let stacks: Vec<_> = (0..4 * LOCAL_WARM_MAX).map(|_| alloc.allocate(None, Some(&mut a)).unwrap()).collect();
        for s in stacks {
            b.give_back(s, alloc);
        }
        let late = start + DECAY_STEP;
        assert!(a.decay(alloc, late).len() <= LOCAL_WARM_MAX, "only b's own unused stacks may go");
        let shared_before = alloc.warm.lock().stacks.len();
        b.decay(alloc, late + Duration::from_millis(1));
        assert_eq!(alloc.warm.lock().stacks.len(), shared_before, "a second step right after the first");
    }

    #[test]
    fn a_worker_with_many_warm_stacks_shares_them() {
        let alloc = leaked(16 * 1024);
        let (mut finishing, mut spawning) = (StackPool::new(), StackPool::new());
        let stacks: Vec<_> = (0..LOCAL_WARM_MAX + 1).map(|_| alloc.allocate(None, None).unwrap()).collect();
        let lows: std::collections::HashSet<usize> = stacks.iter().map(|s| s.low).collect();
        for s in stacks {
            finishing.give_back(s, alloc);
        }
        let reused = alloc.allocate(None, Some(&mut spawning)).unwrap();
        assert!(lows.contains(&reused.low), "another worker's warm stack is reused");
    }

    /// The memory area (a line of `/proc/self/maps`) holding `addr`.
    fn memory_area(addr: usize) -> Option<(usize, usize)> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|line| {
            let (start, end) = line.split_whitespace().next()?.split_once('-')?;
            let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
            (start <= addr && addr < end).then_some((start, end))
        })
    }

    #[test]
    fn each_chunk_is_a_memory_area_of_its_own() {
        let alloc = leaked(16 * 1024);
        let stacks: Vec<_> = (0..SLOTS_PER_CHUNK + 1).map(|_| alloc.allocate(None, None).unwrap()).collect();
        let (first, next) = (stacks[0].low, stacks[SLOTS_PER_CHUNK].low);
        assert!(memory_area(first).is_some() && memory_area(next).is_some());
        assert_ne!(memory_area(first), memory_area(next), "the second chunk merged into the first");
    }

    #[test]
    fn an_impossible_stack_size_is_an_error_not_an_overflow() {
        let alloc = leaked(64 * 1024);
        for size in [usize::MAX, usize::MAX - 4096, usize::MAX / 2 + 1] {
            let err = alloc.allocate(Some(size), None).err().expect("no such stack");
            assert!(matches!(err.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::OutOfMemory), "{err}");
        }
    }

    #[test]
    fn custom_sizes_get_their_own_mapping() {
        let alloc = leaked(64 * 1024);
        let mut pool = StackPool::new();
        let s = alloc.allocate(Some(1 << 20), Some(&mut pool)).unwrap();
        assert!(!s.is_pooled());
        assert!(s.base().get() - s.limit().get() >= 1 << 20);
    }
}

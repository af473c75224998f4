//! Memory for thread cells: carved from the runtime's own mappings, kept
//! per worker, and never handed to the global allocator, as Go keeps dead
//! goroutines' `g`s for the next ones.
//!
//! A thread's cell (`task.rs`) is one allocation of a few hundred bytes
//! whose size depends on its closure and result types. Cells are sized in
//! classes of 64 bytes up to `MAX_CACHED`; each worker keeps free cells of
//! each class, spawning takes one there and freeing puts one there,
//! whichever worker allocated it (a cell is just memory of its class).
//! Past `LOCAL_MAX` free cells of a class, a worker passes half to a shared
//! list, where workers that run short take them back `BATCH` at a time;
//! when both are empty, `BATCH` new cells are carved from a `BLOCK` mapped
//! for cells. Bigger or over-aligned cells go to the global allocator.
//!
//! Why not the global allocator: with glibc, spawn-and-join costs about
//! 150 instructions more, and in a spawn storm its arenas became the
//! runtime's bottleneck. A cell allocated on one worker is mostly freed on
//! another (by the joiner), and `free` then takes the lock of the arena of
//! the worker that allocated it, while that worker allocates: in the c100k
//! run (125,000 threads) workers slept up to 18 ms in
//! `_int_free`'s `__lll_lock_wait_private` behind a preempted holder.
//! glibc also grows a thread's arena a page at a time with `mprotect`,
//! which takes the address space's lock for writing: 125,000 cells of
//! ~400 bytes were ~12,000 such calls, each able to wait behind (and hold
//! up) every page fault and `madvise` of the process (seen: 10-50 ms).
//! Here cells cost one `mmap` per `BLOCK` (150,000 cells of 448 bytes)
//! and a lock per `BATCH`.
//!
//! The memory is kept for the life of the process (as Go keeps its `g`s):
//! at most the peak number of live cells of each class. Address space is
//! cheap; a burst's cells are reused by the next burst.

use std::alloc::{self, Layout};
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

use super::lock::Mutex;

/// Cells are sized in multiples of this (and carved at multiples of it
/// from a page-aligned block, so every cached cell is aligned to it).
const CLASS: usize = 64;
/// Larger cells are not cached.
const MAX_CACHED: usize = 1024;
/// Size classes.
const CLASSES: usize = MAX_CACHED / CLASS;
/// Free cells of one class a worker keeps before passing half on.
const LOCAL_MAX: usize = 256;
/// Cells moved between the shared list and a worker, or carved, at once.
const BATCH: usize = 64;
/// Bytes of address space mapped at once for new cells (only the pages
/// cells are carved from become memory). Large, so that mapping is rare:
/// each `mmap` takes the address space's lock for writing, and one that
/// lands next to the last block merges with it, waiting for the page
/// faults in flight there (see `StackAllocator::map_chunk`).
const BLOCK: usize = 64 << 20;

/// One worker's free cells, by size class (addresses).
#[derive(Default)]
pub struct CellCache {
    classes: [Vec<usize>; CLASSES],
}

/// Free cells passed on by workers (or freed off the workers), by class.
static SHARED: [Mutex<Vec<usize>>; CLASSES] = [const { Mutex::new(Vec::new()) }; CLASSES];

/// Where new cells are carved from: the rest of the last block mapped.
static CARVER: Mutex<Carver> = Mutex::new(Carver { next: 0, end: 0 });

struct Carver {
    next: usize,
    end: usize,
}

/// The class of a cell of `layout` (0 for 1..=64 bytes), if it is cached.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS || layout.size() > MAX_CACHED {
        return None;
    }
    Some(layout.size().div_ceil(CLASS).max(1) - 1)
}

/// Memory for a cell of `layout`.
pub fn allocate(layout: Layout) -> NonNull<u8> {
    let Some(class) = class_of(layout) else {
        // SAFETY: cell layouts are never zero-sized (a cell has a header).
        let ptr = unsafe { alloc::alloc(layout) };
        return NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout));
    };
    let cell = match with_cache(|cache| cache.take(class)) {
        Some(cell) => cell,
        None => take_shared(class),
    };
    NonNull::new(cell as *mut u8).expect("cells are carved from a mapping, never at null")
}

/// Frees a cell of `layout` made by `allocate`.
///
/// # Safety
///
/// `cell` came from `allocate(layout)` and is no longer used.
pub unsafe fn free(cell: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: allocated by the global allocator with this layout (see
        // `allocate`), and unused now.
        unsafe { alloc::dealloc(cell.as_ptr(), layout) };
        return;
    };
    let addr = cell.as_ptr() as usize;
    if with_cache(|cache| cache.put(class, addr)).is_some() {
        return;
    }
    if super::fork::in_child() {
        // A forked child (which spawns no threads) keeps the cell: a worker
        // of the parent may have held the list's lock at the fork, and in
        // the child nobody would ever release it.
        return;
    }
    SHARED[class].lock().push(addr);
}

impl CellCache {
    /// A free cell of `class`: this worker's, else a batch from the shared
    /// list or freshly carved.
    fn take(&mut self, class: usize) -> usize {
        let free = &mut self.classes[class];
        if let Some(cell) = free.pop() {
            return cell;
        }
        {
            let mut shared = SHARED[class].lock();
            let rest = shared.len().saturating_sub(BATCH);
            free.extend(shared.drain(rest..));
        }
        if free.is_empty() {
            carve(class, free);
        }
        free.pop().expect("carve gives at least one cell")
    }

    /// Keeps a freed cell; past `LOCAL_MAX`, passes the older half on.
    fn put(&mut self, class: usize, cell: usize) {
        let free = &mut self.classes[class];
        free.push(cell);
        if free.len() > LOCAL_MAX {
            SHARED[class].lock().extend(free.drain(..LOCAL_MAX / 2));
        }
    }
}

/// A cell of `class` for a thread off the workers.
fn take_shared(class: usize) -> usize {
    if let Some(cell) = SHARED[class].lock().pop() {
        return cell;
    }
    let mut carved = Vec::with_capacity(BATCH);
    carve(class, &mut carved);
    let cell = carved.pop().expect("carve gives at least one cell");
    SHARED[class].lock().extend(carved);
    cell
}

/// Carves up to `BATCH` new cells of `class` into `into` (at least one),
/// mapping a new block when the current one is used up.
fn carve(class: usize, into: &mut Vec<usize>) {
    let size = (class + 1) * CLASS;
    let mut carver = CARVER.lock();
    if carver.end - carver.next < size {
        // The tail of the old block (less than one cell) stays unused.
        let block = map_block();
        *carver = Carver { next: block, end: block + BLOCK };
    }
    let count = ((carver.end - carver.next) / size).min(BATCH);
    let first = carver.next;
    carver.next += count * size;
    drop(carver);
    into.extend((0..count).rev().map(|k| first + k * size));
}

/// Maps a new block of memory for cells; aborts like the global allocator
/// when there is no memory.
fn map_block() -> usize {
    // SAFETY: asks for fresh private anonymous memory; nothing existing is
    // affected.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            BLOCK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        alloc::handle_alloc_error(Layout::from_size_align(BLOCK, 4096).expect("a valid block layout"));
    }
    map as usize
}

thread_local! {
    /// The cache of the worker on this OS thread (null: not a worker).
    static WORKER_CACHE: Cell<*const RefCell<CellCache>> = const { Cell::new(std::ptr::null()) };
}

/// Makes `cache` the one this OS thread's spawns and frees use (null: none
/// again, in a forked child). The worker calls this when its OS thread
/// starts.
///
/// # Safety
///
/// A non-null `cache` stays valid, and is used only on this OS thread,
/// for as long as it is installed.
pub unsafe fn install(cache: *const RefCell<CellCache>) {
    WORKER_CACHE.with(|installed| installed.set(cache));
}

/// Runs `f` on this worker's cache; `None` off the workers (or while the
/// cache is in use, which cannot happen: `f` runs no other code).
fn with_cache<R>(f: impl FnOnce(&mut CellCache) -> R) -> Option<R> {
    let cache = WORKER_CACHE.with(Cell::get);
    // SAFETY: a non-null pointer was installed by this OS thread's worker,
    // which keeps it valid while installed (`install`'s contract).
    let cache = unsafe { cache.as_ref() }?;
    let mut cache = cache.try_borrow_mut().ok()?;
    Some(f(&mut cache))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `LOCAL_MAX` more cells of the test's layout, allocated on a worker.
    fn freed_more() -> Vec<usize> {
        let layout = Layout::from_size_align(448, 16).unwrap();
        (0..LOCAL_MAX).map(|_| allocate(layout).as_ptr() as usize).collect()
    }

    #[test]
    fn cells_are_sized_in_classes_and_big_or_overaligned_ones_bypass_the_cache() {
        assert_eq!(class_of(Layout::from_size_align(300, 8).unwrap()), Some(4));
        assert_eq!(class_of(Layout::from_size_align(1, 1).unwrap()), Some(0));
        assert_eq!(class_of(Layout::from_size_align(64, 64).unwrap()), Some(0));
        assert_eq!(class_of(Layout::from_size_align(MAX_CACHED + 1, 8).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(64, 128).unwrap()), None);
    }

    #[test]
    fn a_cell_freed_on_a_worker_is_reused_there() {
        let reused = crate::thread::spawn(|| {
            let layout = Layout::from_size_align(200, 8).unwrap();
            let first = allocate(layout);
            // SAFETY: just allocated with this layout, unused.
            unsafe { free(first, layout) };
            let second = allocate(layout);
            // SAFETY: as above.
            unsafe { free(second, layout) };
            first == second
        })
        .join()
        .unwrap();
        assert!(reused);
    }

    #[test]
    fn cells_are_aligned_distinct_and_shared_between_workers_and_os_threads() {
        let layout = Layout::from_size_align(448, 16).unwrap();
        // Off the workers: more than a batch, so some are carved.
        let cells: Vec<NonNull<u8>> = (0..3 * BATCH).map(|_| allocate(layout)).collect();
        let mut addrs: Vec<usize> = cells.iter().map(|c| c.as_ptr() as usize).collect();
        assert!(addrs.iter().all(|a| a % CLASS == 0));
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), 3 * BATCH, "no cell is handed out twice");
        for &c in &cells {
            // SAFETY: writable memory of at least the layout's size.
            unsafe { c.as_ptr().write_bytes(0xa5, layout.size()) };
        }
        // Freed on a worker past its share: a thread off the workers (this
        // one) finds them in the shared list.
        let freed: Vec<usize> = addrs.clone();
        crate::thread::spawn(move || {
            for addr in freed.into_iter().chain(freed_more()) {
                // SAFETY: allocated with `layout`, unused now.
                unsafe { free(NonNull::new(addr as *mut u8).unwrap(), layout) };
            }
        })
        .join()
        .unwrap();
        assert!(SHARED[class_of(layout).unwrap()].lock().len() >= LOCAL_MAX / 2);
    }
}

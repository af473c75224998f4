//! Each worker keeps the memory of recently freed thread cells for the
//! next spawn, as Go's scheduler keeps dead goroutines' `g`s per P.
//!
//! A thread's cell (`task.rs`) is one allocation of a few hundred bytes
//! whose size depends on its closure and result types. Spawn-and-join
//! allocates and frees one per thread, and with glibc that pair costs about
//! 150 instructions, a sixth of the whole spawn+join. So cells are sized in
//! classes of 64 bytes, and a worker keeps up to `PER_CLASS` free cells of
//! each class up to `MAX_CACHED` bytes: spawning on a worker takes one
//! back, and freeing on a worker puts one there. Memory freed elsewhere,
//! bigger cells, and whatever exceeds a class's share go to the global
//! allocator, always with the class layout they were allocated with, so
//! any thread may free any cell.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use super::worker;

/// Cells are sized in multiples of this.
const CLASS: usize = 64;
/// Larger cells are not cached.
const MAX_CACHED: usize = 1024;
/// Free cells kept per class and worker.
const PER_CLASS: usize = 64;
/// The alignment every cell gets (larger ones are not cached).
const ALIGN: usize = 16;

/// One worker's free cells, by size class.
#[derive(Default)]
pub struct CellCache {
    classes: [Vec<NonNull<u8>>; MAX_CACHED / CLASS],
}

/// The layout a cell of `layout` is allocated with, and its class if it is
/// cached.
fn class_of(layout: Layout) -> (Layout, Option<usize>) {
    if layout.align() > ALIGN || layout.size() > MAX_CACHED {
        return (layout, None);
    }
    let class = layout.size().div_ceil(CLASS).max(1);
    let size = class * CLASS;
    (Layout::from_size_align(size, ALIGN).expect("a valid class layout"), Some(class - 1))
}

/// Memory for a cell of `layout`.
pub fn allocate(layout: Layout) -> NonNull<u8> {
    let (real, class) = class_of(layout);
    if let Some(class) = class {
        if let Some(cell) = with_cache(|cache| cache.classes[class].pop()).flatten() {
            return cell;
        }
    }
    // SAFETY: cell layouts are never zero-sized (a cell has a header).
    let ptr = unsafe { alloc::alloc(real) };
    NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(real))
}

/// Frees a cell of `layout` made by `allocate`.
///
/// # Safety
///
/// `cell` came from `allocate(layout)` and is no longer used.
pub unsafe fn free(cell: NonNull<u8>, layout: Layout) {
    let (real, class) = class_of(layout);
    if let Some(class) = class {
        let kept = with_cache(|cache| {
            let free = &mut cache.classes[class];
            if free.len() < PER_CLASS {
                free.push(cell);
                true
            } else {
                false
            }
        });
        if kept == Some(true) {
            return;
        }
    }
    // SAFETY: allocated with `real` (see `allocate`), and unused now.
    unsafe { alloc::dealloc(cell.as_ptr(), real) };
}

/// Runs `f` on this worker's cache; `None` off the workers (or while the
/// cache is in use, which cannot happen: `f` runs no other code).
fn with_cache<R>(f: impl FnOnce(&mut CellCache) -> R) -> Option<R> {
    let local = worker::local()?;
    let mut cache = local.cells.try_borrow_mut().ok()?;
    Some(f(&mut cache))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_sized_in_classes_and_big_or_overaligned_ones_bypass_the_cache() {
        let (real, class) = class_of(Layout::from_size_align(300, 8).unwrap());
        assert_eq!((real.size(), real.align(), class), (320, ALIGN, Some(4)));
        assert_eq!(class_of(Layout::from_size_align(1, 1).unwrap()).1, Some(0));
        assert_eq!(class_of(Layout::from_size_align(MAX_CACHED + 1, 8).unwrap()).1, None);
        assert_eq!(class_of(Layout::from_size_align(64, 64).unwrap()).1, None);
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
}

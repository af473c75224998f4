//! Reference costs from the kernel, to read the cold rounds against: what
//! touching a fresh stack page and installing a guard page cost by
//! themselves on this machine. Stacks are spaced 256 KiB apart (myriad's
//! default stack size), so page-table pages are allocated as for stacks.

use std::time::{Duration, Instant};

use super::{emit_samples, fail};
use crate::calib::Calib;

const STRIDE: usize = 256 * 1024;
const PAGE: usize = 4096;
/// `MADV_GUARD_INSTALL` (Linux 6.13+).
const MADV_GUARD_INSTALL: libc::c_int = 102;

fn with_region(pages: usize, f: impl FnOnce(*mut u8) -> Duration) -> Duration {
    let len = pages * STRIDE;
    // SAFETY: an anonymous private mapping with no address hint; checked
    // for failure below and unmapped before returning.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        fail(&format!("mmap of {len} bytes: {}", std::io::Error::last_os_error()));
    }
    let t = f(p.cast());
    // SAFETY: the mapping made above, of that length, no longer used.
    unsafe { libc::munmap(p, len) };
    t
}

/// Writes one byte to the top page of each 256 KiB slot of a fresh mapping.
pub fn page_fault(mut cal: Calib) {
    while let Some(n) = cal.next() {
        let t = with_region(n as usize, |base| {
            let t = Instant::now();
            for i in 0..n as usize {
                // SAFETY: inside the mapping (slot i, its last page), writable.
                unsafe { base.add(i * STRIDE + STRIDE - PAGE).write_volatile(1) };
            }
            t.elapsed()
        });
        cal.record(n, t);
    }
    emit_samples(&cal);
}

/// Installs a guard page at the bottom of each 256 KiB slot of a mapping.
pub fn guard_install(mut cal: Calib) {
    while let Some(n) = cal.next() {
        let t = with_region(n as usize, |base| {
            let t = Instant::now();
            for i in 0..n as usize {
                // SAFETY: advice on one page inside our own mapping.
                if unsafe { libc::madvise(base.add(i * STRIDE).cast(), PAGE, MADV_GUARD_INSTALL) } != 0 {
                    fail(&format!("madvise(MADV_GUARD_INSTALL): {}", std::io::Error::last_os_error()));
                }
            }
            t.elapsed()
        });
        cal.record(n, t);
    }
    emit_samples(&cal);
}

//! How a file's data operation runs without blocking a worker.
//!
//! Why: a regular file is always "ready" to epoll, yet a read may wait for
//! the disk, so the readiness reactor that serves sockets cannot help. On a
//! myriad thread a read, write or fsync therefore goes to the worker's
//! io_uring ring ([`crate::rt::uring::submit`]) and the thread parks until
//! the completion arrives; where io_uring is unavailable (old kernel,
//! seccomp, `kernel.io_uring_disabled`, `MYRIAD_IO_URING=0`) the same call
//! runs on the offload pool ([`crate::blocking`]). On a plain OS thread the
//! call is made directly, as std makes it.
//!
//! How the file position stays consistent: an io_uring READ/WRITE with the
//! offset `-1` (`u64::MAX`) uses and advances the kernel's file position,
//! exactly as read(2)/write(2) on the fallback and `lseek` do, so a `File`
//! may be used from either path (or from both kinds of thread) and its
//! position is the one the kernel keeps.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use io_uring::{opcode, types};

use crate::rt::uring;

/// The most bytes one read or write asks for (Linux's own cap, which also
/// fits io_uring's 32-bit length).
const MAX_RW: usize = 0x7fff_f000;

/// The offset that makes io_uring use the file position.
const CURRENT_POSITION: u64 = u64::MAX;

/// Reads into `buf` at `offset`, or at the file position for `None`.
pub(super) fn read(file: &std::fs::File, buf: &mut [u8], offset: Option<u64>) -> io::Result<usize> {
    let len = buf.len().min(MAX_RW) as u32;
    let entry = opcode::Read::new(types::Fd(file.as_raw_fd()), buf.as_mut_ptr(), len)
        .offset(offset.unwrap_or(CURRENT_POSITION))
        .build();
    // SAFETY: the entry names `buf` (valid for `len` bytes, exclusively
    // borrowed here) and `file`'s descriptor (open while `file` is
    // borrowed); `submit` returns only after the kernel has completed the
    // operation, so both outlive it.
    if let Some(result) = unsafe { uring::submit("read", entry) } {
        return result.map(|n| n as usize);
    }
    // The offload pool's call borrows `buf`: interruptible only before it.
    crate::rt::wait::check_interrupt_io()?;
    crate::blocking(|| match offset {
        None => (&*file).read(buf),
        Some(offset) => file.read_at(buf, offset),
    })
}

/// Writes `buf` at `offset`, or at the file position for `None`.
pub(super) fn write(file: &std::fs::File, buf: &[u8], offset: Option<u64>) -> io::Result<usize> {
    let len = buf.len().min(MAX_RW) as u32;
    let entry = opcode::Write::new(types::Fd(file.as_raw_fd()), buf.as_ptr(), len)
        .offset(offset.unwrap_or(CURRENT_POSITION))
        .build();
    // SAFETY: as in `read`: `buf` and the descriptor are borrowed for the
    // whole call, which returns only after the operation has completed.
    if let Some(result) = unsafe { uring::submit("write", entry) } {
        return result.map(|n| n as usize);
    }
    // The offload pool's call borrows `buf`: interruptible only before it.
    crate::rt::wait::check_interrupt_io()?;
    crate::blocking(|| match offset {
        None => (&*file).write(buf),
        Some(offset) => file.write_at(buf, offset),
    })
}

/// fsync(2), or fdatasync(2) when `data_only`.
pub(super) fn sync(file: &std::fs::File, data_only: bool) -> io::Result<()> {
    let mut fsync = opcode::Fsync::new(types::Fd(file.as_raw_fd()));
    if data_only {
        fsync = fsync.flags(types::FsyncFlags::DATASYNC);
    }
    // SAFETY: the entry names only the descriptor, open while `file` is
    // borrowed for the whole call.
    if let Some(result) = unsafe { uring::submit(if data_only { "fdatasync" } else { "fsync" }, fsync.build()) } {
        return result.map(drop);
    }
    // The offload pool's call borrows `buf`: interruptible only before it.
    crate::rt::wait::check_interrupt_io()?;
    crate::blocking(|| if data_only { file.sync_data() } else { file.sync_all() })
}

//! Files and directories with [`std::fs`]'s API, where every call that
//! may wait for a disk parks only the calling myriad thread.
//!
//! Port a program by changing `std::fs` to `myriad::fs` (and
//! `std::os::unix::fs::{FileExt, OpenOptionsExt, DirBuilderExt}` to the
//! same names here, which are std's traits, implemented for these types).
//! Names, signatures, behaviour and error kinds are std's.
//!
//! ```
//! use myriad::fs;
//! use std::io::Write;
//!
//! let dir = std::env::temp_dir().join(format!("myriad-doc-fs-{}", std::process::id()));
//! fs::create_dir_all(&dir)?;
//! // One thread per file, each written as plain blocking code.
//! let handles: Vec<_> = (0..100)
//!     .map(|i| {
//!         let path = dir.join(format!("{i}.txt"));
//!         myriad::thread::spawn(move || -> std::io::Result<String> {
//!             fs::File::create(&path)?.write_all(format!("file {i}").as_bytes())?;
//!             fs::read_to_string(&path)
//!         })
//!     })
//!     .collect();
//! for (i, h) in handles.into_iter().enumerate() {
//!     assert_eq!(h.join().unwrap()?, format!("file {i}"));
//! }
//! assert_eq!(fs::read_dir(&dir)?.count(), 100);
//! fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How calls run
//!
//! - **Data** — [`File`]'s reads and writes (at the file position or, via
//!   [`FileExt`], at an offset), [`File::sync_all`] and
//!   [`File::sync_data`]: on a myriad thread they go to the worker's
//!   io_uring ring, and the thread parks until the completion arrives.
//!   Where io_uring is unavailable (kernel, seccomp,
//!   `kernel.io_uring_disabled`) or turned off with `MYRIAD_IO_URING=0`,
//!   they run on the offload pool ([`crate::blocking`]) instead.
//!   [`io_uring_active`] tells which.
//! - **Metadata and names** — open, stat, mkdir, rename, readdir (in
//!   batches), set_len, ...: on the offload pool, one hop per call.
//! - **In place** — calls that never wait for a device: seeking,
//!   `try_clone` (dup), and closing (drop), as std does.
//! - On a plain OS thread (`main`, a `std::thread`) every call is std's
//!   own, blocking that OS thread.
//!
//! # Differences from std
//!
//! - [`DirEntry`] is std's: its `metadata()` makes a system call on the
//!   calling OS thread. On a myriad thread, prefer
//!   [`metadata`]`(entry.path())`.
//! - A `File` keeps no state besides its descriptor, so a position moved
//!   by one path is seen by the other (the kernel keeps it).

mod dir_builder;
mod file;
mod open_options;
mod paths;
mod read_dir;
mod route;
mod whole_file;

pub use dir_builder::DirBuilder;
pub use file::{File, TryLockError};
pub use open_options::OpenOptions;
pub use paths::{
    canonicalize, create_dir, create_dir_all, exists, hard_link, metadata, read_link, remove_dir, remove_dir_all,
    remove_file, rename, set_permissions, symlink, symlink_metadata, try_exists,
};
pub use read_dir::{read_dir, ReadDir};
pub use std::fs::{DirEntry, FileTimes, FileType, Metadata, Permissions};
pub use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
pub use whole_file::{copy, read, read_to_string, write};

use std::sync::atomic::Ordering;

/// Whether file data operations of myriad threads go through io_uring in
/// this process (`true`), or through the offload pool (`false`: io_uring
/// is unavailable or `MYRIAD_IO_URING=0` turned it off). Decided once, on
/// first use.
///
/// ```
/// let forced_off = std::env::var("MYRIAD_IO_URING").is_ok_and(|v| v.trim() == "0");
/// if forced_off {
///     assert!(!myriad::fs::io_uring_active());
/// }
/// ```
pub fn io_uring_active() -> bool {
    crate::rt::uring::available()
}

/// How many operations have completed through io_uring in this process so
/// far (a counter for metrics and tests; it only grows).
///
/// ```
/// use std::io::Read;
/// let before = myriad::fs::io_uring_operations();
/// myriad::thread::spawn(|| {
///     let mut head = [0; 9];
///     myriad::fs::File::open("Cargo.toml")?.read_exact(&mut head)
/// })
/// .join()
/// .unwrap()?;
/// assert_eq!(myriad::fs::io_uring_operations() > before, myriad::fs::io_uring_active());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn io_uring_operations() -> u64 {
    crate::rt::uring::OPERATIONS.load(Ordering::Relaxed)
}

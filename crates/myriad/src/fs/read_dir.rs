//! `read_dir`: directory listing in batches, one offload hop per batch.
//!
//! Why: opendir(3) and readdir(3) (getdents64) wait for the disk like any
//! metadata call, and a hop to the offload pool per entry would cost more
//! than the entry. How: the iterator wraps `std::fs::ReadDir` (so entries
//! and errors are std's) and, whenever its buffer runs dry, moves up to
//! [`BATCH`] entries into it in one call on the offload pool; `read_dir`
//! itself opens the directory and fetches the first batch in the same hop.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::Path;

use super::DirEntry;

/// Entries fetched per offload hop.
const BATCH: usize = 128;

/// Iterator over the entries of a directory, like [`std::fs::ReadDir`];
/// returned by [`read_dir`].
///
/// Entries are std's [`DirEntry`]. Its `file_type()` usually needs no
/// system call; its `metadata()` calls `fstatat` on the calling OS thread,
/// so on a myriad thread prefer [`super::metadata`]`(entry.path())`, which
/// parks instead.
///
/// ```
/// let mut names = Vec::new();
/// for entry in myriad::fs::read_dir(".")? {
///     names.push(entry?.file_name());
/// }
/// assert!(names.iter().any(|n| n == "Cargo.toml"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ReadDir {
    /// The open directory; `None` once it reported its end.
    dir: Option<std::fs::ReadDir>,
    ready: VecDeque<io::Result<DirEntry>>,
}

impl ReadDir {
    /// Moves up to `BATCH` entries from `dir` into `ready`; drops `dir` at
    /// its end.
    fn fill(dir: &mut Option<std::fs::ReadDir>, ready: &mut VecDeque<io::Result<DirEntry>>) {
        let Some(entries) = dir else { return };
        for _ in 0..BATCH {
            match entries.next() {
                Some(entry) => ready.push_back(entry),
                None => {
                    *dir = None;
                    return;
                }
            }
        }
    }
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.ready.is_empty() && self.dir.is_some() {
            let ReadDir { dir, ready } = self;
            crate::blocking(|| ReadDir::fill(dir, ready));
        }
        self.ready.pop_front()
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir").field("dir", &self.dir).field("buffered", &self.ready.len()).finish()
    }
}

/// Returns an iterator over the entries of the directory `path`, like
/// [`std::fs::read_dir`]: in no particular order, without `.` and `..`.
///
/// Errors: `NotFound`, `NotADirectory`, `PermissionDenied`, as std's.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("myriad-doc-read-dir-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a"), "")?;
/// let names: Vec<_> = myriad::thread::spawn({
///     let dir = dir.clone();
///     move || myriad::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(names, ["a"]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let path = path.as_ref();
    crate::blocking(|| {
        let mut dir = Some(std::fs::read_dir(path)?);
        let mut ready = VecDeque::new();
        ReadDir::fill(&mut dir, &mut ready);
        Ok(ReadDir { dir, ready })
    })
}

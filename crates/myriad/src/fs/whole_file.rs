//! Whole-file helpers: `read`, `read_to_string`, `write`, `copy`.
//!
//! Why: they are what most programs call, and each would otherwise block
//! a worker for the open, the data and the close. How: with io_uring, the
//! open (and the fstat that sizes the buffer) is one offload hop and the
//! data moves through the worker's ring like any [`File`] read or write.
//! Without io_uring, the whole std function runs in a single offload hop,
//! which is cheaper than a hop per step. `copy` is always a single hop:
//! std copies inside the kernel (copy_file_range) and keeps the
//! permissions, which io_uring has no better way to do.

use std::io::{self, Read, Write};
use std::path::Path;

use super::File;
use crate::rt::context;
use crate::rt::uring;

/// Whether data should go through io_uring: a myriad thread, with io_uring
/// usable in this process.
fn through_ring() -> bool {
    context::on_myriad_thread() && uring::available()
}

/// Opens `path` for reading and returns its size hint, in one hop.
fn open_sized(path: &Path) -> io::Result<(File, usize)> {
    crate::blocking(|| {
        let file = std::fs::File::open(path)?;
        let size = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
        Ok((File::from(file), size))
    })
}

/// Reads the whole file at `path` into a vector, like [`std::fs::read`].
///
/// ```
/// let bytes = myriad::thread::spawn(|| myriad::fs::read("Cargo.toml")).join().unwrap()?;
/// assert!(bytes.starts_with(b"[package]"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    if !through_ring() {
        return crate::blocking(|| std::fs::read(path));
    }
    let (mut file, size) = open_sized(path)?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(size).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads the whole file at `path` into a string, like
/// [`std::fs::read_to_string`]; invalid UTF-8 is `InvalidData`.
///
/// ```
/// let text = myriad::fs::read_to_string("Cargo.toml")?;
/// assert!(text.contains("name = \"myriad\""));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let path = path.as_ref();
    if !through_ring() {
        return crate::blocking(|| std::fs::read_to_string(path));
    }
    let (mut file, size) = open_sized(path)?;
    let mut text = String::new();
    text.try_reserve_exact(size).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Writes `contents` as the whole file at `path`, creating or truncating
/// it, like [`std::fs::write`].
///
/// ```
/// let path = std::env::temp_dir().join(format!("myriad-doc-write-{}", std::process::id()));
/// myriad::fs::write(&path, "written")?;
/// assert_eq!(myriad::fs::read_to_string(&path)?, "written");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let (path, contents) = (path.as_ref(), contents.as_ref());
    if !through_ring() {
        return crate::blocking(|| std::fs::write(path, contents));
    }
    File::create(path)?.write_all(contents)
}

/// Copies the contents and permissions of the file `from` to `to`
/// (created or truncated), returning the bytes copied, like
/// [`std::fs::copy`].
///
/// ```
/// let dir = std::env::temp_dir();
/// let (a, b) = (dir.join(format!("myriad-doc-copy-a-{}", std::process::id())), dir.join(format!("myriad-doc-copy-b-{}", std::process::id())));
/// myriad::fs::write(&a, "copied")?;
/// assert_eq!(myriad::fs::copy(&a, &b)?, 6);
/// assert_eq!(myriad::fs::read(&b)?, b"copied");
/// # std::fs::remove_file(&a)?;
/// # std::fs::remove_file(&b)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    crate::blocking(|| std::fs::copy(from, to))
}

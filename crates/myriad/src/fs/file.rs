//! `File`: an open file whose calls park the calling myriad thread, never
//! its worker.
//!
//! Why: `std::fs::File` blocks the OS thread in every read, write and
//! fsync, which on a myriad thread would stall every thread pinned to the
//! same worker. How: `File` wraps a `std::fs::File` (so it converts both
//! ways for free) and routes each call by its kind — data operations
//! through io_uring or the offload pool (`route.rs`), metadata operations
//! (open, fstat, ftruncate, fchmod) through the offload pool, and calls
//! that never wait for a device (lseek, dup) directly. On an OS thread
//! every call is std's own.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{route, Metadata, OpenOptions, Permissions};

/// An open file, with [`std::fs::File`]'s API; blocking calls park only the
/// calling myriad thread.
///
/// Reads, writes, [`sync_all`](File::sync_all) and
/// [`sync_data`](File::sync_data) go through the worker's io_uring ring
/// where the kernel allows it, otherwise through the offload pool (see
/// [`io_uring_active`](super::io_uring_active)). Positioned IO is
/// [`FileExt`]'s `read_at` / `write_at` (std's Unix trait, implemented
/// here). The file position is the kernel's, shared by both paths and by
/// [`try_clone`](File::try_clone)d handles, as with std.
///
/// Dropping a `File` closes it directly (as std does), without a hop.
///
/// ```
/// use myriad::fs::File;
/// use std::io::{Read, Seek, SeekFrom, Write};
///
/// let path = std::env::temp_dir().join(format!("myriad-doc-file-{}", std::process::id()));
/// let p = path.clone();
/// myriad::thread::spawn(move || -> std::io::Result<()> {
///     let mut file = File::options().read(true).write(true).create(true).truncate(true).open(&p)?;
///     file.write_all(b"hello, file")?;
///     file.seek(SeekFrom::Start(7))?;
///     let mut rest = String::new();
///     file.read_to_string(&mut rest)?;
///     assert_eq!(rest, "file");
///     Ok(())
/// })
/// .join()
/// .unwrap()?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    inner: std::fs::File,
}

impl File {
    /// Opens a file in read-only mode, like [`std::fs::File::open`].
    ///
    /// ```
    /// use std::io::Read;
    /// let mut text = String::new();
    /// myriad::fs::File::open("Cargo.toml")?.read_to_string(&mut text)?;
    /// assert!(text.contains("[package]"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens a file in write-only mode, creating it or truncating it, like
    /// [`std::fs::File::create`].
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("myriad-doc-create-{}", std::process::id()));
    /// myriad::fs::File::create(&path)?.write_all(b"new")?;
    /// assert_eq!(std::fs::read(&path)?, b"new");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    /// Creates a new file in read-write mode, failing with
    /// [`io::ErrorKind::AlreadyExists`] if it exists, like
    /// [`std::fs::File::create_new`].
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-create-new-{}", std::process::id()));
    /// myriad::fs::File::create_new(&path)?;
    /// let again = myriad::fs::File::create_new(&path).unwrap_err();
    /// assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).create_new(true).open(path)
    }

    /// Returns a new [`OpenOptions`], like [`std::fs::File::options`].
    ///
    /// ```
    /// let file = myriad::fs::File::options().read(true).open("Cargo.toml")?;
    /// assert!(file.metadata()?.is_file());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Flushes data and metadata to the device (fsync), like
    /// [`std::fs::File::sync_all`].
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("myriad-doc-sync-all-{}", std::process::id()));
    /// let mut file = myriad::fs::File::create(&path)?;
    /// file.write_all(b"durable")?;
    /// file.sync_all()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        route::sync(&self.inner, false)
    }

    /// Flushes data, and only the metadata needed to read it back, to the
    /// device (fdatasync), like [`std::fs::File::sync_data`].
    ///
    /// ```
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("myriad-doc-sync-data-{}", std::process::id()));
    /// let mut file = myriad::fs::File::create(&path)?;
    /// file.write_all(b"durable data")?;
    /// file.sync_data()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        route::sync(&self.inner, true)
    }

    /// Truncates or extends the file to `size` bytes, like
    /// [`std::fs::File::set_len`]; the position is unchanged.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-set-len-{}", std::process::id()));
    /// let file = myriad::fs::File::create(&path)?;
    /// file.set_len(4096)?;
    /// assert_eq!(file.metadata()?.len(), 4096);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        crate::blocking(|| self.inner.set_len(size))
    }

    /// Queries the file's metadata (fstat), like
    /// [`std::fs::File::metadata`].
    ///
    /// ```
    /// let meta = myriad::fs::File::open("Cargo.toml")?.metadata()?;
    /// assert!(meta.is_file() && meta.len() > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        crate::blocking(|| self.inner.metadata())
    }

    /// A new handle to the same open file (dup), sharing its position,
    /// like [`std::fs::File::try_clone`].
    ///
    /// ```
    /// use std::io::{Seek, SeekFrom};
    /// let mut file = myriad::fs::File::open("Cargo.toml")?;
    /// let mut clone = file.try_clone()?;
    /// file.seek(SeekFrom::Start(3))?;
    /// assert_eq!(clone.stream_position()?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        // dup never waits for a device: made in place.
        self.inner.try_clone().map(File::from)
    }

    /// Changes the file's permissions (fchmod), like
    /// [`std::fs::File::set_permissions`].
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// let path = std::env::temp_dir().join(format!("myriad-doc-file-perm-{}", std::process::id()));
    /// let file = myriad::fs::File::create(&path)?;
    /// file.set_permissions(myriad::fs::Permissions::from_mode(0o600))?;
    /// assert_eq!(file.metadata()?.permissions().mode() & 0o777, 0o600);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        crate::blocking(|| self.inner.set_permissions(perm))
    }

    /// Changes the file's access and modification times, like
    /// [`std::fs::File::set_times`].
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let path = std::env::temp_dir().join(format!("myriad-doc-times-{}", std::process::id()));
    /// let file = myriad::fs::File::create(&path)?;
    /// let when = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    /// file.set_times(myriad::fs::FileTimes::new().set_modified(when))?;
    /// assert_eq!(file.metadata()?.modified()?, when);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_times(&self, times: super::FileTimes) -> io::Result<()> {
        crate::blocking(|| self.inner.set_times(times))
    }

    /// Changes the file's modification time, like
    /// [`std::fs::File::set_modified`].
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let path = std::env::temp_dir().join(format!("myriad-doc-modified-{}", std::process::id()));
    /// let file = myriad::fs::File::create(&path)?;
    /// let when = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    /// file.set_modified(when)?;
    /// assert_eq!(file.metadata()?.modified()?, when);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_modified(&self, time: std::time::SystemTime) -> io::Result<()> {
        crate::blocking(|| self.inner.set_modified(time))
    }

    /// Takes an exclusive advisory lock on the file (flock `LOCK_EX`),
    /// waiting while another handle holds any lock, as
    /// [`std::fs::File::lock`] (Rust 1.89). The wait runs on the offload
    /// pool ([`crate::blocking`]), so only the calling myriad thread waits.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-lock-{}", std::process::id()));
    /// let a = myriad::fs::File::create(&path)?;
    /// let b = myriad::fs::File::open(&path)?;
    /// a.lock()?;
    /// assert!(b.try_lock_shared().is_err());
    /// a.unlock()?;
    /// b.lock_shared()?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> io::Result<()> {
        crate::blocking(|| flock(&self.inner, libc::LOCK_EX))
    }

    /// Takes a shared advisory lock (flock `LOCK_SH`), waiting while
    /// another handle holds the exclusive lock, as
    /// [`std::fs::File::lock_shared`]; the wait runs on the offload pool.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-lock-sh-{}", std::process::id()));
    /// let a = myriad::fs::File::create(&path)?;
    /// let b = myriad::fs::File::open(&path)?;
    /// a.lock_shared()?;
    /// b.lock_shared()?;
    /// assert!(b.try_lock().is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock_shared(&self) -> io::Result<()> {
        crate::blocking(|| flock(&self.inner, libc::LOCK_SH))
    }

    /// Takes the exclusive lock if no other handle holds any lock, without
    /// waiting (flock `LOCK_EX | LOCK_NB`, made in place), as
    /// [`std::fs::File::try_lock`]: [`TryLockError::WouldBlock`] if it is
    /// held.
    ///
    /// ```
    /// use myriad::fs::TryLockError;
    /// let path = std::env::temp_dir().join(format!("myriad-doc-try-lock-{}", std::process::id()));
    /// let a = myriad::fs::File::create(&path)?;
    /// let b = myriad::fs::File::open(&path)?;
    /// a.try_lock().unwrap();
    /// assert!(matches!(b.try_lock(), Err(TryLockError::WouldBlock)));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_lock(&self) -> Result<(), TryLockError> {
        try_flock(&self.inner, libc::LOCK_EX)
    }

    /// Takes a shared lock if no other handle holds the exclusive one,
    /// without waiting, as [`std::fs::File::try_lock_shared`].
    ///
    /// ```
    /// use myriad::fs::TryLockError;
    /// let path = std::env::temp_dir().join(format!("myriad-doc-try-lock-sh-{}", std::process::id()));
    /// let a = myriad::fs::File::create(&path)?;
    /// let b = myriad::fs::File::open(&path)?;
    /// a.try_lock_shared().unwrap();
    /// b.try_lock_shared().unwrap();
    /// // A shared lock held by another handle keeps the exclusive one out.
    /// assert!(matches!(a.try_lock(), Err(TryLockError::WouldBlock)));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_lock_shared(&self) -> Result<(), TryLockError> {
        try_flock(&self.inner, libc::LOCK_SH)
    }

    /// Releases this handle's lock (flock `LOCK_UN`, which never waits), as
    /// [`std::fs::File::unlock`]. Closing the last handle to the open file
    /// releases it too.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-unlock-{}", std::process::id()));
    /// let a = myriad::fs::File::create(&path)?;
    /// let b = myriad::fs::File::open(&path)?;
    /// a.lock()?;
    /// a.unlock()?;
    /// b.try_lock().unwrap();
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unlock(&self) -> io::Result<()> {
        flock(&self.inner, libc::LOCK_UN)
    }
}

/// flock(2) on `file`, retried on EINTR.
fn flock(file: &std::fs::File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock takes a descriptor (open while `file` is borrowed)
        // and flags; it touches no memory of ours.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// flock(2) with `LOCK_NB`: never waits, so made on the calling thread.
fn try_flock(file: &std::fs::File, operation: libc::c_int) -> Result<(), TryLockError> {
    match flock(file, operation | libc::LOCK_NB) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Err(TryLockError::WouldBlock),
        Err(err) => Err(TryLockError::Error(err)),
    }
}

/// Why [`File::try_lock`] or [`File::try_lock_shared`] did not take the
/// lock, as [`std::fs::TryLockError`] (Rust 1.89; defined here because
/// this crate builds on older compilers too).
///
/// ```
/// use myriad::fs::TryLockError;
/// let e: std::io::Error = TryLockError::WouldBlock.into();
/// assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
/// ```
#[derive(Debug)]
pub enum TryLockError {
    /// The lock could not be taken for another reason than being held.
    Error(io::Error),
    /// Another handle holds a lock that conflicts with this one.
    WouldBlock,
}

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::Error(_) => "lock acquisition failed due to I/O error".fmt(f),
            TryLockError::WouldBlock => "lock acquisition failed because the operation would block".fmt(f),
        }
    }
}

impl std::error::Error for TryLockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryLockError::Error(err) => Some(err),
            TryLockError::WouldBlock => None,
        }
    }
}

impl From<TryLockError> for io::Error {
    fn from(err: TryLockError) -> io::Error {
        match err {
            TryLockError::Error(err) => err,
            TryLockError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// First growth of a buffer that `read_to_end` sizes itself.
const FIRST_CHUNK: usize = 16 * 1024;
/// Largest growth step of `read_to_end`.
const MAX_CHUNK: usize = 4 << 20;

/// `read_to_end` in few operations, each of which is an io_uring operation
/// or an offload hop: the buffer grows by doubling chunks instead of the
/// default's small probes, and when a buffer the caller sized (e.g. to the
/// file's length) is full, a 32-byte probe tells the end of the file
/// without growing it. (std's `File` asks fstat for a size hint instead,
/// which here would cost a hop.)
fn read_to_end(file: &File, buf: &mut Vec<u8>) -> io::Result<usize> {
    let start = buf.len();
    let mut probe_when_full = buf.capacity() > buf.len();
    let mut chunk = FIRST_CHUNK;
    loop {
        if buf.capacity() == buf.len() {
            if probe_when_full {
                probe_when_full = false;
                let mut probe = [0u8; 32];
                match route::read(&file.inner, &mut probe, None) {
                    Ok(0) => return Ok(buf.len() - start),
                    Ok(n) => {
                        buf.try_reserve(n.max(chunk)).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
                        buf.extend_from_slice(&probe[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
                continue;
            }
            buf.try_reserve(chunk).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
            chunk = (chunk * 2).min(MAX_CHUNK);
        }
        let len = buf.len();
        buf.resize(buf.capacity(), 0);
        let result = route::read(&file.inner, &mut buf[len..], None);
        match result {
            Ok(0) => {
                buf.truncate(len);
                return Ok(len - start);
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(len),
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
}

/// `read_to_string` over [`read_to_end`], with std's guarantees: invalid
/// UTF-8 leaves `buf` unchanged and is `InvalidData` (unless the read
/// failed first); valid bytes read before an error are kept.
fn read_to_string(file: &File, buf: &mut String) -> io::Result<usize> {
    let mut bytes = std::mem::take(buf).into_bytes();
    let start = bytes.len();
    let result = read_to_end(file, &mut bytes);
    match String::from_utf8(bytes) {
        Ok(text) => {
            *buf = text;
            result
        }
        Err(invalid) => {
            let mut bytes = invalid.into_bytes();
            bytes.truncate(start);
            *buf = String::from_utf8(bytes).expect("the caller's string was valid UTF-8");
            result.and_then(|_| Err(io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")))
        }
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        route::read(&self.inner, buf, None)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        read_to_end(self, buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        read_to_string(self, buf)
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        route::write(&self.inner, buf, None)
    }

    /// A `File` has no buffer of its own: nothing to flush (as std).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    /// lseek(2) only reads or sets the position kept in memory, so it is
    /// made in place, without a hop.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&self.inner).seek(pos)
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        read_to_end(self, buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        read_to_string(self, buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

/// std's Unix positioned IO, at an explicit offset and leaving the file
/// position alone (pread/pwrite); `read_exact_at` and `write_all_at` come
/// with the trait.
///
/// ```
/// use myriad::fs::FileExt;
/// let path = std::env::temp_dir().join(format!("myriad-doc-at-{}", std::process::id()));
/// let file = myriad::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
/// file.write_all_at(b"0123456789", 0)?;
/// let mut four = [0; 4];
/// file.read_exact_at(&mut four, 3)?;
/// assert_eq!(&four, b"3456");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
impl FileExt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        route::read(&self.inner, buf, Some(offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        route::write(&self.inner, buf, Some(offset))
    }
}

impl From<std::fs::File> for File {
    fn from(inner: std::fs::File) -> File {
        File { inner }
    }
}

impl From<File> for std::fs::File {
    fn from(file: File) -> std::fs::File {
        file.inner
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File { inner: std::fs::File::from(fd) }
    }
}

impl From<File> for OwnedFd {
    fn from(file: File) -> OwnedFd {
        file.inner.into()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl FromRawFd for File {
    /// # Safety
    ///
    /// As [`std::fs::File::from_raw_fd`]: `fd` must be an open descriptor
    /// that the new `File` owns from now on.
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        // SAFETY: forwarded to our caller's contract, which is std's.
        File { inner: unsafe { std::fs::File::from_raw_fd(fd) } }
    }
}

impl IntoRawFd for File {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

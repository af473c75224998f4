//! Operations on names in the file system: create, remove, rename, link,
//! stat.
//!
//! Why: each is one system call (or a few) that may wait for the disk or
//! a network file system, with nothing to gain from io_uring's data path.
//! How: each runs std's own function on the offload pool (one hop; on an
//! OS thread, in place), so its behaviour and error kinds are std's.

use std::io;
use std::path::{Path, PathBuf};

use super::{Metadata, Permissions};

/// Renames `from` to `to`, replacing `to` if it is a file (or an empty
/// directory when `from` is one), like [`std::fs::rename`].
///
/// ```
/// let dir = std::env::temp_dir();
/// let (a, b) = (dir.join(format!("myriad-doc-mv-a-{}", std::process::id())), dir.join(format!("myriad-doc-mv-b-{}", std::process::id())));
/// myriad::fs::write(&a, "moved")?;
/// myriad::fs::rename(&a, &b)?;
/// assert!(!a.exists() && myriad::fs::read_to_string(&b)? == "moved");
/// # std::fs::remove_file(&b)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    crate::blocking(|| std::fs::rename(from, to))
}

/// Removes a file (or symbolic link), like [`std::fs::remove_file`].
///
/// ```
/// let path = std::env::temp_dir().join(format!("myriad-doc-rm-{}", std::process::id()));
/// myriad::fs::write(&path, "")?;
/// myriad::fs::remove_file(&path)?;
/// assert_eq!(myriad::fs::remove_file(&path).unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::remove_file(path))
}

/// Creates a directory (its parent must exist), like
/// [`std::fs::create_dir`].
///
/// ```
/// let dir = std::env::temp_dir().join(format!("myriad-doc-mkdir-{}", std::process::id()));
/// myriad::fs::create_dir(&dir)?;
/// assert_eq!(myriad::fs::create_dir(&dir).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// # std::fs::remove_dir(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::create_dir(path))
}

/// Creates a directory and any missing parents, like
/// [`std::fs::create_dir_all`]; an existing directory is success.
///
/// ```
/// let root = std::env::temp_dir().join(format!("myriad-doc-mkdir-p-{}", std::process::id()));
/// myriad::fs::create_dir_all(root.join("a/b/c"))?;
/// assert!(myriad::fs::metadata(root.join("a/b/c"))?.is_dir());
/// # std::fs::remove_dir_all(&root)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::create_dir_all(path))
}

/// Removes an empty directory, like [`std::fs::remove_dir`]; a non-empty
/// one is `DirectoryNotEmpty`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("myriad-doc-rmdir-{}", std::process::id()));
/// myriad::fs::create_dir(&dir)?;
/// myriad::fs::remove_dir(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::remove_dir(path))
}

/// Removes a directory and everything in it, like
/// [`std::fs::remove_dir_all`] (symbolic links are removed, not followed).
/// The whole walk is one offload hop.
///
/// ```
/// let root = std::env::temp_dir().join(format!("myriad-doc-rm-rf-{}", std::process::id()));
/// myriad::fs::create_dir_all(root.join("x/y"))?;
/// myriad::fs::write(root.join("x/y/z"), "")?;
/// myriad::fs::remove_dir_all(&root)?;
/// assert!(!myriad::fs::exists(&root)?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::remove_dir_all(path))
}

/// Queries metadata, following symbolic links, like
/// [`std::fs::metadata`].
///
/// ```
/// assert!(myriad::fs::metadata("src")?.is_dir());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::metadata(path))
}

/// Queries metadata without following a final symbolic link, like
/// [`std::fs::symlink_metadata`].
///
/// ```
/// let link = std::env::temp_dir().join(format!("myriad-doc-lstat-{}", std::process::id()));
/// myriad::fs::symlink("/nonexistent-target", &link)?;
/// assert!(myriad::fs::symlink_metadata(&link)?.file_type().is_symlink());
/// # std::fs::remove_file(&link)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::symlink_metadata(path))
}

/// The absolute path with every `.`, `..` and symbolic link resolved, like
/// [`std::fs::canonicalize`].
///
/// ```
/// let here = myriad::fs::canonicalize(".")?;
/// assert!(here.is_absolute());
/// assert_eq!(myriad::fs::canonicalize("src/..")?, here);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::canonicalize(path))
}

/// Creates a new hard link `link` to the file `original`, like
/// [`std::fs::hard_link`].
///
/// ```
/// let dir = std::env::temp_dir();
/// let (a, b) = (dir.join(format!("myriad-doc-ln-a-{}", std::process::id())), dir.join(format!("myriad-doc-ln-b-{}", std::process::id())));
/// myriad::fs::write(&a, "same")?;
/// myriad::fs::hard_link(&a, &b)?;
/// assert_eq!(myriad::fs::read(&b)?, b"same");
/// # std::fs::remove_file(&a)?;
/// # std::fs::remove_file(&b)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    crate::blocking(|| std::fs::hard_link(original, link))
}

/// Creates a symbolic link `link` pointing to `original`, like
/// [`std::os::unix::fs::symlink`].
///
/// ```
/// let link = std::env::temp_dir().join(format!("myriad-doc-symlink-{}", std::process::id()));
/// myriad::fs::symlink("target/of/link", &link)?;
/// assert_eq!(myriad::fs::read_link(&link)?, std::path::Path::new("target/of/link"));
/// # std::fs::remove_file(&link)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn symlink<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    crate::blocking(|| std::os::unix::fs::symlink(original, link))
}

/// Reads the target of a symbolic link, like [`std::fs::read_link`].
///
/// ```
/// let err = myriad::fs::read_link("Cargo.toml").unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput); // not a link
/// ```
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::read_link(path))
}

/// Changes the permissions of the file at `path` (following symbolic
/// links), like [`std::fs::set_permissions`].
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// let path = std::env::temp_dir().join(format!("myriad-doc-chmod-{}", std::process::id()));
/// myriad::fs::write(&path, "")?;
/// myriad::fs::set_permissions(&path, myriad::fs::Permissions::from_mode(0o640))?;
/// assert_eq!(myriad::fs::metadata(&path)?.permissions().mode() & 0o777, 0o640);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref();
    crate::blocking(|| std::fs::set_permissions(path, perm))
}

/// Whether something exists at `path` (following symbolic links), like
/// [`std::fs::exists`]: `Ok(false)` for a dangling link or a missing
/// name, an error when existence cannot be told (e.g. permission denied
/// on a parent).
///
/// ```
/// assert!(myriad::fs::exists("Cargo.toml")?);
/// assert!(!myriad::fs::exists("no-such-file")?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    let path = path.as_ref();
    crate::blocking(|| path.try_exists())
}

/// The same as [`exists`], named after [`Path::try_exists`], for code
/// ported from that method (which would block the worker).
///
/// ```
/// assert!(myriad::fs::try_exists("src/lib.rs")?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn try_exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    exists(path)
}

//! `OpenOptions`: std's builder for opening files, with the open itself
//! made off the worker.
//!
//! Why: open(2) walks the path and may wait for the disk (or a network
//! file system), so on a myriad thread it runs on the offload pool while
//! the thread parks. How: the builder wraps `std::fs::OpenOptions`, so
//! every flag means exactly what it means in std, including std's error
//! kinds for invalid combinations; std's Unix `OpenOptionsExt` (`mode`,
//! `custom_flags`) is implemented too.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::File;

/// Options and flags for opening a [`File`], like
/// [`std::fs::OpenOptions`].
///
/// ```
/// use myriad::fs::OpenOptions;
/// use std::io::Write;
///
/// let path = std::env::temp_dir().join(format!("myriad-doc-options-{}", std::process::id()));
/// let mut log = OpenOptions::new().append(true).create(true).open(&path)?;
/// log.write_all(b"one\n")?;
/// let mut log = OpenOptions::new().append(true).open(&path)?;
/// log.write_all(b"two\n")?;
/// assert_eq!(std::fs::read_to_string(&path)?, "one\ntwo\n");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Blank options: every flag off, like [`std::fs::OpenOptions::new`].
    ///
    /// ```
    /// let err = myriad::fs::OpenOptions::new().open("Cargo.toml").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput); // no access mode
    /// ```
    #[must_use]
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Sets read access.
    ///
    /// ```
    /// let file = myriad::fs::OpenOptions::new().read(true).open("Cargo.toml")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Sets write access.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-opt-write-{}", std::process::id()));
    /// let file = myriad::fs::OpenOptions::new().write(true).create(true).open(&path)?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Sets append mode: every write goes to the end of the file.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-opt-append-{}", std::process::id()));
    /// let file = myriad::fs::OpenOptions::new().append(true).create(true).open(&path)?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncates an existing file to length 0 on open (needs write access).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-opt-trunc-{}", std::process::id()));
    /// std::fs::write(&path, "old")?;
    /// myriad::fs::OpenOptions::new().write(true).truncate(true).open(&path)?;
    /// assert_eq!(std::fs::read(&path)?.len(), 0);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Creates the file if it does not exist (needs write or append access).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-opt-create-{}", std::process::id()));
    /// myriad::fs::OpenOptions::new().write(true).create(true).open(&path)?;
    /// assert!(path.exists());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Creates a new file, failing with `AlreadyExists` if one is there
    /// (atomically, `O_CREAT | O_EXCL`).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("myriad-doc-opt-new-{}", std::process::id()));
    /// let mut options = myriad::fs::OpenOptions::new();
    /// options.write(true).create_new(true);
    /// options.open(&path)?;
    /// assert_eq!(options.open(&path).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// Opens `path` with these options, like
    /// [`std::fs::OpenOptions::open`]; a myriad thread parks while the
    /// offload pool makes the call.
    ///
    /// ```
    /// let err = myriad::fs::OpenOptions::new().read(true).open("/no/such/file").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let path = path.as_ref();
        crate::blocking(|| self.0.open(path)).map(File::from)
    }
}

impl Default for OpenOptions {
    /// The same as [`OpenOptions::new`].
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

/// std's Unix extensions: the mode of a created file and extra `open`
/// flags.
///
/// ```
/// use myriad::fs::OpenOptionsExt;
/// use std::os::unix::fs::PermissionsExt;
/// let path = std::env::temp_dir().join(format!("myriad-doc-opt-mode-{}", std::process::id()));
/// let file = myriad::fs::OpenOptions::new()
///     .write(true)
///     .create(true)
///     .mode(0o600)
///     .custom_flags(libc::O_NOFOLLOW)
///     .open(&path)?;
/// assert_eq!(file.metadata()?.permissions().mode() & 0o777, 0o600);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
impl OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.0.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }
}

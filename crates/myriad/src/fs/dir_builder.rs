//! `DirBuilder`: std's builder for creating directories, with the mkdir
//! made off the worker.
//!
//! Why and how: as for `OpenOptions` — it wraps `std::fs::DirBuilder`
//! (so `recursive` and std's Unix `DirBuilderExt::mode` mean what they
//! mean in std) and runs `create` on the offload pool.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// A builder for creating directories, like [`std::fs::DirBuilder`].
///
/// ```
/// use myriad::fs::{DirBuilder, DirBuilderExt};
/// let root = std::env::temp_dir().join(format!("myriad-doc-dirbuilder-{}", std::process::id()));
/// DirBuilder::new().recursive(true).mode(0o750).create(root.join("a/b"))?;
/// assert!(myriad::fs::metadata(root.join("a/b"))?.is_dir());
/// # std::fs::remove_dir_all(&root)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DirBuilder(std::fs::DirBuilder);

impl DirBuilder {
    /// A builder with std's defaults: not recursive, mode 0o777 (less the
    /// umask).
    ///
    /// ```
    /// let builder = myriad::fs::DirBuilder::new();
    /// ```
    #[must_use]
    pub fn new() -> DirBuilder {
        DirBuilder(std::fs::DirBuilder::new())
    }

    /// Whether `create` also creates missing parents (and accepts an
    /// existing directory).
    ///
    /// ```
    /// let mut builder = myriad::fs::DirBuilder::new();
    /// builder.recursive(true);
    /// ```
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.0.recursive(recursive);
        self
    }

    /// Creates the directory `path`, like [`std::fs::DirBuilder::create`].
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("myriad-doc-dirbuilder-create-{}", std::process::id()));
    /// myriad::fs::DirBuilder::new().create(&dir)?;
    /// # std::fs::remove_dir(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let path = path.as_ref();
        crate::blocking(|| self.0.create(path))
    }
}

impl Default for DirBuilder {
    /// The same as [`DirBuilder::new`].
    fn default() -> DirBuilder {
        DirBuilder::new()
    }
}

/// std's Unix extension: the mode of created directories.
///
/// ```
/// use myriad::fs::DirBuilderExt;
/// let mut builder = myriad::fs::DirBuilder::new();
/// builder.mode(0o700);
/// ```
impl DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.0.mode(mode);
        self
    }
}

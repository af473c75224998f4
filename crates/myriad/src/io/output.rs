//! `stdout()` and `stderr()`: std's output streams, written from myriad
//! threads without blocking their worker.
//!
//! Why: a write to a pipe or terminal blocks when the reader is slow, and
//! blocking a worker stalls every thread on it. Setting `O_NONBLOCK` on
//! descriptors 1 and 2 is not an option: the open file is shared with the
//! parent shell and other processes. How: each write, `write_all`, formatted
//! write or flush is one call to std's own `Stdout`/`Stderr` made on the
//! offload pool ([`crate::blocking`]) while the calling thread parks, so
//! the bytes go through std's buffer (line-buffered stdout, unbuffered
//! stderr) in order with `println!` and are flushed at exit as std does.
//! `lock()` takes a reentrant lock per myriad thread (see `reentrant.rs`)
//! so that a locked sequence of writes is not interleaved with writes made
//! through `myriad::io` by other threads. On an OS thread the call is made
//! in place.
//!
//! Beware of holding std's own `std::io::stdout().lock()` on a myriad
//! thread while writing through `myriad::io::stdout()`: the offload thread
//! would wait for std's lock that the caller holds.

use std::fmt;
use std::io::{self, Write};
use std::marker::PhantomData;

use super::reentrant::{ReentrantGuard, ReentrantLock};

static STDOUT_LOCK: ReentrantLock = ReentrantLock::new();
static STDERR_LOCK: ReentrantLock = ReentrantLock::new();

/// Which of std's streams.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

impl Stream {
    /// Runs `f` on std's locked stream, off the worker.
    fn with<R: Send>(self, f: impl FnOnce(&mut dyn Write) -> R + Send) -> R {
        crate::blocking(move || match self {
            Stream::Out => f(&mut io::stdout().lock()),
            Stream::Err => f(&mut io::stderr().lock()),
        })
    }

    /// (An interrupted thread fails at once; a write under way finishes,
    /// since the buffer is borrowed.)
    fn write(self, buf: &[u8]) -> io::Result<usize> {
        crate::rt::wait::check_interrupt_io()?;
        self.with(|w| w.write(buf))
    }

    fn write_all(self, buf: &[u8]) -> io::Result<()> {
        crate::rt::wait::check_interrupt_io()?;
        self.with(|w| w.write_all(buf))
    }

    fn flush(self) -> io::Result<()> {
        self.with(|w| w.flush())
    }

    /// Formats in place, then writes in one hop (the default `write_fmt`
    /// would make a hop per fragment).
    fn write_fmt(self, args: fmt::Arguments<'_>) -> io::Result<()> {
        match args.as_str() {
            Some(text) => self.write_all(text.as_bytes()),
            None => self.write_all(args.to_string().as_bytes()),
        }
    }
}

/// A handle to the standard output stream, like [`std::io::Stdout`];
/// returned by [`stdout`].
///
/// Writes go through std's own (line-buffered) stdout, made off the
/// worker, so output keeps its order with `println!` from the same thread.
///
/// ```
/// use std::io::Write;
/// myriad::thread::spawn(|| {
///     let mut out = myriad::io::stdout();
///     writeln!(out, "hello from a myriad thread")?;
///     out.flush()
/// })
/// .join()
/// .unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Stdout {
    _private: (),
}

/// A locked handle to standard output, like [`std::io::StdoutLock`];
/// returned by [`Stdout::lock`]. Writes through other handles from other
/// threads wait until it is dropped; the holding thread may lock again.
///
/// ```
/// use std::io::Write;
/// let mut out = myriad::io::stdout().lock();
/// writeln!(out, "line one")?;
/// writeln!(out, "line two, not interleaved")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StdoutLock<'a> {
    _guard: ReentrantGuard,
    _lifetime: PhantomData<&'a ()>,
}

/// A handle to the standard error stream, like [`std::io::Stderr`];
/// returned by [`stderr`]. Unbuffered, as std's.
///
/// ```
/// use std::io::Write;
/// writeln!(myriad::io::stderr(), "a diagnostic")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Stderr {
    _private: (),
}

/// A locked handle to standard error, like [`std::io::StderrLock`];
/// returned by [`Stderr::lock`].
///
/// ```
/// use std::io::Write;
/// let mut err = myriad::io::stderr().lock();
/// writeln!(err, "two lines")?;
/// writeln!(err, "together")?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StderrLock<'a> {
    _guard: ReentrantGuard,
    _lifetime: PhantomData<&'a ()>,
}

/// A handle to the process's standard output, like [`std::io::stdout`].
///
/// ```
/// use std::io::Write;
/// myriad::io::stdout().write_all(b"written without blocking a worker\n")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use]
pub fn stdout() -> Stdout {
    Stdout { _private: () }
}

/// A handle to the process's standard error, like [`std::io::stderr`].
///
/// ```
/// use std::io::Write;
/// myriad::io::stderr().write_all(b"warning: example\n")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use]
pub fn stderr() -> Stderr {
    Stderr { _private: () }
}

impl Stdout {
    /// Locks standard output for the calling thread (parking while another
    /// thread holds it), like [`std::io::Stdout::lock`].
    ///
    /// ```
    /// use std::io::Write;
    /// let mut out = myriad::io::stdout().lock();
    /// out.write_all(b"locked\n")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> StdoutLock<'static> {
        StdoutLock { _guard: STDOUT_LOCK.lock(), _lifetime: PhantomData }
    }
}

impl Stderr {
    /// Locks standard error for the calling thread (parking while another
    /// thread holds it), like [`std::io::Stderr::lock`].
    ///
    /// ```
    /// use std::io::Write;
    /// let mut err = myriad::io::stderr().lock();
    /// err.write_all(b"locked\n")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> StderrLock<'static> {
        StderrLock { _guard: STDERR_LOCK.lock(), _lifetime: PhantomData }
    }
}

impl fmt::Debug for StdoutLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StdoutLock { .. }")
    }
}

impl fmt::Debug for StderrLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StderrLock { .. }")
    }
}

/// Implements `Write` for a locked handle (directly) and for the unlocked
/// handle and a reference to it (each call takes the lock for its length).
macro_rules! output_writes {
    ($stream:expr, $lock:ident, $handle:ident) => {
        impl Write for $lock<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                $stream.write(buf)
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                $stream.write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                $stream.write_fmt(args)
            }
            fn flush(&mut self) -> io::Result<()> {
                $stream.flush()
            }
        }

        impl Write for &$handle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.lock().write(buf)
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                self.lock().write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                self.lock().write_fmt(args)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.lock().flush()
            }
        }

        impl Write for $handle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                (&*self).write(buf)
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                (&*self).write_all(buf)
            }
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                (&*self).write_fmt(args)
            }
            fn flush(&mut self) -> io::Result<()> {
                (&*self).flush()
            }
        }
    };
}

output_writes!(Stream::Out, StdoutLock, Stdout);
output_writes!(Stream::Err, StderrLock, Stderr);

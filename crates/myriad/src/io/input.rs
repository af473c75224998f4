//! `stdin()`: the standard input stream, read from myriad threads without
//! blocking their worker.
//!
//! Why: a read from a terminal or pipe waits for someone to type or write,
//! and a waiting worker stalls every thread on it; `O_NONBLOCK` on
//! descriptor 0 would change the open file shared with the parent shell.
//! How: one process-wide buffer under a `myriad::sync::Mutex` (so a thread
//! waiting for the lock parks), refilled by one call to std's `Stdin::read`
//! on the offload pool ([`crate::blocking`]) whenever it runs dry. The
//! buffer is larger than std's, so std reads the descriptor directly
//! instead of buffering in its own stdin. As with two `BufReader`s on one
//! descriptor, do not read the same input through both `std::io::stdin()`
//! and `myriad::io::stdin()`: each may hold bytes the other has not seen.

use std::fmt;
use std::io::{self, BufRead, Lines, Read};
use std::marker::PhantomData;

use crate::sync::{Mutex, MutexGuard, PoisonError};

/// Bytes read from descriptor 0 per refill (std's stdin buffers 8 KiB;
/// reads at least that large bypass its buffer).
const CAPACITY: usize = 16 * 1024;

/// Input read but not yet consumed: `buf[pos..filled]`.
struct Buffer {
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
}

static STDIN: Mutex<Buffer> = Mutex::new(Buffer { buf: Vec::new(), pos: 0, filled: 0 });

/// Reads from std's stdin into `buf`, parking a myriad thread meanwhile.
/// An interrupted thread fails at once; a read under way finishes (the
/// input it takes must not be lost, and it is read into `buf`).
fn read_raw(buf: &mut [u8]) -> io::Result<usize> {
    crate::rt::wait::check_interrupt_io()?;
    crate::blocking(|| io::stdin().read(buf))
}

/// A handle to the standard input stream, like [`std::io::Stdin`];
/// returned by [`stdin`].
///
/// ```no_run
/// // Echo each line of input from a myriad thread.
/// myriad::thread::spawn(|| {
///     for line in myriad::io::stdin().lines() {
///         println!("{}", line.unwrap());
///     }
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct Stdin {
    _private: (),
}

/// A locked handle to standard input, like [`std::io::StdinLock`];
/// returned by [`Stdin::lock`]. It implements [`BufRead`]; other threads
/// reading standard input park until it is dropped.
///
/// ```no_run
/// use std::io::BufRead;
/// let mut first = String::new();
/// myriad::io::stdin().lock().read_line(&mut first)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StdinLock<'a> {
    buffer: MutexGuard<'static, Buffer>,
    _lifetime: PhantomData<&'a ()>,
}

/// A handle to the process's standard input, like [`std::io::stdin`].
///
/// ```no_run
/// let mut name = String::new();
/// myriad::io::stdin().read_line(&mut name)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use]
pub fn stdin() -> Stdin {
    Stdin { _private: () }
}

impl Stdin {
    /// Locks standard input for the calling thread (parking while another
    /// thread holds it), like [`std::io::Stdin::lock`].
    ///
    /// ```no_run
    /// use std::io::BufRead;
    /// let total: usize = myriad::io::stdin().lock().lines().map(|l| l.unwrap().len()).sum();
    /// ```
    pub fn lock(&self) -> StdinLock<'static> {
        StdinLock { buffer: STDIN.lock().unwrap_or_else(PoisonError::into_inner), _lifetime: PhantomData }
    }

    /// Reads a line, including its `\n`, and appends it to `buf`; returns
    /// the bytes read (0 at end of input), like
    /// [`std::io::Stdin::read_line`].
    ///
    /// ```no_run
    /// let mut line = String::new();
    /// while myriad::io::stdin().read_line(&mut line)? > 0 {
    ///     print!("{line}");
    ///     line.clear();
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_line(buf)
    }

    /// An iterator over the lines of standard input (without their line
    /// endings), holding the lock, like [`std::io::Stdin::lines`].
    ///
    /// ```no_run
    /// for line in myriad::io::stdin().lines() {
    ///     println!("got {}", line?);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lines(self) -> Lines<StdinLock<'static>> {
        self.lock().lines()
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.lock().read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.lock().read_to_string(buf)
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let b = &mut *self.buffer;
        if b.pos == b.filled && out.len() >= CAPACITY {
            // Nothing buffered and a large read: straight into `out`.
            return read_raw(out);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let b = &mut *self.buffer;
        if b.pos == b.filled {
            if b.buf.is_empty() {
                b.buf = vec![0; CAPACITY];
            }
            let n = read_raw(&mut b.buf)?;
            b.pos = 0;
            b.filled = n;
        }
        Ok(&b.buf[b.pos..b.filled])
    }

    fn consume(&mut self, amount: usize) {
        let b = &mut *self.buffer;
        b.pos = (b.pos + amount).min(b.filled);
    }
}

impl fmt::Debug for StdinLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdinLock").field("buffered", &(self.buffer.filled - self.buffer.pos)).finish()
    }
}

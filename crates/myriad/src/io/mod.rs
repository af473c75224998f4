//! Standard input and output with [`std::io`]'s API, parking the calling
//! myriad thread (not its worker) while a read or write waits, plus
//! re-exports of std's IO traits and types so that `myriad::io` can
//! replace `std::io` in imports.
//!
//! ```
//! use myriad::io::{self, Write};
//!
//! myriad::thread::spawn(|| -> io::Result<()> {
//!     let mut out = io::stdout().lock();
//!     writeln!(out, "{} threads", 10_000)?;
//!     out.flush()
//! })
//! .join()
//! .unwrap()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`stdin`], [`stdout`] and [`stderr`] make each read or write through
//! std's own stream on the offload pool ([`crate::blocking`]): the
//! descriptors stay blocking (they are shared with the parent shell), a
//! slow terminal or a full pipe parks only the calling thread, and output
//! stays in order with `println!`. On an OS thread every call is made in
//! place. `println!` itself still writes on the calling worker: prefer
//! `writeln!(myriad::io::stdout(), ..)` where output may block for long.
//! Files are [`crate::fs`], sockets [`crate::net`].

mod input;
mod output;
mod reentrant;

pub use input::{stdin, Stdin, StdinLock};
pub use output::{stderr, stdout, Stderr, StderrLock, Stdout, StdoutLock};
pub use std::io::{
    copy, empty, read_to_string, repeat, sink, BufRead, BufReader, BufWriter, Bytes, Chain, Cursor, Empty, Error,
    ErrorKind, IntoInnerError, IoSlice, IoSliceMut, IsTerminal, LineWriter, Lines, Read, Repeat, Result, Seek,
    SeekFrom, Sink, Split, Take, Write,
};

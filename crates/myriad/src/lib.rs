//! # myriad
//!
//! Threads cheap enough to use one per connection, request or job — a
//! hundred thousand or a million of them — with plain blocking code and the
//! API of std.
//!
//! ```
//! use myriad::thread;
//!
//! // 10,000 threads, each parked until released: a few KiB each.
//! let gate = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
//! let handles: Vec<_> = (0..10_000u64)
//!     .map(|i| {
//!         let gate = gate.clone();
//!         thread::spawn(move || {
//!             while !gate.load(std::sync::atomic::Ordering::Acquire) {
//!                 thread::park();
//!             }
//!             i
//!         })
//!     })
//!     .collect();
//! gate.store(true, std::sync::atomic::Ordering::Release);
//! for h in &handles {
//!     h.thread().unpark();
//! }
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 9_999 * 10_000 / 2);
//! ```
//!
//! A myriad thread runs on a worker OS thread (one per core) and never
//! moves to another once started, so everything Rust code assumes about the
//! OS thread under it stays true (see [`thread`] and the repository's
//! `docs/DESIGN.md`). Calls
//! that would block park only the calling myriad thread.
//!
//! Modules mirror std: [`thread`] for `std::thread`; [`rt`] configures the
//! runtime and reads its counters.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod blocking;
pub mod compat;
pub mod fs;
#[cfg(feature = "intercept")]
mod intercept;
pub mod io;
pub mod net;
pub mod rt;
pub mod sync;
pub mod thread;

pub use blocking::blocking;
pub use compat::block_on;

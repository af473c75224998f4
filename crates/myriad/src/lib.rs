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
//! # Modules
//!
//! | module | std counterpart | what it holds |
//! |---|---|---|
//! | [`thread`] | `std::thread` | `spawn`, `Builder`, `JoinHandle`, `scope`, `current`, `park`, `sleep`, `yield_now`, `thread_local!` |
//! | [`sync`] | `std::sync` | `Mutex`, `RwLock`, `Condvar`, `Barrier`, `Once`, `OnceLock`, `LazyLock`, `mpsc`; plus `Semaphore`, `WaitGroup`, MPMC `channel` with `select!` |
//! | [`net`] | `std::net`, `std::os::unix::net` | TCP, UDP and Unix sockets that park the thread |
//! | [`fs`] | `std::fs` | files through io_uring (or the offload pool) |
//! | [`io`] | `std::io` | `stdin`, `stdout`, `stderr` |
//! | [`blocking`], [`blocking_interruptible`] | — | run a call that cannot be made non-blocking on an offload OS thread |
//! | [`compat`] | — | `block_on(future)`, a `Waker` that unparks a thread, `JoinHandle` as a `Future` |
//! | [`rt`] | — | the runtime's `Builder`, `MYRIAD_*` variables, `metrics()`, `dump()` |
//!
//! # Cargo features
//!
//! | feature | what it adds |
//! |---|---|
//! | `tracing` | a span per myriad thread, entered while it runs; events for spawn, exit, stalls and deadlocks |
//! | `intercept` | myriad's own entry points for blocking libc calls (sleeps, socket calls, `poll`, `getaddrinfo`): code written for std, or C, parks only its myriad thread; `MYRIAD_INTERCEPT=0` turns it off at run time |
//! | `tokio` | `compat::tokio::run(future)`: futures that need tokio's reactor and timer (tokio-based clients), called from a thread; a tokio runtime on its own OS threads (`MYRIAD_TOKIO_THREADS`) |
//!
//! myriad runs on Linux (epoll, io_uring, `MADV_GUARD_INSTALL` where the
//! kernel has it).

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "linux"))]
compile_error!("myriad runs on Linux only: it is built on epoll, io_uring and Linux's stack-guard madvise");

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

pub use blocking::{blocking, blocking_interruptible};
pub use compat::block_on;

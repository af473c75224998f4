//! What a blocked thread waits for: recorded by every wait (`block`'s
//! `reason`) for `rt::dump`, the stall reports and the deadlock watches,
//! which format it (`dump.rs`). It lives here, beside the waiting, as Go
//! keeps `waitReason` beside `gopark`.

use crate::rt::ThreadId;

/// What a blocked thread waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitReason {
    /// `JoinHandle::join` on the given thread.
    Join(ThreadId),
    /// `thread::park` or `park_timeout`.
    Park,
    /// `thread::sleep`.
    Sleep,
    /// A lock-like primitive (`Mutex`, `RwLock`, `Condvar`, `Barrier`,
    /// `Once`, `Semaphore`, ...), at an address, and who holds it when that
    /// is known.
    Lock {
        /// Which primitive.
        kind: &'static str,
        /// Its address (identifies it within a dump).
        addr: usize,
        /// The thread holding it when the wait began, if tracked.
        holder: Option<ThreadId>,
    },
    /// A channel operation (`send`, `recv`, `select`).
    Channel {
        /// The operation.
        op: &'static str,
        /// The channel's address.
        addr: usize,
    },
    /// A socket operation (`read`, `write`, `accept`, `connect`, ...).
    Socket {
        /// The operation.
        op: &'static str,
        /// The socket's descriptor.
        fd: i32,
    },
    /// A file operation through io_uring.
    File {
        /// The operation.
        op: &'static str,
    },
    /// A call running on the offload pool (`myriad::blocking`).
    Blocking,
    /// `myriad::block_on` waiting for a future to be woken.
    Future,
}

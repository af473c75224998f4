//! io_uring: file operations that park the calling myriad thread instead of
//! blocking its worker.
//!
//! Regular files are always "ready" to epoll, yet a read can wait for the
//! disk, so readiness polling does not help them. Each worker has its own
//! ring, created on first use. A myriad thread puts one submission on its
//! worker's ring, with the address of a completion slot on its own stack as
//! user data, submits, and parks. The ring signals completions on an
//! eventfd that sits in the worker's epoll instance, so the wait that
//! covers timers, wake-ups and sockets covers files too; the worker then
//! reaps the completion queue, writes each result into its slot and wakes
//! the thread. The slot stays valid because its thread waits (with no
//! deadline) until the completion has been delivered, and the buffers an
//! operation names are borrowed by that same parked frame.
//!
//! An interrupt of the thread (`wait/interrupt.rs`) ends its wait early,
//! but the kernel may still be writing into the buffers: the thread then
//! submits an `ASYNC_CANCEL` for its operation and waits, no longer
//! interruptibly, for the operation's own completion, so that the call
//! returns (and the buffers are released) only once the kernel has let go
//! of them. An operation cancelled in time fails with the interrupt's
//! error; one that completed anyway returns its result.
//!
//! Whether io_uring works is probed once, at first use: `io_uring_setup`
//! can fail with `ENOSYS` (old kernel, seccomp) or `EPERM`
//! (`kernel.io_uring_disabled`, container policy). `MYRIAD_IO_URING=0`
//! turns it off. Without it, [`submit`] returns `None` and callers fall
//! back to the offload pool (`crate::blocking`).

use std::cell::Cell;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use io_uring::{squeue, IoUring};

use super::context;
use super::event_fd::EventFd;
use super::lock::Mutex;
use super::poller::Poller;
use super::wait::WaitReason;
use super::wait::{self, Wake, Woken};

/// Submission queue entries per worker ring.
const RING_ENTRIES: u32 = 256;

/// Operations completed through io_uring (for metrics).
pub static OPERATIONS: AtomicU64 = AtomicU64::new(0);

/// Whether io_uring can be used in this process.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var("MYRIAD_IO_URING").is_ok_and(|v| v.trim() == "0") {
            return false;
        }
        match IoUring::new(2) {
            Ok(_) => true,
            Err(err) => {
                log::info!("myriad: io_uring is not available ({err}); file IO uses the offload pool");
                false
            }
        }
    })
}

/// A worker's ring and the eventfd its completions signal.
pub struct Ring {
    ring: Mutex<IoUring>,
    eventfd: EventFd,
    /// Operations queued on this ring and not delivered yet: while there
    /// are any, the worker must look at its poller even when it is busy,
    /// or completions wait until it runs out of work.
    in_flight: AtomicUsize,
}

/// Where a completion goes: on the stack of the parked thread. Written by
/// the ring's reaper under the ring's lock.
struct Slot {
    result: i32,
    wake: Option<Wake>,
    /// The completion has been written (the kernel is done with the
    /// operation's buffers).
    delivered: bool,
}

/// User data of an `ASYNC_CANCEL` entry, whose completion has no slot (a
/// slot's address is never 0).
const CANCEL: u64 = 0;

/// A worker's ring, made the first time one of its threads does file IO
/// (many programs never do), with the poller token its completions come
/// under.
pub struct WorkerRing {
    ring: OnceLock<io::Result<Ring>>,
    token: u64,
}

impl WorkerRing {
    /// A worker's ring, not made yet; its completions will come to the
    /// worker's poller under `token`.
    pub fn new(token: u64) -> WorkerRing {
        WorkerRing { ring: OnceLock::new(), token }
    }

    /// The ring, made now if it was not, signalling `poller`.
    pub fn get_or_make(&self, poller: &Poller) -> io::Result<&Ring> {
        match self.ring.get_or_init(|| Ring::new(poller, self.token)) {
            Ok(ring) => Ok(ring),
            Err(err) => Err(io::Error::new(err.kind(), err.to_string())),
        }
    }

    /// The ring, if it was made.
    pub fn made(&self) -> Option<&Ring> {
        self.ring.get().and_then(|ring| ring.as_ref().ok())
    }
}

thread_local! {
    /// The ring of the worker on this OS thread, and that worker's poller
    /// (null: not a worker).
    static WORKER_RING: Cell<(*const WorkerRing, *const Poller)> =
        const { Cell::new((std::ptr::null(), std::ptr::null())) };
}

/// Makes `ring` (signalling `poller`) the one this OS thread's file IO
/// uses (null: none again, in a forked child). The worker calls this when
/// its OS thread starts.
///
/// # Safety
///
/// Non-null pointers stay valid for as long as they are installed.
pub unsafe fn install(ring: *const WorkerRing, poller: *const Poller) {
    WORKER_RING.with(|installed| installed.set((ring, poller)));
}

/// The ring of the worker on this OS thread: `None` off the workers.
fn worker_ring() -> Option<io::Result<&'static Ring>> {
    let (ring, poller) = WORKER_RING.with(Cell::get);
    // SAFETY: non-null pointers were installed by this OS thread's worker,
    // whose ring and poller live as long as the process (workers never
    // exit; `install`'s contract).
    let (ring, poller) = unsafe { (ring.as_ref()?, poller.as_ref()?) };
    Some(ring.get_or_make(poller))
}

impl Ring {
    /// A new ring whose completions are signalled to `poller` under `token`.
    fn new(poller: &Poller, token: u64) -> io::Result<Ring> {
        let ring = IoUring::new(RING_ENTRIES)?;
        let eventfd = EventFd::new()?;
        ring.submitter().register_eventfd(eventfd.as_raw_fd())?;
        poller.add(eventfd.as_raw_fd(), (libc::EPOLLIN | libc::EPOLLET) as u32, token)?;
        Ok(Ring { ring: Mutex::new(ring), eventfd, in_flight: AtomicUsize::new(0) })
    }

    /// Queues `entry` and hands the queue to the kernel. Fails only if the
    /// entry could not be queued; once queued it will complete (a failed
    /// hand-over leaves it queued for the next one, done by the next
    /// operation or by `reap`).
    fn push_and_submit(&self, entry: &squeue::Entry) -> io::Result<()> {
        let mut ring = self.ring.lock();
        // SAFETY: (for `push`) our caller keeps the entry's buffers and slot
        // valid until its completion has been delivered.
        while unsafe { ring.submission().push(entry) }.is_err() {
            // The submission queue is full: hand it over and try again.
            match ring.submit() {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        for _ in 0..3 {
            match ring.submit() {
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // EBUSY: completions are backing up; deliver them first.
                Err(err) if err.raw_os_error() == Some(libc::EBUSY) => {
                    drop(ring);
                    self.reap();
                    ring = self.ring.lock();
                }
                Err(err) => {
                    super::report::warn(&format!("myriad: io_uring submission deferred: {err}"));
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Delivers every completion waiting in the queue, and hands over
    /// submissions a failed `submit` left queued.
    pub fn reap(&self) {
        self.eventfd.drain();
        let mut ring = self.ring.lock();
        loop {
            self.deliver(&mut ring);
            // Completions that did not fit in the completion queue wait in
            // the kernel's overflow list, and nothing signals them again:
            // an enter with GETEVENTS (which `submit` adds while the
            // overflow flag is set) moves them into the queue.
            if !ring.submission().cq_overflow() {
                break;
            }
            if let Err(err) = ring.submit() {
                if err.kind() != io::ErrorKind::Interrupted && err.raw_os_error() != Some(libc::EBUSY) {
                    super::report::warn(&format!("myriad: io_uring overflow flush failed: {err}"));
                    break;
                }
            }
        }
        if !ring.submission().is_empty() {
            let _ = ring.submit();
        }
    }

    /// Whether operations on this ring wait for their completion.
    pub fn has_in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }

    /// Delivers the completions in the completion queue.
    fn deliver(&self, ring: &mut IoUring) {
        for cqe in ring.completion() {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            if cqe.user_data() == CANCEL {
                // The cancellation's own completion: its operation's
                // completion is what its thread waits for.
                continue;
            }
            let slot = cqe.user_data() as *mut Slot;
            // SAFETY: user data is the address of a `Slot` whose thread is
            // parked until this completion wakes it (see the module
            // comment); the `Wake` is taken before the result is written
            // and used last, after which the slot is not touched.
            let wake = unsafe {
                let wake = (*slot).wake.take();
                (*slot).result = cqe.result();
                (*slot).delivered = true;
                wake
            };
            OPERATIONS.fetch_add(1, Ordering::Relaxed);
            if let Some(wake) = wake {
                wake.wake();
            }
        }
    }
}

/// Runs one io_uring operation (`op` names it for `rt::dump`) for the
/// calling myriad thread, parking it until the operation completes; returns
/// the operation's result (a negative value is `-errno`, turned into an
/// `io::Error`). An interrupted thread fails at once; one interrupted while
/// it waits cancels the operation (see the module comment).
///
/// Returns `None` where io_uring cannot be used: on an OS thread, or when
/// it is unavailable. The caller then does the operation another way.
///
/// # Safety
///
/// Every buffer and pointer `entry` names must stay valid until this
/// returns (it returns only after the kernel has finished with them).
pub unsafe fn submit(op: &'static str, entry: squeue::Entry) -> Option<io::Result<i32>> {
    if !available() {
        return None;
    }
    if !context::on_myriad_thread() {
        return None;
    }
    let ring = match worker_ring()? {
        Ok(ring) => ring,
        Err(err) => {
            super::report::warn(&format!("myriad: cannot set up an io_uring ring ({err}); using the offload pool"));
            return None;
        }
    };
    if wait::current_interrupt().is_some() {
        return Some(Err(wait::interrupted_error()));
    }
    let mut slot = Slot { result: 0, wake: None, delivered: false };
    let slot_addr = &raw mut slot;
    let mut refused = None;
    let register = |wake| {
        // SAFETY: nothing else touches the slot until the entry is pushed.
        unsafe { (*slot_addr).wake = Some(wake) };
        if let Err(err) = ring.push_and_submit(&entry.user_data(slot_addr as u64)) {
            refused = Some(err);
            // Never queued: wake ourselves with the error.
            // SAFETY: the entry was not queued, so only we see the slot.
            if let Some(wake) = unsafe { (*slot_addr).wake.take() } {
                wake.wake();
            }
        }
    };
    // The completion (or, if the entry never reached the ring, `register`)
    // uses the Wake; an interrupt may end the wait first.
    let woken = wait::block_interruptible(WaitReason::File { op }, None, register);
    if let Some(err) = refused {
        return Some(Err(err));
    }
    if woken == Woken::Interrupted {
        // SAFETY: `slot_addr` is our slot, the user data of our operation.
        let cancelled = unsafe { cancel_and_wait(ring, op, slot_addr) };
        if cancelled {
            return Some(Err(wait::interrupted_error()));
        }
    }
    let result = slot.result;
    Some(if result < 0 { Err(io::Error::from_raw_os_error(-result)) } else { Ok(result) })
}

/// Cancels the operation whose slot is `slot` and waits, uninterruptibly,
/// until its completion has been delivered; whether the operation was
/// cancelled (rather than done).
///
/// # Safety
///
/// `slot` is the live slot of an operation queued on `ring` by the calling
/// thread, whose interruptible wait for it has ended.
unsafe fn cancel_and_wait(ring: &Ring, op: &'static str, slot: *mut Slot) -> bool {
    let register = |wake: Wake| {
        {
            let _ring = ring.ring.lock();
            // SAFETY: the reaper writes the slot under the ring's lock,
            // which we hold.
            unsafe {
                if (*slot).delivered {
                    drop(_ring);
                    wake.wake();
                    return;
                }
                // Replaces the `Wake` of the interrupted episode (stale).
                (*slot).wake = Some(wake);
            }
        }
        let cancel = io_uring::opcode::AsyncCancel::new(slot as u64).build().user_data(CANCEL);
        // Refused (no room, even after handing the queue over): the
        // operation then runs to its end, which the wait below awaits.
        let _ = ring.push_and_submit(&cancel);
    };
    // SAFETY: only the completion's delivery (or `register`, when it came
    // first) uses the Wake, once; nothing else ends this wait.
    unsafe { wait::block_once(WaitReason::File { op }, register) };
    // SAFETY: delivered (we were woken by the delivery), so the kernel and
    // the reaper are done with the slot.
    let result = unsafe { (*slot).result };
    result == -libc::ECANCELED || result == -libc::EINTR
}

#[cfg(test)]
mod tests {
    use super::*;
    use io_uring::{opcode, types};
    use std::io::Write;

    #[test]
    fn a_myriad_thread_reads_and_writes_a_file_through_its_worker_ring() {
        if !available() {
            eprintln!("io_uring is not available here; nothing to test");
            return;
        }
        let path = std::env::temp_dir().join(format!("myriad-uring-{}", std::process::id()));
        std::fs::File::create(&path).unwrap().write_all(b"hello, ring").unwrap();
        let p = path.clone();
        let (read, wrote) = crate::thread::spawn(move || {
            let file = std::fs::OpenOptions::new().read(true).write(true).open(&p).unwrap();
            let fd = types::Fd(file.as_raw_fd());
            let mut buf = [0u8; 32];
            let entry = opcode::Read::new(fd, buf.as_mut_ptr(), buf.len() as u32).offset(7).build();
            // SAFETY: `buf` outlives the call, which waits for completion.
            let n = unsafe { submit("test", entry) }.expect("on a myriad thread").unwrap() as usize;
            let data = b"HELLO";
            let entry = opcode::Write::new(fd, data.as_ptr(), data.len() as u32).offset(0).build();
            // SAFETY: as above, for `data`.
            let wrote = unsafe { submit("test", entry) }.expect("on a myriad thread").unwrap();
            (buf[..n].to_vec(), wrote)
        })
        .join()
        .unwrap();
        assert_eq!(read, b"ring");
        assert_eq!(wrote, 5);
        assert_eq!(std::fs::read(&path).unwrap(), b"HELLO, ring");
        // Errors come back as io::Error; OS threads get None (use std).
        let bad = types::Fd(-1);
        let err = crate::thread::spawn(move || {
            let mut buf = [0u8; 4];
            // SAFETY: as above.
            unsafe { submit("read", opcode::Read::new(bad, buf.as_mut_ptr(), 4).build()) }.unwrap().unwrap_err()
        })
        .join()
        .unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        let mut buf = [0u8; 4];
        // SAFETY: as above.
        assert!(unsafe { submit("read", opcode::Read::new(bad, buf.as_mut_ptr(), 4).build()) }.is_none());
        std::fs::remove_file(&path).unwrap();
    }
}

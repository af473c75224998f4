//! Name resolution that never blocks a worker.
//!
//! Why it exists: `ToSocketAddrs::to_socket_addrs` on a host name calls
//! `getaddrinfo`, which may read files and wait for DNS for seconds. Called
//! on a myriad thread it would block the worker and every thread pinned to
//! it. So a myriad thread hands the call to an OS thread of a small private
//! pool and parks until the answer comes back. On an OS thread the call is
//! made directly, as std does.
//!
//! How it works:
//!
//! - A fast path first: if the argument's type is one whose
//!   `to_socket_addrs` never looks anything up (`SocketAddr`,
//!   `(IpAddr, u16)`, ...), or a string that parses as a literal address,
//!   the call is made in place. The type is recognised by a lifetime-erased
//!   `TypeId` (the technique of the `typeid` crate), so borrowed arguments
//!   such as `("localhost", 80)` qualify too.
//! - Otherwise the call runs as a job on the pool. The job borrows the
//!   argument, which need not be `'static`: like a scoped thread, the
//!   caller waits until the job has *finished and dropped its captures*
//!   before returning, whatever happens. That is why the argument must be
//!   `Send` — the one bound myriad adds to std's signatures.
//! - The pool keeps idle OS threads for a few seconds and starts another
//!   whenever every thread is busy, so lookups never queue behind one
//!   another. It is private and small on purpose, to be replaced by the
//!   runtime's general offload pool (`myriad::blocking`) when that exists.

use std::any::TypeId;
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::rt::wait::{self, Wake};
use crate::rt::worker;

/// How long an idle pool thread waits for a job before it ends.
const IDLE: Duration = Duration::from_secs(5);

/// Resolves `addr` as `addr.to_socket_addrs()` would, without blocking a
/// worker.
pub(crate) fn resolve<A: ToSocketAddrs + Send>(addr: A) -> io::Result<Vec<SocketAddr>> {
    if worker::with_current_task(|task| task.is_none()) || is_literal(&addr) {
        return addr.to_socket_addrs().map(Iterator::collect);
    }
    run_offloaded(move || addr.to_socket_addrs().map(Iterator::collect))
}

/// Calls `f` for each address `addr` resolves to until one succeeds, like
/// std's private `each_addr`: the last error, or `InvalidInput` if there
/// were no addresses.
pub(crate) fn each_addr<A: ToSocketAddrs + Send, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in resolve(addr)? {
        match f(&addr) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any addresses")))
}

/// The `TypeId` of `T` with its lifetimes erased, so `T` need not be
/// `'static` (`&'a str` and `&'static str` get the same id).
fn erased_type_id<T: ?Sized>() -> TypeId {
    trait NonStaticAny {
        fn type_id(&self) -> TypeId
        where
            Self: 'static;
    }
    impl<T: ?Sized> NonStaticAny for PhantomData<T> {
        fn type_id(&self) -> TypeId
        where
            Self: 'static,
        {
            TypeId::of::<T>()
        }
    }
    let phantom = PhantomData::<T>;
    let any: &dyn NonStaticAny = &phantom;
    // SAFETY: only the lifetime bound of the trait object is changed, to
    // call a method that returns a `TypeId`; `TypeId` does not depend on
    // lifetimes, and nothing borrowed is kept (the technique of the
    // `typeid` crate).
    let any: &(dyn NonStaticAny + 'static) = unsafe { std::mem::transmute(any) };
    any.type_id()
}

/// Whether `addr.to_socket_addrs()` is known to need no lookup.
fn is_literal<A: ToSocketAddrs>(addr: &A) -> bool {
    let id = erased_type_id::<A>();
    let literal_types = [
        erased_type_id::<SocketAddr>(),
        erased_type_id::<SocketAddrV4>(),
        erased_type_id::<SocketAddrV6>(),
        erased_type_id::<&SocketAddr>(),
        erased_type_id::<(IpAddr, u16)>(),
        erased_type_id::<(Ipv4Addr, u16)>(),
        erased_type_id::<(Ipv6Addr, u16)>(),
        erased_type_id::<&[SocketAddr]>(),
    ];
    if literal_types.contains(&id) {
        return true;
    }
    let addr: *const A = addr;
    if id == erased_type_id::<&str>() {
        // SAFETY: `A` is `&str` up to lifetimes (same erased `TypeId`); the
        // reference is used only while `addr` is borrowed.
        let s: &str = unsafe { *addr.cast::<&str>() };
        return s.parse::<SocketAddr>().is_ok();
    }
    if id == erased_type_id::<String>() {
        // SAFETY: as above; `String` has no lifetimes at all.
        let s: &String = unsafe { &*addr.cast::<String>() };
        return s.parse::<SocketAddr>().is_ok();
    }
    if id == erased_type_id::<(&str, u16)>() {
        // SAFETY: as above, for `(&str, u16)`.
        let (host, _) = unsafe { *addr.cast::<(&str, u16)>() };
        return host.parse::<IpAddr>().is_ok();
    }
    false
}

/// Runs `job` on a pool thread while the calling thread waits.
fn run_offloaded<'a, R: Send + 'a>(job: impl FnOnce() -> R + Send + 'a) -> R {
    let done = Arc::new(Done { state: Mutex::new(DoneState { result: None, wake: None }) });
    let signal = done.clone();
    let task: Box<dyn FnOnce() + Send + 'a> = Box::new(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(job));
        signal.finish(result);
    });
    // SAFETY: the job may borrow data that lives for `'a` only. This
    // function does not return — and cannot unwind, as nothing below
    // panics — until `finish` has run, which is after the job and its
    // captures are gone (`job` is consumed by `catch_unwind`; the boxed
    // closure's other capture is `signal`, which holds no borrow). So no
    // borrow outlives `'a`, as with a scoped thread.
    let task: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(task) };
    Pool::get().submit(task);
    match done.wait() {
        Ok(r) => r,
        Err(payload) => panic::resume_unwind(payload),
    }
}

type JobResult<R> = std::thread::Result<R>;

struct Done<R> {
    state: Mutex<DoneState<R>>,
}

struct DoneState<R> {
    result: Option<JobResult<R>>,
    wake: Option<Wake>,
}

impl<R> Done<R> {
    fn finish(&self, result: JobResult<R>) {
        let wake = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.result = Some(result);
            state.wake.take()
        };
        if let Some(wake) = wake {
            wake.wake();
        }
    }

    fn wait(&self) -> JobResult<R> {
        loop {
            if let Some(result) = self.state.lock().unwrap_or_else(|e| e.into_inner()).result.take() {
                return result;
            }
            wait::block(None, |wake| {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.result.is_some() {
                    drop(state);
                    wake.wake();
                } else {
                    state.wake = Some(wake);
                }
            });
        }
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The OS threads that run lookups.
struct Pool {
    queue: Mutex<PoolState>,
    available: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    idle: usize,
}

impl Pool {
    fn get() -> &'static Pool {
        static POOL: Pool = Pool {
            queue: Mutex::new(PoolState { jobs: VecDeque::new(), idle: 0 }),
            available: Condvar::new(),
        };
        &POOL
    }

    fn submit(&'static self, job: Job) {
        let mut state = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        state.jobs.push_back(job);
        if state.idle >= state.jobs.len() {
            drop(state);
            self.available.notify_one();
            return;
        }
        drop(state);
        let spawned = std::thread::Builder::new().name("myriad-resolver".into()).spawn(move || self.run());
        if spawned.is_err() {
            // No new thread: run the queued jobs here rather than lose them
            // (this blocks the caller's worker, but only when the system
            // cannot make OS threads at all). The one just queued is among
            // them, or was taken by a pool thread meanwhile.
            loop {
                let job = self.queue.lock().unwrap_or_else(|e| e.into_inner()).jobs.pop_front();
                match job {
                    Some(job) => job(),
                    None => break,
                }
            }
        }
    }

    fn run(&self) {
        let mut state = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                state = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self.available.wait_timeout(state, IDLE).unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.jobs.is_empty() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_types_are_recognised() {
        assert!(is_literal(&"127.0.0.1:80"));
        assert!(is_literal(&("::1", 80)));
        assert!(is_literal(&SocketAddr::from(([127, 0, 0, 1], 1))));
        assert!(is_literal(&String::from("[::1]:9")));
        assert!(!is_literal(&"localhost:80"));
        assert!(!is_literal(&("localhost", 80)));
    }

    #[test]
    fn a_myriad_thread_resolves_through_the_pool() {
        let host = String::from("localhost");
        let addrs = crate::thread::scope(|s| s.spawn(|| resolve((host.as_str(), 80))).join().unwrap()).unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80), "{addrs:?}");
        assert!(!addrs.is_empty());
    }
}

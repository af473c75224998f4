//! The thread factory, as [`std::thread::Builder`].

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::join::{JoinInner, Packet};
use super::scope::{Scope, ScopedJoinHandle};
use super::{local, JoinHandle};
use crate::rt::Runtime;

/// Configures a new thread's name and stack size.
///
/// ```
/// let h = myriad::thread::Builder::new()
///     .name("deep".to_string())
///     .stack_size(4 << 20)
///     .spawn(|| myriad::thread::current().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("deep"));
/// ```
#[derive(Debug, Default)]
#[must_use = "must eventually spawn the thread"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the runtime's default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread; the name appears in panic and stack-overflow
    /// messages, and [`current`](super::current)`().name()` returns it.
    ///
    /// Panics if the name contains a NUL byte, with std's message ("thread
    /// name may not contain interior null bytes"). std panics a step later,
    /// in `spawn`; either way the spawn never happens.
    ///
    /// Unlike std, the name is not given to the OS thread: a myriad thread
    /// runs on a worker OS thread shared with others, which keeps the
    /// worker's name (`pthread_getname_np` and tools such as `top -H` show
    /// the worker).
    ///
    /// ```
    /// let r = std::panic::catch_unwind(|| myriad::thread::Builder::new().name("a\0b".to_string()));
    /// assert!(r.is_err());
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        assert!(!name.as_bytes().contains(&0), "thread name may not contain interior null bytes");
        self.name = Some(name);
        self
    }

    /// Sets the thread's usable stack size in bytes (rounded up to pages).
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns the thread, returning an error instead of panicking when it
    /// cannot be created (for instance at the memory-mapping limit; the
    /// error names `vm.max_map_count`).
    #[track_caller]
    #[inline]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: `F` and `T` are 'static, so nothing they borrow can end
        // before the thread does.
        unsafe { self.spawn_unchecked(f, None) }.map(JoinHandle)
    }

    /// Spawns a scoped thread; see [`super::scope`].
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        // A scoped thread starts with its spawner's deadline.
        let deadline = crate::rt::wait::current_deadline();
        let f = move || {
            if deadline.is_some() {
                super::set_deadline(deadline);
            }
            f()
        };
        // SAFETY: the scope does not end before every thread spawned in it
        // has ended and its packet was released (see `scope.rs`).
        let inner = unsafe { self.spawn_unchecked(f, Some(scope.data.clone())) }?;
        scope.data.add_thread(inner.thread().task().expect("a myriad thread"));
        Ok(ScopedJoinHandle(inner))
    }

    /// # Safety
    ///
    /// What `f` and `T` borrow must outlive the thread.
    #[track_caller]
    #[inline]
    unsafe fn spawn_unchecked<'scope, F, T>(
        self,
        f: F,
        scope: Option<Arc<super::scope::ScopeData>>,
    ) -> io::Result<JoinInner<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let spawned_at = std::panic::Location::caller();
        let rt = Runtime::get()?;
        let counted = ScopeCount::new(scope.clone());
        let main = move |packet: &Packet<'scope, T>| {
            let result = catch_unwind(AssertUnwindSafe(f));
            local::destroy_current();
            packet.set(result);
        };
        // SAFETY: forwarded to our caller.
        let task = unsafe { rt.spawn_unchecked(self.name, self.stack_size, spawned_at, Packet::new(scope), main) }?;
        counted.spawned();
        // SAFETY: the handle's reference to a thread with this packet.
        Ok(unsafe { JoinInner::new(task) })
    }
}

/// Counts a scoped thread as running while it is being spawned; undone if
/// spawning fails or panics. Once spawned, the thread's packet tells the
/// scope when it is done.
struct ScopeCount(Option<Arc<super::scope::ScopeData>>);

impl ScopeCount {
    fn new(scope: Option<Arc<super::scope::ScopeData>>) -> ScopeCount {
        if let Some(scope) = &scope {
            scope.increment_num_running_threads();
        }
        ScopeCount(scope)
    }

    fn spawned(mut self) {
        self.0 = None;
    }
}

impl Drop for ScopeCount {
    fn drop(&mut self) {
        if let Some(scope) = &self.0 {
            scope.decrement_num_running_threads(false);
        }
    }
}

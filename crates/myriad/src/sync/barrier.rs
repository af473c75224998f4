//! `Barrier`: std's barrier, built on this module's [`Mutex`] and
//! [`Condvar`] (so waiting parks only the calling thread).
//!
//! A generation counter tells the waiters of one round from the next, so a
//! fast thread that re-enters the barrier cannot be mistaken for a late
//! arrival of the previous round.

use std::fmt;

use super::{Condvar, Mutex};

/// Lets `n` threads wait for one another, as [`std::sync::Barrier`].
///
/// ```
/// use myriad::sync::{Arc, Barrier};
///
/// let barrier = Arc::new(Barrier::new(10));
/// let handles: Vec<_> = (0..10)
///     .map(|_| {
///         let b = barrier.clone();
///         myriad::thread::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = handles.into_iter().map(|h| h.join().unwrap()).filter(|&l| l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    lock: Mutex<BarrierState>,
    cvar: Condvar,
    num_threads: usize,
}

struct BarrierState {
    count: usize,
    generation: usize,
}

/// What [`Barrier::wait`] returns: whether this thread is the round's
/// leader (std's `BarrierWaitResult`, which has no public constructor).
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one thread of each round.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult").field("is_leader", &self.0).finish()
    }
}

impl Barrier {
    /// A barrier for `n` threads (`0` behaves as `1`).
    pub const fn new(n: usize) -> Barrier {
        Barrier { lock: Mutex::new(BarrierState { count: 0, generation: 0 }), cvar: Condvar::new(), num_threads: n }
    }

    /// Blocks until `n` threads have called `wait`; then all return, one of
    /// them as the leader.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut lock = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let generation = lock.generation;
        lock.count += 1;
        if lock.count < self.num_threads {
            let _guard =
                self.cvar.wait_while(lock, |state| state.generation == generation).unwrap_or_else(|e| e.into_inner());
            BarrierWaitResult(false)
        } else {
            lock.count = 0;
            lock.generation = lock.generation.wrapping_add(1);
            self.cvar.notify_all();
            BarrierWaitResult(true)
        }
    }
}

impl Barrier {
    /// As [`wait`](Self::wait), unless the calling thread is interrupted
    /// ([`Thread::interrupt`](crate::thread::Thread::interrupt), or its
    /// deadline) before the round completes: then it withdraws its arrival
    /// (the round still needs as many threads as before) and returns `Err`.
    ///
    /// ```
    /// let barrier = myriad::sync::Barrier::new(2);
    /// myriad::thread::current().interrupt();
    /// assert!(barrier.wait_interruptible().is_err());
    /// # myriad::thread::current().clear_interrupt();
    /// ```
    pub fn wait_interruptible(&self) -> Result<BarrierWaitResult, crate::thread::Interrupted> {
        if let Some(interrupted) = crate::rt::wait::current_interrupt() {
            return Err(interrupted);
        }
        let mut lock = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let generation = lock.generation;
        lock.count += 1;
        if lock.count >= self.num_threads {
            lock.count = 0;
            lock.generation = lock.generation.wrapping_add(1);
            self.cvar.notify_all();
            return Ok(BarrierWaitResult(true));
        }
        while lock.generation == generation {
            let (guard, outcome) = self.cvar.wait_interruptible(lock).unwrap_or_else(|e| e.into_inner());
            lock = guard;
            if let Err(interrupted) = outcome {
                if lock.generation != generation {
                    break; // The round completed meanwhile: passed.
                }
                lock.count -= 1;
                return Err(interrupted);
            }
        }
        Ok(BarrierWaitResult(false))
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}

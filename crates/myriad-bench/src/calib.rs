//! Calibrated trials: a fixed warm-up, then several timed trials of equal
//! length, each giving one sample in nanoseconds per operation.
//!
//! Written as a small state machine (`next` / `record`) rather than a
//! closure runner so that async peers (tokio) can drive it from a task.
//!
//! It also reads the process's CPU time (every thread: spinning pool
//! threads and workers count) when the trials begin and end, for the CPU
//! an operation costs besides its latency.

use std::time::Duration;

/// Drives warm-up and trials for one workload.
pub struct Calib {
    warm_target: Duration,
    trial_target: Duration,
    trials: usize,
    ops_per_iter: f64,
    iters: u64,
    warmed: bool,
    samples: Vec<f64>,
    /// Process CPU time when the trials began, and what they used.
    cpu_start: Option<Duration>,
    cpu_used: Option<Duration>,
    /// Operations timed in the trials.
    trial_ops: f64,
}

/// CPU time used so far by the whole process (user + system, all threads).
pub fn process_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

impl Calib {
    /// `ops_per_iter`: operations one iteration counts for (2 for a
    /// ping-pong round trip, which is two one-way handoffs).
    pub fn new(warm_target: Duration, trial_target: Duration, trials: usize, ops_per_iter: f64) -> Calib {
        Calib {
            warm_target,
            trial_target,
            trials,
            ops_per_iter,
            iters: 1,
            warmed: false,
            samples: Vec::new(),
            cpu_start: None,
            cpu_used: None,
            trial_ops: 0.0,
        }
    }

    /// The number of iterations to time next, or `None` when done.
    pub fn next(&self) -> Option<u64> {
        (self.samples.len() < self.trials).then_some(self.iters)
    }

    /// Records how long `iters` iterations took.
    pub fn record(&mut self, iters: u64, elapsed: Duration) {
        if !self.warmed {
            // Warm-up: double until one run lasts the warm-up target, then
            // size trials to the trial target.
            if elapsed >= self.warm_target || iters >= 1 << 32 {
                self.warmed = true;
                let per_iter = elapsed.as_secs_f64() / iters as f64;
                self.iters = ((self.trial_target.as_secs_f64() / per_iter.max(1e-12)) as u64).max(1);
                self.cpu_start = Some(process_cpu());
            } else {
                self.iters = iters * 2;
            }
            return;
        }
        self.samples.push(elapsed.as_nanos() as f64 / (iters as f64 * self.ops_per_iter));
        self.trial_ops += iters as f64 * self.ops_per_iter;
        if self.samples.len() == self.trials {
            self.cpu_used = self.cpu_start.map(|start| process_cpu().saturating_sub(start));
        }
    }

    /// Process CPU time per operation over the trials (all threads), in
    /// nanoseconds, once they are done.
    pub fn cpu_per_op(&self) -> Option<f64> {
        let used = self.cpu_used?;
        (self.trial_ops > 0.0).then(|| used.as_nanos() as f64 / self.trial_ops)
    }

    /// Iterations per trial (after warm-up).
    pub fn iters(&self) -> u64 {
        self.iters
    }

    /// Nanoseconds per operation, one per trial.
    pub fn samples(&self) -> Vec<f64> {
        self.samples.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_runs_equal_trials() {
        let mut c = Calib::new(Duration::from_millis(10), Duration::from_millis(20), 3, 2.0);
        // Pretend each iteration takes 1 µs.
        let mut runs = Vec::new();
        while let Some(n) = c.next() {
            runs.push(n);
            c.record(n, Duration::from_micros(n));
        }
        // Doubling 1, 2, 4, ... up to 16384 (≥ 10 ms), then 3 trials of 20,000.
        assert_eq!(runs.iter().filter(|&&n| n == 20_000).count(), 3);
        assert_eq!(runs[..runs.len() - 3], (0..15).map(|i| 1u64 << i).collect::<Vec<_>>()[..]);
        assert_eq!(c.samples(), vec![500.0; 3]);
        assert!(c.cpu_per_op().is_some());
    }
}

//! The stuck-program diagnosis: every worker held by one thread (or
//! asleep), no thread switch anywhere, and threads waiting behind the held
//! workers — for the stuck time (`MYRIAD_STUCK_MS`, 10 s by default). Then
//! nothing in the program can move until a blocking call returns, which may
//! be never: say so plainly, once, with every held worker, the lock shape
//! if there is one, and a full dump. With `MYRIAD_STALL=abort` the process
//! then ends (exit status 70), as it does when any one stall with threads
//! behind it lasts the stuck time.
//!
//! The lock shape: a worker blocked in `futex` (a std or C lock) while a
//! thread pinned to it, probably the lock's holder, waits for that very
//! worker to run it. The lock is never released; the stall never ends.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::super::config::{Config, OnStall};
use super::super::watch::human;
use super::super::{report, Runtime};
use super::stall::{look, work_is_waiting, Held, StallWatch};

/// Exit status of a process ended by `OnStall::Abort` (EX_SOFTWARE).
pub const ABORT_STATUS: i32 = 70;

pub(super) struct StuckWatch {
    after: Duration,
    on_stall: OnStall,
    /// Since when the program has looked stuck, and every worker's switch
    /// count then.
    since: Option<(Instant, Vec<u64>)>,
    reported: bool,
}

impl StuckWatch {
    pub(super) fn new(config: &Config) -> StuckWatch {
        StuckWatch { after: config.stuck_after, on_stall: config.on_stall, since: None, reported: false }
    }

    pub(super) fn check(&mut self, rt: &'static Runtime, stalls: &StallWatch, now: Instant) {
        if self.on_stall == OnStall::Ignore {
            return;
        }
        let workers = rt.workers();
        let held: Vec<usize> =
            workers.iter().filter(|w| w.is_stalled() && stalls.episode(w.index).is_some()).map(|w| w.index).collect();
        let idle_or_held = workers.iter().all(|w| held.contains(&w.index) || w.is_sleeping());
        let behind: usize =
            held.iter().filter_map(|&i| stalls.episode(i).and_then(|e| e.last.as_ref())).map(|h| h.behind).sum();
        if self.on_stall == OnStall::Abort {
            // One long stall with threads behind it is enough to fail a test run.
            let long = held
                .iter()
                .filter_map(|&i| stalls.episode(i))
                .find(|e| now - e.started >= self.after && e.last.as_ref().is_some_and(|h| h.behind > 0));
            if long.is_some() {
                self.report(rt, &held, now, false);
            }
        }
        if held.is_empty() || !idle_or_held || (behind == 0 && !work_is_waiting(rt)) {
            self.since = None;
            self.reported = false;
            return;
        }
        let switches: Vec<u64> = workers.iter().map(|w| w.counters.switches.get()).collect();
        match &self.since {
            Some((_, before)) if *before == switches => {}
            _ => {
                self.since = Some((now, switches));
                self.reported = false;
                return;
            }
        }
        let stuck_for = self.since.as_ref().map_or(Duration::ZERO, |(since, _)| now - *since);
        if stuck_for >= self.after && !self.reported {
            self.reported = true;
            self.report(rt, &held, now, true);
        }
    }

    /// Reports the held workers and a dump; `stuck`: the whole program is
    /// (else one stall has lasted too long). Ends the process in abort mode.
    fn report(&self, rt: &'static Runtime, held: &[usize], now: Instant, stuck: bool) {
        let workers = rt.workers();
        let looks: Vec<Held> = held
            .iter()
            .filter_map(|&i| workers.get(i))
            .map(|w| {
                let since = super::super::watch::instant_of(w.stalled_since.load(Ordering::Relaxed));
                look(w, w.running_id.load(Ordering::Relaxed), now.saturating_duration_since(since), false, now)
            })
            .collect();
        let behind: usize = looks.iter().map(|h| h.behind).sum();
        let mut text = String::new();
        if stuck {
            let _ = write!(
                text,
                "myriad: the program is stuck: for {} no myriad thread has run, because every worker is held by \
                 one thread (or has nothing to run), and {behind} {} behind the held ones. Nothing can move until \
                 these calls return:",
                human(self.after),
                if behind == 1 { "thread waits" } else { "threads wait" }
            );
        } else {
            let _ = write!(
                text,
                "myriad: a worker has been held by one thread for more than {} while other threads wait behind it \
                 (MYRIAD_STALL=abort ends the process now):",
                human(self.after)
            );
        }
        for h in &looks {
            let _ = write!(text, "\n\n{h}");
        }
        for h in looks.iter().filter(|h| h.doing.is_futex() && h.behind > 0) {
            let holder = h.some_behind.first().map_or("a thread pinned to it", String::as_str);
            let _ = write!(
                text,
                "\n\nThe lock shape: on worker {}, {} is blocked in futex, most likely on a lock held by {holder}. \
                 The holder is pinned to the same worker, so it cannot run to release the lock until the waiter \
                 gives the worker back, which it cannot do until the lock is released. Use myriad::sync::Mutex (or \
                 don't hold a std lock across a myriad wait).",
                h.worker, h.thread
            );
        }
        let _ = write!(text, "\n\n{}", super::super::dump());
        if self.on_stall == OnStall::Abort {
            text.push_str("\n\nmyriad: MYRIAD_STALL=abort: ending the process with exit status 70.");
            report::error(&text);
            log::logger().flush();
            // SAFETY: _exit has no preconditions. It skips atexit handlers
            // and destructors, which could wait for the very threads that
            // are stuck.
            unsafe { libc::_exit(ABORT_STATUS) }
        }
        report::error(&text);
    }
}

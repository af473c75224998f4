//! Global deadlock detection: every worker asleep with no timer, no
//! descriptor, no file operation, no blocking call and no queued work that
//! could wake anything, and the main thread blocked in a myriad wait with
//! no deadline — for a full second, with no thread switch in between.
//!
//! An OS thread outside myriad (a `std::thread` computing something it
//! will send later) is invisible here, as cgo threads are to Go's
//! detector: a program whose main thread waits on such work should use
//! `OnDeadlock::Ignore`. Workers held by a thread rather than asleep are
//! `stuck.rs`'s business.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::super::{report, OnDeadlock, Runtime};

#[derive(Default)]
pub(super) struct DeadlockWatch {
    /// When the runtime was first seen quiet, and its switch counts then.
    quiet_since: Option<(Instant, Vec<u64>)>,
    reported: bool,
}

impl DeadlockWatch {
    /// Looks again; `all_asleep`: every worker was asleep this round.
    pub(super) fn check(&mut self, rt: &'static Runtime, all_asleep: bool, now: Instant) {
        if !all_asleep || rt.on_deadlock == OnDeadlock::Ignore || !quiescent(rt) {
            self.quiet_since = None;
            self.reported = false;
            return;
        }
        let switches: Vec<u64> = rt.workers().iter().map(|w| w.counters.switches.get()).collect();
        match &self.quiet_since {
            Some((since, before)) if *before == switches => {
                if now - *since < Duration::from_secs(1) || self.reported {
                    return;
                }
            }
            _ => {
                self.quiet_since = Some((now, switches));
                return;
            }
        }
        self.reported = true;
        let dump = super::super::dump();
        report::error(&format!(
            "myriad: all threads are asleep — deadlock! (Nothing left in the runtime can wake them; if an OS \
             thread outside myriad will, set MYRIAD_DEADLOCK=ignore.)\n{dump}"
        ));
        if rt.on_deadlock == OnDeadlock::Panic {
            super::super::wait::panic_main_thread();
        }
        // Taking the dump woke the workers; start over.
        self.quiet_since = None;
    }
}

fn quiescent(rt: &Runtime) -> bool {
    let pool = rt.offload.stats();
    rt.workers().iter().all(|w| {
        w.is_sleeping()
            && !w.has_mail()
            && !w.has_unstarted()
            && !w.io.has_io_to_poll()
            && w.timers_pending.load(Ordering::Relaxed) == 0
    }) && rt.injector.is_empty()
        && pool.queued == 0
        && pool.threads == pool.idle
        && super::super::wait::main_thread_blocked()
        && !super::super::offload::waiting_outside()
}

//! `rt::dump()`: the snapshot of every myriad thread, gathered from the
//! workers (each answers for its own threads at its next pass through the
//! scheduler; see `rt/dump.rs`, which holds the types and the formatting)
//! and, for a stalled worker, by holding it still (`stall.rs`).
//!
//! It lives with the monitor, which also takes dumps (the dump signal, the
//! deadlock and stuck reports), so that the arrows point one way: the
//! monitor uses the workers and `dump.rs`, neither of which uses it.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::super::dump::Dump;
use super::super::{context, wait, Runtime};
use super::stall::stalled_threads;

/// Takes a snapshot of every myriad thread: id, name, worker, state, what
/// it waits for and since when, and where it was spawned.
///
/// ```
/// use std::time::Duration;
/// let h = myriad::thread::Builder::new()
///     .name("napper".into())
///     .spawn(|| myriad::thread::sleep(Duration::from_millis(300)))
///     .unwrap();
/// myriad::thread::sleep(Duration::from_millis(50));
/// let dump = myriad::rt::dump();
/// let napper = dump.threads.iter().find(|t| t.name.as_deref() == Some("napper")).unwrap();
/// assert_eq!(napper.state, myriad::rt::ThreadState::Waiting(myriad::rt::WaitReason::Sleep));
/// println!("{dump}");
/// h.join().unwrap();
/// ```
pub fn dump() -> Dump {
    let start = Instant::now();
    let Ok(rt) = Runtime::get() else { return Dump::default() };
    let requests = &rt.dumps;
    let generation = requests.generation.fetch_add(1, Ordering::SeqCst) + 1;
    let workers = rt.workers();
    for w in workers {
        w.io.notify();
    }
    let deadline = start + Duration::from_secs(1);
    let mut answers = requests.answers.lock();
    let on_worker = context::current_worker();
    loop {
        // Stalled workers cannot answer; they are looked into below.
        let missing = workers
            .iter()
            .filter(|w| !w.is_stalled() && answers.get(&w.index).is_none_or(|(g, _)| *g < generation))
            .count();
        if missing == 0 || Instant::now() >= deadline {
            break;
        }
        if on_worker.is_some() {
            // On a worker: let it (and its scheduler, which answers) run.
            drop(answers);
            wait::sleep_until(Instant::now() + Duration::from_millis(1), false);
            answers = requests.answers.lock();
        } else {
            answers = requests.answered.wait_timeout(answers, Duration::from_millis(10)).0;
        }
    }
    let mut dump = Dump::default();
    let now = Instant::now();
    for w in workers {
        if let Some((_, threads)) = answers.get(&w.index).filter(|(g, _)| *g >= generation) {
            dump.threads.extend(threads.iter().cloned());
            continue;
        }
        let stalled = (on_worker != Some(w.index)).then(|| stalled_threads(w, now)).flatten();
        match stalled {
            Some((threads, note)) => {
                dump.threads.extend(threads);
                dump.unanswered.push(note);
            }
            None => dump.unanswered.push(format!(
                "worker {} did not answer within 1 s{}",
                w.index,
                if w.is_stalled() {
                    format!(" (stalled by thread id {})", w.running_id.load(Ordering::Relaxed))
                } else {
                    String::new()
                }
            )),
        }
    }
    drop(answers);
    dump.not_started = rt.injector.len() + workers.iter().map(|w| w.unstarted_len()).sum::<usize>();
    dump.threads.sort_by_key(|t| t.id);
    dump.taken_in = start.elapsed();
    dump
}

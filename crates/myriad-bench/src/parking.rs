//! The parking lot under many waiters (issue 18), at N = 1,000, 10,000
//! and 100,000 `myriad::sync::Mutex`es, each held and with one parked
//! waiter.
//!
//! A contended myriad `Mutex` (and `Condvar`) parks its waiters in the
//! runtime's parking lot, a hash table of wait queues keyed by address
//! (`myriad/src/sync/parking_lot.rs`); every park and unpark scans the
//! queue of its address's bucket. With a fixed table, 100,000 waiters on
//! 1,024 buckets means about 100 entries per bucket; the table grows with
//! the parked threads so that the queues stay short. Target: flat from
//! 1,000 to 100,000 waiters, within 1.5×.
//!
//! One round: a myriad thread locks N mutexes and spawns N threads, each
//! locking its own mutex (so each parks, once it has spun). When all are
//! parked, two things are timed:
//!
//! * **handoff**: two other threads take turns through a `Mutex` and a
//!   `Condvar` (each turn a `notify_one` and a `wait`, through the parking
//!   lot) while the N waiters stay parked: the parking lot's own cost
//!   beside N waiters, per one-way handoff;
//! * **release**: the controller unlocks the N mutexes (each unlock wakes
//!   its waiter), then joins the N threads (each takes its lock, releases
//!   it and ends), per mutex. This also wakes and runs N threads whose
//!   stacks and cells have gone cold, so it grows with N (cache and TLB
//!   misses) whatever the table does.
//!
//! Only myriad has this table: std's `Mutex` parks on a futex (the
//! kernel's hash table), tokio's keeps a queue per mutex.
//!
//! Child line: `PARKING round handoff_ns release_ns_per_mutex`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::report::group;

/// Waiter counts measured.
pub const SIZES: &[usize] = &[1_000, 10_000, 100_000];

/// What one round of one child measured.
#[derive(Clone, Copy, Debug)]
pub struct ParkingRound {
    /// Per one-way handoff beside the N parked waiters.
    pub handoff_ns: f64,
    /// Per mutex released (and waiter joined).
    pub release_ns: f64,
}

impl ParkingRound {
    /// Parses a child's `PARKING ...` line.
    pub fn parse(line: &str) -> Option<ParkingRound> {
        let v: Vec<f64> =
            line.strip_prefix("PARKING ")?.split_whitespace().map(|x| x.parse().ok()).collect::<Option<_>>()?;
        let [_round, handoff_ns, release_ns] = v[..] else { return None };
        Some(ParkingRound { handoff_ns, release_ns })
    }
}

/// All rounds at one N.
#[derive(Clone, Debug)]
pub struct ParkingPoint {
    pub n: usize,
    pub rounds: Vec<ParkingRound>,
    pub failure: Option<String>,
}

/// The child side: `rounds` rounds of N waiters on myriad.
pub fn child(n: usize, rounds: usize, cores: usize) {
    crate::systems::myriad_sys::start(cores);
    myriad::thread::spawn(move || {
        for round in 0..rounds {
            let (handoff, release) = one_round(n);
            println!("PARKING {round} {handoff:.2} {:.2}", release.as_nanos() as f64 / n as f64);
        }
    })
    .join()
    .expect("controller thread panicked");
}

/// One-way handoffs timed per round.
const HANDOFFS: usize = 20_000;

/// One round: (ns per one-way handoff beside the N parked waiters, time to
/// release the N mutexes and join their waiters).
fn one_round(n: usize) -> (f64, Duration) {
    use myriad::sync::Mutex;
    let mutexes: Arc<Vec<Mutex<u64>>> = Arc::new((0..n).map(|_| Mutex::new(0)).collect());
    let guards: Vec<_> = mutexes.iter().map(|m| m.lock().unwrap()).collect();
    let arrived = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..n)
        .map(|i| {
            let (mutexes, arrived) = (mutexes.clone(), arrived.clone());
            myriad::thread::spawn(move || {
                arrived.fetch_add(1, Ordering::Relaxed);
                *mutexes[i].lock().unwrap() += 1;
            })
        })
        .collect();
    // Every waiter has started and then parked (a started waiter has
    // nothing else to do than spin briefly and park).
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrived.load(Ordering::Relaxed) < n || (myriad::rt::metrics().threads_parked() as usize) < n {
        assert!(Instant::now() < deadline, "the {n} waiters did not all park");
        myriad::thread::sleep(Duration::from_millis(1));
    }
    let handoff = handoffs(HANDOFFS);
    let start = Instant::now();
    for mut guard in guards {
        *guard += 1;
        drop(guard);
    }
    for w in waiters {
        w.join().expect("waiter panicked");
    }
    let release = start.elapsed();
    assert!(mutexes.iter().all(|m| *m.lock().unwrap() == 2));
    (handoff, release)
}

/// Handoffs per batch of `handoffs`.
const BATCH: usize = 500;

/// ns per one-way handoff between two threads taking turns through a
/// `Mutex` and a `Condvar`: the median over batches of `BATCH` handoffs,
/// `count` in all. (All of them take a few milliseconds, and on a shared
/// machine one preemption of the worker in that time would be most of
/// the mean; it spoils one batch of the median.)
fn handoffs(count: usize) -> f64 {
    use myriad::sync::{Condvar, Mutex};
    let turn = Arc::new((Mutex::new(0usize), Condvar::new()));
    let other = turn.clone();
    // Each side waits for its parity, then passes the turn on; the even
    // side notes the time at the start of every batch.
    let player = move |pair: Arc<(Mutex<usize>, Condvar)>, parity: usize| {
        let (lock, cv) = &*pair;
        let mut marks = Vec::with_capacity(count / BATCH + 1);
        let mut n = lock.lock().unwrap();
        while *n < count {
            while *n % 2 != parity && *n < count {
                n = cv.wait(n).unwrap();
            }
            if *n < count {
                if parity == 0 && (*n).is_multiple_of(BATCH) {
                    marks.push(Instant::now());
                }
                *n += 1;
                cv.notify_one();
            }
        }
        marks.push(Instant::now());
        marks
    };
    let odd = myriad::thread::spawn(move || player(other, 1));
    let marks = player(turn, 0);
    odd.join().expect("handoff thread panicked");
    let batches: Vec<f64> = marks.windows(2).map(|w| (w[1] - w[0]).as_nanos() as f64 / BATCH as f64).collect();
    median(batches).expect("at least one batch")
}

/// Mutexes released per process, over its rounds: small N gets more
/// rounds, so that every figure is the median of enough work to stand
/// above the machine's noise.
const UNLOCKS_PER_PROCESS: usize = 300_000;

/// The parent side: `procs` processes at every N, each of enough rounds
/// for `UNLOCKS_PER_PROCESS` (at least 3), through `run_child(n, rounds)`,
/// which returns the child's lines or why it failed.
pub fn measure(
    procs: usize,
    mut run_child: impl FnMut(usize, usize) -> Result<Vec<String>, String>,
) -> Vec<ParkingPoint> {
    let mut points = Vec::new();
    for &n in SIZES {
        let mut point = ParkingPoint { n, rounds: Vec::new(), failure: None };
        let rounds = (UNLOCKS_PER_PROCESS / n).max(3);
        for _ in 0..procs {
            match run_child(n, rounds) {
                Ok(lines) => point.rounds.extend(lines.iter().filter_map(|l| ParkingRound::parse(l))),
                Err(failure) => {
                    point.failure = Some(failure);
                    break;
                }
            }
        }
        if let Some(m) = median(point.rounds.iter().map(|r| r.handoff_ns).collect()) {
            eprintln!("parking N={:<8} handoff beside the parked waiters {m:.0} ns", group(n as i64));
        }
        points.push(point);
    }
    points
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The report's section on the parking lot.
pub fn markdown(points: &[ParkingPoint]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## Parking lot under many waiters (myriad)\n");
    let _ = writeln!(
        s,
        "N `myriad::sync::Mutex`es, each held and with one parked waiter (`src/parking.rs`). **handoff**: two \
         other threads take turns through a `Mutex` and `Condvar` meanwhile, ns per one-way handoff: the \
         parking lot's cost beside N waiters (target: flat within 1.5×). **release**: unlocking the N \
         mutexes and joining their waiters, ns per mutex (wakes N cold threads, so memory makes it grow with \
         N). Medians of the rounds; **÷ first** divides by the smallest N's.\n"
    );
    let _ = writeln!(s, "| waiters | handoff (ns) | ÷ first | release (ns / mutex) | ÷ first | rounds |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    let first = points.iter().find(|p| p.failure.is_none() && !p.rounds.is_empty());
    let base = first.map(|p| {
        (
            median(p.rounds.iter().map(|r| r.handoff_ns).collect()).unwrap(),
            median(p.rounds.iter().map(|r| r.release_ns).collect()).unwrap(),
        )
    });
    for p in points {
        if let Some(f) = &p.failure {
            let _ = writeln!(s, "| {} | failed: {f} | | | | |", group(p.n as i64));
            continue;
        }
        let (Some(handoff), Some(release), Some((h0, r0))) = (
            median(p.rounds.iter().map(|r| r.handoff_ns).collect()),
            median(p.rounds.iter().map(|r| r.release_ns).collect()),
            base,
        ) else {
            continue;
        };
        let _ = writeln!(
            s,
            "| {} | {handoff:.0} | {:.2} | {release:.0} | {:.2} | {} |",
            group(p.n as i64),
            handoff / h0,
            release / r0,
            p.rounds.len()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_ratios_are_to_the_smallest_n() {
        let r = ParkingRound::parse("PARKING 0 120.5 800.0").unwrap();
        assert_eq!((r.handoff_ns, r.release_ns), (120.5, 800.0));
        assert!(ParkingRound::parse("PARKING 0 1").is_none());
        let points = vec![
            ParkingPoint { n: 1_000, rounds: vec![r], failure: None },
            ParkingPoint {
                n: 100_000,
                rounds: vec![ParkingRound { handoff_ns: 241.0, release_ns: 1200.0 }],
                failure: None,
            },
        ];
        let md = markdown(&points);
        assert!(md.contains("| 100,000 | 241 | 2.00 | 1200 | 1.50 | 1 |"), "{md}");
    }
}

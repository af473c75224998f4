//! Soak (issue 9): 1,000,000 threads spawned and joined, in waves of 1,000
//! alive at once, with resident memory and the mapping count flat at the
//! end. Alone in its test binary so no other test moves the figures.
//!
//! Short and long forms are the same size (the churn takes seconds); the
//! long form (`MYRIAD_SOAK=long`) runs it 10 times. `MYRIAD_TEST_SCALE`
//! shrinks it (under valgrind).

mod probe_support;

use std::time::Instant;

use myriad::thread;
use probe_support::{long_soak, mappings, rss_kib, scaled};

const WAVE: usize = 1_000;

/// Spawns `WAVE` threads from a myriad thread (the server-style path) and
/// joins them; returns the sum of their results.
fn wave(base: u64) -> u64 {
    thread::spawn(move || {
        let handles: Vec<_> = (0..WAVE as u64).map(|i| thread::spawn(move || base + i)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    })
    .join()
    .unwrap()
}

#[test]
fn million_spawn_join_churn_leaves_rss_and_mappings_flat() {
    let total = scaled(1_000_000, 10 * WAVE);
    let rounds = if long_soak() { 10 } else { 1 };
    // Warm up to the steady state with a first million: workers started,
    // stack pools filled, their stacks' pages touched as deep as these
    // threads go (RSS climbs over the first ~million, from ~9 to ~30 MiB in
    // a debug build, and then stays within ±10 MiB however long it runs).
    let (rss_start, maps_start) = (rss_kib(), mappings());
    for w in 0..(total / WAVE) as u64 {
        wave(w);
    }
    let (rss_before, maps_before) = (rss_kib(), mappings());
    let start = Instant::now();
    let mut spawned = 0u64;
    for _ in 0..rounds {
        for w in 0..(total / WAVE) as u64 {
            let base = w * WAVE as u64;
            let n = WAVE as u64;
            assert_eq!(wave(base), n * base + n * (n - 1) / 2);
            spawned += n + 1;
            if std::env::var("MYRIAD_SOAK_TRACE").is_ok() && w % 100 == 0 {
                println!("trace wave {w}: RSS {} KiB maps {}", rss_kib(), mappings());
            }
        }
    }
    let elapsed = start.elapsed();
    let (rss_after, maps_after) = (rss_kib(), mappings());
    println!(
        "SOAK-CHURN warm-up: RSS {rss_start} -> {rss_before} KiB, mappings {maps_start} -> {maps_before}; \
         then {spawned} threads in {elapsed:.1?}: RSS {rss_before} -> {rss_after} KiB, \
         mappings {maps_before} -> {maps_after}"
    );
    // Tolerances. Mappings: stacks are carved from large reservations, so
    // the churn may add a reservation or two (and the allocator an arena),
    // never one per thread: 32 is 0.003 % of a million. RSS: 24 MiB — the
    // steady state moves by up to ~12 MiB (which pooled stacks are hot
    // depends on how waves were split between workers), and a leak of 25
    // bytes per thread (2.5 with `MYRIAD_SOAK=long`) would exceed it.
    assert!(maps_after <= maps_before + 32, "mappings grew: {maps_before} -> {maps_after}");
    assert!(
        rss_after <= rss_before + 24 * 1024,
        "RSS grew by {} KiB over {spawned} threads",
        rss_after.saturating_sub(rss_before)
    );
    assert!(myriad::rt::metrics().threads_spawned() >= spawned);
}

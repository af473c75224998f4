//! 100,000 myriad threads alive at once, on a stock kernel
//! (vm.max_map_count 65,530, where std threads stop at ~16,000).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use myriad::thread;

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").map(|m| m.lines().count()).unwrap_or(0)
}

#[test]
fn hundred_thousand_threads_parked_at_once_then_released() {
    const N: usize = 100_000;
    let gate = Arc::new(AtomicBool::new(false));
    let parked = Arc::new(AtomicUsize::new(0));
    let maps_before = mappings();
    let spawner = {
        let (gate, parked) = (gate.clone(), parked.clone());
        // Spawn from inside a myriad thread, like a server's accept loop.
        thread::spawn(move || {
            (0..N)
                .map(|i| {
                    let (gate, parked) = (gate.clone(), parked.clone());
                    thread::spawn(move || {
                        parked.fetch_add(1, Ordering::SeqCst);
                        while !gate.load(Ordering::Acquire) {
                            thread::park();
                        }
                        i as u64 * 3
                    })
                })
                .collect::<Vec<_>>()
        })
    };
    let handles = spawner.join().unwrap();
    while parked.load(Ordering::SeqCst) < N {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // All N are alive at once: none can finish before the gate opens.
    assert!(handles.iter().all(|h| !h.is_finished()));
    assert!(myriad::rt::metrics().threads_alive() >= N as u64);
    let maps_during = mappings();
    assert!(
        maps_during < maps_before + 1000,
        "stacks must not cost a mapping each: {maps_before} -> {maps_during} mappings"
    );
    gate.store(true, Ordering::Release);
    for h in &handles {
        h.thread().unpark();
    }
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 3 * (N as u64 - 1) * N as u64 / 2);
}

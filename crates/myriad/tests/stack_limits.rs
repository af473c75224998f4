//! What happens at the edges of stack memory, checked in child processes
//! (this test binary re-runs itself with `MYRIAD_TEST_CHILD` set):
//! a stack overflow ends the process with std's message naming the thread,
//! and running out of memory mappings is an `io::Error` naming the limit.

use std::process::Command;

fn run_child(test: &str, mode: &str, env: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]).env("MYRIAD_TEST_CHILD", mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn child_mode() -> Option<String> {
    std::env::var("MYRIAD_TEST_CHILD").ok()
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 64]);
    if n == 0 {
        0
    } else {
        recurse(n + 1).wrapping_add(pad[3])
    }
}

#[test]
fn stack_overflow_names_the_thread() {
    if child_mode().as_deref() == Some("overflow") {
        let h = myriad::thread::Builder::new().name("deep-diver".into()).spawn(|| recurse(1)).unwrap();
        let _ = h.join();
        unreachable!("the overflow must end the process");
    }
    let out = run_child("stack_overflow_names_the_thread", "overflow", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("thread 'deep-diver' has overflowed its stack"), "stderr: {stderr}");
}

/// Uses up memory mappings by alternating protections on one reservation,
/// so that each page is its own mapping; leaves `spare` below the limit.
fn use_up_mappings(spare: usize) {
    let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap().trim().parse().unwrap();
    let current = std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
    let want = limit.saturating_sub(current + spare);
    let page = 4096;
    // SAFETY (test): a fresh anonymous reservation that nothing else uses.
    unsafe {
        let base = libc::mmap(
            std::ptr::null_mut(),
            want * page,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        assert_ne!(base, libc::MAP_FAILED);
        for i in (0..want).step_by(2) {
            libc::mprotect(base.cast::<u8>().add(i * page).cast(), page, libc::PROT_NONE);
        }
    }
}

#[test]
fn mapping_limit_is_a_clear_error_not_an_abort() {
    if child_mode().as_deref() == Some("maps") {
        // Start the runtime (with the mprotect fallback from the
        // environment) before using up the mappings.
        myriad::thread::spawn(|| ()).join().unwrap();
        use_up_mappings(200);
        let gate = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut handles = Vec::new();
        let err = loop {
            let g = gate.clone();
            match myriad::thread::Builder::new().spawn(move || {
                while !g.load(std::sync::atomic::Ordering::Acquire) {
                    myriad::thread::park();
                }
            }) {
                Ok(h) => handles.push(h),
                Err(e) => break e,
            }
            assert!(handles.len() < 100_000, "the limit was never reached");
        };
        println!("CHILD-ERROR kind={:?} after {} threads: {err}", err.kind(), handles.len());
        // `thread::spawn` panics with the same message, as std's does.
        let panic = std::panic::catch_unwind(|| myriad::thread::spawn(|| ())).unwrap_err();
        let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        println!("CHILD-PANIC {msg}");
        // Nothing was lost: the threads that did start all finish.
        gate.store(true, std::sync::atomic::Ordering::Release);
        let n = handles.len();
        for h in handles {
            h.thread().unpark();
            h.join().unwrap();
        }
        println!("CHILD-JOINED {n}");
        return;
    }
    let out = run_child("mapping_limit_is_a_clear_error_not_an_abort", "maps", &[("MYRIAD_STACK_GUARD", "mprotect")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stdout}\n{stderr}");
    // libtest may print "test name ... " on the same line before the output.
    let error_line = stdout.lines().find(|l| l.contains("CHILD-ERROR")).expect("an error line");
    assert!(error_line.contains("kind=OutOfMemory"), "{error_line}");
    assert!(error_line.contains("vm.max_map_count"), "{error_line}");
    assert!(error_line.contains("sysctl -w vm.max_map_count="), "{error_line}");
    let panic_line = stdout.lines().find(|l| l.contains("CHILD-PANIC")).expect("a panic line");
    assert!(panic_line.contains("vm.max_map_count"), "{panic_line}");
    assert!(stdout.contains("CHILD-JOINED"), "{stdout}");
}

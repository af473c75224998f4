//! Helpers shared by the soundness, fault, soak and fuzz tests (issue 9).
#![allow(dead_code)]

use std::time::Duration;

/// Scales a test size by `MYRIAD_TEST_SCALE` (a fraction, e.g. `0.01` under
/// valgrind; default 1). Never returns less than `min`.
pub fn scaled(n: usize, min: usize) -> usize {
    let factor: f64 = std::env::var("MYRIAD_TEST_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    ((n as f64 * factor) as usize).max(min)
}

/// Whether the long soak was asked for (`MYRIAD_SOAK=long`).
pub fn long_soak() -> bool {
    std::env::var("MYRIAD_SOAK").as_deref() == Ok("long")
}

/// `short` normally, `long` with `MYRIAD_SOAK=long`.
pub fn soak_duration(short: Duration, long: Duration) -> Duration {
    if long_soak() {
        long
    } else {
        short
    }
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

/// The number of memory mappings of this process.
pub fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").map(|m| m.lines().count()).unwrap_or(0)
}

/// Resident memory of this process in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Re-runs this test binary for one test with `MYRIAD_TEST_CHILD=mode`.
pub fn run_child(test: &str, mode: &str, env: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]).env("MYRIAD_TEST_CHILD", mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// As `run_child`, but fails the test (killing the child) if the child
/// has not ended within `limit`: for cases whose failure is a hang.
pub fn run_child_within(test: &str, mode: &str, env: &[(&str, &str)], limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]).env("MYRIAD_TEST_CHILD", mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let until = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("child '{mode}' still running after {limit:?}; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The mode this process was started in by `run_child`, if any.
pub fn child_mode() -> Option<String> {
    std::env::var("MYRIAD_TEST_CHILD").ok()
}

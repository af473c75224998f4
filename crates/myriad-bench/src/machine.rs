//! What the machine is, and the memory readings taken in a child process.

use std::fs;
use std::process::Command;

fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The process's resident set size in bytes (`VmRSS` in /proc/self/status).
pub fn rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    kb_field(&status, "VmRSS:").unwrap_or(0) * 1024
}

/// The number of memory mappings of this process (lines of /proc/self/maps).
pub fn maps_count() -> u64 {
    fs::read("/proc/self/maps").map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64).unwrap_or(0)
}

/// Kernel memory that grows with threads, machine-wide, in bytes:
/// `Slab + PageTables + KernelStack` from /proc/meminfo. Machine-wide and
/// therefore noisy: other processes move it too.
pub fn kernel_bytes() -> u64 {
    let info = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    ["Slab:", "PageTables:", "KernelStack:"].iter().filter_map(|k| kb_field(&info, k)).sum::<u64>() * 1024
}

fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// The minor page faults this process has taken so far (`ru_minflt` of
/// `getrusage`): each first touch of a fresh page of memory is one.
pub fn minor_faults() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    usage.ru_minflt as u64
}

/// One reading of the three memory figures, and of the page faults.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    pub rss: u64,
    pub maps: u64,
    pub kernel: u64,
    pub faults: u64,
}

impl Mem {
    pub fn now() -> Mem {
        Mem { rss: rss_bytes(), maps: maps_count(), kernel: kernel_bytes(), faults: minor_faults() }
    }
}

/// The 1-minute load average.
pub fn loadavg() -> f64 {
    read("/proc/loadavg").and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}

fn rlimit(resource: libc::__rlimit_resource_t) -> String {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 {
        return "unknown".into();
    }
    let show = |v: libc::rlim_t| if v == libc::RLIM_INFINITY { "unlimited".to_string() } else { v.to_string() };
    format!("{} soft / {} hard", show(r.rlim_cur), show(r.rlim_max))
}

fn command(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The machine a run came from, as label/value pairs.
pub fn describe() -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_total = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| kb_field(&m, "MemTotal:"))
        .map_or("unknown".into(), |kb| format!("{:.1} GiB", kb as f64 / (1024.0 * 1024.0)));
    let manifest = env!("CARGO_MANIFEST_DIR");
    let commit = command("git", &["-C", manifest, "rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = command("git", &["-C", manifest, "status", "--porcelain", "--", "../myriad"])
        .map(|s| if s.is_empty() { "" } else { " (crates/myriad has uncommitted changes)" })
        .unwrap_or("");
    let na = || "unknown".to_string();
    vec![
        ("date (UTC)".into(), command("date", &["-u", "+%Y-%m-%d %H:%M"]).unwrap_or_else(na)),
        ("CPU".into(), model),
        ("cores (available_parallelism)".into(), cores.to_string()),
        ("memory".into(), mem_total),
        ("kernel".into(), read("/proc/sys/kernel/osrelease").unwrap_or_else(na)),
        ("vm.max_map_count".into(), read("/proc/sys/vm/max_map_count").unwrap_or_else(na)),
        ("vm.overcommit_memory".into(), read("/proc/sys/vm/overcommit_memory").unwrap_or_else(na)),
        ("kernel.pid_max".into(), read("/proc/sys/kernel/pid_max").unwrap_or_else(na)),
        ("kernel.threads-max".into(), read("/proc/sys/kernel/threads-max").unwrap_or_else(na)),
        ("open files (RLIMIT_NOFILE)".into(), rlimit(libc::RLIMIT_NOFILE)),
        ("processes (RLIMIT_NPROC)".into(), rlimit(libc::RLIMIT_NPROC)),
        ("stack (RLIMIT_STACK)".into(), rlimit(libc::RLIMIT_STACK)),
        ("transparent hugepages".into(), read("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_else(na)),
        ("rustc".into(), command("rustc", &["--version"]).unwrap_or_else(na)),
        ("myriad commit".into(), format!("{commit}{dirty}")),
        ("load average at start (1 min)".into(), format!("{:.2}", loadavg())),
    ]
}

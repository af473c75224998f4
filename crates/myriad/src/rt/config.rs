//! Runtime configuration: the [`Builder`], defaults, and `MYRIAD_*`
//! environment variables.

use std::io;
use std::time::Duration;

use super::report;
use super::stack::{probe_guard_mode, GuardMode};
use super::Runtime;

/// Default usable stack per myriad thread.
///
/// Stacks are reserved, not committed: a thread pays in memory only for the
/// pages it touches (one 4 KiB page for a thread parked in a shallow call),
/// and address space is plentiful on 64-bit systems (a million threads
/// reserve 260 GiB of the 128 TiB available). 256 KiB is deep enough for
/// ordinary code — the tests parse JSON nested 128 levels deep with
/// `serde_json` in a debug build — while a runaway recursion still ends
/// quickly in the guard page with a clear message. Use
/// [`crate::thread::Builder::stack_size`] for threads that need more.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// How the guard page under each thread's stack is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StackGuard {
    /// `madvise(MADV_GUARD_INSTALL)` where the kernel has it (Linux 6.13+),
    /// else `mprotect`.
    #[default]
    Auto,
    /// Guard markers in the page tables: no memory mapping per stack.
    Madvise,
    /// `mprotect(PROT_NONE)`: two memory mappings per stack, so
    /// `vm.max_map_count` limits the number of threads.
    Mprotect,
}

/// What the runtime does when it finds every thread asleep with nothing
/// left that could wake one (see `rt::monitor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnDeadlock {
    /// Report "all threads are asleep — deadlock" with a thread dump, and
    /// keep waiting. Like stall reports, it goes to the `tracing`
    /// subscriber or `log` logger if one is installed, else to stderr.
    #[default]
    Report,
    /// Report, then make the main thread's blocked call panic. The call
    /// first leaves its wait cleanly — out of every queue, and holding
    /// again whatever it held before (a `Condvar::wait` takes its mutex
    /// back) — so the panic unwinds through a consistent program; a
    /// message sent after it stays in its channel. Calls that lend the
    /// main thread's stack to another thread until they end (a
    /// `myriad::blocking` call, a file operation) are not given up.
    Panic,
    /// Do nothing.
    Ignore,
}

/// What the runtime does when a worker is stalled: a myriad thread keeps
/// it for longer than the stall threshold, blocked in a system call or
/// running code without yielding (see `rt::monitor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnStall {
    /// Report each stall when it passes the threshold and again as it grows
    /// (1 s, 10 s, ...), and print a full dump once if the program is stuck
    /// (every worker held by one thread for the stuck time, others waiting
    /// behind them). Reports go to the `tracing` subscriber or `log` logger
    /// if one is installed, else to stderr.
    #[default]
    Report,
    /// Report, and when the program is stuck, or a stall with threads
    /// waiting behind it lasts the stuck time, print the dump and end the
    /// process with exit status 70. For test suites and CI: fail fast
    /// instead of hanging until a time limit.
    Abort,
    /// Work around stalls without reporting them.
    Ignore,
}

/// Configures the runtime before its first use.
///
/// ```
/// // Must run before anything else uses myriad; here the doc test is its
/// // own process, so it does.
/// myriad::rt::Builder::new().workers(2).stack_size(128 * 1024).start().unwrap();
/// let h = myriad::thread::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    workers: Option<usize>,
    stack_size: Option<usize>,
    stack_guard: Option<StackGuard>,
    blocking_threads: Option<usize>,
    stall_threshold: Option<Duration>,
    on_deadlock: Option<OnDeadlock>,
    dump_signal: Option<libc::c_int>,
    intercept: Option<bool>,
    on_stall: Option<OnStall>,
    stuck_after: Option<Duration>,
}

impl Builder {
    /// A builder with every setting at its default (or its `MYRIAD_*`
    /// environment variable).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Number of worker OS threads (`MYRIAD_WORKERS`; default: one per core).
    pub fn workers(mut self, workers: usize) -> Builder {
        self.workers = Some(workers.max(1));
        self
    }

    /// Default stack size of new threads in bytes (`MYRIAD_STACK_SIZE`).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// How stack guards are made (`MYRIAD_STACK_GUARD`).
    pub fn stack_guard(mut self, guard: StackGuard) -> Builder {
        self.stack_guard = Some(guard);
        self
    }

    /// Most OS threads the offload pool of [`crate::blocking`] may run at
    /// once (`MYRIAD_BLOCKING_THREADS`; default 512). Beyond it, blocking
    /// calls queue.
    pub fn blocking_threads(mut self, threads: usize) -> Builder {
        self.blocking_threads = Some(threads.max(1));
        self
    }

    /// How long a worker may go without coming back to its scheduler before
    /// the stall monitor reports it and moves work around it
    /// (`MYRIAD_STALL_MS`, in milliseconds; default 10 ms).
    pub fn stall_threshold(mut self, threshold: Duration) -> Builder {
        self.stall_threshold = Some(threshold);
        self
    }

    /// What to do about stalled workers (`MYRIAD_STALL`: `report`, `abort`
    /// or `ignore`; default: report).
    pub fn on_stall(mut self, action: OnStall) -> Builder {
        self.on_stall = Some(action);
        self
    }

    /// How long every worker must have been held by one thread, with other
    /// threads waiting behind, before the program is reported stuck with a
    /// full dump (`MYRIAD_STUCK_MS`, in milliseconds; default 10 s). With
    /// [`OnStall::Abort`], also how long one such stall may last.
    pub fn stuck_after(mut self, after: Duration) -> Builder {
        self.stuck_after = Some(after);
        self
    }

    /// What to do about a deadlock of every thread (`MYRIAD_DEADLOCK`:
    /// `report`, `panic` or `ignore`; default: report).
    pub fn on_deadlock(mut self, action: OnDeadlock) -> Builder {
        self.on_deadlock = Some(action);
        self
    }

    /// Prints a thread dump ([`crate::rt::dump`]) to stderr whenever the
    /// process receives `signal` (e.g. `libc::SIGUSR1`), without stopping
    /// the program (`MYRIAD_DUMP_SIGNAL=USR1`, by name: `USR1`, `USR2`,
    /// `QUIT`, `URG`, `WINCH`, with or without `SIG`; off by default).
    pub fn dump_on_signal(mut self, signal: libc::c_int) -> Builder {
        self.dump_signal = Some(signal);
        self
    }

    /// With the cargo feature `intercept`: whether blocking libc calls made
    /// on myriad threads park the thread (`MYRIAD_INTERCEPT=0` turns it
    /// off; default on). Without the feature nothing is intercepted and
    /// this does nothing.
    pub fn intercept(mut self, on: bool) -> Builder {
        self.intercept = Some(on);
        self
    }

    /// Starts the runtime with this configuration.
    ///
    /// Fails with [`io::ErrorKind::AlreadyExists`] if the runtime has
    /// already started (the first spawn starts it).
    pub fn start(self) -> io::Result<()> {
        let mut fresh = false;
        let config = Config::from_env(self);
        super::RUNTIME_CONFIG.get_or_init(|| {
            fresh = true;
            config
        });
        if !fresh {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the myriad runtime has already started; configure it before the first spawn",
            ));
        }
        Runtime::get().map(|_| ())
    }
}

/// The settled configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub workers: usize,
    pub stack_size: usize,
    pub guard: GuardMode,
    pub blocking_threads: usize,
    pub stall_threshold: Duration,
    pub on_deadlock: OnDeadlock,
    pub dump_signal: Option<libc::c_int>,
    #[cfg_attr(not(feature = "intercept"), allow(dead_code))]
    pub intercept: bool,
    pub on_stall: OnStall,
    pub stuck_after: Duration,
}

impl Config {
    /// Builder values, else environment variables, else defaults.
    pub fn from_env(builder: Builder) -> Config {
        let workers = builder
            .workers
            .or_else(|| env_usize("MYRIAD_WORKERS"))
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let stack_size = builder.stack_size.or_else(|| env_usize("MYRIAD_STACK_SIZE")).unwrap_or(DEFAULT_STACK_SIZE);
        let guard = builder.stack_guard.or_else(env_guard).unwrap_or_default();
        let guard = match guard {
            StackGuard::Auto => probe_guard_mode(),
            StackGuard::Madvise => GuardMode::Madvise,
            StackGuard::Mprotect => GuardMode::Mprotect,
        };
        let blocking_threads =
            builder.blocking_threads.or_else(|| env_usize("MYRIAD_BLOCKING_THREADS")).unwrap_or(512).max(1);
        let stall_threshold = builder
            .stall_threshold
            .or_else(|| env_usize("MYRIAD_STALL_MS").map(|ms| Duration::from_millis(ms as u64)))
            .unwrap_or(Duration::from_millis(10))
            .max(Duration::from_micros(100));
        let on_deadlock = builder.on_deadlock.or_else(env_deadlock).unwrap_or_default();
        let dump_signal = builder.dump_signal.or_else(env_signal);
        let intercept = builder
            .intercept
            .or_else(|| env_choice("MYRIAD_INTERCEPT", &[("1", true), ("0", false), ("on", true), ("off", false)]))
            .unwrap_or(true);
        let on_stall = builder.on_stall.or_else(env_stall).unwrap_or_default();
        let stuck_after = builder
            .stuck_after
            .or_else(|| env_usize("MYRIAD_STUCK_MS").map(|ms| Duration::from_millis(ms as u64)))
            .unwrap_or(Duration::from_secs(10))
            .max(stall_threshold);
        Config {
            workers,
            stack_size,
            guard,
            blocking_threads,
            stall_threshold,
            on_deadlock,
            dump_signal,
            intercept,
            on_stall,
            stuck_after,
        }
    }
}

fn env_usize(name: &str) -> Option<usize> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            report::warn(&format!("myriad: ignoring {name}={value:?}: not a number"));
            None
        }
    }
}

fn env_signal() -> Option<libc::c_int> {
    let value = std::env::var("MYRIAD_DUMP_SIGNAL").ok()?;
    let parsed = signal_by_name(&value);
    if parsed.is_none() {
        report::warn(&format!(
            "myriad: ignoring MYRIAD_DUMP_SIGNAL={value:?}: expected a signal name ({}); numbers are not \
             accepted (1 is SIGHUP, not SIGUSR1)",
            DUMP_SIGNALS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
        ));
    }
    parsed
}

/// Signals a dump may be asked with: ones whose default action a program
/// rarely relies on.
const DUMP_SIGNALS: [(&str, libc::c_int); 5] = [
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("QUIT", libc::SIGQUIT),
    ("URG", libc::SIGURG),
    ("WINCH", libc::SIGWINCH),
];

/// `USR1`, `SIGUSR1` or `usr1` → `SIGUSR1`; anything else (numbers too) →
/// `None`.
fn signal_by_name(value: &str) -> Option<libc::c_int> {
    let upper = value.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    DUMP_SIGNALS.iter().find(|(known, _)| *known == name).map(|&(_, signal)| signal)
}

fn env_stall() -> Option<OnStall> {
    env_choice("MYRIAD_STALL", &[("report", OnStall::Report), ("abort", OnStall::Abort), ("ignore", OnStall::Ignore)])
}

fn env_deadlock() -> Option<OnDeadlock> {
    env_choice(
        "MYRIAD_DEADLOCK",
        &[("report", OnDeadlock::Report), ("panic", OnDeadlock::Panic), ("ignore", OnDeadlock::Ignore)],
    )
}

fn env_guard() -> Option<StackGuard> {
    env_choice(
        "MYRIAD_STACK_GUARD",
        &[("auto", StackGuard::Auto), ("madvise", StackGuard::Madvise), ("mprotect", StackGuard::Mprotect)],
    )
}

/// The value of variable `name` among `choices`; warns about (and ignores)
/// anything else.
fn env_choice<T: Copy>(name: &str, choices: &[(&str, T)]) -> Option<T> {
    let value = std::env::var(name).ok()?;
    let found = choices.iter().find(|(word, _)| *word == value.trim()).map(|&(_, choice)| choice);
    if found.is_none() {
        let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
        report::warn(&format!("myriad: ignoring {name}={value:?}: expected {}", words.join(", ")));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_signals_are_taken_by_name_only() {
        assert_eq!(signal_by_name("USR1"), Some(libc::SIGUSR1));
        assert_eq!(signal_by_name(" sigusr2 "), Some(libc::SIGUSR2));
        assert_eq!(signal_by_name("SIGQUIT"), Some(libc::SIGQUIT));
        assert_eq!(signal_by_name("1"), None, "1 is SIGHUP: numbers are refused");
        assert_eq!(signal_by_name("10"), None);
        assert_eq!(signal_by_name("KILL"), None);
    }
}

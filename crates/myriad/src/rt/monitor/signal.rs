//! The dump on a signal (`MYRIAD_DUMP_SIGNAL=USR1`, or
//! `rt::Builder::dump_on_signal`): the handler only sets a flag, which is
//! async-signal-safe; the monitor sees it on its next round and prints the
//! dump to stderr. A dump asked for by hand goes to stderr even when a
//! logger is installed, as Go's `SIGQUIT` dump and the JVM's do.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the signal handler; taken by the monitor.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_dump_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::Relaxed);
}

/// Makes `signal` request a dump.
pub(crate) fn install(signal: libc::c_int) {
    // SAFETY: installs a handler that only stores to an atomic
    // (async-signal-safe), with a valid, zero-initialised sigaction.
    let installed = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_dump_signal as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut()) == 0
    };
    if !installed {
        super::super::report::warn(&format!(
            "myriad: cannot install the dump signal handler for signal {signal}: {}",
            std::io::Error::last_os_error()
        ));
    }
}

/// Prints a dump if one was asked for since the last look.
pub(super) fn check() {
    if SIGNALLED.swap(false, Ordering::Relaxed) {
        super::super::report::to_stderr(&super::super::dump().to_string());
    }
}

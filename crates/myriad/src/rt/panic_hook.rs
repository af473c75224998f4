//! Panic messages that name the myriad thread.
//!
//! std's default panic hook names the *OS* thread ("myriad-worker-0"), which
//! tells a user nothing. At start-up the runtime wraps the installed hook:
//! a panic on a myriad thread prints std's message with the myriad thread's
//! name; any other panic goes to the previous hook unchanged. A hook the
//! program installs later with `std::panic::set_hook` replaces this one, as
//! it would replace std's.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use super::worker;

pub fn install() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let name = worker::with_current_task(|task| task.map(|t| t.name().unwrap_or("<unnamed>").to_owned()));
        let Some(name) = name else {
            return previous(info);
        };
        let message = info.payload_as_str().unwrap_or("Box<dyn Any>");
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        let backtrace = Backtrace::capture();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "\nthread '{name}' panicked at {location}:\n{message}");
        static NOTE_SHOWN: AtomicBool = AtomicBool::new(false);
        match backtrace.status() {
            BacktraceStatus::Captured => {
                let _ = writeln!(err, "stack backtrace:\n{backtrace}");
            }
            _ if !NOTE_SHOWN.swap(true, Ordering::Relaxed) => {
                let _ = writeln!(err, "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace");
            }
            _ => {}
        }
    }));
}

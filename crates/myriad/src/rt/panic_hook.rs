//! Panic messages that name the myriad thread, without displacing the
//! program's own panic hook.
//!
//! std's default panic hook names the *OS* thread ("myriad-worker-0"), which
//! tells a user nothing. At start-up the runtime wraps the installed hook.
//! If that is std's default, a panic on a myriad thread prints std's
//! message with the myriad thread's name instead. If the program installed
//! its own hook first (sentry, human-panic, a test harness), that hook is
//! called for every panic, on myriad threads too: it decides what a panic
//! looks like. Any panic outside myriad threads goes to the previous hook
//! unchanged. A hook the program installs later with `std::panic::set_hook`
//! replaces this one, as it would replace std's.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};

use super::context;

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

pub fn install() {
    let previous = std::panic::take_hook();
    // With no hook set, `take_hook` hands out std's default hook: the same
    // type, so the same vtable, as `previous` if that is the default too.
    let default = std::panic::take_hook();
    let previous_is_default = same_hook(&previous, &default);
    drop(default);
    std::panic::set_hook(Box::new(move |info| {
        if !previous_is_default {
            return previous(info);
        }
        let name = context::with_current_task(|task| task.map(|t| t.name().unwrap_or("<unnamed>").to_owned()));
        let Some(name) = name else {
            return previous(info);
        };
        print_named(&name, info);
    }));
}

/// Whether two boxed hooks are the same function: same data pointer (both
/// dangling for a zero-sized function) and same vtable.
#[allow(ambiguous_wide_pointer_comparisons)]
fn same_hook(a: &Hook, b: &Hook) -> bool {
    std::ptr::eq(&**a, &**b)
}

/// std's default message, with the myriad thread's name.
fn print_named(name: &str, info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
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
}

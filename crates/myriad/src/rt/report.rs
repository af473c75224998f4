//! Where the runtime's own reports go: through exactly one sink, and to a
//! person by default.
//!
//! Stall, stuck-program and deadlock reports used to go only through `log`,
//! so a program without a logger (most small ones) hung in silence; others
//! went to stderr, `log` and `tracing` at once. Each report is now emitted
//! once, to the first of these that is there:
//!
//! 1. a `tracing` subscriber (with the `tracing` feature, when one is the
//!    dispatcher the reporting thread sees);
//! 2. a `log` logger (one is installed when `log::max_level()` is above
//!    `Off`: `log` leaves it at `Off` until a program sets it, which every
//!    logger's set-up does);
//! 3. stderr, written with one `write_all` of the whole report so that
//!    reports from different threads do not interleave.
//!
//! The choice is made per report, so a logger installed after the runtime
//! started is used from then on.

use std::io::Write;

/// How serious a report is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Something to fix that the runtime is working around (a stall).
    Warn,
    /// Something the runtime cannot work around (a deadlock, a stuck
    /// program, a broken poller).
    Error,
}

/// Where a report goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    #[cfg(feature = "tracing")]
    Tracing,
    Log,
    Stderr,
}

/// The sink a report of `level` would take now.
pub(crate) fn sink(level: Level) -> Sink {
    #[cfg(feature = "tracing")]
    if tracing_subscriber_present() {
        return Sink::Tracing;
    }
    let _ = level;
    if log::max_level() != log::LevelFilter::Off {
        return Sink::Log;
    }
    Sink::Stderr
}

#[cfg(feature = "tracing")]
fn tracing_subscriber_present() -> bool {
    tracing::dispatcher::has_been_set()
        && tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
}

/// Emits `text` (which may span lines) once, through the sink in use.
pub(crate) fn emit(level: Level, text: &str) {
    match sink(level) {
        #[cfg(feature = "tracing")]
        Sink::Tracing => match level {
            Level::Warn => tracing::warn!(target: "myriad", "{text}"),
            Level::Error => tracing::error!(target: "myriad", "{text}"),
        },
        Sink::Log => match level {
            Level::Warn => log::warn!(target: "myriad", "{text}"),
            Level::Error => log::error!(target: "myriad", "{text}"),
        },
        Sink::Stderr => to_stderr(text),
    }
}

/// Writes `text` to stderr in one piece, with a blank line before it so
/// that it stands out from the program's own output.
pub(crate) fn to_stderr(text: &str) {
    let mut whole = String::with_capacity(text.len() + 2);
    whole.push('\n');
    whole.push_str(text);
    if !whole.ends_with('\n') {
        whole.push('\n');
    }
    // stderr is unbuffered: this is one write (per 2 GiB) under its lock.
    let _ = std::io::stderr().write_all(whole.as_bytes());
}

/// `emit` at `Level::Warn`.
pub(crate) fn warn(text: &str) {
    emit(Level::Warn, text);
}

/// `emit` at `Level::Error`.
pub(crate) fn error(text: &str) {
    emit(Level::Error, text);
}

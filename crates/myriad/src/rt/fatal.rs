//! Fatal runtime errors: what the runtime cannot recover from prints one
//! line on stderr and aborts the process, as std's own `rtabort!` does
//! ("fatal runtime error: thread local panicked on drop").
//!
//! The cases are unwinds out of places that must not unwind: the end of a
//! myriad thread after its closure returned (its myriad-local destructors,
//! a joiner's waker) and the worker loop itself. Letting such an unwind go
//! on would end a worker OS thread, and every thread pinned to it — and
//! every thread joining one of them — would wait for ever (issue 13).

use std::fmt;
use std::io::Write;

/// Prints `fatal runtime error: {what}, aborting` and aborts.
#[cold]
pub fn abort(what: fmt::Arguments<'_>) -> ! {
    // Ignore a failed write: there is nothing left to tell it to.
    let _ = writeln!(std::io::stderr(), "fatal runtime error: {what}, aborting");
    std::process::abort()
}

/// Aborts with `what` if dropped while it is armed, which only an unwind
/// does: put one on the stack of code that must not unwind and `disarm` it
/// at the end.
pub struct AbortOnUnwind<F: Fn() -> String>(pub F);

impl<F: Fn() -> String> AbortOnUnwind<F> {
    /// The guarded code ended without unwinding.
    pub fn disarm(self) {
        std::mem::forget(self);
    }
}

impl<F: Fn() -> String> Drop for AbortOnUnwind<F> {
    fn drop(&mut self) {
        abort(format_args!("{}", (self.0)()));
    }
}

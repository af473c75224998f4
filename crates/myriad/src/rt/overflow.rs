//! Stack overflow detection for myriad threads.
//!
//! A myriad thread that runs off the end of its stack touches the guard at
//! the bottom of it (see `stack.rs`) and the kernel raises `SIGSEGV` (or
//! `SIGBUS`). The handler installed here runs on the worker's alternate
//! signal stack; if the faulting address lies in the guard of the myriad
//! thread running on this worker, it prints std's message,
//! `thread '<name>' has overflowed its stack`, and aborts. Every other fault
//! is handed to whichever handler was installed before (std's own, which
//! reports overflows of OS-thread stacks, or the default action).
//!
//! The handler reads only the worker's thread-local pointer to itself
//! (const-initialised, no destructor, so reading it allocates nothing and
//! takes no lock) and, through it, the running thread's immutable name and
//! guard range.

use super::context;
use super::task::{RunningStack, Task};
use std::ptr;
use std::sync::OnceLock;

/// What the handler needs about the running myriad thread.
/// Async-signal-safe: reads a const thread-local and immutable task fields.
fn running_stack() -> Option<RunningStack> {
    context::with_current_task(|task| task.map(Task::running_stack))
}

/// The handlers that were installed before ours: (SIGSEGV, SIGBUS).
static PREVIOUS: OnceLock<(libc::sigaction, libc::sigaction)> = OnceLock::new();

/// Installs the handler once per process.
pub fn install_handler() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: `sigaction` is given valid pointers. The handler reads
        // `PREVIOUS` only after it is set: a fault that reaches it before
        // (while this closure runs) finds it empty and takes the default.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handle_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut segv: libc::sigaction = std::mem::zeroed();
            let mut bus: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGSEGV, &action, &mut segv);
            libc::sigaction(libc::SIGBUS, &action, &mut bus);
            (segv, bus)
        }
    });
}

/// Gives the calling OS thread an alternate signal stack if it has none, so
/// that the handler can run when the thread's own stack is exhausted.
pub fn ensure_alternate_stack() {
    // SAFETY: queries and sets this thread's signal stack with valid
    // pointers; the memory given to the kernel is a fresh mapping that is
    // never unmapped (workers live as long as the process).
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(ptr::null(), &mut current);
        if current.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        let size = libc::SIGSTKSZ.max(64 * 1024);
        let mem = libc::mmap(
            ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if mem == libc::MAP_FAILED {
            return;
        }
        let stack = libc::stack_t { ss_sp: mem, ss_flags: 0, ss_size: size };
        libc::sigaltstack(&stack, ptr::null_mut());
    }
}

extern "C" fn handle_fault(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(running) = running_stack() {
        if addr >= running.guard_low && addr < running.guard_high {
            // SAFETY: the name points into the running thread's `Task`,
            // which lives at least as long as the thread runs.
            let name = unsafe { std::slice::from_raw_parts(running.name, running.name_len) };
            write_stderr(b"\nthread '");
            write_stderr(name);
            write_stderr(b"' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n");
            // SAFETY: abort is async-signal-safe.
            unsafe { libc::abort() };
        }
    }
    // Not ours: hand the fault to the previous handler (an atomic load).
    let handler_of = |p: &(libc::sigaction, libc::sigaction)| if signum == libc::SIGBUS { p.1 } else { p.0 };
    let previous = PREVIOUS.get().map(handler_of);
    let handler = previous.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    let flags = previous.map_or(0, |p| p.sa_flags);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction
        // runs again and the kernel applies it (core dump).
        // SAFETY: resetting a signal's action is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(signum, &action, ptr::null_mut());
        }
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it
        // has this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(signum, info, context);
    } else {
        // SAFETY: without SA_SIGINFO the previous handler takes only the
        // signal number.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(signum);
    }
}

fn write_stderr(bytes: &[u8]) {
    // SAFETY: write(2) is async-signal-safe and reads `bytes` only.
    unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
}

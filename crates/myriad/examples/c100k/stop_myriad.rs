// How the c100k workload stops threads on myriad: by interrupting them
// (`myriad::thread::Thread::interrupt`). Included into the module that
// includes `workload.rs`; `stop_std.rs` is the std side's, where threads
// cannot be interrupted and every function here does nothing.
mod stop {
    use myriad::thread;

    /// Interrupts `t`: its blocking calls return at once.
    pub fn interrupt(t: &thread::Thread) {
        t.interrupt();
    }

    /// Interrupts every thread of the scope `s`.
    pub fn interrupt_scope(s: &thread::Scope<'_, '_>) {
        s.interrupt();
    }

    /// Whether `err` says the calling thread was interrupted.
    pub fn is_interrupt(err: &std::io::Error) -> bool {
        thread::is_interrupt(err)
    }

    /// Joins `h`; if the calling thread is interrupted meanwhile, the
    /// whole scope `s` is interrupted first, so that `h` returns soon.
    pub fn join<'scope, T>(
        h: thread::ScopedJoinHandle<'scope, T>,
        s: &'scope thread::Scope<'scope, '_>,
    ) -> thread::Result<T> {
        match h.join_interruptible() {
            Ok(result) => result,
            Err((_, h)) => {
                s.interrupt();
                h.join()
            }
        }
    }
}

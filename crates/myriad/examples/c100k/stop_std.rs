// The std side of `stop_myriad.rs`: std's threads cannot be interrupted,
// so nothing here stops anything (Ctrl-C just ends the std child).
#[allow(dead_code)]
mod stop {
    use std::thread;

    pub fn interrupt(_: &thread::Thread) {}

    pub fn interrupt_scope(_: &thread::Scope<'_, '_>) {}

    pub fn is_interrupt(_: &std::io::Error) -> bool {
        false
    }

    pub fn join<'scope, T>(
        h: thread::ScopedJoinHandle<'scope, T>,
        _: &'scope thread::Scope<'scope, '_>,
    ) -> thread::Result<T> {
        h.join()
    }
}

//! What the loom model checks (`tests/loom_*.rs`) share: how deep they
//! search, and how a model thread waits for another. No runtime code is
//! copied here: each check compiles the runtime's own files with `#[path]`,
//! over loom's types (`src/rt/sync.rs`).
#![allow(dead_code)]

/// `loom::model` with at most 3 preemptions unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise: for checks with three threads, which explore every
/// interleaving in minutes (loom's documented way to scale; 2 finds most
/// bugs). TESTING.md's deeper run sets the variable.
pub fn bounded_model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Yields to the other model threads until `done` holds: a worker that
/// resumes a thread only after the thread's waker queued it (the waker's
/// write is seen through `done`'s own ordering).
pub fn spin_until(done: impl Fn() -> bool) {
    while !done() {
        loom::thread::yield_now();
    }
}

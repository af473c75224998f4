//! With the `tracing` feature, each myriad thread's span is current exactly
//! while that thread runs, although many threads share one OS thread.
#![cfg(feature = "tracing")]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records, for every event, the `name` field of the span current on the
/// emitting OS thread.
#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    names: Mutex<HashMap<u64, String>>,
    events: Mutex<Vec<(String, String)>>,
}

thread_local! {
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct NameOf(Option<String>, Option<String>);

impl Visit for NameOf {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "name" => self.0 = Some(value.to_string()),
            "message" => self.1 = Some(value.to_string()),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "name" => self.0 = Some(format!("{value:?}")),
            "message" => self.1 = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut v = NameOf(None, None);
        span.record(&mut v);
        self.names.lock().unwrap().insert(id, v.0.unwrap_or_default());
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut v = NameOf(None, None);
        event.record(&mut v);
        let current = STACK.with(|s| s.borrow().last().copied());
        let span = current.and_then(|id| self.names.lock().unwrap().get(&id).cloned()).unwrap_or_default();
        self.events.lock().unwrap().push((span, v.1.unwrap_or_default()));
    }
    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, span: &Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            let at = s.iter().rposition(|&id| id == span.into_u64()).expect("exit of an entered span");
            s.remove(at);
        });
    }
}

#[test]
fn events_belong_to_the_thread_that_emits_them() {
    let recorder: &'static Recorder = Box::leak(Box::default());
    tracing::subscriber::set_global_default(recorder).unwrap();
    // All on one worker: spawned from one myriad thread, interleaved by
    // yields.
    myriad::thread::spawn(|| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                myriad::thread::Builder::new()
                    .name(format!("traced-{i}"))
                    .spawn(move || {
                        for round in 0..3 {
                            tracing::info!("round {round} of traced-{i}");
                            myriad::thread::yield_now();
                        }
                    })
                    .unwrap()
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    })
    .join()
    .unwrap();
    let events = recorder.events.lock().unwrap();
    let mine: Vec<_> = events.iter().filter(|(_, msg)| msg.starts_with("round")).collect();
    assert_eq!(mine.len(), 12);
    for (span, msg) in mine {
        let thread = msg.rsplit(' ').next().unwrap();
        assert_eq!(span, thread, "event {msg:?} was attributed to span {span:?}");
    }
}

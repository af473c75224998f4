//! The storage slots of a thread's `myriad::thread_local!` values, which
//! every thread's control block carries (`task.rs`) and which
//! `thread/local.rs` fills and empties with std's semantics. It lives in
//! `rt` because the thread's header holds it; what the slots mean is the
//! `thread` layer's business.
//!
//! The same box holds the thread's deadline (`wait/interrupt.rs`): like
//! the values, most threads have none, and the header has no room to
//! spare (it fits four cache lines).

use std::any::Any;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

/// One key's value on one thread.
pub enum Slot {
    /// Not created yet (or never will be).
    Empty,
    Alive(Box<dyn Any>),
    /// Dropped, or being dropped, at the thread's end: access fails.
    Destroyed,
}

/// A thread's values, by key index, and its deadline.
#[derive(Default)]
pub struct Values {
    slots: Vec<Slot>,
    pub deadline: Option<Instant>,
}

impl Deref for Values {
    type Target = Vec<Slot>;
    fn deref(&self) -> &Vec<Slot> {
        &self.slots
    }
}

impl DerefMut for Values {
    fn deref_mut(&mut self) -> &mut Vec<Slot> {
        &mut self.slots
    }
}

/// The values of one thread's keys, boxed on first use (most threads use
/// none, and this sits in every thread's header).
pub struct Locals {
    pub values: Option<Box<Values>>,
    pub destroyed: bool,
}

impl Locals {
    pub const fn new() -> Locals {
        Locals { values: None, destroyed: false }
    }
}

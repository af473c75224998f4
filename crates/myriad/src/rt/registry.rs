//! The threads pinned to one worker, for `rt::dump` and the metrics.
//!
//! Each started thread takes a slot when it starts and gives it back when
//! it ends; the slot number lives in the task. Freed slots are reused
//! (last freed, first reused) rather than filled by moving the last entry
//! in, so ending a thread touches only its own task, never another one's
//! memory (with 100,000 threads, that would be a cache miss per thread).

use super::task::Task;

/// Slots of started threads; only the worker's own OS thread uses it.
#[derive(Default)]
pub struct Registry {
    slots: Vec<*const Task>,
    free: Vec<usize>,
    len: usize,
}

impl Registry {
    /// Registers `task`; returns its slot.
    pub fn insert(&mut self, task: *const Task) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = task;
                slot
            }
            None => {
                self.slots.push(task);
                self.slots.len() - 1
            }
        }
    }

    /// Frees `slot`.
    pub fn remove(&mut self, slot: usize) {
        debug_assert!(!self.slots[slot].is_null(), "slot {slot} freed twice");
        self.slots[slot] = std::ptr::null();
        self.len -= 1;
        if self.len == 0 {
            self.slots.clear();
            self.free.clear();
        } else {
            self.free.push(slot);
        }
    }

    /// How many threads are registered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The registered threads.
    pub fn iter(&self) -> impl Iterator<Item = *const Task> + '_ {
        self.slots.iter().copied().filter(|task| !task.is_null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(n: usize) -> *const Task {
        // Never dereferenced: the registry only stores and compares.
        std::ptr::without_provenance(n * 8)
    }

    #[test]
    fn freed_slots_are_reused_and_iteration_skips_them() {
        let mut r = Registry::default();
        let (a, b, c) = (r.insert(fake(1)), r.insert(fake(2)), r.insert(fake(3)));
        assert_eq!((a, b, c), (0, 1, 2));
        r.remove(b);
        assert_eq!(r.len(), 2);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![fake(1), fake(3)]);
        assert_eq!(r.insert(fake(4)), b, "the freed slot is reused");
        r.remove(a);
        r.remove(b);
        r.remove(c);
        assert_eq!(r.len(), 0);
        assert_eq!(r.insert(fake(5)), 0, "an empty registry starts over");
    }
}

//! Timers whose tick has come: a small min-heap ordered by exact deadline,
//! then insertion order.
//!
//! The wheel only knows ticks; within a tick, deadlines still differ. Moving a
//! due bucket here and comparing exact nanoseconds is what makes the wheel
//! never fire early and fire in exact deadline order. It only ever holds the
//! timers of the ticks just reached, so it stays small.
//!
//! Cancelling a timer that is already here leaves its entry behind; the
//! wheel recognises it as stale (slot vacant, or another generation, `seq`
//! or deadline) and drops it when it surfaces.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One due timer: `(deadline_ns, seq, slot index, generation)`, smallest
/// first.
pub(crate) type ReadyEntry = Reverse<(u64, u64, u32, u32)>;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    heap: BinaryHeap<ReadyEntry>,
}

impl Ready {
    pub(crate) fn push(&mut self, deadline_ns: u64, seq: u64, index: u32, generation: u32) {
        self.heap
            .push(Reverse((deadline_ns, seq, index, generation)));
    }

    /// The earliest entry, live or stale.
    pub(crate) fn peek(&self) -> Option<(u64, u64, u32, u32)> {
        self.heap.peek().map(|entry| entry.0)
    }

    pub(crate) fn pop(&mut self) {
        self.heap.pop();
    }

    /// Drops every entry (all stale), keeping the buffer.
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }

    pub(crate) fn allocated_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<ReadyEntry>()
    }
}

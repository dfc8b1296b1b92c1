//! [`TimerHeap`]: a binary heap with lazy cancellation, as tornado and asyncio
//! do it. The exact-order reference, and a fine choice when timers are few.
//!
//! ```text
//!   slab (owns values)            heap (min by deadline, seq)
//!   +-----+-------------+         [ (t=3, seq 7, slot 2, stamp 0) ]   <- top
//!   | 0   | seq 5, st 1 |        /                                 \
//!   | 1   | vacant      |  [ (t=5, seq 4, slot 1, st 0) ]   [ (t=9, seq 5, slot 0, st 0) ]
//!   | 2   | seq 7, st 0 |          ^ stale: slot 1 is vacant        ^ stale: stamp moved on
//!   +-----+-------------+
//! ```
//!
//! Cancel frees the slot and leaves the heap entry behind as garbage;
//! reschedule bumps the slot's stamp and pushes a fresh entry. An entry is live
//! only while its slot holds the same `seq` and `stamp`. Garbage is dropped
//! when it reaches the top, and the whole heap is compacted with tornado's rule
//! (more than 512 garbage entries and more than half the heap) so memory stays
//! bounded. That compaction is O(n) inside one call: the latency spike the
//! timing wheel exists to avoid.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::num::NonZeroU64;
use std::time::Instant;

use crate::slab::Slab;
use crate::timers::{Expired, SeqCounter, TimerKey, Timers};

/// Garbage count above which compaction is considered (tornado's constant).
const COMPACT_MIN_GARBAGE: usize = 512;

/// Binary heap of timers with lazy cancellation; see the module docs.
///
/// ```
/// use std::time::{Duration, Instant};
/// use rouse_timer::{TimerHeap, Timers};
///
/// let now = Instant::now();
/// let mut heap = TimerHeap::new();
/// let late = heap.insert_after(now, Duration::from_secs(2), "late");
/// heap.insert_after(now, Duration::from_secs(1), "early");
/// assert_eq!(heap.cancel(late), Some("late"));
/// assert_eq!(heap.cancel(late), None); // stale key: harmless
/// let fired: Vec<_> = heap.drain_expired(now + Duration::from_secs(5)).map(|e| e.value).collect();
/// assert_eq!(fired, ["early"]);
/// ```
#[derive(Debug)]
pub struct TimerHeap<T> {
    slots: Slab<HeapSlot<T>>,
    heap: BinaryHeap<HeapEntry>,
    /// Heap entries whose timer was cancelled or rescheduled away.
    garbage: usize,
    seq: SeqCounter,
}

#[derive(Debug)]
struct HeapSlot<T> {
    value: T,
    seq: NonZeroU64,
    /// Bumped by every reschedule so the entry it leaves behind goes stale.
    stamp: u32,
}

#[derive(Debug, PartialEq, Eq)]
struct HeapEntry {
    deadline: Instant,
    seq: u64,
    index: u32,
    stamp: u32,
}

impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap, we want the earliest on top.
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Default for TimerHeap<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerHeap<T> {
    /// An empty heap.
    pub fn new() -> Self {
        Self {
            slots: Slab::new(),
            heap: BinaryHeap::new(),
            garbage: 0,
            seq: SeqCounter::new(),
        }
    }

    /// Heap entries left behind by cancel/reschedule and not yet dropped.
    pub fn garbage(&self) -> usize {
        self.garbage
    }

    /// Bytes of heap memory held, garbage included.
    pub fn allocated_bytes(&self) -> usize {
        self.slots.allocated_bytes() + self.heap.capacity() * std::mem::size_of::<HeapEntry>()
    }

    /// Bytes one pending timer costs with no garbage: its slot plus its heap
    /// entry.
    pub fn bytes_per_timer() -> usize {
        Slab::<HeapSlot<T>>::slot_size() + std::mem::size_of::<HeapEntry>()
    }

    fn is_live(slots: &Slab<HeapSlot<T>>, entry: &HeapEntry) -> bool {
        slots
            .get(entry.index)
            .is_some_and(|slot| slot.seq.get() == entry.seq && slot.stamp == entry.stamp)
    }

    fn add_garbage(&mut self) {
        self.garbage += 1;
        if self.garbage > COMPACT_MIN_GARBAGE && self.garbage > self.heap.len() / 2 {
            let before = self.heap.len();
            let slots = &self.slots;
            self.heap.retain(|entry| Self::is_live(slots, entry));
            self.garbage = 0;
            tracing::debug!(before, after = self.heap.len(), "timer heap compacted");
        }
    }

    fn live_key(&self, key: TimerKey) -> bool {
        self.slots
            .get(key.index)
            .is_some_and(|slot| slot.seq.get() as u32 == key.generation)
    }

    /// Drops garbage sitting on top, so `peek` shows a live entry.
    fn skip_garbage(&mut self) {
        while let Some(top) = self.heap.peek() {
            if Self::is_live(&self.slots, top) {
                return;
            }
            self.heap.pop();
            self.garbage = self.garbage.saturating_sub(1);
        }
    }
}

impl<T> Timers<T> for TimerHeap<T> {
    fn insert_at(&mut self, deadline: Instant, value: T) -> TimerKey {
        let seq = self.seq.next();
        // The key's generation is the low half of the never-reused sequence
        // number, so it differs from every earlier key for this slot.
        let index = self.slots.insert(HeapSlot {
            value,
            seq,
            stamp: 0,
        });
        self.heap.push(HeapEntry {
            deadline,
            seq: seq.get(),
            index,
            stamp: 0,
        });
        TimerKey {
            index,
            generation: seq.get() as u32,
        }
    }

    fn cancel(&mut self, key: TimerKey) -> Option<T> {
        if !self.live_key(key) {
            return None;
        }
        let slot = self.slots.remove(key.index)?;
        self.add_garbage();
        Some(slot.value)
    }

    fn reschedule(&mut self, key: TimerKey, deadline: Instant) -> bool {
        if !self.live_key(key) {
            return false;
        }
        let Some(slot) = self.slots.get_mut(key.index) else {
            return false;
        };
        slot.stamp = slot.stamp.wrapping_add(1);
        let (stamp, slot_seq) = (slot.stamp, slot.seq.get());
        self.heap.push(HeapEntry {
            deadline,
            seq: slot_seq,
            index: key.index,
            stamp,
        });
        self.add_garbage();
        true
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.skip_garbage();
        self.heap.peek().map(|top| top.deadline)
    }

    fn pop_expired(&mut self, now: Instant) -> Option<Expired<T>> {
        self.skip_garbage();
        if self.heap.peek()?.deadline > now {
            return None;
        }
        let top = self.heap.pop()?;
        let slot = self.slots.remove(top.index)?;
        Some(Expired {
            key: TimerKey {
                index: top.index,
                generation: slot.seq.get() as u32,
            },
            deadline: top.deadline,
            value: slot.value,
        })
    }

    fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_deadline_then_insertion_order() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::new();
        heap.insert_at(t0 + ms(5), 'c');
        heap.insert_at(t0 + ms(1), 'a');
        heap.insert_at(t0 + ms(5), 'd');
        heap.insert_at(t0 + ms(1), 'b');
        assert_eq!(heap.next_deadline(), Some(t0 + ms(1)));
        assert!(heap.pop_expired(t0).is_none(), "never early");
        let got: String = heap.drain_expired(t0 + ms(5)).map(|e| e.value).collect();
        assert_eq!(got, "abcd");
        assert!(heap.is_empty());
        assert_eq!(heap.next_deadline(), None);
    }

    #[test]
    fn stale_keys_are_inert() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::new();
        let a = heap.insert_at(t0, 1);
        assert_eq!(heap.pop_expired(t0).map(|e| e.key), Some(a));
        let b = heap.insert_at(t0 + ms(1), 2); // reuses a's slot
        assert_eq!(a.index, b.index);
        assert_eq!(heap.cancel(a), None);
        assert!(!heap.reschedule(a, t0));
        assert_eq!(heap.cancel(b), Some(2));
        assert_eq!(heap.cancel(b), None);
    }

    #[test]
    fn reschedule_moves_and_keeps_tie_order() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::new();
        let first = heap.insert_at(t0 + ms(10), "first");
        heap.insert_at(t0 + ms(3), "second");
        assert!(heap.reschedule(first, t0 + ms(20)));
        assert!(heap.reschedule(first, t0 + ms(3)));
        assert_eq!(heap.len(), 2);
        let got: Vec<_> = heap.drain_expired(t0 + ms(30)).map(|e| e.value).collect();
        assert_eq!(
            got,
            ["first", "second"],
            "same deadline: inserted first fires first"
        );
    }

    #[test]
    fn compaction_bounds_garbage() {
        let t0 = Instant::now();
        let mut heap = TimerHeap::new();
        let keep = heap.insert_at(t0 + ms(1), 0);
        for i in 0..10_000 {
            let k = heap.insert_at(t0 + ms(100 + i), i);
            heap.cancel(k);
        }
        assert!(
            heap.heap.len() <= 2 * COMPACT_MIN_GARBAGE + 2,
            "{}",
            heap.heap.len()
        );
        assert_eq!(heap.pop_expired(t0 + ms(1)).map(|e| e.key), Some(keep));
        assert!(heap.pop_expired(t0 + ms(1_000_000)).is_none());
    }
}

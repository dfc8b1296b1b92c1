//! The wheel's timer storage: dense, paged, one record per timer.
//!
//! ```text
//!  page (4096 slots): [deadline|seq|gen|pos|bucket|value] [..] [..] ...   40 B each for T = u32
//!  free: [17, 4100, 3]   stack of vacant slots, newest last (reused first)
//! ```
//!
//! Everything a timer needs lives in one record, so each operation on a
//! timer touches one record: in a loop with a million timers in flight, a
//! record is a cache miss, and misses are what a timer structure costs.
//! (Splitting the record by temperature was measured to be slower: the slot
//! a cancel frees is the one the next insert reuses, so "cold" fields are
//! written right after the "hot" ones are read, a second miss.)
//!
//! - `generation` changes whenever a slot is freed: it is what makes keys
//!   generational, and what tells the ready heap's entries for an earlier
//!   timer in the same slot from the live one.
//! - `bucket` and `pos` say where the timer's bucket entry is, so cancel
//!   removes it at once.
//!
//! Pages never move (no multi-megabyte `Vec` doubling copy inside a loop
//! iteration) and waste at most one page.

use super::levels::{BucketId, NO_BUCKET};
use crate::timers::TimerKey;

const PAGE_BITS: u32 = 12;

/// Where a timer's bucket entry is: its bucket and position there.
pub(crate) type Place = (BucketId, u32);

/// A freed timer's bucket entry, if it had one, and its deadline (the
/// bucket's recorded earliest may have been it).
pub(crate) type Left = Option<(Place, u64)>;
const PAGE: usize = 1 << PAGE_BITS;

/// What the passing of time needs of a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cold {
    /// Nanoseconds since the wheel's start.
    pub(crate) deadline_ns: u64,
    /// Insertion order, the tie-break between equal deadlines.
    pub(crate) seq: u64,
}

/// One timer. `repr(C)` keeps what cancel reads (generation, place, value)
/// in the record's first bytes, so it sits in one cache line more often.
#[repr(C)]
struct Slot<T> {
    generation: u32,
    /// Position in `bucket`, when the timer is in one.
    pos: u32,
    /// Its bucket, or [`NO_BUCKET`] (in the ready heap, or free).
    bucket: BucketId,
    value: Option<T>,
    cold: Cold,
}

/// Paged storage of the wheel's timers; see the module docs.
pub(crate) struct Slots<T> {
    pages: Vec<Vec<Slot<T>>>,
    free: Vec<u32>,
    len: usize,
}

#[inline]
fn split(index: u32) -> (usize, usize) {
    (index as usize >> PAGE_BITS, index as usize & (PAGE - 1))
}

impl<T> Slots<T> {
    pub(crate) fn new() -> Self {
        Self {
            pages: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let (p, o) = split(index);
        self.pages.get(p)?.get(o)
    }

    #[inline]
    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T>> {
        let (p, o) = split(index);
        self.pages.get_mut(p)?.get_mut(o)
    }

    /// Stores a timer (in no bucket yet); returns its index and the key
    /// generation.
    ///
    /// # Panics
    /// With more than `u32::MAX` live timers (hundreds of gigabytes: memory
    /// runs out first).
    #[inline]
    pub(crate) fn insert(&mut self, value: T, cold: Cold) -> (u32, u32) {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            if let Some(slot) = self.slot_mut(index) {
                slot.value = Some(value);
                slot.bucket = NO_BUCKET;
                slot.cold = cold;
                return (index, slot.generation);
            }
        }
        self.push_new(value, cold)
    }

    #[cold]
    fn push_new(&mut self, value: T, cold: Cold) -> (u32, u32) {
        if self.pages.last().map_or(true, |page| page.len() == PAGE) {
            self.pages.push(Vec::with_capacity(PAGE));
        }
        let p = self.pages.len() - 1;
        let page = &mut self.pages[p];
        let index = u32::try_from(p * PAGE + page.len()).expect("more than 4G pending timers");
        page.push(Slot {
            cold,
            generation: 0,
            pos: 0,
            bucket: NO_BUCKET,
            value: Some(value),
        });
        (index, 0)
    }

    /// `true` if `key` names the timer now in its slot.
    #[inline]
    pub(crate) fn is_live(&self, key: TimerKey) -> bool {
        self.slot(key.index)
            .is_some_and(|slot| slot.generation == key.generation && slot.value.is_some())
    }

    /// Frees the slot `key` names, if its timer is pending: returns the
    /// value and where its bucket entry is (for the caller to remove), in
    /// one visit to the record.
    #[inline]
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<(T, Left)> {
        self.vacate(key.index, Some(key.generation))
            .map(|(value, _, place)| (value, place))
    }

    /// Frees an occupied slot: returns its value and the generation its key
    /// had. Every key and ready-heap entry for it goes stale.
    #[inline]
    pub(crate) fn remove(&mut self, index: u32) -> Option<(T, u32)> {
        self.vacate(index, None)
            .map(|(value, generation, _)| (value, generation))
    }

    /// Frees slot `index` if it holds a timer (of `generation`, when one is
    /// given): its value, the generation its key had, and where its bucket
    /// entry is.
    #[inline]
    fn vacate(&mut self, index: u32, generation: Option<u32>) -> Option<(T, u32, Left)> {
        let slot = self.slot_mut(index)?;
        if generation.is_some_and(|g| g != slot.generation) {
            return None;
        }
        let value = slot.value.take()?;
        let place =
            (slot.bucket != NO_BUCKET).then_some(((slot.bucket, slot.pos), slot.cold.deadline_ns));
        slot.bucket = NO_BUCKET;
        let generation = slot.generation;
        slot.generation = generation.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        Some((value, generation, place))
    }

    /// Records where the timer's bucket entry is (`NO_BUCKET`: in none).
    #[inline]
    pub(crate) fn set_place(&mut self, index: u32, bucket: BucketId, pos: u32) {
        if let Some(slot) = self.slot_mut(index) {
            slot.bucket = bucket;
            slot.pos = pos;
        }
    }

    /// Where the timer's bucket entry is, forgetting it (the caller removes
    /// the entry); `None` if it is in no bucket.
    #[inline]
    pub(crate) fn take_place(&mut self, index: u32) -> Option<Place> {
        let slot = self.slot_mut(index)?;
        let bucket = std::mem::replace(&mut slot.bucket, NO_BUCKET);
        (bucket != NO_BUCKET).then_some((bucket, slot.pos))
    }

    /// The generation and placement data of an occupied slot.
    #[inline]
    pub(crate) fn live(&self, index: u32) -> Option<(u32, Cold)> {
        let slot = self.slot(index)?;
        slot.value.as_ref()?;
        Some((slot.generation, slot.cold))
    }

    /// Moves an occupied slot's timer to `deadline_ns` (its ready-heap entry,
    /// if any, goes stale: its deadline no longer matches); returns its
    /// placement data.
    pub(crate) fn reschedule(&mut self, index: u32, deadline_ns: u64) -> Option<(u32, Cold)> {
        let slot = self.slot_mut(index)?;
        slot.value.as_ref()?;
        slot.cold.deadline_ns = deadline_ns;
        Some((slot.generation, slot.cold))
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Vec<Slot<T>>>()
            + self.pages.len() * PAGE * Self::slot_size()
            + self.free.capacity() * std::mem::size_of::<u32>()
    }

    /// Bytes per slot.
    pub(crate) fn slot_size() -> usize {
        std::mem::size_of::<Slot<T>>()
    }
}

impl<T> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots")
            .field("len", &self.len)
            .field("pages", &self.pages.len())
            .field("free", &self.free.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cold(deadline_ns: u64) -> Cold {
        Cold {
            deadline_ns,
            seq: deadline_ns,
        }
    }

    #[test]
    fn generations_move_on_free() {
        let mut slots = Slots::new();
        let (a, gen_a) = slots.insert('a', cold(1));
        let key_a = TimerKey {
            index: a,
            generation: gen_a,
        };
        assert!(slots.is_live(key_a));
        assert_eq!(slots.live(a), Some((gen_a, cold(1))));
        assert_eq!(slots.remove(a), Some(('a', gen_a)));
        assert_eq!(slots.remove(a), None);
        assert_eq!(slots.cancel(key_a), None, "freed: the key is stale");
        assert!(!slots.is_live(key_a));
        assert_eq!(slots.live(a), None);
        let (b, gen_b) = slots.insert('b', cold(2));
        assert_eq!(b, a, "vacant slot reused first");
        assert_ne!(gen_b, gen_a);
        assert!(!slots.is_live(key_a));
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn reschedule_moves_the_deadline_of_live_slots_only() {
        let mut slots = Slots::new();
        let (a, generation) = slots.insert((), cold(1));
        let (g, c) = slots.reschedule(a, 99).unwrap();
        assert_eq!((g, c.deadline_ns, c.seq), (generation, 99, 1));
        assert_eq!(slots.live(a).unwrap().1.deadline_ns, 99);
        slots.remove(a);
        assert_eq!(slots.reschedule(a, 5), None);
    }

    #[test]
    fn places_are_taken_once() {
        let mut slots = Slots::new();
        let (a, _) = slots.insert((), cold(1));
        assert_eq!(slots.take_place(a), None);
        slots.set_place(a, 7, 3);
        assert_eq!(slots.take_place(a), Some((7, 3)));
        assert_eq!(slots.take_place(a), None);
        slots.set_place(a, 9, 4);
        let key = TimerKey {
            index: a,
            generation: 0,
        };
        assert_eq!(slots.cancel(key), Some(((), Some(((9, 4), 1)))));
        assert_eq!(slots.cancel(key), None);
        assert_eq!(slots.len(), 0);
    }

    #[test]
    fn spans_pages_and_rejects_unknown_indices() {
        let mut slots = Slots::new();
        for i in 0..PAGE as u64 + 3 {
            slots.insert(i, cold(i));
        }
        assert_eq!(
            slots.live(PAGE as u32 + 2).unwrap().1.deadline_ns,
            PAGE as u64 + 2
        );
        assert!(slots.live(u32::MAX).is_none());
        assert_eq!(slots.remove(u32::MAX), None);
        assert!(!slots.is_live(TimerKey {
            index: u32::MAX,
            generation: 0
        }));
    }
}

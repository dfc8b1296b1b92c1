//! The wheel's timer storage: dense, paged, split by temperature.
//!
//! ```text
//!  page (4096 slots)      hot: [gen|pos|bucket|value]...     read by cancel
//!                       stamp: [s][s][s][s]...             1 byte, checks ready-heap entries
//!                        cold: [deadline|seq]...           read when time passes
//!  free: [17, 4100, 3]   stack of vacant slots, newest last (reused first)
//! ```
//!
//! Cancel is the hot path of a timeout-heavy loop, so what it needs sits in
//! the `hot` array: the key's generation, the value, and where the timer's
//! entry is (bucket and position), which cancel removes at once.
//!
//! - `generation` changes whenever a slot is freed: it is what makes keys
//!   generational.
//! - `stamp` changes whenever the timer's placement does (freed, cancelled,
//!   rescheduled): a ready-heap entry whose stamp differs is stale. It wraps
//!   after 256 changes; an aliasing entry is still caught by its `seq` and
//!   deadline.
//!
//! Pages never move (no multi-megabyte `Vec` doubling copy inside a loop
//! iteration) and waste at most one page.

use super::levels::{BucketId, NO_BUCKET};
use crate::timers::TimerKey;

const PAGE_BITS: u32 = 12;
const PAGE: usize = 1 << PAGE_BITS;

struct Hot<T> {
    generation: u32,
    /// Position in `bucket`, when the timer is in one.
    pos: u32,
    /// Its bucket, or [`NO_BUCKET`] (in the ready heap, or free).
    bucket: BucketId,
    value: Option<T>,
}

/// What only the passing of time needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cold {
    /// Nanoseconds since the wheel's start.
    pub(crate) deadline_ns: u64,
    /// Insertion order, the tie-break between equal deadlines.
    pub(crate) seq: u64,
}

struct Page<T> {
    hot: Vec<Hot<T>>,
    stamp: Vec<u8>,
    cold: Vec<Cold>,
}

/// Paged storage of the wheel's timers; see the module docs.
pub(crate) struct Slots<T> {
    pages: Vec<Page<T>>,
    free: Vec<u32>,
    len: usize,
}

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

    /// Stores a timer; returns its index, the key generation and the stamp.
    ///
    /// # Panics
    /// With more than `u32::MAX` live timers (hundreds of gigabytes: memory
    /// runs out first).
    pub(crate) fn insert(&mut self, value: T, cold: Cold) -> (u32, u32, u8) {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let (p, o) = split(index);
            let page = &mut self.pages[p];
            page.hot[o].value = Some(value);
            page.hot[o].bucket = NO_BUCKET;
            page.cold[o] = cold;
            return (index, page.hot[o].generation, page.stamp[o]);
        }
        if self
            .pages
            .last()
            .map_or(true, |page| page.hot.len() == PAGE)
        {
            self.pages.push(Page {
                hot: Vec::with_capacity(PAGE),
                stamp: Vec::with_capacity(PAGE),
                cold: Vec::with_capacity(PAGE),
            });
        }
        let p = self.pages.len() - 1;
        let page = &mut self.pages[p];
        let index = u32::try_from(p * PAGE + page.hot.len()).expect("more than 4G pending timers");
        page.hot.push(Hot {
            generation: 0,
            pos: 0,
            bucket: NO_BUCKET,
            value: Some(value),
        });
        page.stamp.push(0);
        page.cold.push(cold);
        (index, 0, 0)
    }

    /// `true` if `key` names the timer now in its slot.
    pub(crate) fn is_live(&self, key: TimerKey) -> bool {
        let (p, o) = split(key.index);
        self.pages
            .get(p)
            .and_then(|page| page.hot.get(o))
            .is_some_and(|hot| hot.generation == key.generation && hot.value.is_some())
    }

    /// Frees an occupied slot: returns its value and the generation its key
    /// had. Every key and hint for it goes stale.
    pub(crate) fn remove(&mut self, index: u32) -> Option<(T, u32)> {
        let (p, o) = split(index);
        let page = self.pages.get_mut(p)?;
        let hot = page.hot.get_mut(o)?;
        let value = hot.value.take()?;
        hot.bucket = NO_BUCKET;
        let generation = hot.generation;
        hot.generation = generation.wrapping_add(1);
        page.stamp[o] = page.stamp[o].wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        Some((value, generation))
    }

    /// Records where the timer's bucket entry is (`NO_BUCKET`: in none).
    pub(crate) fn set_place(&mut self, index: u32, bucket: BucketId, pos: u32) {
        let (p, o) = split(index);
        if let Some(hot) = self.pages.get_mut(p).and_then(|page| page.hot.get_mut(o)) {
            hot.bucket = bucket;
            hot.pos = pos;
        }
    }

    /// Where the timer's bucket entry is, forgetting it (the caller removes
    /// the entry); `None` if it is in no bucket.
    pub(crate) fn take_place(&mut self, index: u32) -> Option<(BucketId, u32)> {
        let (p, o) = split(index);
        let hot = self.pages.get_mut(p)?.hot.get_mut(o)?;
        let bucket = std::mem::replace(&mut hot.bucket, NO_BUCKET);
        (bucket != NO_BUCKET).then_some((bucket, hot.pos))
    }

    /// The current stamp, if the slot is occupied.
    pub(crate) fn live_stamp(&self, index: u32) -> Option<u8> {
        let (p, o) = split(index);
        let page = self.pages.get(p)?;
        page.hot.get(o)?.value.as_ref()?;
        Some(page.stamp[o])
    }

    /// Moves the timer to `deadline_ns` and a new stamp (so its old hint goes
    /// stale); returns its new placement data.
    pub(crate) fn reschedule(&mut self, index: u32, deadline_ns: u64) -> Option<(u8, Cold)> {
        let (p, o) = split(index);
        let page = self.pages.get_mut(p)?;
        let cold = page.cold.get_mut(o)?;
        cold.deadline_ns = deadline_ns;
        page.stamp[o] = page.stamp[o].wrapping_add(1);
        Some((page.stamp[o], *cold))
    }

    pub(crate) fn cold(&self, index: u32) -> Option<Cold> {
        let (p, o) = split(index);
        self.pages.get(p)?.cold.get(o).copied()
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Page<T>>()
            + self.pages.len() * PAGE * Self::slot_size()
            + self.free.capacity() * std::mem::size_of::<u32>()
    }

    /// Bytes per slot across the three arrays.
    pub(crate) fn slot_size() -> usize {
        std::mem::size_of::<Hot<T>>() + std::mem::size_of::<u8>() + std::mem::size_of::<Cold>()
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
    fn generations_and_stamps_move_on_free() {
        let mut slots = Slots::new();
        let (a, gen_a, stamp_a) = slots.insert('a', cold(1));
        let key_a = TimerKey {
            index: a,
            generation: gen_a,
        };
        assert!(slots.is_live(key_a));
        assert_eq!(slots.live_stamp(a), Some(stamp_a));
        assert_eq!(slots.remove(a), Some(('a', gen_a)));
        assert_eq!(slots.remove(a), None);
        assert!(!slots.is_live(key_a));
        assert_eq!(slots.live_stamp(a), None);
        let (b, gen_b, stamp_b) = slots.insert('b', cold(2));
        assert_eq!(b, a, "vacant slot reused first");
        assert_ne!(gen_b, gen_a);
        assert_ne!(stamp_b, stamp_a);
        assert!(!slots.is_live(key_a));
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn reschedule_changes_stamp_and_deadline() {
        let mut slots = Slots::new();
        let (a, _, stamp) = slots.insert((), cold(1));
        let (new_stamp, c) = slots.reschedule(a, 99).unwrap();
        assert_ne!(new_stamp, stamp);
        assert_eq!(c.deadline_ns, 99);
        assert_eq!(slots.cold(a).unwrap().deadline_ns, 99);
    }

    #[test]
    fn spans_pages_and_rejects_unknown_indices() {
        let mut slots = Slots::new();
        for i in 0..PAGE as u64 + 3 {
            slots.insert(i, cold(i));
        }
        assert_eq!(
            slots.cold(PAGE as u32 + 2).unwrap().deadline_ns,
            PAGE as u64 + 2
        );
        assert!(slots.cold(u32::MAX).is_none());
        assert_eq!(slots.remove(u32::MAX), None);
        assert!(!slots.is_live(TimerKey {
            index: u32::MAX,
            generation: 0
        }));
    }
}

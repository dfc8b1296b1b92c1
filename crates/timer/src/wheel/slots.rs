//! The wheel's timer storage: dense, paged, one record per timer.
//!
//! ```text
//!  page (2048 slots in 64-slot chunks aligned to cache lines):
//!        [gen|bucket|tag|value|deadline|seq] [..] [..] ...   32 B each for T = u32
//!  tags: [3, 0, 7, ..]   one byte per slot, dense (a copy of each slot's tag)
//!  vacancies: one bit per slot; inserts take vacant slots in address order
//! ```
//!
//! Everything a timer needs lives in one record, so cancel touches one
//! record and nothing else: in a loop with a million timers in flight a
//! record is a cache miss, and misses are what a timer structure costs.
//! Inserts take vacant slots in address order (`vacancies.rs`), so the
//! timers of consecutive requests sit side by side and the cancels of
//! their responses, arriving in about the same order, walk the slots
//! forward where the prefetcher can follow.
//!
//! - `generation` changes whenever a slot is freed: it is what makes keys
//!   generational, and what tells a bucket or ready-heap entry left by an
//!   earlier timer in the same slot from the live one.
//! - `tag` changes whenever the slot's bucket entries go stale (the timer
//!   is cancelled, fires, or is rescheduled). A bucket entry carries the tag
//!   it was pushed with, and the tags are also kept in a dense byte array, 1
//!   MB per million slots, small enough to stay in the outer caches: a
//!   bucket is compacted by reading tags, not slots, so a stale entry never
//!   costs a miss on its slot. A tag is one byte and wraps, so a match is
//!   confirmed on the slot before a timer moves.
//! - `bucket` names the one bucket whose entry for this timer is live, or
//!   [`NO_BUCKET`] when the timer waits in the ready heap: an entry whose
//!   tag matched by wrapping still cannot stand for a timer in another
//!   bucket.
//!
//! Pages never move (no multi-megabyte `Vec` doubling copy inside a loop
//! iteration) and waste at most one page.

use super::levels::{BucketId, Entry, NO_BUCKET};
use super::vacancies::Vacancies;
use crate::timers::TimerKey;
use std::num::Wrapping;

/// 2048 slots a page (64 KB for `T = u32`): a new page is written whole
/// (vacant slots) inside one insert, so it is kept to 16 OS pages of
/// first-touch faults; smaller pages made the page table (one pointer a
/// page, read by every slot access) miss the L1 cache (512 slots a page:
/// 0.5 more L1 misses per request at N=1e5, simulated).
const PAGE_BITS: u32 = 11;
const PAGE: usize = 1 << PAGE_BITS;
const CHUNK_BITS: u32 = 6;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNKS: usize = PAGE / CHUNK;

/// 64 slots, aligned to a cache line: a 32-byte slot (`T = u32`) then
/// never straddles two lines, so a cancel or an insert touches one line
/// (a page allocated as plain slots starts 16 bytes into a line, and every
/// other slot straddled: its insert's write of the deadline missed). No padding: 64 slots of any size
/// are a multiple of 64 bytes.
#[repr(C, align(64))]
struct Chunk<T>([Slot<T>; CHUNK]);

/// A timer cancelled (or fired) fewer than this many inserts after its
/// own insert is young: its slot, still in cache with its neighbours', is
/// the next insert's, as a stack of free slots would have it. A timer that
/// is set and cleared at once (a deadline for a call that returns) then
/// reuses one slot; slots in address order would walk a fresh cache line
/// per insert (30% slower for such pairs, measured). Older timers' slots
/// go back to the address order of `vacancies.rs`.
const YOUNG: u64 = 256;

/// A page of slots, vacant ones included.
type Page<T> = Box<[Chunk<T>; CHUNKS]>;

/// The bucket a freed or moved timer's live entry was in, if any (its
/// garbage count goes up).
pub(crate) type Left = Option<BucketId>;

/// What the passing of time needs of a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cold {
    /// Nanoseconds since the wheel's start.
    pub(crate) deadline_ns: u64,
    /// Insertion order, the tie-break between equal deadlines.
    pub(crate) seq: u64,
}

/// One timer. `repr(C)` keeps what cancel reads and writes (generation,
/// bucket, tag, value) in the record's first bytes.
#[repr(C)]
struct Slot<T> {
    generation: u32,
    /// The bucket holding its live entry, or [`NO_BUCKET`].
    bucket: BucketId,
    /// Its entries' tag (copied in `Slots::tags`).
    tag: Wrapping<u8>,
    value: Option<T>,
    cold: Cold,
}

impl<T> Slot<T> {
    fn vacant() -> Self {
        Self {
            generation: 0,
            bucket: NO_BUCKET,
            tag: Wrapping(0),
            value: None,
            cold: Cold {
                deadline_ns: 0,
                seq: 0,
            },
        }
    }
}

/// Paged storage of the wheel's timers; see the module docs.
pub(crate) struct Slots<T> {
    /// Full pages of slots, vacant ones included: a fixed-size page needs
    /// no bounds check on the offset within it.
    pages: Vec<Page<T>>,
    /// Every slot's tag, densely.
    tags: Vec<u8>,
    vacancies: Vacancies,
    /// The slot a young timer (see [`YOUNG`]) freed last, which the next
    /// insert takes if it is still vacant.
    hot: Option<u32>,
    /// The sequence number of the last timer inserted.
    last_seq: u64,
    len: usize,
}

#[inline]
fn split(index: u32) -> (usize, usize, usize) {
    let i = index as usize;
    (
        i >> PAGE_BITS,
        (i >> CHUNK_BITS) & (CHUNKS - 1),
        i & (CHUNK - 1),
    )
}

impl<T> Slots<T> {
    pub(crate) fn new() -> Self {
        Self {
            pages: Vec::new(),
            tags: Vec::new(),
            vacancies: Vacancies::new(PAGE),
            hot: None,
            last_seq: 0,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let (p, c, o) = split(index);
        self.pages.get(p).map(|page| &page[c].0[o])
    }

    #[inline]
    fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T>> {
        let (p, c, o) = split(index);
        self.pages.get_mut(p).map(|page| &mut page[c].0[o])
    }

    /// Stores a timer whose live entry goes to `bucket` (`NO_BUCKET`: the
    /// ready heap), in one write of its slot; returns its index, the key
    /// generation and the entry for the bucket.
    ///
    /// # Panics
    /// With more than `u32::MAX` live timers (hundreds of gigabytes: memory
    /// runs out first).
    #[inline]
    pub(crate) fn insert(&mut self, value: T, cold: Cold, bucket: BucketId) -> (u32, u32, Entry) {
        let hot = self
            .hot
            .take()
            .filter(|&index| self.vacancies.take_at(index));
        let index = match hot.or_else(|| self.vacancies.take(self.len)) {
            Some(index) => index,
            None => self.add_page(),
        };
        self.last_seq = cold.seq;
        let (p, c, o) = split(index);
        let slot = &mut self.pages[p][c].0[o];
        debug_assert!(slot.value.is_none(), "a free slot is vacant");
        slot.value = Some(value);
        slot.bucket = bucket;
        slot.cold = cold;
        self.len += 1;
        let tag = slot.tag.0;
        (index, slot.generation, Entry { index, tag })
    }

    /// Adds a page of vacant slots and takes its first (no vacant slot was
    /// within the search's reach).
    #[cold]
    #[inline(never)]
    fn add_page(&mut self) -> u32 {
        assert!(
            (self.pages.len() + 1) * PAGE <= u32::MAX as usize,
            "more than 4G pending timers"
        );
        let page: Box<[Chunk<T>]> = (0..CHUNKS)
            .map(|_| Chunk(std::array::from_fn(|_| Slot::vacant())))
            .collect();
        self.pages.push(
            page.try_into()
                .unwrap_or_else(|_| unreachable!("CHUNKS chunks collected")),
        );
        self.tags.resize(self.pages.len() * PAGE, 0);
        let index = self.vacancies.add_page();
        debug_assert_eq!(index, (self.pages.len() - 1) * PAGE);
        index as u32
    }

    /// `true` if `key` names the timer now in its slot.
    #[inline]
    pub(crate) fn is_live(&self, key: TimerKey) -> bool {
        self.slot(key.index)
            .is_some_and(|slot| slot.generation == key.generation && slot.value.is_some())
    }

    /// Frees the slot `key` names, if its timer is pending: returns the
    /// value and the bucket its live entry is in (the entry stays, stale).
    #[inline]
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<(T, Left)> {
        self.vacate(key.index, Some(key.generation))
            .map(|(value, _, left)| (value, left))
    }

    /// Frees an occupied slot: returns its value and the generation its key
    /// had. Every key and entry for it goes stale.
    #[inline]
    pub(crate) fn remove(&mut self, index: u32) -> Option<(T, u32)> {
        self.vacate(index, None)
            .map(|(value, generation, _)| (value, generation))
    }

    /// Frees slot `index` if it holds a timer (of `generation`, when one is
    /// given): its value, the generation its key had, and its bucket.
    #[inline]
    fn vacate(&mut self, index: u32, generation: Option<u32>) -> Option<(T, u32, Left)> {
        let last_seq = self.last_seq;
        let slot = self.slot_mut(index)?;
        if generation.is_some_and(|g| g != slot.generation) {
            return None;
        }
        let value = slot.value.take()?;
        // Same cache line as the generation: no further miss.
        let young = last_seq.wrapping_sub(slot.cold.seq) < YOUNG;
        let left = (slot.bucket != NO_BUCKET).then_some(slot.bucket);
        slot.bucket = NO_BUCKET;
        let generation = slot.generation;
        slot.generation = generation.wrapping_add(1);
        slot.tag += 1;
        let tag = slot.tag.0;
        self.set_tag(index, tag);
        self.vacancies.give(index);
        if young {
            self.hot = Some(index);
        }
        self.len -= 1;
        Some((value, generation, left))
    }

    #[inline]
    fn set_tag(&mut self, index: u32, tag: u8) {
        if let Some(t) = self.tags.get_mut(index as usize) {
            *t = tag;
        }
    }

    /// Records which bucket holds the timer's live entry (`NO_BUCKET`: none,
    /// it is in the ready heap); returns the entry to push there.
    #[inline]
    pub(crate) fn set_bucket(&mut self, index: u32, bucket: BucketId) -> Entry {
        let tag = self.slot_mut(index).map_or(0, |slot| {
            slot.bucket = bucket;
            slot.tag.0
        });
        Entry { index, tag }
    }

    /// Makes the next insert take slot `index` if it is vacant.
    #[cfg(test)]
    pub(crate) fn aim(&mut self, index: u32) {
        self.vacancies.aim(index);
    }

    /// The entry that stands for slot `index`'s timer now.
    #[cfg(test)]
    pub(crate) fn entry_of(&self, index: u32) -> Entry {
        Entry {
            index,
            tag: self.tags[index as usize],
        }
    }

    /// Whether `entry` may still stand for a timer, by the dense tags alone
    /// (no slot read): `false` means stale for sure.
    #[inline]
    pub(crate) fn tag_matches(&self, entry: Entry) -> bool {
        self.tags.get(entry.index as usize) == Some(&entry.tag)
    }

    /// The generation and placement data of the timer `entry` of `bucket`
    /// stands for, if that entry is live: same tag, timer pending, and
    /// `bucket` the one its slot names.
    #[inline]
    pub(crate) fn entry_live(&self, entry: Entry, bucket: BucketId) -> Option<(u32, Cold)> {
        if !self.tag_matches(entry) {
            return None;
        }
        let slot = self.slot(entry.index)?;
        (slot.bucket == bucket && slot.value.is_some()).then_some((slot.generation, slot.cold))
    }

    /// The generation, bucket and placement data of an occupied slot.
    #[inline]
    pub(crate) fn live(&self, index: u32) -> Option<(u32, BucketId, Cold)> {
        let slot = self.slot(index)?;
        slot.value.as_ref()?;
        Some((slot.generation, slot.bucket, slot.cold))
    }

    /// Moves an occupied slot's timer to `deadline_ns`, out of any bucket
    /// (its old entries go stale: another bucket or deadline); returns its
    /// generation, the bucket it left and its placement data.
    pub(crate) fn reschedule(&mut self, index: u32, deadline_ns: u64) -> Option<(u32, Left, Cold)> {
        let slot = self.slot_mut(index)?;
        slot.value.as_ref()?;
        let left = (slot.bucket != NO_BUCKET).then_some(slot.bucket);
        slot.bucket = NO_BUCKET;
        slot.cold.deadline_ns = deadline_ns;
        slot.tag += 1;
        let (generation, cold, tag) = (slot.generation, slot.cold, slot.tag.0);
        self.set_tag(index, tag);
        Some((generation, left, cold))
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Page<T>>()
            + self.pages.len() * PAGE * Self::slot_size()
            + self.tags.capacity()
            + self.vacancies.allocated_bytes()
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
            .field("vacant", &(self.pages.len() * PAGE - self.len))
            .finish()
    }
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;

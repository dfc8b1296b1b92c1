//! [`FixedQueue`]: timers that all share one duration (every request timeout
//! equal), kept as a FIFO of fixed-size chunks: O(1) insert, cancel and
//! expire, garbage compacted one chunk at a time.
//!
//! ```text
//!  slots: pages of 4096, never moved      chunks: VecDeque<Chunk>, deadlines non-decreasing
//!  +---+---------------------------+
//!  | 0 | gen 3, chunk 7, Some(a)   |      front_number = 7, so chunk n is chunks[n - 7]
//!  | 1 | gen 7, chunk 9, Some(b)   |
//!  | 2 | gen 1, next free 4        |      #7 base 5000 ms, head 1, garbage 0
//!  | 3 | gen 0, chunk 9, Some(c)   |         [ (popped) | +0 #0 g3 ]
//!  | 4 | gen 1, next free NONE     |      #8 empty placeholder (its live entries moved into #9)
//!  +---+---------------------------+         [ ]
//!  free_head = 2 (vacant slots chain      #9 base 5001 ms, garbage 1      back: appended to
//!  through their chunk field)                [ +0 #1 g7 | +1 ms #4 g0 x | +2 ms #3 g0 ]
//!                                                         ^ stale: slot 4 is at gen 1
//! ```
//!
//! With one duration, a timer inserted later is due later, so the queue is
//! sorted by construction: insert appends to the back chunk, expire pops at
//! the front chunk's `head`. A chunk is a `Vec` of at most [`CHUNK`]
//! entries, each 12 bytes: the deadline as a `u32` nanosecond offset from the
//! chunk's `base_ns`, the slot index, and the generation it was inserted
//! under. Chunks are numbered by a running counter and every occupied slot
//! records the number of the chunk holding its entry, so cancel finds that
//! chunk in O(1) (`number - front_number`).
//!
//! Cancel frees the slot (value taken, generation bumped, slot pushed on the
//! free list) and counts one unit of garbage on its chunk; the entry stays
//! behind, recognised as stale by its generation, and is skipped when it
//! reaches the front. When a chunk's garbage exceeds half of its entries,
//! that chunk alone is compacted (live entries kept, in order): one pass over
//! at most [`CHUNK`] entries instead of the whole queue, removing at least as
//! many entries as it keeps, so O(1) amortised per cancel and a bounded
//! pause. A compacted chunk other than the back one (still being filled) is
//! shrunk to fit; if it and the chunk before it then hold at most
//! [`MERGE_MAX`] entries, the older chunk's live entries are moved into it
//! (their slots renumbered) and the older chunk stays as an empty
//! placeholder, so that chunk numbers stay positions until it reaches the
//! front and is popped. A drained front chunk is popped at once; its buffer
//! is kept for the next back chunk if it still has full capacity.
//!
//! Memory is about one slot (16 bytes for `T = u32`) plus one entry per live
//! timer: no chunk holds more garbage than live entries (beyond
//! [`MIN_CHUNK_GARBAGE`]), back chunks are allocated at exactly [`CHUNK`]
//! entries, other chunks are exact, and slots live in fixed pages (no doubling
//! `Vec`, no separate free list: a vacant slot's chunk field is the link).
//!
//! Pitfalls:
//! - The deadline is `now + duration` for the `now` passed to
//!   [`FixedQueue::insert`]; if `now` goes backwards the deadline is raised
//!   to the previous one (later, never earlier) to keep the queue sorted,
//!   for as long as anything (live or stale) is queued.
//! - A chunk spans at most `u32::MAX` ns (~4.3 s) of deadlines: at slow
//!   insert rates the back chunk is closed early (and shrunk), and chunks
//!   whose deadlines are too far apart are never merged.
//! - Slots record chunk numbers as `u32` and subtract them wrapping, which is
//!   exact while fewer than 2^32 chunks are queued (placeholders included).
//! - Slots never shrink: a stale key must keep finding its slot's generation,
//!   so the slot pages hold the high-water mark of live timers, and bytes per
//!   live timer rise after a burst drains.
//! - Garbage is bounded per chunk, not per queue: a chunk's last few stale
//!   entries stay until it reaches the front. Generations are `u32`, so a
//!   stale entry whose slot is reused 2^32 times while it waits would look
//!   live again (as in any generational slab).
//! - The worst single cancel is a compaction (one chunk of slot reads, mostly
//!   cache misses) plus a merge (up to [`MERGE_MAX`] entries copied and slots
//!   rewritten): 10-20 µs measured with 1e5-1e6 timers, and independent of
//!   the queue's size.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::timers::{Expired, TimerKey};
use storage::{is_live, vacant_page, Chunk, Entry, Page, Slot};

mod compact;
mod storage;

/// Entries per chunk. A compaction reads the slot of each entry (mostly cache
/// misses with a million timers): at 1024 the cancels that compact took
/// 10-20 µs when measured, at 4096 up to 50 µs. The chunk header (48 bytes)
/// is still negligible per entry, and merging absorbs the chunks left nearly
/// empty.
const CHUNK: usize = 1024;
/// A chunk is compacted once it holds at least this much garbage (and more
/// garbage than live entries): tiny chunks are not rewritten for one stale
/// entry.
const MIN_CHUNK_GARBAGE: usize = 16;
/// A compacted chunk absorbs the chunk before it if the two hold at most this
/// many entries together: half a chunk, so a merge (copy plus slot rewrites)
/// costs no more than a compaction and the result has room to shrink again.
const MERGE_MAX: usize = CHUNK / 2;
/// How many empty chunks (placeholders left by merges) a merge looks past
/// for the chunk to join: a run of merges leaves one placeholder per chunk
/// merged, and the scan must stay short.
const MERGE_SCAN: usize = 32;
/// Slots per page (pages never move: no doubling copy, no half-empty `Vec`).
/// A power of two, so that `index % PAGE` needs no bounds check in a page.
const PAGE: usize = 4096;
/// End of the free list.
const NONE: u32 = u32::MAX;

/// Timers of one fixed duration in a FIFO; see the module docs.
///
/// ```
/// use std::time::{Duration, Instant};
/// use rouse_timer::FixedQueue;
///
/// let start = Instant::now();
/// let mut timeouts = FixedQueue::new(start, Duration::from_secs(5));
/// let answered = timeouts.insert(start, "request 1");
/// timeouts.insert(start + Duration::from_millis(1), "request 2");
/// assert_eq!(timeouts.cancel(answered), Some("request 1"));
/// assert_eq!(timeouts.cancel(answered), None, "stale key: harmless");
/// assert!(timeouts.pop_expired(start + Duration::from_secs(5)).is_none());
/// let due = timeouts
///     .pop_expired(start + Duration::from_millis(5001))
///     .unwrap();
/// assert_eq!(due.value, "request 2");
/// ```
pub struct FixedQueue<T> {
    start: Instant,
    duration_ns: u64,
    pages: Vec<Page<T>>,
    /// Slots handed out so far (the high-water mark); the rest of the last
    /// page is vacant and not on the free list.
    slots_used: usize,
    free_head: u32,
    chunks: VecDeque<Chunk>,
    /// Number of `chunks[0]` (a running counter; slots keep its low bits).
    front_number: u64,
    /// Deadline of the last insert: the floor for the next one while any
    /// chunk is queued.
    last_deadline_ns: u64,
    /// A drained chunk's buffer (capacity [`CHUNK`]) for the next back chunk.
    spare: Option<Vec<Entry>>,
    /// Entry capacity of all chunks and the spare, kept current so that
    /// `allocated_bytes` is O(1).
    entry_capacity: usize,
    live: usize,
}

impl<T> FixedQueue<T> {
    /// An empty queue whose timers all fire `duration` after insertion; time
    /// is counted from `start` (instants before it count as `start`).
    pub fn new(start: Instant, duration: Duration) -> Self {
        Self {
            start,
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            pages: Vec::new(),
            slots_used: 0,
            free_head: NONE,
            chunks: VecDeque::new(),
            front_number: 0,
            last_deadline_ns: 0,
            spare: None,
            entry_capacity: 0,
            live: 0,
        }
    }

    /// The duration every timer waits (saturated at about 584 years).
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns)
    }

    /// Starts a timer that fires `duration` after `now`; returns its key.
    ///
    /// # Panics
    /// With more than `u32::MAX - 1` live timers (memory runs out first).
    pub fn insert(&mut self, now: Instant, value: T) -> TimerKey {
        let mut deadline_ns = self.to_ns(now).saturating_add(self.duration_ns);
        if !self.chunks.is_empty() {
            // A clock that went backwards: later, never earlier, stays sorted.
            deadline_ns = deadline_ns.max(self.last_deadline_ns);
        }
        self.last_deadline_ns = deadline_ns;
        // Fast path, with no call in it (a call would make every insert save
        // registers): a free slot and room in the back chunk. (`number` is
        // meaningless, and unused, when there is no chunk.)
        let number = self.number_of(self.chunks.len().wrapping_sub(1));
        let index = self.free_head;
        match self.chunks.back_mut() {
            Some(back)
                if index != NONE
                    && back.entries.len() < CHUNK
                    && deadline_ns - back.base_ns <= u64::from(u32::MAX) =>
            {
                let slot = &mut self.pages[index as usize / PAGE][index as usize % PAGE];
                self.free_head = slot.link;
                slot.link = number;
                slot.value = Some(value);
                let generation = slot.generation;
                back.push(deadline_ns, index, generation);
                self.live += 1;
                TimerKey { index, generation }
            }
            _ => self.insert_slow(deadline_ns, value),
        }
    }

    /// Cancels the timer `key` names: its value, or `None` if it already
    /// fired or was cancelled (a stale key never touches another timer).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let (value, number) = self.free_slot(key.index, key.generation)?;
        let at = number.wrapping_sub(self.front_number as u32) as usize;
        // A live timer's chunk is always queued; `get_mut` keeps a broken
        // invariant from panicking in release builds.
        debug_assert!(at < self.chunks.len(), "live slot names no queued chunk");
        if let Some(chunk) = self.chunks.get_mut(at) {
            chunk.garbage += 1;
            if chunk.garbage >= MIN_CHUNK_GARBAGE && 2 * chunk.garbage > chunk.queued() {
                self.compact(at);
            }
        }
        Some(value)
    }

    /// When the front timer is due, if any timer is pending.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let (deadline_ns, _) = self.live_front()?;
        Some(crate::saturating_add(
            self.start,
            Duration::from_nanos(deadline_ns),
        ))
    }

    /// Removes and returns the earliest timer due at `now` (deadline
    /// `<= now`), in insertion order; `None` when none is due.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Expired<T>> {
        if now < self.start {
            return None;
        }
        let now_ns = self.to_ns(now);
        let (deadline_ns, front) = self.live_front()?;
        if deadline_ns > now_ns {
            return None;
        }
        let chunk = &mut self.chunks[0];
        chunk.head += 1;
        if chunk.head == chunk.entries.len() {
            // Popped now rather than on the next call: memory back at once,
            // and an empty queue stops raising deadlines (see `insert`).
            self.pop_front_chunk();
        }
        let (value, _) = self.free_slot(front.index, front.generation)?;
        Some(Expired {
            key: TimerKey {
                index: front.index,
                generation: front.generation,
            },
            deadline: crate::saturating_add(self.start, Duration::from_nanos(deadline_ns)),
            value,
        })
    }

    /// Pending timers.
    pub fn len(&self) -> usize {
        self.live
    }

    /// `true` when no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of heap memory held: slot pages, chunks and the spare chunk
    /// buffer (garbage and slack included).
    pub fn allocated_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Page<T>>()
            + self.pages.len() * std::mem::size_of::<[Slot<T>; PAGE]>()
            + self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.entry_capacity * std::mem::size_of::<Entry>()
    }

    fn to_ns(&self, at: Instant) -> u64 {
        crate::ns_since(self.start, at)
    }

    /// The low 32 bits of the number of `chunks[at]`, as slots record it.
    fn number_of(&self, at: usize) -> u32 {
        self.front_number.wrapping_add(at as u64) as u32
    }

    /// `insert` when the free list is empty (the slot pages grow) or a new
    /// back chunk is due: it is full, missing, or too far behind for a `u32`
    /// offset.
    #[inline(never)]
    fn insert_slow(&mut self, deadline_ns: u64, value: T) -> TimerKey {
        let fits = self.chunks.back().is_some_and(|back| {
            back.entries.len() < CHUNK && deadline_ns - back.base_ns <= u64::from(u32::MAX)
        });
        if !fits {
            self.open_back_chunk(deadline_ns);
        }
        let at = self.chunks.len() - 1;
        let (index, generation) = self.alloc_slot(value, self.number_of(at));
        self.chunks[at].push(deadline_ns, index, generation);
        self.live += 1;
        TimerKey { index, generation }
    }

    /// Closes the back chunk and opens a new one based at `deadline_ns`.
    fn open_back_chunk(&mut self, deadline_ns: u64) {
        if let Some(back) = self.chunks.back_mut() {
            // Closed before it filled up (slow inserts, or compacted
            // while at the back): give back the unused capacity.
            let before = back.entries.capacity();
            back.entries.shrink_to_fit();
            self.entry_capacity -= before - back.entries.capacity();
        }
        let entries = self.spare.take().unwrap_or_else(|| {
            let entries = Vec::with_capacity(CHUNK);
            self.entry_capacity += entries.capacity();
            entries
        });
        self.chunks.push_back(Chunk {
            base_ns: deadline_ns,
            entries,
            head: 0,
            garbage: 0,
        });
    }

    /// Fills a free slot (or a new one) with `value`, owned by chunk
    /// `number`; returns its index and generation.
    fn alloc_slot(&mut self, value: T, number: u32) -> (u32, u32) {
        if self.free_head != NONE {
            let index = self.free_head;
            let slot = &mut self.pages[index as usize / PAGE][index as usize % PAGE];
            self.free_head = slot.link;
            slot.link = number;
            slot.value = Some(value);
            return (index, slot.generation);
        }
        self.push_slot(value, number)
    }

    /// A slot past the high-water mark (the free list is empty).
    fn push_slot(&mut self, value: T, number: u32) -> (u32, u32) {
        let index = self.slots_used;
        assert!(index < NONE as usize, "more than 4G pending timers");
        if index == self.pages.len() * PAGE {
            self.pages.push(vacant_page());
        }
        self.slots_used += 1;
        let slot = &mut self.pages[index / PAGE][index % PAGE];
        slot.link = number;
        slot.value = Some(value);
        (index as u32, slot.generation)
    }

    /// Takes the value of slot `index` if it is at `generation`, freeing it;
    /// returns the value and the number of the chunk its entry is in.
    fn free_slot(&mut self, index: u32, generation: u32) -> Option<(T, u32)> {
        // Past `slots_used` but inside the last page: a vacant slot, so a
        // forged key finds no value.
        let slot = &mut self.pages.get_mut(index as usize / PAGE)?[index as usize % PAGE];
        if slot.generation != generation {
            return None;
        }
        let value = slot.value.take()?;
        let number = slot.link;
        slot.link = self.free_head;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_head = index;
        self.live -= 1;
        Some((value, number))
    }

    /// Drops stale entries and drained chunks from the front; returns the
    /// live front's deadline and entry.
    fn live_front(&mut self) -> Option<(u64, Entry)> {
        loop {
            let front = self.chunks.front_mut()?;
            if let Some(&entry) = front.entries.get(front.head) {
                if is_live(&self.pages, &entry) {
                    return Some((front.deadline_ns(&entry), entry));
                }
                front.head += 1;
                front.garbage -= 1;
                continue;
            }
            self.pop_front_chunk();
        }
    }

    /// Pops the front chunk (drained, or an empty placeholder).
    #[inline(never)]
    fn pop_front_chunk(&mut self) {
        let Some(drained) = self.chunks.pop_front() else {
            return;
        };
        self.front_number = self.front_number.wrapping_add(1);
        // Keep one full-size buffer for the next back chunk: no malloc per
        // chunk in a steady stream.
        if self.spare.is_none() && drained.entries.capacity() == CHUNK {
            let mut entries = drained.entries;
            entries.clear();
            self.spare = Some(entries);
        } else {
            self.entry_capacity -= drained.entries.capacity();
        }
    }
}

impl<T> std::fmt::Debug for FixedQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedQueue")
            .field("duration", &self.duration())
            .field("live", &self.live)
            .field(
                "queued",
                &self.chunks.iter().map(Chunk::queued).sum::<usize>(),
            )
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

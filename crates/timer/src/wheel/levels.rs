//! The wheel's buckets: 8 levels of 256 dense vectors of slot indices,
//! with an occupancy bitmap per level.
//!
//! ```text
//!  tick (u64) = [ l7 | l6 | l5 | l4 | l3 | l2 | l1 | l0 ]   8 bits per level
//!
//!  level 0: 256 buckets x 1 tick      bitmap 0b..0100..  -> bucket 5: [17, 3]
//!  level 1: 256 buckets x 256 ticks
//!  ...
//!  level 7: 256 buckets x 2^56 ticks  (8 x 8 bits: every u64 tick fits,
//!                                      so nothing ever overflows the wheel)
//! ```
//!
//! A timer due at tick `e`, `d = e - now` ticks away, lives on level
//! `L = log256(d)` (so `256^L <= d < 256^(L+1)`), in bucket `(e >> 8L) % 256`.
//! A level-`L` bucket is visited at the start of each `256^L`-tick block whose
//! number matches it, and the first such visit after placement is exactly the
//! start of the timer's own block (one rotation ahead at most): its timers
//! are then less than `256^L` ticks away and cascade one level down or more.
//!
//! Placing by distance rather than by which digit of `e` differs from `now`
//! keeps every timer less than `256^(L+1)` ticks away on levels `<= L`: with a
//! 1 ms tick, all timeouts under 65 s stay on levels 0-1, and no visit ever
//! cascades more than 256 ticks' worth of timers at once, whichever block
//! boundary `now` is crossing. The cost: the next bucket to visit is the
//! minimum over levels, not simply the first occupied bucket of the lowest
//! level.
//!
//! A bucket is a list of chunks of `(slot index, check)` entries (see
//! `chunks`): cancel leaves its entry behind, and the visit (or a chunk's
//! compaction) drops it. Each bucket also keeps the earliest deadline pushed
//! into it since it was last visited, so `next_deadline` can name a real
//! deadline instead of the bucket's boundary.

use super::chunks::{Chunks, Entry};
use super::slots::{ChunkId, NOWHERE};

/// Bits of tick per level.
const BITS: u32 = 8;
/// Buckets per level.
pub(crate) const SLOTS: usize = 1 << BITS;
/// Levels: enough for every `u64` tick.
const LEVELS: usize = 64 / BITS as usize;
/// A bucket id: `level * SLOTS + slot`.
pub(crate) type BucketId = u16;

#[derive(Debug, Clone, Copy)]
struct Head {
    /// The earliest deadline (ns) pushed since the bucket's last visit;
    /// `u64::MAX` when empty. A lower bound: cancel does not raise it.
    earliest: u64,
    /// The chunk pushes go to, or `NOWHERE`.
    open: ChunkId,
    /// `earliest` was last set by a scan of the live entries (see
    /// [`Levels::set_scanned`]), so scanning again would not help.
    scanned: bool,
}

const EMPTY: Head = Head {
    earliest: u64::MAX,
    open: NOWHERE,
    scanned: false,
};

/// All buckets of the wheel; see the module docs.
#[derive(Debug)]
pub(crate) struct Levels {
    /// Per bucket: its chunks, the open one (pushed to) last.
    buckets: Vec<Vec<ChunkId>>,
    /// Per bucket, what a push needs, in one 16-byte record (a push touches
    /// the head, the open chunk's header and its tail; the chunk list only
    /// when a chunk fills).
    heads: Vec<Head>,
    chunks: Chunks,
    occupied: [[u64; SLOTS / 64]; LEVELS],
    /// Bit `L` set when level `L` has any occupied bucket.
    occupied_levels: u8,
}

impl Levels {
    pub(crate) fn new() -> Self {
        Self {
            buckets: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            heads: vec![EMPTY; LEVELS * SLOTS],
            chunks: Chunks::default(),
            occupied: [[0; SLOTS / 64]; LEVELS],
            occupied_levels: 0,
        }
    }

    /// The bucket for a timer due at tick `due`, seen from tick `now`;
    /// `None` when it is already due (`due <= now`).
    #[inline]
    pub(crate) fn bucket_for(now: u64, due: u64) -> Option<BucketId> {
        if due <= now {
            return None;
        }
        let level = (63 - (due - now).leading_zeros()) / BITS;
        let slot = (due >> (level * BITS)) as usize & (SLOTS - 1);
        Some((level as usize * SLOTS + slot) as BucketId)
    }

    /// Appends an entry for a timer due at `deadline_ns` to `bucket`;
    /// returns the chunk it went to.
    #[inline]
    pub(crate) fn push(&mut self, bucket: BucketId, entry: Entry, deadline_ns: u64) -> ChunkId {
        let b = bucket as usize;
        let head = &mut self.heads[b];
        head.earliest = head.earliest.min(deadline_ns);
        let open = head.open;
        let busy = if open != NOWHERE {
            debug_assert_eq!(self.buckets[b].last(), Some(&open));
            if self.chunks.push(open, entry) {
                return open;
            }
            true
        } else {
            self.set_occupied(bucket, true);
            false
        };
        let open = self.chunks.open(bucket, busy);
        let pushed = self.chunks.push(open, entry);
        debug_assert!(pushed, "a new chunk has room");
        self.buckets[b].push(open);
        self.heads[b].open = open;
        open
    }

    /// Lowers `bucket`'s earliest deadline to `deadline_ns` (a timer in it
    /// was moved earlier without a new entry).
    pub(crate) fn lower_earliest(&mut self, bucket: BucketId, deadline_ns: u64) {
        let head = &mut self.heads[bucket as usize];
        head.earliest = head.earliest.min(deadline_ns);
    }

    /// The earliest deadline pushed into `bucket` since its last visit: no
    /// live timer in it is due before.
    pub(crate) fn earliest(&self, bucket: BucketId) -> u64 {
        self.heads[bucket as usize].earliest
    }

    /// Sets `bucket`'s earliest deadline to the one a scan of its live
    /// entries found.
    pub(crate) fn set_scanned(&mut self, bucket: BucketId, earliest: u64) {
        let head = &mut self.heads[bucket as usize];
        head.earliest = earliest;
        head.scanned = true;
    }

    /// Whether `bucket`'s earliest deadline came from a scan since its last
    /// visit.
    pub(crate) fn is_scanned(&self, bucket: BucketId) -> bool {
        self.heads[bucket as usize].scanned
    }

    /// Every entry of `bucket`, live and stale.
    pub(crate) fn entries_of(&self, bucket: BucketId) -> impl Iterator<Item = &Entry> + '_ {
        self.buckets[bucket as usize]
            .iter()
            .flat_map(|&chunk| self.chunks.entries_of(chunk))
    }

    /// The bucket chunk `chunk` belongs to.
    #[inline]
    pub(crate) fn bucket_of(&self, chunk: ChunkId) -> Option<BucketId> {
        self.chunks.bucket_of(chunk)
    }

    /// Counts one stale entry in `chunk`; see [`Chunks::add_garbage`].
    #[inline]
    pub(crate) fn add_garbage(&mut self, chunk: ChunkId, keep: impl FnMut(&Entry) -> bool) {
        self.chunks.add_garbage(chunk, keep);
    }

    /// The next bucket to visit, seen from tick `now` (all visits at ticks
    /// up to `now` done): its tick and id. Several levels may have a visit at
    /// that same tick; [`Levels::visit_of`] finds each.
    pub(crate) fn next_bucket(&self, now: u64) -> Option<(u64, BucketId)> {
        let mut best: Option<(u64, BucketId)> = None;
        for level in 0..LEVELS {
            if let Some((tick, bucket)) = self.visit_of(level, now) {
                if best.map_or(true, |(t, _)| tick < t) {
                    best = Some((tick, bucket));
                }
            }
        }
        best
    }

    /// The next visit on `level` after tick `now`, if the level holds any
    /// timer.
    pub(crate) fn visit_of(&self, level: usize, now: u64) -> Option<(u64, BucketId)> {
        if self.occupied_levels & (1 << level) == 0 {
            return None;
        }
        let shift = level as u32 * BITS;
        let block = now >> shift;
        let digit = block as usize & (SLOTS - 1);
        let slot = self.first_occupied_cyclic(level, digit)?;
        // Blocks ahead until this slot's next block: 1..=256 (a slot equal to
        // the current digit is a full rotation away).
        let ahead = ((slot + SLOTS - digit - 1) % SLOTS + 1) as u64;
        // A block past the end of time cannot come: visit it at the last tick.
        let tick = (block + ahead)
            .checked_shl(shift)
            .filter(|t| t >> shift == block + ahead)
            .unwrap_or(u64::MAX);
        Some((tick, (level * SLOTS + slot) as BucketId))
    }

    /// Number of levels.
    pub(crate) const LEVELS: usize = LEVELS;

    /// Empties `bucket`, handing its chunks over: take each one's entries
    /// with [`Levels::take_chunk`], then give the list back with
    /// [`Levels::recycle`].
    pub(crate) fn take(&mut self, bucket: BucketId) -> Vec<ChunkId> {
        self.set_occupied(bucket, false);
        self.heads[bucket as usize] = EMPTY;
        std::mem::take(&mut self.buckets[bucket as usize])
    }

    /// The entries of a chunk handed over by [`Levels::take`]; the chunk is
    /// freed. Give the buffer back with [`Levels::recycle_entries`].
    pub(crate) fn take_chunk(&mut self, chunk: ChunkId) -> Vec<Entry> {
        self.chunks.take(chunk)
    }

    /// Returns a buffer from [`Levels::take_chunk`] for reuse.
    pub(crate) fn recycle_entries(&mut self, entries: Vec<Entry>) {
        self.chunks.recycle(entries);
    }

    /// Returns a list from [`Levels::take`], cleared, if the bucket is still
    /// empty (so a bucket keeps its small list buffer).
    pub(crate) fn recycle(&mut self, bucket: BucketId, mut list: Vec<ChunkId>) {
        let slot = &mut self.buckets[bucket as usize];
        if slot.is_empty() && slot.capacity() == 0 && list.capacity() <= 64 {
            list.clear();
            *slot = list;
        }
    }

    /// Entries across all buckets, live and stale.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.chunks.entries()
    }

    /// Chunks in use across all buckets.
    #[cfg(test)]
    pub(crate) fn chunks_in_use(&self) -> usize {
        self.chunks.in_use()
    }

    /// Bytes of heap memory held by the buckets and their chunks.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Vec<ChunkId>>()
            + self.heads.capacity() * std::mem::size_of::<Head>()
            + self
                .buckets
                .iter()
                .map(|b| b.capacity() * std::mem::size_of::<ChunkId>())
                .sum::<usize>()
            + self.chunks.allocated_bytes()
    }

    /// First occupied slot of `level` after `digit`, wrapping around (so
    /// `digit` itself comes last).
    fn first_occupied_cyclic(&self, level: usize, digit: usize) -> Option<usize> {
        let words = &self.occupied[level];
        let start = digit + 1;
        for i in 0..=words.len() {
            let w = (start / 64 + i) % words.len();
            let mut word = words[w];
            if i == 0 {
                word &= u64::MAX.checked_shl((start % 64) as u32).unwrap_or(0);
            }
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
        }
        None
    }

    fn set_occupied(&mut self, bucket: BucketId, on: bool) {
        let level = bucket as usize / SLOTS;
        let slot = bucket as usize % SLOTS;
        let word = &mut self.occupied[level][slot / 64];
        if on {
            *word |= 1 << (slot % 64);
            self.occupied_levels |= 1 << level;
        } else {
            *word &= !(1 << (slot % 64));
            if self.occupied[level].iter().all(|&w| w == 0) {
                self.occupied_levels &= !(1 << level);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(index: u32) -> Entry {
        Entry { index, check: 0 }
    }

    fn push(levels: &mut Levels, bucket: BucketId, entry: Entry) {
        levels.push(bucket, entry, 0);
    }

    fn indices(levels: &mut Levels, bucket: BucketId) -> Vec<u32> {
        let mut out = Vec::new();
        for chunk in levels.take(bucket) {
            out.extend(levels.take_chunk(chunk).iter().map(|e| e.index));
        }
        out
    }

    #[test]
    fn bucket_for_picks_level_by_distance() {
        assert_eq!(Levels::bucket_for(10, 10), None);
        assert_eq!(Levels::bucket_for(10, 3), None);
        assert_eq!(Levels::bucket_for(10, 11), Some(11));
        assert_eq!(Levels::bucket_for(10, 265), Some(265 % 256));
        // 246 ticks away, across a 256 boundary: still level 0.
        assert_eq!(Levels::bucket_for(250, 496), Some(496 % 256));
        assert_eq!(Levels::bucket_for(10, 266), Some(SLOTS as u16 + 1));
        assert_eq!(
            Levels::bucket_for(0, u64::MAX),
            Some(7 * SLOTS as u16 + 255)
        );
    }

    #[test]
    fn next_bucket_is_the_earliest_across_levels() {
        let mut levels = Levels::new();
        assert_eq!(levels.next_bucket(0), None);
        let far = Levels::bucket_for(5, 3 * 256 + 7).unwrap();
        push(&mut levels, far, hint(1));
        assert_eq!(levels.next_bucket(5), Some((3 * 256, far)));
        // Level 0, due after the level-1 visit: the level-1 bucket comes first.
        let near = Levels::bucket_for(700, 900).unwrap();
        push(&mut levels, near, hint(2));
        assert_eq!(levels.next_bucket(700), Some((3 * 256, far)));
        assert_eq!(indices(&mut levels, far), [1]);
        assert_eq!(levels.next_bucket(700), Some((900, near)));
        levels.take(near);
        // A slot equal to the current digit is one full rotation ahead.
        let rotation = Levels::bucket_for(700, 258 * 256 + 10).unwrap();
        assert_eq!(rotation, SLOTS as u16 + 2);
        push(&mut levels, rotation, hint(3));
        assert_eq!(levels.next_bucket(700), Some((258 * 256, rotation)));
        levels.take(rotation);
        let top = Levels::bucket_for(5, u64::MAX).unwrap();
        push(&mut levels, top, hint(4));
        assert_eq!(levels.next_bucket(5), Some((255 << 56, top)));
    }

    #[test]
    fn same_tick_visits_on_two_levels_are_both_reported() {
        let mut levels = Levels::new();
        let low = Levels::bucket_for(600, 768).unwrap(); // level 0, tick 768
        let high = Levels::bucket_for(300, 800).unwrap(); // level 1, block 3
        push(&mut levels, low, hint(1));
        push(&mut levels, high, hint(2));
        assert_eq!(levels.visit_of(0, 700), Some((768, low)));
        assert_eq!(levels.visit_of(1, 700), Some((768, high)));
        assert_eq!(levels.visit_of(2, 700), None);
    }

    #[test]
    fn buckets_fill_chunk_after_chunk_and_remember_their_earliest() {
        let mut levels = Levels::new();
        assert_eq!(levels.earliest(9), u64::MAX);
        let total = super::super::chunks::CHUNK as u32 * 2 + 5;
        let mut seen = Vec::new();
        for i in 0..total {
            let chunk = levels.push(9, hint(i), 1_000 + u64::from(i % 7));
            assert_eq!(levels.bucket_of(chunk), Some(9));
            if seen.last() != Some(&chunk) {
                seen.push(chunk);
            }
        }
        assert_eq!(seen.len(), 3, "two full chunks and an open one");
        assert_eq!(levels.earliest(9), 1_000);
        levels.lower_earliest(9, 40);
        assert_eq!(levels.earliest(9), 40);
        assert_eq!(levels.next_bucket(0), Some((9, 9)));
        assert_eq!(indices(&mut levels, 9), (0..total).collect::<Vec<_>>());
        assert_eq!(levels.earliest(9), u64::MAX, "a visit resets it");
        assert_eq!(levels.next_bucket(0), None, "taken: not occupied");
        assert_eq!(levels.chunks_in_use(), 0);
    }
}

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
//! Buckets hold 5-byte entries (slot index and the slot's one-byte tag) in
//! arrival order: a vector of up to one chunk (8192 entries) in the
//! bucket's record, and for a bigger bucket its full chunks in a side
//! table, so growing never copies more than a chunk (see `chunks.rs`).
//! Cancel leaves its entry in place and only counts it as
//! garbage against its bucket; stale entries are dropped when the bucket is
//! visited (at most one rotation of its level away), or earlier, when a
//! bucket becomes more than half garbage: the bucket is then swept, reading
//! each entry's tag in the slots' dense tag array (never the slot itself),
//! where removing each entry at cancel would cost dependent misses on every
//! cancel. A sweep goes [`SWEEP_STEP`](super::bucket::SWEEP_STEP) entries at a time, one step per
//! entry of that bucket going stale, so no single cancel pays for a whole
//! bucket (a level-1 bucket holds tens of thousands of entries at a million
//! timers: a sweep in one go took 100-400 µs inside one cancel), while
//! garbage still shrinks 64 times faster than it grows during a sweep; and
//! it reads the oldest entries first (see `bucket.rs`). Each bucket's
//! record (entries, counters, recorded earliest) is one cache line.

/// Bits of tick per level.
const BITS: u32 = 8;
/// Buckets per level.
pub(crate) const SLOTS: usize = 1 << BITS;
/// Levels: enough for every `u64` tick.
const LEVELS: usize = 64 / BITS as usize;
pub(crate) use super::bucket::Early;
#[cfg(test)]
use super::bucket::COMPACT_MIN;
use super::bucket::{Bucket, Store, KEEP_EMPTY};
#[cfg(test)]
use super::chunks::POOL_MAX;
use super::chunks::{Pool, Taken, CHUNK};

/// A bucket id: `level * SLOTS + slot`.
pub(crate) type BucketId = u16;

/// A bucket entry: the timer's slot and the slot's tag when the entry was
/// pushed. It is stale once the slot's tag or bucket no longer match.
/// Packed to 5 bytes (not padded to 8): entries, stale ones included, are
/// a good part of the wheel's memory. Fields are only ever copied out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed)]
pub(crate) struct Entry {
    pub(crate) index: u32,
    pub(crate) tag: u8,
}

/// "In no bucket": the timer is in the ready heap (or the slot is free).
pub(crate) const NO_BUCKET: BucketId = BucketId::MAX;

/// Every bucket id fits below this (8 levels of 256), so indexing with
/// `bucket & MASK` needs no bounds check.
const BUCKETS: usize = LEVELS * SLOTS;
const MASK: usize = BUCKETS - 1;

/// All buckets of the wheel; see the module docs.
#[derive(Debug)]
pub(crate) struct Levels {
    buckets: Box<[Bucket; BUCKETS]>,
    /// Each bucket's full chunks (see `chunks.rs`): empty until a bucket
    /// first fills a chunk, then one list per bucket.
    full: Vec<Vec<Vec<Entry>>>,
    /// Stands for the list of a bucket while `full` is empty; stays empty.
    no_full: Vec<Vec<Entry>>,
    /// Chunk buffers for buckets that fill their tail.
    pool: Pool,
    occupied: [[u64; SLOTS / 64]; LEVELS],
    /// Bit `L` set when level `L` has any occupied bucket.
    occupied_levels: u8,
}

impl Levels {
    pub(crate) fn new() -> Self {
        let buckets: Box<[Bucket]> = (0..BUCKETS).map(|_| Bucket::new()).collect();
        Self {
            buckets: buckets
                .try_into()
                .unwrap_or_else(|_| unreachable!("BUCKETS buckets collected")),
            full: Vec::new(),
            no_full: Vec::new(),
            pool: Pool::default(),
            occupied: [[0; SLOTS / 64]; LEVELS],
            occupied_levels: 0,
        }
    }

    #[inline]
    fn at(&self, bucket: BucketId) -> &Bucket {
        debug_assert!((bucket as usize) < BUCKETS, "a real bucket");
        &self.buckets[bucket as usize & MASK]
    }

    #[inline]
    fn at_mut(&mut self, bucket: BucketId) -> &mut Bucket {
        debug_assert!((bucket as usize) < BUCKETS, "a real bucket");
        &mut self.buckets[bucket as usize & MASK]
    }

    /// `bucket`'s record, and where its full chunks and the spare chunks
    /// are.
    fn parts(&mut self, bucket: BucketId) -> (&mut Bucket, Store<'_>) {
        debug_assert!((bucket as usize) < BUCKETS, "a real bucket");
        let i = bucket as usize & MASK;
        let full = match self.full.get_mut(i) {
            Some(full) => full,
            None => &mut self.no_full,
        };
        let store = Store {
            full,
            pool: &mut self.pool,
        };
        (&mut self.buckets[i], store)
    }

    /// The full chunks of `bucket`.
    #[cfg(test)]
    fn full_of(&self, bucket: BucketId) -> &[Vec<Entry>] {
        self.full.get(bucket as usize).map_or(&[], Vec::as_slice)
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

    /// Appends `entry`, a timer due at `deadline_ns`, to `bucket`.
    #[inline]
    pub(crate) fn push(&mut self, bucket: BucketId, entry: Entry, deadline_ns: u64) {
        debug_assert!((bucket as usize) < BUCKETS, "a real bucket");
        let i = bucket as usize & MASK;
        let b = &mut self.buckets[i];
        if deadline_ns < b.earliest {
            b.earliest = deadline_ns;
            b.earliest_index = entry.index;
        }
        if b.entries.len() == b.entries.capacity() {
            grow(b, i, &mut self.full, &mut self.pool);
        }
        b.entries.push(entry);
        if b.entries.len() == 1 && b.chunks == 0 {
            self.set_occupied(bucket, true);
        }
    }

    /// The live entry of the timer in slot `index` in `bucket` went stale
    /// (cancelled or moved): counts it as garbage and, if that timer set
    /// the recorded earliest, makes the earliest a lower bound again.
    /// Returns whether the bucket is now due for a [`Levels::sweep_step`].
    #[inline]
    pub(crate) fn stale(&mut self, bucket: BucketId, index: u32) -> bool {
        self.at_mut(bucket).stale(index)
    }

    /// One step of `bucket`'s sweep (see [`Bucket`]).
    pub(crate) fn sweep_step(&mut self, bucket: BucketId, live: impl FnMut(Entry) -> bool) {
        let (b, mut store) = self.parts(bucket);
        if b.sweep_step(&mut store, live) {
            self.set_occupied(bucket, false);
        }
    }

    /// Keeps the entries of `bucket` that `live` keeps, in one go; frees or
    /// shrinks the bucket's buffer as it empties. The recorded earliest
    /// stays (a lower bound still).
    #[cfg(test)]
    pub(crate) fn compact(&mut self, bucket: BucketId, live: impl FnMut(Entry) -> bool) {
        let (b, mut store) = self.parts(bucket);
        if b.compact(&mut store, live) {
            self.set_occupied(bucket, false);
        }
    }

    /// [`Bucket::compact`] by a `live` that gives each kept entry's
    /// deadline, and records the earliest of those as exact.
    pub(crate) fn compact_exact(
        &mut self,
        bucket: BucketId,
        live: impl FnMut(Entry) -> Option<u64>,
    ) {
        let (b, mut store) = self.parts(bucket);
        if b.compact_exact(&mut store, live) {
            self.set_occupied(bucket, false);
        }
    }

    /// One step of moving `bucket`'s timers down ahead of its visit: reads
    /// up to `budget` entries from where the last step got to; drops the
    /// stale ones, hands those `sort` says can move now to `out` and keeps
    /// the rest for the visit. Returns whether the bucket has been read to
    /// its end. Entries handed over leave the bucket, so its recorded
    /// earliest is only a lower bound from then on.
    pub(crate) fn early_step(
        &mut self,
        bucket: BucketId,
        budget: usize,
        sort: impl FnMut(Entry) -> Early,
        out: &mut Vec<Entry>,
    ) -> bool {
        let (b, mut store) = self.parts(bucket);
        let (done, empty) = b.early_step(&mut store, budget, sort, out);
        if empty {
            self.set_occupied(bucket, false);
        }
        done
    }

    /// No timer in `bucket` is due before this (ns).
    pub(crate) fn earliest(&self, bucket: BucketId) -> u64 {
        self.at(bucket).earliest
    }

    /// Whether [`Levels::earliest`] is known exact for `bucket`.
    pub(crate) fn is_exact(&self, bucket: BucketId) -> bool {
        self.at(bucket).exact
    }

    /// Number of entries (live and stale) in `bucket`.
    pub(crate) fn len(&self, bucket: BucketId) -> usize {
        self.at(bucket).len()
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

    /// Empties `bucket`, handing its entries over. Give them back with
    /// [`Levels::recycle`] once done, so that their chunks are reused and a
    /// small bucket keeps its capacity.
    pub(crate) fn take(&mut self, bucket: BucketId) -> Taken {
        self.set_occupied(bucket, false);
        let (b, mut store) = self.parts(bucket);
        b.take(&mut store)
    }

    /// Takes back the buffers of entries obtained from [`Levels::take`]:
    /// chunks to the pool, a small tail to its bucket if that is still
    /// empty.
    pub(crate) fn recycle(&mut self, bucket: BucketId, taken: Taken) {
        let Taken { full, mut tail } = taken;
        for chunk in full {
            self.pool.give(chunk);
        }
        tail.clear();
        let slot = &mut self.at_mut(bucket).entries;
        if slot.is_empty() && slot.capacity() == 0 && tail.capacity() <= KEEP_EMPTY {
            *slot = tail;
        } else {
            self.pool.give(tail);
        }
    }

    /// Empties every occupied bucket (all their entries are stale: the
    /// wheel holds no timer). Costs one visit per occupied bucket.
    pub(crate) fn clear(&mut self) {
        for level in 0..LEVELS {
            while let Some((_, bucket)) = self.visit_of(level, 0) {
                // Buffers go too: an idle wheel holds no bucket memory.
                drop(self.take(bucket));
            }
        }
        self.full = Vec::new();
        self.pool.clear();
    }

    /// The entries of `bucket`.
    #[cfg(test)]
    pub(crate) fn entries_of(&self, bucket: BucketId) -> Vec<Entry> {
        self.at(bucket).listed(self.full_of(bucket))
    }

    /// Buckets holding any entry.
    #[cfg(test)]
    pub(crate) fn occupied(&self) -> usize {
        self.occupied
            .iter()
            .flatten()
            .map(|w| w.count_ones() as usize)
            .sum()
    }

    /// Entries across all buckets.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.buckets.iter().map(Bucket::len).sum()
    }

    /// Bytes of heap memory held by the buckets.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let entry = std::mem::size_of::<Entry>();
        let lists = self.full.capacity() * std::mem::size_of::<Vec<Vec<Entry>>>()
            + self
                .full
                .iter()
                .map(|list| {
                    list.capacity() * std::mem::size_of::<Vec<Entry>>()
                        + list
                            .iter()
                            .map(|chunk| chunk.capacity() * entry)
                            .sum::<usize>()
                })
                .sum::<usize>();
        BUCKETS * std::mem::size_of::<Bucket>()
            + lists
            + self.pool.allocated_bytes()
            + self
                .buckets
                .iter()
                .map(|b| b.entries.capacity() * entry)
                .sum::<usize>()
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

/// Makes room in the full tail of bucket `b` (number `i`). Below
/// [`CHUNK`] entries the tail grows by half (growing by a quarter copied
/// every entry about four times over a bucket's growth, and the copies were
/// a tenth of the wheel's simulated cache misses at a million timers), up
/// to exactly one chunk; a tail of a full chunk moves whole to the bucket's
/// list of full chunks and a new tail comes from the pool: a growth copies
/// at most one chunk and never touches more than a chunk of fresh memory.
/// Out of line: the push it serves is on every insert's path.
#[cold]
#[inline(never)]
fn grow(b: &mut Bucket, i: usize, full: &mut Vec<Vec<Vec<Entry>>>, pool: &mut Pool) {
    let len = b.entries.len();
    // A bucket of 2^16 full chunks (268 million entries) grows its tail
    // as one vector from then on.
    if len >= CHUNK && b.chunks < u16::MAX {
        debug_assert_eq!(len, CHUNK, "a tail never outgrows a chunk");
        if full.is_empty() {
            full.resize_with(BUCKETS, Vec::new);
        }
        let filled = std::mem::replace(&mut b.entries, pool.take());
        full[i].push(filled);
        b.chunks += 1;
        debug_assert_eq!(full[i].len(), b.chunks as usize);
    } else {
        let want = len + (len / 2).max(16);
        let want = if len < CHUNK { want.min(CHUNK) } else { want };
        b.entries.reserve_exact(want - len);
    }
}

#[cfg(test)]
#[path = "levels_tests.rs"]
mod tests;

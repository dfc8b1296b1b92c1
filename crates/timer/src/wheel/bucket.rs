//! One bucket of the wheel: its entries, in the order they came, and the
//! bookkeeping of its stale ones.
//!
//! ```text
//!  entries: [ read by an earlier sweep | kept | holes | unread ........ ]
//!           0                       checked  kept  sweep               len
//! ```
//!
//! Cancel leaves a timer's entry in place and counts it as garbage; once
//! more than half the bucket is garbage (and at least [`COMPACT_MIN`]
//! entries), a sweep drops stale entries, [`SWEEP_STEP`] reads per further
//! entry going stale, by the slots' dense tags.
//!
//! A sweep starts where the last one stopped reading (`checked`), not at
//! the front: entries stay in arrival order, so what it reads first are the
//! oldest entries it has not read yet, which are the ones most likely
//! cancelled by now (a request timeout is cancelled when its response
//! comes, long before it would fire). It keeps the live ones in place and
//! leaves holes behind them, and stops at the first block of 16 reads that
//! finds most entries live: it has reached entries too young to have been
//! cancelled, and reading on would only read them again at the next sweep.
//! Then the holes close (one `memmove` of the unread tail). So an entry is
//! read about once before its timer is cancelled or fires, where sweeping
//! the whole bucket read each entry about twice (the live entries again at
//! every sweep). If that partial sweep drops less than half the garbage it
//! started with (the rest was among entries read before), a full sweep
//! from the front follows, which does not stop early: garbage stays
//! bounded, and no run of partial sweeps each dropping little (and each
//! moving the unread tail) can follow one another.

use super::chunks::{Chunks, Pool, Positions, Taken, CHUNK};
use super::levels::Entry;

/// A bucket whose garbage reaches this many entries and half its length
/// is swept.
pub(crate) const COMPACT_MIN: u32 = 32;
/// Entries a sweep reads per entry going stale in its bucket.
pub(crate) const SWEEP_STEP: usize = 64;
/// A partial sweep stops after a block of this many reads that found most
/// entries live.
const YOUNG_BLOCK: usize = 16;
/// "No sweep under way" in [`Bucket::sweep`].
const NO_SWEEP: u32 = u32::MAX;

/// One bucket and what the wheel keeps about it, together: a push and a
/// cancel each touch one bucket's record, so one cache line serves both
/// the entries' vector header and the counters (aligned to a line, which
/// also makes indexing a shift).
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct Bucket {
    /// The entries after the full chunks (all of them in a bucket of
    /// fewer than [`CHUNK`]); see `chunks.rs`.
    pub(crate) entries: Vec<Entry>,
    /// The earliest deadline (ns) pushed since its last visit, `u64::MAX`
    /// when empty; a lower bound for `next_deadline` (removing an entry
    /// does not raise it).
    pub(crate) earliest: u64,
    /// The slot whose timer set `earliest`: a cancel compares slot
    /// indices, so it need not read the timer's deadline.
    pub(crate) earliest_index: u32,
    /// Entries known stale (cancelled or moved timers), holes not counted.
    garbage: u32,
    /// Where the sweep under way reads next, or [`NO_SWEEP`].
    sweep: u32,
    /// Where the sweep under way keeps the next live entry: `kept..sweep`
    /// are holes.
    kept: u32,
    /// Entries before this were read by an earlier sweep.
    checked: u32,
    /// The garbage count when the sweep under way started.
    found_garbage: u32,
    /// Where the early moves got to (see [`Bucket::early_step`]).
    early: u32,
    /// `earliest` is exact (read from the live entries, and the timer that
    /// holds it has not left since), so reading again is useless.
    pub(crate) exact: bool,
    /// The sweep under way reads the whole bucket (no early stop).
    full: bool,
    /// Full chunks before `entries`, kept in the wheel's side table (a
    /// count here so that a cancel need not read that table).
    pub(crate) chunks: u16,
}

/// Where a bucket's full chunks and the wheel's spare chunks are, for the
/// bucket operations that move entries.
#[derive(Debug)]
pub(crate) struct Store<'a> {
    pub(crate) full: &'a mut Vec<Vec<Entry>>,
    pub(crate) pool: &'a mut Pool,
}

/// What an early step does with one entry of the bucket it moves down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Early {
    /// Stale: dropped.
    Stale,
    /// Its timer can go to a lower level now: handed over.
    Move,
    /// Its timer is still too far ahead: stays for the bucket's visit.
    Wait,
}

impl Bucket {
    pub(crate) fn new() -> Self {
        Self {
            entries: Vec::new(),
            earliest: u64::MAX,
            earliest_index: u32::MAX,
            garbage: 0,
            sweep: NO_SWEEP,
            kept: 0,
            checked: 0,
            found_garbage: 0,
            early: 0,
            exact: false,
            full: false,
            chunks: 0,
        }
    }

    /// Entries and holes.
    #[inline]
    fn total(&self) -> usize {
        self.chunks as usize * CHUNK + self.entries.len()
    }

    /// This bucket's entries, whole.
    fn chunks<'a>(entries: &'a mut Vec<Entry>, store: &'a mut Store<'_>) -> Chunks<'a> {
        Chunks {
            tail: entries,
            full: &mut *store.full,
            pool: &mut *store.pool,
        }
    }

    /// Entries, holes not counted.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.total() - self.holes()
    }

    fn holes(&self) -> usize {
        if self.sweep == NO_SWEEP {
            0
        } else {
            (self.sweep - self.kept) as usize
        }
    }

    /// Entries known stale (tests).
    #[cfg(test)]
    pub(crate) fn garbage(&self) -> u32 {
        self.garbage
    }

    /// The entries, holes left out (tests); `full` is the bucket's list
    /// of full chunks.
    #[cfg(test)]
    pub(crate) fn listed(&self, full: &[Vec<Entry>]) -> Vec<Entry> {
        let all: Vec<Entry> = full
            .iter()
            .flatten()
            .chain(&self.entries)
            .copied()
            .collect();
        let (kept, read) = if self.sweep == NO_SWEEP {
            (all.len(), all.len())
        } else {
            (self.kept as usize, self.sweep as usize)
        };
        let mut listed = all[..kept].to_vec();
        listed.extend_from_slice(&all[read..]);
        listed
    }

    /// The live entry of the timer in slot `index` went stale: counts it
    /// and, if that timer set the recorded earliest, makes the earliest a
    /// lower bound again. Returns whether a sweep step is due.
    #[inline]
    pub(crate) fn stale(&mut self, index: u32) -> bool {
        if index == self.earliest_index {
            self.exact = false;
        }
        self.garbage += 1;
        if self.sweep != NO_SWEEP {
            return true;
        }
        let total = self.total();
        let due = self.garbage >= COMPACT_MIN && self.garbage as usize * 2 > total;
        if due {
            if (self.checked as usize) < total {
                self.start_sweep(self.checked, false);
            } else {
                // Nothing arrived since the last sweep: the garbage is
                // among the entries it read.
                self.start_sweep(0, true);
            }
        }
        due
    }

    fn start_sweep(&mut self, from: u32, full: bool) {
        (self.sweep, self.kept, self.full) = (from, from, full);
        self.found_garbage = self.garbage;
    }

    /// The count of full chunks, after an operation that may have changed
    /// them.
    fn recount(&mut self, store: &Store<'_>) {
        self.chunks = store.full.len() as u16;
    }

    /// One step of the sweep under way: reads the next [`SWEEP_STEP`]
    /// entries, keeping those `live` says may be live (branch-free per
    /// entry: the reads are the cost). Returns whether the bucket is now
    /// empty.
    pub(crate) fn sweep_step(
        &mut self,
        store: &mut Store<'_>,
        mut live: impl FnMut(Entry) -> bool,
    ) -> bool {
        let len = self.total();
        debug_assert!(self.sweep != NO_SWEEP, "a sweep is under way");
        debug_assert!(
            (self.full || self.checked <= self.kept)
                && self.kept <= self.sweep
                && self.sweep as usize <= len,
            "read entries, then holes, then unread ones"
        );
        let (at, start) = (self.sweep as usize, self.kept as usize);
        let stop = (at + SWEEP_STEP).min(len);
        let (end, kept, young) = if self.chunks == 0 {
            // A slice, not the vector: its pointer and length stay in
            // registers through the loop.
            sweep_reads(
                self.entries.as_mut_slice(),
                at,
                start,
                stop,
                self.full,
                &mut live,
            )
        } else {
            let mut chunks = Self::chunks(&mut self.entries, store);
            sweep_reads(&mut chunks, at, start, stop, self.full, &mut live)
        };
        let (read, found) = (end - at, kept - start);
        self.garbage = self.garbage.saturating_sub((read - found) as u32);
        (self.sweep, self.kept) = (end as u32, kept as u32);
        if end == len || young {
            let full = self.full;
            self.settle(store);
            if full {
                // Every entry read: the count starts afresh.
                self.garbage = 0;
            } else if self.garbage >= COMPACT_MIN && self.garbage * 2 > self.found_garbage {
                // It dropped less than half the garbage it started with:
                // the rest is among entries read before, which a partial
                // sweep does not reach; read them all. (Else a partial sweep
                // would start again a few cancels later, each one moving
                // the unread tail and dropping little.)
                self.start_sweep(0, true);
                return false;
            }
            return self.shrink(store);
        }
        false
    }

    /// Ends the sweep under way, if any: closes its holes (moving the
    /// unread entries down, in order); everything before them has been read.
    pub(crate) fn settle(&mut self, store: &mut Store<'_>) {
        if self.sweep == NO_SWEEP {
            return;
        }
        let (kept, read, len) = (self.kept as usize, self.sweep as usize, self.total());
        Self::chunks(&mut self.entries, store).close_gap(kept, read);
        self.recount(store);
        self.checked = if read == len {
            self.total() as u32
        } else {
            kept as u32
        };
        self.sweep = NO_SWEEP;
    }

    /// Keeps the entries that `live` keeps, reading them all; returns
    /// whether the bucket is now empty.
    pub(crate) fn compact(
        &mut self,
        store: &mut Store<'_>,
        live: impl FnMut(Entry) -> bool,
    ) -> bool {
        self.settle(store);
        Self::chunks(&mut self.entries, store).retain(live);
        self.recount(store);
        (self.garbage, self.checked) = (0, self.total() as u32);
        self.shrink(store)
    }

    /// [`Bucket::compact`] by a `live` that gives each kept entry's
    /// deadline, and records the earliest of those as exact.
    pub(crate) fn compact_exact(
        &mut self,
        store: &mut Store<'_>,
        mut live: impl FnMut(Entry) -> Option<u64>,
    ) -> bool {
        let (mut earliest, mut earliest_index) = (u64::MAX, u32::MAX);
        let empty = self.compact(store, |entry| match live(entry) {
            Some(deadline_ns) => {
                if deadline_ns < earliest {
                    (earliest, earliest_index) = (deadline_ns, entry.index);
                }
                true
            }
            None => false,
        });
        if !empty {
            (self.earliest, self.earliest_index, self.exact) = (earliest, earliest_index, true);
        }
        empty
    }

    /// One step of moving the bucket's timers down ahead of its visit:
    /// reads up to `budget` entries from where the last step got to; drops
    /// the stale ones, hands those `sort` says can move now to `out` and
    /// keeps the rest for the visit. Returns whether the bucket has been
    /// read to its end, and whether it is now empty.
    pub(crate) fn early_step(
        &mut self,
        store: &mut Store<'_>,
        budget: usize,
        mut sort: impl FnMut(Entry) -> Early,
        out: &mut Vec<Entry>,
    ) -> (bool, bool) {
        self.settle(store);
        let mut list = Self::chunks(&mut self.entries, store);
        let mut at = self.early as usize;
        let before = list.len();
        for _ in 0..budget {
            if at >= list.len() {
                break;
            }
            let entry = list.get(at);
            match sort(entry) {
                Early::Wait => at += 1,
                Early::Stale => {
                    list.swap_remove(at);
                    self.garbage = self.garbage.saturating_sub(1);
                }
                Early::Move => {
                    list.swap_remove(at);
                    out.push(entry);
                }
            }
        }
        let len = list.len();
        debug_assert!(len <= before);
        self.recount(store);
        // Swaps moved entries: the order a sweep relies on is gone.
        self.checked = 0;
        if !out.is_empty() {
            self.exact = false;
        }
        self.early = at as u32;
        if at >= len {
            self.garbage = 0;
            return (true, self.shrink(store));
        }
        (false, false)
    }

    /// Empties the bucket, handing its entries over.
    pub(crate) fn take(&mut self, store: &mut Store<'_>) -> Taken {
        self.settle(store);
        let taken = Taken {
            full: std::mem::take(store.full),
            tail: std::mem::take(&mut self.entries),
        };
        *self = Self::new();
        taken
    }

    /// Gives memory back after entries left; returns whether it is empty.
    fn shrink(&mut self, store: &mut Store<'_>) -> bool {
        if self.total() == 0 {
            debug_assert!(store.full.is_empty(), "an empty bucket has no chunks");
            let kept = std::mem::take(&mut self.entries);
            *self = Self::new();
            // An emptied bucket keeps a small buffer only: 2048 buckets
            // keeping a kilobyte each would hold megabytes in an idle loop.
            if kept.capacity() <= KEEP_EMPTY {
                self.entries = kept;
            } else {
                store.pool.give(kept);
            }
            return true;
        }
        let list = &mut self.entries;
        if self.chunks == 0 && list.capacity() > KEEP_CAPACITY && list.len() < list.capacity() / 4 {
            // A bucket compacted to a quarter gives half its memory back.
            // Not sooner: a bucket still being filled would shrink and grow
            // again on every compaction, copying its entries each time
            // (measured: a tenth of the wheel's cache misses). A bucket in
            // chunks gives back whole chunks as it empties instead.
            list.shrink_to(list.capacity() / 2);
        }
        false
    }
}

/// The reads of one sweep step over `entries`, from position `at` to at
/// most `stop`, keeping live entries from position `kept` on: returns where
/// it stopped reading, where the next kept entry goes, and whether it
/// stopped at young entries (only when not `full`). In blocks of
/// [`YOUNG_BLOCK`], so that reaching the young entries costs at most one
/// block of reads, not a step.
#[inline]
fn sweep_reads<E: Positions + ?Sized>(
    entries: &mut E,
    at: usize,
    mut kept: usize,
    stop: usize,
    full: bool,
    live: &mut impl FnMut(Entry) -> bool,
) -> (usize, usize, bool) {
    let (mut end, mut young) = (at, false);
    while end < stop && !young {
        let (from, before) = (end, kept);
        end = (from + YOUNG_BLOCK).min(stop);
        for read in from..end {
            let entry = entries.get(read);
            entries.set(kept, entry);
            kept += usize::from(live(entry));
        }
        young = !full && (kept - before) * 2 > end - from;
    }
    (end, kept, young)
}

/// An emptied bucket keeps its buffer if it holds no more entries than this.
pub(crate) const KEEP_EMPTY: usize = 32;
/// Buckets whose capacity exceeds this shrink when compacted to a quarter.
const KEEP_CAPACITY: usize = 1024;

#[cfg(test)]
#[path = "bucket_tests.rs"]
mod tests;

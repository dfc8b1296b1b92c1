//! Bucket entries, kept in chunks of at most [`CHUNK`] entries, with a
//! garbage count per chunk.
//!
//! ```text
//!  chunks (pool, by id)                       bucket 300's chunk list: [12, 40, 7]
//!  #12 bucket 300 garbage 3  [ (17,c) (3,c) (9,c) ... ]   1024 entries, full
//!  #40 bucket 300 garbage 0  [ (5,c) ]                    compacted, shrunk
//!  #7  bucket 300 garbage 1  [ (2,c) (8,c) ]              open: pushes go here
//!  free ids: [3, 19]
//! ```
//!
//! An entry is 8 bytes, `(slot index, check)`; it never moves when its timer
//! is cancelled (see `slots`). Cancel only counts one unit of garbage on the
//! chunk the slot names (in a dense array of `u16`, 2 bytes per chunk, which
//! stays in cache where the chunks' headers would not), and a chunk whose
//! garbage passes a threshold is compacted alone: entries whose tag proves
//! them stale are dropped, the rest kept in order, and the buffer shrunk.
//! One pass over at most [`CHUNK`] entries, reading one tag byte each: a
//! pause of a few microseconds, whatever the bucket's size.
//!
//! The threshold trades tag reads against memory. Request timeouts are
//! cancelled in waves: a chunk fills in a fraction of a second and its
//! timers are cancelled together one request-latency later, 95% or more of
//! them. Compacting at a third of garbage would read a chunk's entries some
//! three times over as the wave passes (1024, 683, 455, ...: three tag reads
//! per request, measured to cost more than the rest of a cancel); at three
//! quarters, 1.25 times. So a chunk is compacted at three quarters garbage,
//! unless the wheel as a whole holds more than a third garbage (the waves
//! are not waves), when a third is enough. The chunks in the middle of a
//! wave hold the garbage; the others hold little.

use super::slots::ChunkId;

/// Entries per chunk. A compaction reads one tag per entry: 1024 keeps it to
/// a few microseconds.
pub(crate) const CHUNK: usize = 1024;
/// Garbage a chunk holds before compaction is considered (so nearly empty
/// chunks are not compacted over and over).
pub(crate) const MIN_GARBAGE: u32 = 8;

/// A bucket entry: the timer's slot index and the check it was placed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) index: u32,
    pub(crate) check: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) entries: Vec<Entry>,
    /// The bucket whose list holds this chunk.
    pub(crate) bucket: u16,
}

/// The pool of chunks; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Chunks {
    chunks: Vec<Chunk>,
    /// Per chunk: its length, and its entries known to be stale (cancelled
    /// or moved since pushed). Apart from the chunks so the cancel path
    /// touches 4 bytes in a small array, not a header among tens of
    /// thousands.
    counts: Vec<Counts>,
    /// Entries and garbage across all chunks.
    entries_total: usize,
    garbage_total: usize,
    free: Vec<ChunkId>,
    /// Full-size buffers of recycled chunks, for the next open chunk (a
    /// few, so a burst does not keep megabytes).
    spare: Vec<Vec<Entry>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    len: u16,
    garbage: u16,
}

/// Spare buffers kept.
const SPARE: usize = 16;

impl Chunks {
    /// A new, empty chunk of `bucket`. A `busy` bucket (one that just
    /// filled a chunk) gets a full-size buffer at once: growing it step by
    /// step would copy its entries over and over, a miss per line each
    /// time the old buffer has left the cache.
    pub(crate) fn open(&mut self, bucket: u16, busy: bool) -> ChunkId {
        let entries = match self.spare.pop() {
            Some(spare) => spare,
            None if busy => Vec::with_capacity(CHUNK),
            None => Vec::new(),
        };
        let chunk = Chunk { entries, bucket };
        match self.free.pop() {
            Some(id) => {
                debug_assert_eq!(self.counts[id as usize].garbage, 0);
                self.counts[id as usize].len = 0;
                self.chunks[id as usize] = chunk;
                id
            }
            None => {
                self.chunks.push(chunk);
                self.counts.push(Counts::default());
                ChunkId::try_from(self.chunks.len() - 1).expect("fewer than 4G chunks")
            }
        }
    }

    /// Appends `entry` to chunk `id` if it has room; `false` if it is full.
    #[inline]
    pub(crate) fn push(&mut self, id: ChunkId, entry: Entry) -> bool {
        let entries = &mut self.chunks[id as usize].entries;
        if entries.len() >= CHUNK {
            return false;
        }
        if entries.len() == entries.capacity() {
            // A quiet bucket's chunk grows by doubling from 16 (a reactor
            // with a few timers keeps a few bytes per bucket, not 8 KB).
            let more = entries.len().max(16).min(CHUNK - entries.len());
            entries.reserve_exact(more);
        }
        entries.push(entry);
        self.counts[id as usize].len += 1;
        self.entries_total += 1;
        true
    }

    /// Counts one stale entry in chunk `id`; compacts the chunk when its
    /// garbage passes the threshold (see the module docs), keeping the
    /// entries `keep` accepts.
    #[inline]
    pub(crate) fn add_garbage(&mut self, id: ChunkId, keep: impl FnMut(&Entry) -> bool) {
        let Some(counts) = self.counts.get_mut(id as usize) else {
            debug_assert!(false, "garbage counted on chunk {id} that does not exist");
            return;
        };
        counts.garbage += 1;
        self.garbage_total += 1;
        let (g, len) = (usize::from(counts.garbage), usize::from(counts.len));
        debug_assert_eq!(len, self.chunks[id as usize].entries.len());
        debug_assert!(g <= len, "more garbage than entries");
        let wheel_is_dirty = self.garbage_total * 3 > self.entries_total;
        if g >= len {
            // Every entry is stale (each unit of garbage is a distinct entry
            // its timer left): free the buffer without reading a tag. This
            // is what reclaims the lone entries of a timer rescheduled from
            // bucket to bucket.
            self.chunks[id as usize].entries = Vec::new();
            self.settle(id, len);
        } else if g >= MIN_GARBAGE as usize && (g * 4 >= len * 3 || (wheel_is_dirty && g * 3 > len))
        {
            let removed = Self::compact(&mut self.chunks[id as usize], keep);
            self.settle(id, removed);
        }
    }

    /// Books `removed` entries of chunk `id` as gone and its garbage as
    /// reclaimed. What the tags could not prove stale (1 in 256 by chance)
    /// counts as live until the bucket's visit confirms it.
    fn settle(&mut self, id: ChunkId, removed: usize) {
        let counts = &mut self.counts[id as usize];
        self.garbage_total -= usize::from(std::mem::take(&mut counts.garbage));
        counts.len -= removed as u16;
        self.entries_total -= removed;
    }

    /// Drops the entries `keep` rejects; returns how many.
    #[cold]
    fn compact(chunk: &mut Chunk, keep: impl FnMut(&Entry) -> bool) -> usize {
        let before = chunk.entries.len();
        chunk.entries.retain(keep);
        let len = chunk.entries.len();
        if len == 0 {
            chunk.entries = Vec::new();
        } else if chunk.entries.capacity() > len + len / 4 + 16 {
            chunk.entries.shrink_to(len + len / 4);
        }
        before - len
    }

    /// Hands over chunk `id`'s entries and frees the chunk.
    pub(crate) fn take(&mut self, id: ChunkId) -> Vec<Entry> {
        let entries = std::mem::take(&mut self.chunks[id as usize].entries);
        self.settle(id, entries.len());
        self.free.push(id);
        entries
    }

    /// Returns a buffer obtained from [`Chunks::take`], to be reused.
    pub(crate) fn recycle(&mut self, mut entries: Vec<Entry>) {
        if entries.capacity() == CHUNK && self.spare.len() < SPARE {
            entries.clear();
            self.spare.push(entries);
        }
    }

    /// Chunk `id`'s entries.
    pub(crate) fn entries_of(&self, id: ChunkId) -> &[Entry] {
        self.chunks.get(id as usize).map_or(&[], |c| &c.entries)
    }

    pub(crate) fn bucket_of(&self, id: ChunkId) -> Option<u16> {
        self.chunks.get(id as usize).map(|c| c.bucket)
    }

    /// Entries across all chunks (live and stale).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.chunks.iter().map(|c| c.entries.len()).sum()
    }

    /// Chunks in use.
    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        self.chunks.len() - self.free.len()
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let entry = std::mem::size_of::<Entry>();
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.counts.capacity() * std::mem::size_of::<Counts>()
            + self.free.capacity() * std::mem::size_of::<ChunkId>()
            + self
                .chunks
                .iter()
                .map(|c| c.entries.capacity() * entry)
                .sum::<usize>()
            + self
                .spare
                .iter()
                .map(|s| s.capacity() * entry)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u32) -> Entry {
        Entry { index, check: 0 }
    }

    #[test]
    fn a_chunk_fills_to_its_size_then_refuses() {
        let mut chunks = Chunks::default();
        let id = chunks.open(5, false);
        for i in 0..CHUNK as u32 {
            assert!(chunks.push(id, entry(i)));
        }
        assert!(!chunks.push(id, entry(0)));
        assert_eq!(chunks.bucket_of(id), Some(5));
        let taken = chunks.take(id);
        assert_eq!(taken.len(), CHUNK);
        chunks.recycle(taken);
        let again = chunks.open(6, true);
        assert_eq!(again, id, "freed ids are reused");
        assert_eq!(chunks.entries(), 0);
    }

    #[test]
    fn compaction_waits_for_three_quarters_then_keeps_what_may_be_live() {
        let mut chunks = Chunks::default();
        let id = chunks.open(0, false);
        for i in 0..30 {
            chunks.push(id, entry(i));
        }
        // A second chunk of live entries keeps the wheel "clean" (under a
        // third garbage), so the three-quarter threshold applies.
        let other = chunks.open(1, false);
        for i in 0..100 {
            chunks.push(other, entry(i));
        }
        // Indices 1..=23 are "stale": 22 units of garbage, 22 * 4 < 30 * 3.
        let stale = |e: &Entry| !(1..=23).contains(&e.index);
        for _ in 0..22 {
            chunks.add_garbage(id, stale);
        }
        assert_eq!(chunks.entries(), 130);
        chunks.add_garbage(id, stale);
        assert_eq!(chunks.entries(), 107, "23 * 4 >= 30 * 3: compacted");
        let kept: Vec<u32> = chunks.take(id).iter().map(|e| e.index).collect();
        assert_eq!(kept, [0, 24, 25, 26, 27, 28, 29], "in order");
    }

    #[test]
    fn a_dirty_wheel_compacts_at_a_third() {
        let mut chunks = Chunks::default();
        let id = chunks.open(0, false);
        for i in 0..30 {
            chunks.push(id, entry(i));
        }
        // Odd indices are "stale". Ten units of garbage: 10 * 3 = 30, kept.
        for _ in 0..10 {
            chunks.add_garbage(id, |e| e.index % 2 == 0);
        }
        assert_eq!(chunks.entries(), 30);
        chunks.add_garbage(id, |e| e.index % 2 == 0);
        assert_eq!(
            chunks.entries(),
            15,
            "11 * 3 > 30, and the wheel is a third garbage"
        );
        let kept: Vec<u32> = chunks.take(id).iter().map(|e| e.index).collect();
        assert_eq!(kept, (0..30).step_by(2).collect::<Vec<_>>(), "in order");
        assert_eq!((chunks.entries_total, chunks.garbage_total), (0, 0));
    }

    #[test]
    fn a_chunk_all_garbage_is_emptied_without_reading_a_tag() {
        let mut chunks = Chunks::default();
        let id = chunks.open(0, false);
        for i in 0..3 {
            chunks.push(id, entry(i));
        }
        for _ in 0..3 {
            chunks.add_garbage(id, |_| panic!("no tag read needed"));
        }
        assert_eq!(chunks.entries(), 0);
        assert!(chunks.push(id, entry(9)), "the chunk takes entries again");
        chunks.add_garbage(id, |_| panic!("no tag read needed"));
        assert_eq!(chunks.entries(), 0);
    }

    #[test]
    fn a_chunk_compacted_to_nothing_frees_its_buffer() {
        let mut chunks = Chunks::default();
        let id = chunks.open(0, false);
        for i in 0..100 {
            chunks.push(id, entry(i));
        }
        let before = chunks.allocated_bytes();
        for _ in 0..34 {
            chunks.add_garbage(id, |_| false);
        }
        assert_eq!(chunks.entries(), 0);
        assert!(chunks.allocated_bytes() < before - 100 * 8 + 1);
        assert_eq!(chunks.in_use(), 1);
    }
}

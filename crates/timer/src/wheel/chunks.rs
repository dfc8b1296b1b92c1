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
//! chunk the slot names, and when more than a third of a chunk is garbage
//! (and at least [`MIN_GARBAGE`] entries), that chunk alone is compacted:
//! entries whose tag proves them stale are dropped, the rest kept in order,
//! and the buffer shrunk. One pass over at most [`CHUNK`] entries, reading
//! one tag byte each, removing at least a third of what it reads: O(1)
//! amortised per cancel and a pause of a few microseconds, whatever the
//! bucket's size. That bounds a bucket's entries to 1.5x its live timers
//! (plus [`MIN_GARBAGE`] per chunk), where a bucket visited only once per
//! rotation would otherwise hold every timer cancelled since it was last
//! visited (13 garbage entries per live timer for 1-30 s timeouts).

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
    /// Entries known to be stale (cancelled or moved since pushed).
    garbage: u32,
    /// The bucket whose list holds this chunk.
    pub(crate) bucket: u16,
}

/// The pool of chunks; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Chunks {
    chunks: Vec<Chunk>,
    free: Vec<ChunkId>,
    /// Full-size buffers of recycled chunks, for the next open chunk (a
    /// few, so a burst does not keep megabytes).
    spare: Vec<Vec<Entry>>,
}

/// Spare buffers kept.
const SPARE: usize = 16;

impl Chunks {
    /// A new, empty chunk of `bucket`.
    pub(crate) fn open(&mut self, bucket: u16) -> ChunkId {
        let entries = self.spare.pop().unwrap_or_default();
        let chunk = Chunk {
            entries,
            garbage: 0,
            bucket,
        };
        match self.free.pop() {
            Some(id) => {
                self.chunks[id as usize] = chunk;
                id
            }
            None => {
                self.chunks.push(chunk);
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
            // Grow by a quarter (at least 16), not double: entries are most
            // of the wheel's memory after the slots, and a bucket's open
            // chunk is usually part-filled.
            let more = (entries.len() / 4).max(16).min(CHUNK - entries.len());
            entries.reserve_exact(more);
        }
        entries.push(entry);
        true
    }

    /// Counts one stale entry in chunk `id`; compacts the chunk when more
    /// than a third of it is garbage, keeping the entries `keep` accepts.
    #[inline]
    pub(crate) fn add_garbage(&mut self, id: ChunkId, keep: impl FnMut(&Entry) -> bool) {
        let Some(chunk) = self.chunks.get_mut(id as usize) else {
            debug_assert!(false, "garbage counted on chunk {id} that does not exist");
            return;
        };
        chunk.garbage += 1;
        let len = chunk.entries.len();
        debug_assert!(chunk.garbage as usize <= len, "more garbage than entries");
        if chunk.garbage as usize >= len {
            // Every entry is stale (each unit of garbage is a distinct entry
            // its timer left): free the buffer without reading a tag. This
            // is what reclaims the lone entries of a timer rescheduled from
            // bucket to bucket.
            chunk.entries = Vec::new();
            chunk.garbage = 0;
        } else if chunk.garbage >= MIN_GARBAGE && chunk.garbage as usize * 3 > len {
            Self::compact(chunk, keep);
        }
    }

    #[cold]
    fn compact(chunk: &mut Chunk, keep: impl FnMut(&Entry) -> bool) {
        chunk.entries.retain(keep);
        // What the tags could not prove stale (1 in 256 by chance) counts as
        // live until the bucket's visit confirms it.
        chunk.garbage = 0;
        let len = chunk.entries.len();
        if len == 0 {
            chunk.entries = Vec::new();
        } else if chunk.entries.capacity() > len + len / 4 + 16 {
            chunk.entries.shrink_to(len + len / 4);
        }
    }

    /// Hands over chunk `id`'s entries and frees the chunk.
    pub(crate) fn take(&mut self, id: ChunkId) -> Vec<Entry> {
        let entries = std::mem::take(&mut self.chunks[id as usize].entries);
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
        let id = chunks.open(5);
        for i in 0..CHUNK as u32 {
            assert!(chunks.push(id, entry(i)));
        }
        assert!(!chunks.push(id, entry(0)));
        assert_eq!(chunks.bucket_of(id), Some(5));
        let taken = chunks.take(id);
        assert_eq!(taken.len(), CHUNK);
        chunks.recycle(taken);
        let again = chunks.open(6);
        assert_eq!(again, id, "freed ids are reused");
        assert_eq!(chunks.entries(), 0);
    }

    #[test]
    fn compaction_waits_for_a_third_then_keeps_what_may_be_live() {
        let mut chunks = Chunks::default();
        let id = chunks.open(0);
        for i in 0..30 {
            chunks.push(id, entry(i));
        }
        // Odd indices are "stale". Ten units of garbage: 10 * 3 = 30, kept.
        for _ in 0..10 {
            chunks.add_garbage(id, |e| e.index % 2 == 0);
        }
        assert_eq!(chunks.entries(), 30);
        chunks.add_garbage(id, |e| e.index % 2 == 0);
        assert_eq!(chunks.entries(), 15, "11 * 3 > 30: compacted");
        let kept: Vec<u32> = chunks.take(id).iter().map(|e| e.index).collect();
        assert_eq!(kept, (0..30).step_by(2).collect::<Vec<_>>(), "in order");
    }

    #[test]
    fn a_chunk_all_garbage_is_emptied_without_reading_a_tag() {
        let mut chunks = Chunks::default();
        let id = chunks.open(0);
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
        let id = chunks.open(0);
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

//! One bucket's entries: a vector in chunks of [`CHUNK`] entries.
//!
//! ```text
//!  chunks: [ 1024 entries ][ 1024 entries ][ 37 entries (capacity grows to 1024) ]
//!           full            full            the last one only is partly filled
//! ```
//!
//! Why not one `Vec`: a level-1 bucket holds tens of thousands of entries
//! at a million timers, and growing a `Vec` that size copies it into fresh
//! memory whose pages the kernel faults in one by one: 90-130 µs inside one
//! insert on this project's VM (measured: every insert over 90 µs with an
//! allocation was a bucket's growth). A chunk is 5 KB, allocated when the
//! last one fills and freed when it empties, so growth copies nothing and
//! the allocator hands back memory it just had.
//!
//! Order inside a bucket does not matter to the wheel (the ready heap
//! orders by exact deadline), so removal moves the last entry into the hole.

use super::levels::Entry;

/// Entries per chunk (a power of two: indexing is a shift and a mask).
const CHUNK: usize = 1024;

/// A bucket's entries; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Every chunk but the last holds exactly [`CHUNK`] entries; the last
    /// holds at least one.
    chunks: Vec<Vec<Entry>>,
}

impl Bucket {
    pub(crate) fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes of entry storage held.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<Entry>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<Entry>())
                .sum::<usize>()
    }

    #[inline]
    pub(crate) fn push(&mut self, entry: Entry) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    // The first chunk doubles from 16 (most buckets stay
                    // small); later chunks are allocated whole.
                    last.reserve_exact(last.len().clamp(16, CHUNK - last.len()));
                }
                last.push(entry);
            }
            _ => {
                let mut chunk = Vec::with_capacity(if self.chunks.is_empty() { 16 } else { CHUNK });
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<Entry> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK).copied()
    }

    fn set(&mut self, i: usize, entry: Entry) {
        if let Some(e) = self
            .chunks
            .get_mut(i / CHUNK)
            .and_then(|c| c.get_mut(i % CHUNK))
        {
            *e = entry;
        }
    }

    /// Takes the last entry off, freeing its chunk if that empties it.
    fn pop(&mut self) -> Option<Entry> {
        let last = self.chunks.last_mut()?;
        let entry = last.pop();
        if last.is_empty() {
            self.chunks.pop();
        }
        entry
    }

    /// Removes entry `i` by moving the last entry into its place.
    #[inline]
    pub(crate) fn swap_remove(&mut self, i: usize) {
        let Some(last) = self.pop() else {
            return;
        };
        if i < self.len() {
            self.set(i, last);
        }
    }

    /// Keeps the entries `keep` keeps, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(Entry) -> bool) {
        let len = self.len();
        let mut kept = 0;
        for i in 0..len {
            if let Some(entry) = self.get(i) {
                if keep(entry) {
                    self.set(kept, entry);
                    kept += 1;
                }
            }
        }
        for _ in kept..len {
            self.pop();
        }
    }

    /// Every entry, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.chunks.iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u32) -> Entry {
        Entry { index, tag: 0 }
    }

    fn indices(b: &Bucket) -> Vec<u32> {
        b.iter().map(|e| e.index).collect()
    }

    #[test]
    fn push_get_and_swap_remove_across_chunks() {
        let mut b = Bucket::default();
        let n = 2 * CHUNK as u32 + 5;
        for i in 0..n {
            b.push(entry(i));
        }
        assert_eq!(b.len(), n as usize);
        assert_eq!(b.chunks.len(), 3);
        assert_eq!(b.get(CHUNK + 1), Some(entry(CHUNK as u32 + 1)));
        assert_eq!(b.get(n as usize), None);
        // The last entry moves into the hole; a chunk that empties goes.
        b.swap_remove(3);
        assert_eq!(b.get(3), Some(entry(n - 1)));
        for _ in 0..4 {
            b.swap_remove(0);
        }
        assert_eq!(b.len(), 2 * CHUNK);
        assert_eq!(b.chunks.len(), 2, "the emptied last chunk was freed");
        assert!(b.chunks.iter().all(|c| c.len() == CHUNK));
    }

    #[test]
    fn retain_keeps_order_and_frees_chunks() {
        let mut b = Bucket::default();
        for i in 0..3 * CHUNK as u32 {
            b.push(entry(i));
        }
        b.retain(|e| e.index % 3 == 0);
        assert_eq!(
            indices(&b),
            (0..3 * CHUNK as u32).step_by(3).collect::<Vec<_>>()
        );
        assert_eq!(b.chunks.len(), 1);
        b.retain(|_| false);
        assert!(b.is_empty());
        assert_eq!(
            b.capacity_bytes(),
            b.chunks.capacity() * std::mem::size_of::<Vec<Entry>>()
        );
    }
}

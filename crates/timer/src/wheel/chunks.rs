//! A bucket's entries, stored so that growing never copies more than one
//! chunk.
//!
//! ```text
//!  position:  0            CHUNK        2 CHUNK      3 CHUNK
//!             [ full chunk 0 | full chunk 1 | tail ....       ]
//!               side table of the bucket      in the bucket's record
//! ```
//!
//! A bucket's entries are one vector (the tail, in the bucket's record)
//! until it holds [`CHUNK`] entries; it grows by half each time up to that,
//! copying at most one chunk. A bucket that fills its tail at [`CHUNK`]
//! moves it whole to the bucket's list of full chunks and starts a new tail
//! from the [`Pool`]: no entry is copied and no fresh memory is touched
//! while the pool has a chunk, and at most one chunk (ten pages) when it
//! has none. (Growing a level-1 bucket of 30,000 entries by half into
//! fresh memory took 130-160 µs inside one insert, mostly first-touch page
//! faults.) A chunk comes back to the pool when its
//! bucket is visited or shrinks, and is reused by the next bucket filling
//! up: in steady state, buckets pass the same chunks round.
//!
//! Positions run across chunks in arrival order: position `p` is in full
//! chunk `p / CHUNK` when below `full.len() * CHUNK`, else in the tail. Every
//! full chunk holds exactly [`CHUNK`] entries, so entries leave only from
//! the end ([`Chunks::pop`], [`Chunks::truncate`]); the bucket fills holes
//! by moving entries down ([`Chunks::close_gap`], `swap_remove` as a pop).

use std::mem;

use super::levels::Entry;

/// Entries per chunk: 40 KB of 5-byte entries, ten pages. 4096 cost 0.4-1.2
/// bytes more per live timer at 1e5 timers, where level-1 buckets hold
/// 2,000-5,000 entries: a bucket just past one chunk holds two. Small in
/// tests, so that their buckets of a few hundred entries cross chunk
/// boundaries.
#[cfg(not(test))]
pub(crate) const CHUNK: usize = 8192;
#[cfg(test)]
pub(crate) const CHUNK: usize = 16;

/// Chunks the pool keeps at most (320 KB): about twice what the biggest
/// level-1 visit gives back at a million timers. More would be memory held
/// for nothing (a pool of 32 chunks of 4096 cost 1.2 bytes more per live
/// timer at 1e5 timers); a bucket that finds the pool empty allocates one
/// chunk.
pub(crate) const POOL_MAX: usize = 8;

/// Chunk buffers given back by buckets, for the next bucket that fills its
/// tail; shared by all buckets of a wheel.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Vec<Vec<Entry>>,
}

impl Pool {
    /// An empty buffer of exactly [`CHUNK`] entries: a kept one if any.
    pub(crate) fn take(&mut self) -> Vec<Entry> {
        self.free.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK))
    }

    /// Keeps `chunk` for reuse if it is a chunk buffer and the pool has room;
    /// else frees it.
    pub(crate) fn give(&mut self, mut chunk: Vec<Entry>) {
        if chunk.capacity() == CHUNK && self.free.len() < POOL_MAX {
            chunk.clear();
            self.free.push(chunk);
        }
    }

    /// Bytes held by kept buffers.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.free.len() * CHUNK * mem::size_of::<Entry>()
            + self.free.capacity() * mem::size_of::<Vec<Entry>>()
    }

    /// Frees every kept buffer.
    pub(crate) fn clear(&mut self) {
        self.free = Vec::new();
    }

    /// Buffers kept (tests).
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.free.len()
    }
}

/// One bucket's entries, seen whole: its tail and its full chunks, with
/// the wheel's pool for chunks that free up.
#[derive(Debug)]
pub(crate) struct Chunks<'a> {
    pub(crate) tail: &'a mut Vec<Entry>,
    pub(crate) full: &'a mut Vec<Vec<Entry>>,
    pub(crate) pool: &'a mut Pool,
}

/// Where a position lives: a full chunk (`chunk < full.len()`) or the tail
/// (`chunk == full.len()`), and the offset in it.
#[derive(Debug, Clone, Copy)]
struct At {
    chunk: usize,
    offset: usize,
}

impl Chunks<'_> {
    /// Positions below this are in full chunks.
    #[inline]
    fn base(&self) -> usize {
        self.full.len() * CHUNK
    }

    #[inline]
    fn at(&self, position: usize) -> At {
        let base = self.base();
        if position >= base {
            At {
                chunk: self.full.len(),
                offset: position - base,
            }
        } else {
            At {
                chunk: position / CHUNK,
                offset: position % CHUNK,
            }
        }
    }

    /// Entries in all.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.base() + self.tail.len()
    }

    /// The entry at `position` (< `len`).
    #[inline]
    pub(crate) fn get(&self, position: usize) -> Entry {
        let at = self.at(position);
        self.chunk(at.chunk)[at.offset]
    }

    /// Overwrites the entry at `position` (< `len`).
    #[inline]
    pub(crate) fn set(&mut self, position: usize, entry: Entry) {
        let at = self.at(position);
        self.chunk_mut(at.chunk)[at.offset] = entry;
    }

    fn chunk(&self, chunk: usize) -> &Vec<Entry> {
        self.full.get(chunk).unwrap_or(&*self.tail)
    }

    fn chunk_mut(&mut self, chunk: usize) -> &mut Vec<Entry> {
        match self.full.get_mut(chunk) {
            Some(full) => full,
            None => self.tail,
        }
    }

    /// Removes the last entry.
    pub(crate) fn pop(&mut self) -> Option<Entry> {
        if self.tail.is_empty() {
            self.unfill_last()?;
        }
        self.tail.pop()
    }

    /// The last full chunk becomes the tail; the (empty) tail goes back to
    /// the pool. `None` if there is no full chunk.
    fn unfill_last(&mut self) -> Option<()> {
        let last = self.full.pop()?;
        debug_assert!(self.tail.is_empty(), "only an empty tail is replaced");
        let empty = mem::replace(self.tail, last);
        self.pool.give(empty);
        Some(())
    }

    /// Keeps the first `len` entries; chunks emptied go back to the pool.
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.base() > len {
            self.tail.clear();
            self.unfill_last();
        }
        let base = self.base();
        self.tail.truncate(len - base);
    }

    /// Removes positions `from..to`, moving the entries after them down
    /// (in order), chunk by chunk.
    pub(crate) fn close_gap(&mut self, from: usize, to: usize) {
        debug_assert!(from <= to && to <= self.len());
        if from == to {
            return;
        }
        let len = self.len();
        let (mut dst, mut src) = (from, to);
        while src < len {
            let (d, s) = (self.at(dst), self.at(src));
            let n = (len - src)
                .min(self.chunk(s.chunk).len() - s.offset)
                .min(self.chunk(d.chunk).len() - d.offset);
            if d.chunk == s.chunk {
                self.chunk_mut(d.chunk)
                    .copy_within(s.offset..s.offset + n, d.offset);
            } else {
                // `d.chunk < s.chunk`, and only the later one can be the tail.
                let (lower, upper) = self.full.split_at_mut(s.chunk);
                let from_slice = match upper.first() {
                    Some(chunk) => chunk,
                    None => &*self.tail,
                };
                lower[d.chunk][d.offset..d.offset + n]
                    .copy_from_slice(&from_slice[s.offset..s.offset + n]);
            }
            dst += n;
            src += n;
        }
        self.truncate(len - (to - from));
    }

    /// Keeps the entries `keep` keeps, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(Entry) -> bool) {
        let len = self.len();
        let mut kept = 0;
        for read in 0..len {
            let entry = self.get(read);
            if keep(entry) {
                self.set(kept, entry);
                kept += 1;
            }
        }
        self.truncate(kept);
    }

    /// Removes the entry at `position`, moving the last entry into its
    /// place.
    pub(crate) fn swap_remove(&mut self, position: usize) {
        debug_assert!(position < self.len(), "a position in the bucket");
        if let Some(last) = self.pop() {
            if position < self.len() {
                self.set(position, last);
            }
        }
    }
}

/// Positions of entries, read and written one at a time: a slice (a bucket
/// without full chunks) or [`Chunks`].
pub(crate) trait Positions {
    /// The entry at `position`.
    fn get(&self, position: usize) -> Entry;
    /// Overwrites the entry at `position`.
    fn set(&mut self, position: usize, entry: Entry);
}

impl Positions for [Entry] {
    #[inline]
    fn get(&self, position: usize) -> Entry {
        self[position]
    }

    #[inline]
    fn set(&mut self, position: usize, entry: Entry) {
        self[position] = entry;
    }
}

impl Positions for Chunks<'_> {
    #[inline]
    fn get(&self, position: usize) -> Entry {
        Chunks::get(self, position)
    }

    #[inline]
    fn set(&mut self, position: usize, entry: Entry) {
        Chunks::set(self, position, entry);
    }
}

/// A visited bucket's entries, handed over whole; give it back with
/// `Levels::recycle`.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub(crate) full: Vec<Vec<Entry>>,
    pub(crate) tail: Vec<Entry>,
}

impl Taken {
    /// Entries in all.
    pub(crate) fn len(&self) -> usize {
        self.full.len() * CHUNK + self.tail.len()
    }

    /// The entries in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.full.iter().flatten().chain(&self.tail).copied()
    }
}

#[cfg(test)]
#[path = "chunks_tests.rs"]
mod tests;

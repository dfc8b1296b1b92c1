//! Where the wheel's timers live: 256 home buckets, one per 256-tick block
//! digit, each a dense array of records (in chunks of 256) with a free list.
//!
//! ```text
//!  home 5 (timers due in blocks 5, 261, 517, ...)
//!  records: [ g3 Some(v) t=1337 | g1 None | g0 Some(v) t=1401 | ... ]    32 B each for T = u32
//!  free:    [1]                                  vacant positions, reused first
//!  key:     index = home << 24 | position, plus the record's generation
//! ```
//!
//! A timer is stored, once and for good, in the home of the block its
//! deadline falls in, so its key can name the record directly: cancel is a
//! single visit to one 32-byte record (check the generation, take the value,
//! push the position on the free list) and nothing is unlinked or moved.
//! The vacancy is reused by the next timer for the same block, and when a
//! home's last timer goes the whole home is reset, so cancelled timers leave
//! nothing behind once their block has passed.
//!
//! Generations: every free bumps the record's generation, and a reset
//! starts the new records above every generation the home ever issued, so
//! a stale key never matches a newer timer (until 2^32 timers have passed
//! through one home while the stale key was kept).
//!
//! Pitfall: a home holds its records until its last timer goes, so a burst
//! of timers for one block, cancelled but for one, keeps its memory until
//! that one fires or is cancelled (at most one rotation, 65 s at 1 ms).

/// Bits of position in a key's index; the home takes the 8 above them.
#[cfg(not(test))]
const POS_BITS: u32 = 24;
/// Unit tests make homes small, so that a full home (a timer stored in
/// another home, reached through its block list) happens in them.
#[cfg(test)]
const POS_BITS: u32 = 10;
/// Positions per home.
pub(crate) const MAX_POS: usize = 1 << POS_BITS;
/// A reset home keeps its first chunk and free list if they hold no more
/// than this (so an idle wheel holds a few kilobytes).
const KEEP_RECORDS: usize = 32;

/// A key's index for position `pos` of home `home`.
#[inline]
pub(crate) fn index(home: usize, pos: u32) -> u32 {
    ((home as u32) << POS_BITS) | pos
}

/// The home and position a key's index names.
#[inline]
pub(crate) fn split(index: u32) -> (usize, usize) {
    (
        (index >> POS_BITS) as usize,
        (index & (MAX_POS as u32 - 1)) as usize,
    )
}

/// One timer. `repr(C)`: what cancel reads (generation, value) comes first,
/// so with 32-byte records it never straddles two cache lines.
#[repr(C)]
pub(crate) struct Record<T> {
    pub(crate) generation: u32,
    pub(crate) value: Option<T>,
    /// Nanoseconds since the wheel's start.
    pub(crate) deadline_ns: u64,
    /// Insertion order, the tie-break between equal deadlines.
    pub(crate) seq: u64,
}

/// Records per chunk: a home grows a chunk at a time (no reallocation
/// copying its records, at most one partly used chunk per home).
const CHUNK_BITS: u32 = 8;
const CHUNK: usize = 1 << CHUNK_BITS;

/// One home bucket; see the module docs.
pub(crate) struct Home<T> {
    /// Records `0..len`, in chunks of [`CHUNK`].
    chunks: Vec<Vec<Record<T>>>,
    len: usize,
    free: Vec<u32>,
    live: u32,
    /// The highest generation this home has issued or will issue next.
    top_generation: u32,
}

impl<T> Home<T> {
    pub(crate) fn new() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
            free: Vec::new(),
            live: 0,
            top_generation: 0,
        }
    }

    /// Timers stored here.
    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    #[inline]
    fn slot(&self, pos: usize) -> Option<&Record<T>> {
        self.chunks.get(pos >> CHUNK_BITS)?.get(pos & (CHUNK - 1))
    }

    #[inline]
    fn slot_mut(&mut self, pos: usize) -> Option<&mut Record<T>> {
        self.chunks
            .get_mut(pos >> CHUNK_BITS)?
            .get_mut(pos & (CHUNK - 1))
    }

    /// Stores a timer; its position and generation, or the value back when
    /// the home holds [`MAX_POS`] timers already.
    #[inline]
    pub(crate) fn insert(&mut self, value: T, deadline_ns: u64, seq: u64) -> Result<(u32, u32), T> {
        if let Some(pos) = self.free.pop() {
            let chunk = self.chunks.get_mut(pos as usize >> CHUNK_BITS);
            if let Some(record) = chunk.and_then(|c| c.get_mut(pos as usize & (CHUNK - 1))) {
                record.value = Some(value);
                record.deadline_ns = deadline_ns;
                record.seq = seq;
                self.live += 1;
                return Ok((pos, record.generation));
            }
        }
        if self.len >= MAX_POS {
            return Err(value);
        }
        let c = self.len >> CHUNK_BITS;
        if c == self.chunks.len() {
            // The first chunk grows as a `Vec` does (a home with a handful
            // of timers holds a handful of records); later ones come whole.
            let capacity = if c == 0 { 0 } else { CHUNK };
            self.chunks.push(Vec::with_capacity(capacity));
        }
        let pos = self.len as u32;
        let generation = self.top_generation;
        if let Some(chunk) = self.chunks.get_mut(c) {
            chunk.push(Record {
                generation,
                value: Some(value),
                deadline_ns,
                seq,
            });
        }
        self.len += 1;
        self.live += 1;
        Ok((pos, generation))
    }

    /// The record at `pos` if it holds a timer of generation `generation`.
    #[inline]
    pub(crate) fn get(&self, pos: usize, generation: u32) -> Option<&Record<T>> {
        self.slot(pos)
            .filter(|r| r.generation == generation && r.value.is_some())
    }

    /// Same, mutable.
    #[inline]
    pub(crate) fn get_mut(&mut self, pos: usize, generation: u32) -> Option<&mut Record<T>> {
        self.slot_mut(pos)
            .filter(|r| r.generation == generation && r.value.is_some())
    }

    /// Frees the record at `pos` if it holds a timer of `generation`:
    /// returns its value (and resets the home if that was its last timer).
    #[inline]
    pub(crate) fn take(&mut self, pos: usize, generation: u32) -> Option<T> {
        let record = self.slot_mut(pos)?;
        if record.generation != generation {
            return None;
        }
        let value = record.value.take()?;
        record.generation = generation.wrapping_add(1);
        let bumped = record.generation;
        self.top_generation = self.top_generation.max(bumped);
        self.live -= 1;
        if self.live == 0 {
            self.reset();
        } else {
            self.free.push(pos as u32);
        }
        Some(value)
    }

    /// Forgets every (vacant) record, keeping a small first chunk (so a home
    /// whose timers come and go one at a time does not allocate each time);
    /// new records start above every generation issued so far.
    fn reset(&mut self) {
        self.top_generation = self.top_generation.wrapping_add(1);
        self.chunks.truncate(1);
        if let Some(chunk) = self.chunks.first_mut() {
            if chunk.capacity() > KEEP_RECORDS {
                self.chunks.clear();
            } else {
                chunk.clear();
            }
        }
        self.len = 0;
        if self.free.capacity() > KEEP_RECORDS {
            self.free = Vec::new();
        } else {
            self.free.clear();
        }
    }

    /// Every record with a timer, with its position.
    pub(crate) fn iter_live(&self) -> impl Iterator<Item = (u32, &Record<T>)> + '_ {
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, r)| r.value.is_some())
            .map(|(pos, r)| (pos as u32, r))
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<Record<T>>>()
            + self
                .chunks
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<Record<T>>())
                .sum::<usize>()
            + self.free.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips() {
        for (home, pos) in [
            (0, 0),
            (255, MAX_POS as u32 - 1),
            (7, MAX_POS as u32 / 2 + 1),
        ] {
            assert_eq!(split(index(home, pos)), (home, pos as usize));
        }
    }

    #[test]
    fn vacancies_are_reused_and_generations_move_on() {
        let mut home = Home::new();
        let (a, ga) = home.insert('a', 1, 1).ok().unwrap();
        let (b, gb) = home.insert('b', 2, 2).ok().unwrap();
        assert_eq!((a, b), (0, 1));
        assert_eq!(home.take(a as usize, ga), Some('a'));
        assert_eq!(home.take(a as usize, ga), None, "stale");
        let (c, gc) = home.insert('c', 3, 3).ok().unwrap();
        assert_eq!(c, a, "vacancy reused first");
        assert_ne!(gc, ga);
        assert!(home.get(a as usize, ga).is_none());
        assert_eq!(home.get(c as usize, gc).map(|r| r.deadline_ns), Some(3));
        assert_eq!(home.live(), 2);
        assert_eq!(home.iter_live().count(), 2);
        let _ = gb;
    }

    #[test]
    fn a_reset_never_reissues_a_generation() {
        let mut home = Home::new();
        let mut seen = Vec::new();
        for round in 0..5u64 {
            let keys: Vec<_> = (0..3)
                .map(|i| home.insert(i, round, i).ok().unwrap())
                .collect();
            for &(pos, generation) in &keys {
                assert!(!seen.contains(&(pos, generation)));
                seen.push((pos, generation));
            }
            for &(pos, generation) in &keys {
                assert!(home.take(pos as usize, generation).is_some());
            }
            assert_eq!(home.live(), 0);
            assert!(
                home.allocated_bytes() > 0,
                "a small home keeps its first chunk"
            );
        }
        for &(pos, generation) in &seen {
            assert_eq!(home.take(pos as usize, generation), None);
        }
    }

    #[test]
    fn record_is_32_bytes_for_small_values() {
        assert_eq!(std::mem::size_of::<Record<u32>>(), 32);
        assert_eq!(std::mem::size_of::<Record<()>>(), 24);
    }
}

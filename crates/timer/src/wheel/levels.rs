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
//! Buckets are plain dense vectors of slot indices. Each timer's slot
//! remembers its bucket and position, so cancel removes the entry at once
//! with `swap_remove` (order inside a bucket does not matter: the ready heap
//! orders by exact deadline) and fixes the position of the one entry that
//! moved: O(1), no list to unlink, and no stale entries ever left behind.

/// Bits of tick per level.
const BITS: u32 = 8;
/// Buckets per level.
pub(crate) const SLOTS: usize = 1 << BITS;
/// Levels: enough for every `u64` tick.
const LEVELS: usize = 64 / BITS as usize;
/// Buckets whose capacity exceeds this shrink when three quarters empty.
const KEEP_CAPACITY: usize = 1024;
/// An emptied bucket keeps its buffer if it holds no more entries than this.
const KEEP_EMPTY: usize = 64;

/// A bucket id: `level * SLOTS + slot`.
pub(crate) type BucketId = u16;

/// A bucket entry: the timer's slot index.
pub(crate) type Hint = u32;

/// "In no bucket": the timer is in the ready heap (or the slot is free).
pub(crate) const NO_BUCKET: BucketId = BucketId::MAX;

/// All buckets of the wheel; see the module docs.
#[derive(Debug)]
pub(crate) struct Levels {
    buckets: Vec<Vec<Hint>>,
    /// Per bucket: the earliest deadline (ns) pushed since its last visit,
    /// `u64::MAX` when empty; a lower bound for `next_deadline` (removing
    /// an entry does not raise it).
    earliest: Vec<u64>,
    /// Per bucket: `earliest` is exact (read from the live entries, and no
    /// entry at that deadline removed since), so reading again is useless.
    exact: Vec<bool>,
    occupied: [[u64; SLOTS / 64]; LEVELS],
    /// Bit `L` set when level `L` has any occupied bucket.
    occupied_levels: u8,
}

impl Levels {
    pub(crate) fn new() -> Self {
        Self {
            buckets: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            earliest: vec![u64::MAX; LEVELS * SLOTS],
            exact: vec![false; LEVELS * SLOTS],
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

    /// Appends `hint`, a timer due at `deadline_ns`, to `bucket`; returns
    /// its position there.
    #[inline]
    pub(crate) fn push(&mut self, bucket: BucketId, hint: Hint, deadline_ns: u64) -> u32 {
        let earliest = &mut self.earliest[bucket as usize];
        *earliest = (*earliest).min(deadline_ns);
        let list = &mut self.buckets[bucket as usize];
        if list.len() == list.capacity() {
            // Grow by a quarter, not double: buckets hold most of the wheel's
            // memory and doubling would leave a quarter of it unused on
            // average. Still geometric, so pushes stay amortised O(1).
            list.reserve_exact((list.len() / 4).max(16));
        }
        list.push(hint);
        let pos = (list.len() - 1) as u32;
        if pos == 0 {
            self.set_occupied(bucket, true);
        }
        pos
    }

    /// Removes the entry at `pos` of `bucket` by moving the last entry into
    /// its place; returns the entry that moved there (its slot must learn
    /// its new position), if any.
    #[inline]
    pub(crate) fn remove_at(&mut self, bucket: BucketId, pos: u32) -> Option<Hint> {
        let list = self.buckets.get_mut(bucket as usize)?;
        let pos = pos as usize;
        if pos >= list.len() {
            return None;
        }
        list.swap_remove(pos);
        let moved = list.get(pos).copied();
        if list.is_empty() {
            self.earliest[bucket as usize] = u64::MAX;
            self.exact[bucket as usize] = false;
            // An emptied bucket keeps a small buffer only: 2048 buckets
            // keeping a kilobyte each would hold megabytes in an idle loop.
            if list.capacity() > KEEP_EMPTY {
                *list = Vec::new();
            }
            self.set_occupied(bucket, false);
        } else if list.capacity() > KEEP_CAPACITY && list.len() < list.capacity() / 4 {
            // A big bucket that drained gives memory back (the quarter rule
            // leaves room to grow again without churn).
            list.shrink_to(list.capacity() / 2);
        }
        moved
    }

    /// A timer due at `deadline_ns` left `bucket`: if it may have been the
    /// earliest, the recorded earliest is only a lower bound again.
    #[inline]
    pub(crate) fn forget(&mut self, bucket: BucketId, deadline_ns: u64) {
        if deadline_ns <= self.earliest[bucket as usize] {
            self.exact[bucket as usize] = false;
        }
    }

    /// No timer in `bucket` is due before this (ns).
    pub(crate) fn earliest(&self, bucket: BucketId) -> u64 {
        self.earliest[bucket as usize]
    }

    /// Whether [`Levels::earliest`] is known exact for `bucket`.
    pub(crate) fn is_exact(&self, bucket: BucketId) -> bool {
        self.exact[bucket as usize]
    }

    /// Records `bucket`'s earliest deadline, as read from its entries.
    pub(crate) fn set_exact(&mut self, bucket: BucketId, earliest: u64) {
        self.earliest[bucket as usize] = earliest;
        self.exact[bucket as usize] = true;
    }

    /// The entries of `bucket`.
    pub(crate) fn hints(&self, bucket: BucketId) -> &[Hint] {
        &self.buckets[bucket as usize]
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

    /// Empties `bucket`, handing its entries over. Give the vector back with
    /// [`Levels::recycle`] once done so a small bucket keeps its capacity.
    pub(crate) fn take(&mut self, bucket: BucketId) -> Vec<Hint> {
        self.set_occupied(bucket, false);
        self.earliest[bucket as usize] = u64::MAX;
        self.exact[bucket as usize] = false;
        std::mem::take(&mut self.buckets[bucket as usize])
    }

    /// Returns a vector obtained from [`Levels::take`], cleared, if the
    /// bucket is still empty and the vector small.
    pub(crate) fn recycle(&mut self, bucket: BucketId, mut list: Vec<Hint>) {
        let slot = &mut self.buckets[bucket as usize];
        if slot.is_empty() && slot.capacity() == 0 && list.capacity() <= KEEP_EMPTY {
            list.clear();
            *slot = list;
        }
    }

    /// Entries across all buckets.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    /// Bytes of heap memory held by the buckets.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Vec<u32>>()
            + self.earliest.capacity() * std::mem::size_of::<u64>()
            + self.exact.capacity()
            + self
                .buckets
                .iter()
                .map(|b| b.capacity() * std::mem::size_of::<Hint>())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(index: u32) -> Hint {
        index
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
        levels.push(far, hint(1), 0);
        assert_eq!(levels.next_bucket(5), Some((3 * 256, far)));
        // Level 0, due after the level-1 visit: the level-1 bucket comes first.
        let near = Levels::bucket_for(700, 900).unwrap();
        levels.push(near, hint(2), 0);
        assert_eq!(levels.next_bucket(700), Some((3 * 256, far)));
        assert_eq!(levels.take(far), vec![hint(1)]);
        assert_eq!(levels.next_bucket(700), Some((900, near)));
        levels.take(near);
        // A slot equal to the current digit is one full rotation ahead.
        let rotation = Levels::bucket_for(700, 258 * 256 + 10).unwrap();
        assert_eq!(rotation, SLOTS as u16 + 2);
        levels.push(rotation, hint(3), 0);
        assert_eq!(levels.next_bucket(700), Some((258 * 256, rotation)));
        levels.take(rotation);
        let top = Levels::bucket_for(5, u64::MAX).unwrap();
        levels.push(top, hint(4), 0);
        assert_eq!(levels.next_bucket(5), Some((255 << 56, top)));
    }

    #[test]
    fn same_tick_visits_on_two_levels_are_both_reported() {
        let mut levels = Levels::new();
        let low = Levels::bucket_for(600, 768).unwrap(); // level 0, tick 768
        let high = Levels::bucket_for(300, 800).unwrap(); // level 1, block 3
        levels.push(low, hint(1), 0);
        levels.push(high, hint(2), 0);
        assert_eq!(levels.visit_of(0, 700), Some((768, low)));
        assert_eq!(levels.visit_of(1, 700), Some((768, high)));
        assert_eq!(levels.visit_of(2, 700), None);
    }

    #[test]
    fn remove_at_moves_the_last_entry_and_frees_empty_buckets() {
        let mut levels = Levels::new();
        let positions: Vec<u32> = (0..4).map(|i| levels.push(9, hint(i), 0)).collect();
        assert_eq!(positions, [0, 1, 2, 3]);
        assert_eq!(
            levels.remove_at(9, 1),
            Some(3),
            "the last entry moved into 1"
        );
        assert_eq!(
            levels.remove_at(9, 2),
            None,
            "removing the last moves nothing"
        );
        assert_eq!(levels.remove_at(9, 7), None, "out of range");
        assert_eq!(levels.remove_at(9, 0), Some(3));
        assert_eq!(levels.remove_at(9, 0), None);
        assert_eq!(
            levels.next_bucket(0),
            None,
            "bucket 9 emptied: not occupied"
        );
    }
}

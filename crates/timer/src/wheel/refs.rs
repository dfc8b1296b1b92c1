//! Lists of references to timers stored elsewhere: 256 of them with an
//! occupancy bitmap. The wheel keeps two sets: one per tick of the current
//! block (timers whose block has come, waiting for their tick), and one per
//! block digit for timers not stored in the home their deadline names (a
//! timer rescheduled to another block, or a home that was full).
//!
//! ```text
//!  list 5: [(index, generation), ...]     occupied: 0b..100000
//! ```
//!
//! A reference whose timer was cancelled, fired or moved stays until its
//! list is visited, or until the list has doubled since it was last
//! compacted: the wheel then drops the stale ones (see `TimerWheel`), so
//! each list holds at most twice its live references plus a small constant,
//! at amortised O(1) per reference pushed.

/// A timer elsewhere: its key's index and generation.
pub(crate) type Ref = (u32, u32);

/// Lists shorter than this are never compacted outside a visit.
const MIN_COMPACT: usize = 1024;
/// An emptied list keeps its buffer if it is no larger than this.
const KEEP_EMPTY: usize = 64;

/// 256 reference lists; see the module docs.
#[derive(Debug)]
pub(crate) struct RefLists {
    lists: Vec<Vec<Ref>>,
    /// Length at which each list is compacted next.
    compact_at: Vec<usize>,
    occupied: [u64; 4],
}

impl RefLists {
    pub(crate) fn new() -> Self {
        Self {
            lists: (0..256).map(|_| Vec::new()).collect(),
            compact_at: vec![MIN_COMPACT; 256],
            occupied: [0; 4],
        }
    }

    /// Appends `r` to list `d`; `true` when the list is due for compaction.
    #[inline]
    pub(crate) fn push(&mut self, d: usize, r: Ref) -> bool {
        let list = &mut self.lists[d];
        list.push(r);
        self.occupied[d / 64] |= 1 << (d % 64);
        list.len() >= self.compact_at[d]
    }

    /// Empties list `d`, handing its entries over; give the vector back
    /// with [`RefLists::restore`].
    pub(crate) fn take(&mut self, d: usize) -> Vec<Ref> {
        self.occupied[d / 64] &= !(1 << (d % 64));
        std::mem::take(&mut self.lists[d])
    }

    /// Puts back what [`RefLists::take`] handed over, after the caller kept
    /// only what is still wanted (and anything pushed meanwhile is kept).
    pub(crate) fn restore(&mut self, d: usize, mut kept: Vec<Ref>) {
        let pushed = std::mem::take(&mut self.lists[d]);
        kept.extend(pushed);
        if kept.is_empty() && kept.capacity() > KEEP_EMPTY {
            kept = Vec::new();
        }
        self.compact_at[d] = (2 * kept.len()).max(MIN_COMPACT);
        if !kept.is_empty() {
            self.occupied[d / 64] |= 1 << (d % 64);
        }
        self.lists[d] = kept;
    }

    /// The occupancy bitmap: bit `d` set while list `d` has entries.
    pub(crate) fn bits(&self) -> &[u64; 4] {
        &self.occupied
    }

    /// `true` if list `d` has entries.
    pub(crate) fn is_occupied(&self, d: usize) -> bool {
        self.occupied[d / 64] & (1 << (d % 64)) != 0
    }

    /// The first occupied list after `d`, not wrapping: `d + 1..256`.
    pub(crate) fn next_after(&self, d: usize) -> Option<usize> {
        first_set_from(&self.occupied, d + 1)
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.lists.capacity() * std::mem::size_of::<Vec<Ref>>()
            + self.compact_at.capacity() * std::mem::size_of::<usize>()
            + self
                .lists
                .iter()
                .map(|l| l.capacity() * std::mem::size_of::<Ref>())
                .sum::<usize>()
    }

    /// Entries across all lists.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.lists.iter().map(Vec::len).sum()
    }
}

/// The first set bit at or after `from` in a 256-bit map, not wrapping.
pub(crate) fn first_set_from(bits: &[u64; 4], from: usize) -> Option<usize> {
    if from >= 256 {
        return None;
    }
    let mut w = from / 64;
    let mut word = bits[w] & (u64::MAX << (from % 64));
    loop {
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        w += 1;
        if w == 4 {
            return None;
        }
        word = bits[w];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_set_from_scans_forward_only() {
        let mut bits = [0u64; 4];
        assert_eq!(first_set_from(&bits, 0), None);
        bits[0] |= 1 << 5;
        bits[3] |= 1 << 63;
        assert_eq!(first_set_from(&bits, 0), Some(5));
        assert_eq!(first_set_from(&bits, 5), Some(5));
        assert_eq!(first_set_from(&bits, 6), Some(255));
        assert_eq!(first_set_from(&bits, 256), None);
    }

    #[test]
    fn push_take_restore_and_the_compaction_signal() {
        let mut refs = RefLists::new();
        assert_eq!(refs.next_after(0), None);
        for i in 0..MIN_COMPACT as u32 - 1 {
            assert!(!refs.push(9, (i, 0)));
        }
        assert!(refs.push(9, (7, 7)), "list reached its compaction length");
        assert!(refs.is_occupied(9));
        assert_eq!(refs.next_after(3), Some(9));
        let all = refs.take(9);
        assert!(!refs.is_occupied(9));
        refs.push(9, (1, 1)); // pushed while the caller held the list
        refs.restore(9, all.into_iter().take(10).collect());
        assert_eq!(refs.entries(), 11);
        assert!(refs.is_occupied(9));
        let _ = refs.take(9);
        refs.restore(9, Vec::new());
        assert!(!refs.is_occupied(9));
        assert_eq!(refs.next_after(0), None);
    }
}

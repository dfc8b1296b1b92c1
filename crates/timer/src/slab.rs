//! Dense, paged slot storage with a free list.
//!
//! ```text
//!  pages: [ page 0: 4096 slots ][ page 1: 4096 slots ][ page 2 (filling) ]
//!                  |                                         ^ len
//!  free:  head -> slot 17 -> slot 4100 -> slot 3 -> NONE   (vacant slots chain)
//! ```
//!
//! Why not a single `Vec`: a `Vec` of a million timers doubles by copying
//! tens of megabytes at once (a multi-millisecond stall inside one loop
//! iteration) and keeps up to half its capacity unused. Pages never move and
//! waste at most one page. An index is `page * PAGE + offset`; the page table
//! is small enough to stay in cache.
//!
//! Indices are `u32`: four billion live timers would need hundreds of
//! gigabytes, so the limit is an assertion, not an error path.

/// Slots per page.
const PAGE: usize = 4096;
/// End of the free list.
const NONE: u32 = u32::MAX;

enum Slot<E> {
    Occupied(E),
    Vacant { next_free: u32 },
}

/// Paged slot storage; see the module docs.
pub(crate) struct Slab<E> {
    pages: Vec<Vec<Slot<E>>>,
    free_head: u32,
    len: usize,
}

impl<E> Slab<E> {
    pub(crate) fn new() -> Self {
        Self {
            pages: Vec::new(),
            free_head: NONE,
            len: 0,
        }
    }

    /// Number of occupied slots.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `entry`, returning its index.
    ///
    /// # Panics
    /// When more than `u32::MAX - 1` entries are live at once (that is 4 G
    /// timers, hundreds of gigabytes: the process is out of memory first).
    pub(crate) fn insert(&mut self, entry: E) -> u32 {
        self.len += 1;
        if self.free_head != NONE {
            let index = self.free_head;
            let slot = self.slot_mut(index);
            let Slot::Vacant { next_free } = *slot else {
                unreachable!("free list points at an occupied slot")
            };
            *slot = Slot::Occupied(entry);
            self.free_head = next_free;
            return index;
        }
        if self.pages.last().map_or(true, |page| page.len() == PAGE) {
            self.pages.push(Vec::with_capacity(PAGE));
        }
        let page_no = self.pages.len() - 1;
        let page = &mut self.pages[page_no];
        let index = page_no * PAGE + page.len();
        assert!(index < NONE as usize, "more than 4G pending timers");
        page.push(Slot::Occupied(entry));
        index as u32
    }

    pub(crate) fn get(&self, index: u32) -> Option<&E> {
        let index = index as usize;
        match self.pages.get(index / PAGE)?.get(index % PAGE)? {
            Slot::Occupied(entry) => Some(entry),
            Slot::Vacant { .. } => None,
        }
    }

    pub(crate) fn get_mut(&mut self, index: u32) -> Option<&mut E> {
        let index = index as usize;
        match self.pages.get_mut(index / PAGE)?.get_mut(index % PAGE)? {
            Slot::Occupied(entry) => Some(entry),
            Slot::Vacant { .. } => None,
        }
    }

    /// Frees an occupied slot and returns its entry; `None` if it was vacant.
    pub(crate) fn remove(&mut self, index: u32) -> Option<E> {
        let free_head = self.free_head;
        let slot = self
            .pages
            .get_mut(index as usize / PAGE)?
            .get_mut(index as usize % PAGE)?;
        if let Slot::Vacant { .. } = slot {
            return None;
        }
        let Slot::Occupied(entry) = std::mem::replace(
            slot,
            Slot::Vacant {
                next_free: free_head,
            },
        ) else {
            unreachable!("checked occupied above")
        };
        self.free_head = index;
        self.len -= 1;
        Some(entry)
    }

    /// Bytes of heap memory held (pages plus the page table).
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Vec<Slot<E>>>()
            + self.pages.len() * PAGE * std::mem::size_of::<Slot<E>>()
    }

    /// Size of one slot, for memory reports.
    pub(crate) fn slot_size() -> usize {
        std::mem::size_of::<Slot<E>>()
    }

    fn slot_mut(&mut self, index: u32) -> &mut Slot<E> {
        let index = index as usize;
        &mut self.pages[index / PAGE][index % PAGE]
    }
}

impl<E: std::fmt::Debug> std::fmt::Debug for Slab<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slab")
            .field("len", &self.len)
            .field("pages", &self.pages.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_reuses_slots() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!(slab.get(a), Some(&"a"));
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(a), None);
        let c = slab.insert("c");
        assert_eq!(c, a, "freed slot is reused first");
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 2);
    }

    #[test]
    fn spans_pages() {
        let mut slab = Slab::new();
        let keys: Vec<u32> = (0..PAGE as u32 * 2 + 5).map(|i| slab.insert(i)).collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(slab.get(*k), Some(&(i as u32)));
        }
        assert_eq!(slab.pages.len(), 3);
        assert_eq!(slab.get(u32::MAX - 1), None);
        assert_eq!(slab.remove(u32::MAX - 1), None);
    }
}

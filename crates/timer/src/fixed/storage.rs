//! The FixedQueue's storage: paged slots and chunks of compact entries (see
//! the parent module's docs for how they are used).

use super::{NONE, PAGE};

/// A page of slots, all initialised (vacant) when it is allocated: a fixed
/// size array, so indexing inside it is never bounds-checked.
pub(super) type Page<T> = Box<[Slot<T>; PAGE]>;

pub(super) struct Slot<T> {
    pub(super) generation: u32,
    /// Occupied: the number (low 32 bits) of the chunk holding the entry.
    /// Vacant: the next free slot, or [`NONE`].
    pub(super) link: u32,
    pub(super) value: Option<T>,
}

/// One queue entry: deadline as an offset from its chunk's base, slot index,
/// generation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) offset_ns: u32,
    pub(super) index: u32,
    pub(super) generation: u32,
}

/// A run of consecutive entries; see the module docs.
pub(super) struct Chunk {
    /// Deadline (ns since start) that entry offsets count from.
    pub(super) base_ns: u64,
    pub(super) entries: Vec<Entry>,
    /// Entries before `head` were already popped (front chunk only).
    pub(super) head: usize,
    /// Stale entries in `entries[head..]`.
    pub(super) garbage: usize,
}

impl Chunk {
    pub(super) fn queued(&self) -> usize {
        self.entries.len() - self.head
    }

    pub(super) fn deadline_ns(&self, entry: &Entry) -> u64 {
        self.base_ns + u64::from(entry.offset_ns)
    }

    /// Appends a timer; the caller checked that it fits (room, and a
    /// deadline within `u32::MAX` ns of `base_ns`).
    pub(super) fn push(&mut self, deadline_ns: u64, index: u32, generation: u32) {
        // The back chunk has its full capacity: no reallocation.
        debug_assert!(self.entries.len() < self.entries.capacity());
        self.entries.push(Entry {
            offset_ns: (deadline_ns - self.base_ns) as u32,
            index,
            generation,
        });
    }
}

/// A page of vacant slots at generation 0, built on the heap.
pub(super) fn vacant_page<T>() -> Page<T> {
    let slots: Box<[Slot<T>]> = (0..PAGE)
        .map(|_| Slot {
            generation: 0,
            link: NONE,
            value: None,
        })
        .collect();
    match slots.try_into() {
        Ok(page) => page,
        Err(_) => unreachable!("collected exactly PAGE slots"),
    }
}

/// Whether `entry` is still its slot's pending timer.
pub(super) fn is_live<T>(pages: &[Page<T>], entry: &Entry) -> bool {
    let slot = &pages[entry.index as usize / PAGE][entry.index as usize % PAGE];
    slot.generation == entry.generation && slot.value.is_some()
}

//! The FixedQueue's garbage control: one chunk compacted at a time, and a
//! compacted chunk merged into the one before it when both are small (see the
//! parent module's docs).

use super::storage::{is_live, Entry};
use super::{FixedQueue, MERGE_MAX, MERGE_SCAN, PAGE};

impl<T> FixedQueue<T> {
    /// Keeps only the live entries of `chunks[at]`, in order. Unless it is
    /// the back chunk (still being filled, so it keeps its capacity), it
    /// then takes in the older chunk before it if both are small, or else
    /// is shrunk to fit.
    // Out of line: it runs once per hundreds of cancels, and inlined it
    // would make every cancel save registers for its loops.
    #[cold]
    #[inline(never)]
    pub(super) fn compact(&mut self, at: usize) {
        let is_back = at + 1 == self.chunks.len();
        let chunk = &mut self.chunks[at];
        let before = chunk.queued();
        // In-place retain that also drops the popped prefix (`..head`).
        let mut kept = 0;
        for read in chunk.head..chunk.entries.len() {
            let entry = chunk.entries[read];
            if is_live(&self.pages, &entry) {
                chunk.entries[kept] = entry;
                kept += 1;
            }
        }
        chunk.entries.truncate(kept);
        chunk.head = 0;
        chunk.garbage = 0;
        tracing::trace!(
            chunk = self.front_number.wrapping_add(at as u64),
            before,
            after = kept,
            "fixed queue compacted a chunk"
        );
        // Merge first: a merge rebuilds the chunk at its exact size.
        if !is_back && !self.merge_previous(at) {
            let chunk = &mut self.chunks[at];
            let before = chunk.entries.capacity();
            chunk.entries.shrink_to_fit();
            self.entry_capacity -= before - chunk.entries.capacity();
        }
    }

    /// Moves the live entries of the nearest non-empty chunk before
    /// `chunks[at]` (just compacted: no garbage) to its front, if together
    /// they are small and their deadlines fit one base. The older chunk is
    /// left empty, a placeholder that keeps chunk numbers equal to positions
    /// until it reaches the front. Returns whether it merged.
    ///
    /// Why the older chunk moves into the newer, not the other way: a
    /// response cancels its timeout about one round trip after the insert,
    /// so cancels advance through the queue in insertion order, and the
    /// older chunk has usually seen all of its cancels while the newer one
    /// is still taking them. Appending the newer chunk's unsettled entries to
    /// the older one instead lets their garbage pile up under a larger entry
    /// count: under the benchmark's request-timeout load (N=1e5, 95%
    /// cancelled) that left 0.6 stale entries per live timer, against 0.02
    /// this way.
    fn merge_previous(&mut self, at: usize) -> bool {
        let Some(target) = (at.saturating_sub(MERGE_SCAN)..at)
            .rev()
            .find(|&i| self.chunks[i].queued() > 0)
        else {
            return false;
        };
        let (prev, cur) = (&self.chunks[target], &self.chunks[at]);
        let prev_live = prev.queued() - prev.garbage;
        if prev_live + cur.entries.len() > MERGE_MAX {
            return false;
        }
        let shift = cur.base_ns - prev.base_ns;
        let last_offset = cur.entries.last().map_or(0, |e| u64::from(e.offset_ns));
        if last_offset + shift > u64::from(u32::MAX) {
            return false;
        }
        let number = self.number_of(at);
        let base_ns = prev.base_ns;
        let prev = &mut self.chunks[target];
        let old = std::mem::take(&mut prev.entries);
        let head = std::mem::replace(&mut prev.head, 0);
        prev.garbage = 0;
        let cur = &self.chunks[at];
        let mut merged = Vec::with_capacity(prev_live + cur.entries.len());
        for entry in &old[head..] {
            let slot = &mut self.pages[entry.index as usize / PAGE][entry.index as usize % PAGE];
            if slot.generation == entry.generation && slot.value.is_some() {
                slot.link = number;
                merged.push(*entry);
            }
        }
        let moved = merged.len();
        merged.extend(cur.entries.iter().map(|entry| Entry {
            offset_ns: (u64::from(entry.offset_ns) + shift) as u32,
            ..*entry
        }));
        let cur = &mut self.chunks[at];
        self.entry_capacity =
            self.entry_capacity + merged.capacity() - old.capacity() - cur.entries.capacity();
        cur.entries = merged;
        cur.base_ns = base_ns;
        cur.head = 0;
        tracing::trace!(
            from = self.front_number.wrapping_add(target as u64),
            into = self.front_number.wrapping_add(at as u64),
            moved,
            entries = cur.entries.len(),
            "fixed queue merged an older chunk into a newer one"
        );
        true
    }
}

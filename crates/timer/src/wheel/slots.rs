//! The wheel's timer storage: dense, paged, one 32-byte record per timer
//! (for `T = u32`), plus a dense byte per record, its *tag*.
//!
//! ```text
//!  page (4096 slots)
//!   slots: [gen|chunk|value|deadline|seq:stamp] [..] [..] ...    32 B each for T = u32
//!   tags:  [ c0 ][ c1 ][ .. ]                                    1 B each: low byte of the check
//!  free: [17, 4100, 3]   stack of vacant slots, newest last (reused first)
//! ```
//!
//! A bucket entry names a timer by `(index, check)`, where the *check* mixes
//! the slot's key generation (bumped when the slot is freed) with an 8-bit
//! placement stamp (bumped whenever the timer gets a new entry: reschedule,
//! cascade, move to the ready heap). An entry is live only while its check
//! equals the slot's; so cancel does not look for the entry at all, it bumps
//! the generation and every entry of that timer goes stale at once.
//!
//! The tags are what lets the wheel drop stale entries without reading their
//! 32-byte records: a tag that differs from the entry's check's low byte
//! proves the entry stale, and the tags of a million timers (1 MB) stay in
//! the L2 cache where the records (32 MB) do not. A matching tag proves
//! nothing (it may match by chance, 1 in 256), so a match is confirmed
//! against the record before an entry is acted on.
//!
//! Pages never move (no multi-megabyte `Vec` doubling copy inside a loop
//! iteration) and waste at most one page.

use crate::timers::TimerKey;

const PAGE_BITS: u32 = 12;
const PAGE: usize = 1 << PAGE_BITS;

/// A chunk id (see `chunks`), or [`NOWHERE`].
pub(crate) type ChunkId = u32;

/// "In no chunk": the timer is in the ready heap, or the slot is free.
pub(crate) const NOWHERE: ChunkId = ChunkId::MAX;

/// The check of generation `generation` at placement stamp `stamp`.
///
/// Injective over `(u32, u8)`: equal checks have equal stamps (the top byte
/// is xored with the stamp after the sum), hence equal generations. Bumping
/// either changes the low byte, which is the tag.
#[inline]
pub(crate) fn check_of(generation: u32, stamp: u8) -> u32 {
    generation.wrapping_add(u32::from(stamp)) ^ (u32::from(stamp) << 24)
}

/// Where a live timer stands, as [`Slots::live`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Live {
    /// Its entry's check.
    pub(crate) check: u32,
    /// Nanoseconds since the wheel's start.
    pub(crate) deadline_ns: u64,
    /// Insertion order, the tie-break between equal deadlines.
    pub(crate) seq: u64,
    /// The chunk holding its entry, or [`NOWHERE`] (in the ready heap).
    pub(crate) chunk: ChunkId,
}

/// One timer. Field order puts what cancel reads (generation, chunk, value)
/// first; the record is 32 bytes for small `T`, so it is one cache line.
struct Slot<T> {
    generation: u32,
    chunk: ChunkId,
    value: Option<T>,
    deadline_ns: u64,
    /// `seq << 8 | stamp`: seq (never above 2^56) is insertion order; the
    /// stamp is the placement stamp of [`check_of`].
    seq_stamp: u64,
}

impl<T> Slot<T> {
    fn check(&self) -> u32 {
        check_of(self.generation, self.seq_stamp as u8)
    }
}

struct Page<T> {
    slots: Vec<Slot<T>>,
    tags: Vec<u8>,
}

/// Paged storage of the wheel's timers; see the module docs.
pub(crate) struct Slots<T> {
    pages: Vec<Page<T>>,
    free: Vec<u32>,
    len: usize,
}

#[inline]
fn split(index: u32) -> (usize, usize) {
    (index as usize >> PAGE_BITS, index as usize & (PAGE - 1))
}

impl<T> Slots<T> {
    pub(crate) fn new() -> Self {
        Self {
            pages: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let (p, o) = split(index);
        self.pages.get(p)?.slots.get(o)
    }

    #[inline]
    fn slot_mut(&mut self, index: u32) -> Option<(&mut Slot<T>, &mut u8)> {
        let (p, o) = split(index);
        let page = self.pages.get_mut(p)?;
        Some((page.slots.get_mut(o)?, page.tags.get_mut(o)?))
    }

    /// `false` when the tag proves an entry with `check` stale; `true` when
    /// it may be live (confirm with [`Slots::live`]). Reads one byte of the
    /// dense tag array, not the record.
    #[inline]
    pub(crate) fn may_be_live(&self, index: u32, check: u32) -> bool {
        let (p, o) = split(index);
        self.pages
            .get(p)
            .and_then(|page| page.tags.get(o))
            .is_some_and(|&tag| tag == check as u8)
    }

    /// Stores a timer (in no chunk yet); returns its index and its key's
    /// generation. The caller places it with [`Slots::restamp`].
    ///
    /// # Panics
    /// With more than `u32::MAX` live timers (hundreds of gigabytes: memory
    /// runs out first).
    #[inline]
    pub(crate) fn insert(&mut self, value: T, deadline_ns: u64, seq: u64) -> (u32, u32) {
        debug_assert!(seq < 1 << 56, "seq leaves 8 bits for the stamp");
        self.len += 1;
        if let Some(index) = self.free.pop() {
            if let Some((slot, tag)) = self.slot_mut(index) {
                debug_assert!(slot.value.is_none() && slot.chunk == NOWHERE);
                slot.value = Some(value);
                slot.deadline_ns = deadline_ns;
                slot.seq_stamp = seq << 8;
                *tag = slot.check() as u8;
                return (index, slot.generation);
            }
        }
        self.push_new(value, deadline_ns, seq)
    }

    #[cold]
    fn push_new(&mut self, value: T, deadline_ns: u64, seq: u64) -> (u32, u32) {
        if self
            .pages
            .last()
            .map_or(true, |page| page.slots.len() == PAGE)
        {
            self.pages.push(Page {
                slots: Vec::with_capacity(PAGE),
                tags: Vec::with_capacity(PAGE),
            });
        }
        let p = self.pages.len() - 1;
        let page = &mut self.pages[p];
        let index =
            u32::try_from(p * PAGE + page.slots.len()).expect("more than 4G pending timers");
        let slot = Slot {
            generation: 0,
            chunk: NOWHERE,
            value: Some(value),
            deadline_ns,
            seq_stamp: seq << 8,
        };
        page.tags.push(slot.check() as u8);
        page.slots.push(slot);
        (index, 0)
    }

    /// `true` if `key` names the timer now in its slot.
    #[inline]
    pub(crate) fn is_live(&self, key: TimerKey) -> bool {
        self.slot(key.index)
            .is_some_and(|slot| slot.generation == key.generation && slot.value.is_some())
    }

    /// Frees the slot `key` names, if its timer is pending: returns the
    /// value and the chunk its entry is in (whose garbage count the caller
    /// bumps). The entry itself is left behind, stale.
    #[inline]
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<(T, ChunkId)> {
        self.vacate(key.index, Some(key.generation))
            .map(|(value, _, chunk)| (value, chunk))
    }

    /// Frees an occupied slot: returns its value and its key's generation.
    #[inline]
    pub(crate) fn remove(&mut self, index: u32) -> Option<(T, u32)> {
        self.vacate(index, None)
            .map(|(value, generation, _)| (value, generation))
    }

    #[inline]
    fn vacate(&mut self, index: u32, generation: Option<u32>) -> Option<(T, u32, ChunkId)> {
        let (slot, tag) = self.slot_mut(index)?;
        if generation.is_some_and(|g| g != slot.generation) {
            return None;
        }
        let value = slot.value.take()?;
        let chunk = std::mem::replace(&mut slot.chunk, NOWHERE);
        let generation = slot.generation;
        // The one write that retires the key, every bucket entry and every
        // ready-heap entry of this timer.
        slot.generation = generation.wrapping_add(1);
        *tag = slot.check() as u8;
        self.free.push(index);
        self.len -= 1;
        Some((value, generation, chunk))
    }

    /// Gives a live timer a new placement stamp (its older entries go
    /// stale), hands the new entry's check to `push`, which stores the
    /// entry and says in which chunk, and records that chunk. One lookup of
    /// the record for the whole placement.
    #[inline]
    pub(crate) fn restamp(&mut self, index: u32, push: impl FnOnce(u32) -> ChunkId) -> u32 {
        let Some((slot, tag)) = self.slot_mut(index) else {
            debug_assert!(false, "restamp of a slot that does not exist");
            return 0;
        };
        debug_assert!(slot.value.is_some(), "restamp of a free slot");
        let stamp = (slot.seq_stamp as u8).wrapping_add(1);
        slot.seq_stamp = (slot.seq_stamp & !0xff) | u64::from(stamp);
        let check = slot.check();
        *tag = check as u8;
        slot.chunk = push(check);
        check
    }

    /// The timer in slot `index`, if the slot is occupied.
    #[inline]
    pub(crate) fn live(&self, index: u32) -> Option<Live> {
        let slot = self.slot(index)?;
        slot.value.as_ref()?;
        Some(Live {
            check: slot.check(),
            deadline_ns: slot.deadline_ns,
            seq: slot.seq_stamp >> 8,
            chunk: slot.chunk,
        })
    }

    /// The live timer an entry with `check` names, if the entry is live.
    #[inline]
    pub(crate) fn live_entry(&self, index: u32, check: u32) -> Option<Live> {
        self.live(index).filter(|live| live.check == check)
    }

    /// Moves a live timer to `deadline_ns`, keeping its entry (the caller
    /// decides whether it needs a new one).
    pub(crate) fn set_deadline(&mut self, index: u32, deadline_ns: u64) {
        if let Some((slot, _)) = self.slot_mut(index) {
            slot.deadline_ns = deadline_ns;
        }
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Page<T>>()
            + self.pages.len() * PAGE * (Self::slot_size() + 1)
            + self.free.capacity() * std::mem::size_of::<u32>()
    }

    /// Bytes per slot (its tag not included).
    pub(crate) fn slot_size() -> usize {
        std::mem::size_of::<Slot<T>>()
    }
}

impl<T> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots")
            .field("len", &self.len)
            .field("pages", &self.pages.len())
            .field("free", &self.free.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_injective_and_move_the_tag() {
        let mut seen = std::collections::HashSet::new();
        for generation in [0u32, 1, 2, 255, 256, u32::MAX - 1, u32::MAX] {
            for stamp in 0..=255u8 {
                assert!(seen.insert(check_of(generation, stamp)));
                let c = check_of(generation, stamp) as u8;
                assert_ne!(c, check_of(generation.wrapping_add(1), stamp) as u8);
                assert_ne!(c, check_of(generation, stamp.wrapping_add(1)) as u8);
            }
        }
    }

    #[test]
    fn generations_move_on_free_and_retire_entries() {
        let mut slots = Slots::new();
        let (a, gen_a) = slots.insert('a', 1, 1);
        let check = slots.restamp(a, |_| 7);
        let key_a = TimerKey {
            index: a,
            generation: gen_a,
        };
        assert!(slots.is_live(key_a));
        assert!(slots.may_be_live(a, check));
        assert_eq!(slots.live_entry(a, check).map(|l| l.chunk), Some(7));
        assert_eq!(slots.cancel(key_a), Some(('a', 7)));
        assert_eq!(slots.cancel(key_a), None, "freed: the key is stale");
        assert!(
            !slots.may_be_live(a, check),
            "the tag proves the entry stale"
        );
        assert_eq!(slots.live_entry(a, check), None);
        let (b, gen_b) = slots.insert('b', 2, 2);
        assert_eq!(b, a, "vacant slot reused first");
        assert_ne!(gen_b, gen_a);
        assert!(!slots.is_live(key_a));
        assert_eq!(slots.live_entry(a, check), None, "old entry, new timer");
        assert_eq!(slots.remove(b), Some(('b', gen_b)));
        assert_eq!(slots.remove(b), None);
        assert_eq!(slots.len(), 0);
    }

    #[test]
    fn restamp_retires_the_older_entry_only() {
        let mut slots = Slots::new();
        let (a, _) = slots.insert((), 5, 9);
        let first = slots.restamp(a, |_| 1);
        let second = slots.restamp(a, |_| 2);
        assert_ne!(first, second);
        assert!(!slots.may_be_live(a, first));
        assert_eq!(slots.live_entry(a, first), None);
        let live = slots.live_entry(a, second).unwrap();
        assert_eq!((live.deadline_ns, live.seq, live.chunk), (5, 9, 2));
        slots.set_deadline(a, 50);
        let live = slots.live_entry(a, second).unwrap();
        assert_eq!((live.deadline_ns, live.seq, live.chunk), (50, 9, 2));
    }

    #[test]
    fn spans_pages_and_rejects_unknown_indices() {
        let mut slots = Slots::new();
        for i in 0..PAGE as u64 + 3 {
            slots.insert(i, i, i);
        }
        assert_eq!(
            slots.live(PAGE as u32 + 2).unwrap().deadline_ns,
            PAGE as u64 + 2
        );
        assert!(slots.live(u32::MAX).is_none());
        assert!(!slots.may_be_live(u32::MAX, 0));
        assert_eq!(slots.remove(u32::MAX), None);
        assert!(!slots.is_live(TimerKey {
            index: u32::MAX,
            generation: 0
        }));
    }
}

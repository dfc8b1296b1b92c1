//! Which of the wheel's slots are vacant, handed out in address order.
//!
//! ```text
//!  bits, one per slot (1 = vacant), a page of words per page of slots
//!  page 0  [0 0 1 0 1 1 ..][..]    order: [0, 2, 1]  the cursor's way
//!  page 1  [0 1 0 0 0 1 ..][..]           through the pages
//!  page 2  [1 1 0 1 0 0 ..][..]    cursor: a position along that way
//!  summary: one bit per word of bits, set when the word has a vacant slot
//! ```
//!
//! A request timeout is inserted when its request goes out and cancelled
//! when the response comes back, and responses come back roughly in the
//! order their requests went out. Handing slots out in address order keeps
//! that order in memory: the timers of consecutive requests sit in
//! consecutive slots, so their cancels walk the slots forward, as do the
//! inserts, and the hardware prefetcher follows both. A stack of freed
//! slots (newest reused first) loses it for good: a request whose timer is
//! not cancelled frees no slot, so its insert takes one from deep in the
//! stack, at a random address; the next turn of requests inherits that
//! slot at that place in the sequence, and after some dozens of turns
//! consecutive cancels land on random slots, a cache miss each on the
//! 8-32 MB of slots that a million timers fill.
//!
//! `take` hands out the first vacant slot at or after the cursor, skipping
//! occupied ones (the few timers that live long, and requests still in
//! flight) a bitmap word, 64 slots, at a time. It reads at most
//! [`SCAN_WORDS`] words past the cursor's, about one cache line of the
//! bitmap; when they hold nothing the cursor has caught up with the
//! requests still in flight, and the caller adds a page of fresh slots.
//! The new page goes into the cursor's way right where it is, not at the
//! end of memory: the cursor fills it, and by then responses have freed
//! the slots ahead. (A page put at the end would send the cursor back to
//! the start, into this turn's requests, still in flight, and fail again
//! until the pages had doubled.) Each growth leaves the slots it skipped
//! to be freed behind the cursor, so vacant slots out of reach pile up;
//! once more than a sixty-fourth of the slots are vacant, a failed search
//! goes on, through the summary (a page's bits of it at a time), to the
//! next vacant slot along the way instead of growing. That keeps the
//! slots within about 2% of the peak of live timers.
//!
//! When the timers are few against the slots (after a burst), the cursor
//! wraps early, at twice the live timers or [`MIN_TURN`] slots, whichever
//! is more, so a quiet loop cycles through a few kilobytes of slots that
//! stay in cache rather than the whole burst's megabytes.

/// Words of the bitmap one search reads past the cursor's at most: 64
/// bytes, one cache line.
pub(crate) const SCAN_WORDS: usize = 8;

/// The shortest turn of the cursor, in slots (16 KB of 32-byte slots). In
/// unit tests, 64, so that a test of a few timers reuses slots soon.
#[cfg(not(test))]
pub(crate) const MIN_TURN: usize = 512;
#[cfg(test)]
pub(crate) const MIN_TURN: usize = 64;

/// The vacant slots, the cursor's way through the pages, and where the
/// next search starts; see the module docs.
#[derive(Debug)]
pub(crate) struct Vacancies {
    /// One bit per slot, set when the slot is vacant, page after page.
    bits: Vec<u64>,
    /// One bit per word of `bits`, set when that word is not zero: the
    /// search for a vacant slot anywhere reads this, a page's bits at a
    /// time.
    summary: Vec<u64>,
    /// The pages in the order the cursor goes through them.
    order: Vec<u32>,
    /// Each page's place in `order`.
    place: Vec<u32>,
    /// log2 of the words per page.
    page_shift: u32,
    /// Where the next search starts, as a position along `order` in slots:
    /// one past the slot handed out last.
    cursor: usize,
}

impl Vacancies {
    /// No slots yet; slots come in pages of `page_slots` (a power of two,
    /// 64 to 4096).
    pub(crate) fn new(page_slots: usize) -> Self {
        debug_assert!(page_slots.is_power_of_two() && (64..=4096).contains(&page_slots));
        Self {
            bits: Vec::new(),
            summary: Vec::new(),
            order: Vec::new(),
            place: Vec::new(),
            page_shift: (page_slots / 64).trailing_zeros(),
            cursor: 0,
        }
    }

    /// Slots tracked (vacant or not).
    pub(crate) fn slots(&self) -> usize {
        self.bits.len() * 64
    }

    fn page_slots(&self) -> usize {
        64 << self.page_shift
    }

    /// The bitmap word at position `word` (in words) along the cursor's way.
    #[inline]
    fn physical(&self, word: usize) -> usize {
        let page = self.order[word >> self.page_shift] as usize;
        (page << self.page_shift) | (word & ((1 << self.page_shift) - 1))
    }

    /// The position along the cursor's way of the slot `index`.
    #[cfg(test)]
    fn way_of(&self, index: usize) -> usize {
        let page = index / self.page_slots();
        self.place[page] as usize * self.page_slots() + index % self.page_slots()
    }

    /// Adds a page of vacant slots right after the cursor's page in its way,
    /// takes the page's first slot and returns it; the cursor goes on from
    /// there.
    pub(crate) fn add_page(&mut self) -> usize {
        let page = self.order.len();
        let first_word = self.bits.len();
        self.bits
            .resize(first_word + (1 << self.page_shift), u64::MAX);
        self.summary.resize(self.bits.len().div_ceil(64), 0);
        for word in first_word..self.bits.len() {
            self.summary[word / 64] |= 1 << (word % 64);
        }
        let at = if page == 0 {
            0
        } else {
            (self.cursor / self.page_slots()).min(page - 1) + 1
        };
        self.order.insert(at, page as u32);
        self.place.push(0);
        for (place, &p) in self.order.iter().enumerate().skip(at) {
            self.place[p as usize] = place as u32;
        }
        let index = page * self.page_slots();
        self.claim(index);
        self.cursor = at * self.page_slots() + 1;
        index
    }

    /// Marks `index` vacant (its timer left).
    #[inline]
    pub(crate) fn give(&mut self, index: u32) {
        let word = index as usize / 64;
        if let Some(w) = self.bits.get_mut(word) {
            debug_assert_eq!(*w & (1 << (index % 64)), 0, "slot {index} freed twice");
            *w |= 1 << (index % 64);
            self.summary[word / 64] |= 1 << (word % 64);
        }
    }

    /// The first vacant slot at or after the cursor, marked occupied: one
    /// found within [`SCAN_WORDS`] words past the cursor's, or, when more
    /// than a sixty-fourth of the slots are vacant, anywhere. `None` tells
    /// the caller to add a page. `live` (timers held) decides where the
    /// cursor wraps.
    #[inline]
    pub(crate) fn take(&mut self, live: usize) -> Option<u32> {
        if self.bits.is_empty() {
            return None;
        }
        let turn = self.slots().min((2 * live).max(MIN_TURN));
        if self.cursor >= turn {
            self.cursor = 0;
        }
        // Mostly the slot is in the cursor's own word.
        let word = self.cursor / 64;
        let at = self.physical(word);
        let vacant = self.bits[at] & (u64::MAX << (self.cursor % 64));
        if vacant != 0 {
            let bit = vacant.trailing_zeros() as usize;
            self.claim(at * 64 + bit);
            self.cursor = word * 64 + bit + 1;
            return u32::try_from(at * 64 + bit).ok();
        }
        self.take_further(turn, live)
    }

    /// `take` past the cursor's word.
    #[inline(never)]
    fn take_further(&mut self, turn: usize, live: usize) -> Option<u32> {
        let mut word = self.cursor / 64 + 1;
        for _ in 0..SCAN_WORDS {
            if word * 64 >= turn {
                word = 0;
            }
            let at = self.physical(word);
            let vacant = self.bits[at];
            if vacant != 0 {
                let bit = vacant.trailing_zeros() as usize;
                self.claim(at * 64 + bit);
                self.cursor = word * 64 + bit + 1;
                return u32::try_from(at * 64 + bit).ok();
            }
            word += 1;
        }
        // Vacant slots out of reach but plenty of them (a run of
        // long-lived timers in front of the cursor, say): take one rather
        // than grow, and go on from there.
        let slots = self.slots();
        if (slots - live.min(slots)) * 64 <= slots {
            return None;
        }
        let (word, index) = self.next_along_the_way()?;
        self.claim(index);
        self.cursor = word * 64 + index % 64 + 1;
        u32::try_from(index).ok()
    }

    /// The first vacant slot from the cursor's word on, along the cursor's
    /// way and wrapping: a page's summary bits at a time. Its position (in
    /// words) along the way and its index.
    fn next_along_the_way(&self) -> Option<(usize, usize)> {
        let words = 1usize << self.page_shift;
        let pages = self.order.len();
        let start = self.cursor / 64;
        for step in 0..=pages {
            let place = (start / words + step) % pages;
            let page = self.order[place] as usize;
            let first = page * words;
            // This page's bits of the summary (a page is at most 64 words).
            let mut vacant =
                (self.summary[first / 64] >> (first % 64)) & (u64::MAX >> (64 - words));
            if step == 0 {
                vacant &= u64::MAX << (start % words);
            }
            if vacant != 0 {
                let offset = vacant.trailing_zeros() as usize;
                let word = first + offset;
                let index = word * 64 + self.bits[word].trailing_zeros() as usize;
                return Some((place * words + offset, index));
            }
        }
        None
    }

    /// Takes slot `index` if it is vacant; the cursor stays.
    #[inline]
    pub(crate) fn take_at(&mut self, index: u32) -> bool {
        let vacant = self
            .bits
            .get(index as usize / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0);
        if vacant {
            self.claim(index as usize);
        }
        vacant
    }

    /// Marks the vacant slot `index` occupied.
    #[inline]
    fn claim(&mut self, index: usize) {
        let word = index / 64;
        debug_assert_ne!(
            self.bits[word] & (1 << (index % 64)),
            0,
            "slot {index} is occupied"
        );
        self.bits[word] &= !(1 << (index % 64));
        if self.bits[word] == 0 {
            self.summary[word / 64] &= !(1 << (word % 64));
        }
    }

    /// Starts the next search at slot `index` (tests that need a slot
    /// reused).
    #[cfg(test)]
    pub(crate) fn aim(&mut self, index: u32) {
        self.cursor = self.way_of(index as usize);
    }

    /// Whether `index` is vacant.
    #[cfg(test)]
    pub(crate) fn is_vacant(&self, index: u32) -> bool {
        self.bits
            .get(index as usize / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    /// Bytes of heap memory held.
    pub(crate) fn allocated_bytes(&self) -> usize {
        (self.bits.capacity() + self.summary.capacity()) * std::mem::size_of::<u64>()
            + (self.order.capacity() + self.place.capacity()) * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
#[path = "vacancies_tests.rs"]
mod tests;

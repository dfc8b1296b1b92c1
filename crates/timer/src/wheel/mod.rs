//! [`TimerWheel`]: a hierarchical hashed timing wheel (Varghese & Lauck) with
//! O(1) insert and cancel, for event loops with many timeouts that mostly never
//! fire.
//!
//! ```text
//!  slots (paged; one 32 B record + one tag byte each)     levels: 8 x 256 buckets, each a list of chunks
//!  +----+---------------------------------------+        level 0 [ .. | 5: #2 [(17,c9) (3,c4)] | .. ]   1 tick each
//!  |  3 | gen 4, chunk #2, value, deadline, seq |  <--   level 1 [ .. | 2: #7 [(9,c1) (3,c2)x] | .. ]   256 ticks each
//!  | 17 | gen 1, chunk #2, value, deadline, seq |        ...             stale ^ (3 moved on: c2 != c4)
//!  +----+---------------------------------------+        ready: min-heap of timers whose tick came
//!  tags: [ .. c4 .. c9 .. ]  (low byte of each check)            (exact deadline, then seq)
//! ```
//!
//! - **Insert** stores the timer in a slot and appends `(index, check)` to
//!   the open chunk of the bucket its deadline's tick names: O(1), and both
//!   writes land on cache lines the previous operations just touched (the
//!   slot is the one the last cancel freed; the chunk's tail).
//! - **Cancel** checks the key's generation, takes the value and bumps the
//!   generation, which makes every entry of the timer stale: one record
//!   touched (plus its tag byte and its chunk's garbage count, both in
//!   small, cache-resident arrays). The entry stays where it is.
//! - **Garbage** is bounded per chunk: when three quarters of a chunk's
//!   entries are stale (a third, while the whole wheel is over a third
//!   garbage), that chunk (at most 1024 entries) is compacted by reading
//!   the tags alone. Request timeouts are cancelled in waves, so a chunk is
//!   read about 1.25 times per wave, and no pause exceeds one chunk's pass.
//! - **Time passing** visits only occupied buckets (occupancy bitmaps):
//!   higher-level buckets cascade down, level-0 buckets move to `ready`,
//!   which hands timers out by exact deadline; stale entries are dropped on
//!   the way (a tag mismatch proves it without reading the record). So a
//!   timer never fires before its deadline and, if the loop polls every
//!   tick, at most one tick late.
//! - **next_deadline** answers with a real deadline: it moves the next
//!   level-0 bucket into `ready` early (exact deadlines), and for a higher
//!   level uses the earliest deadline pushed into its next bucket, read
//!   again from the live entries once if that bucket bounds the answer. A
//!   loop sleeping until then finds a timer due, unless that timer was
//!   cancelled in between.
//!
//! Pitfalls: deadlines are kept as nanoseconds since the wheel's `start`, so a
//! deadline before `start` is treated as `start`, and one more than 584 years
//! after it as 584 years after it. A bucket is cascaded in one go, so a visit
//! costs as much as the timers due in that bucket's block: at most 256 ticks'
//! worth for any timer placed less than 65 536 ticks ahead (65 s at 1 ms).
//! A cancelled timer's entry is only reclaimed with its chunk's compaction or
//! its bucket's visit, so bytes per live timer depend on the cancel pattern:
//! 41 bytes per timer for `T = u32`, plus garbage (a chunk below its
//! threshold keeps up to three stale entries per live one; across the wheel
//! the second threshold keeps it near a third of the entries).

mod chunks;
mod divider;
mod levels;
mod ready;
mod slots;

use std::time::{Duration, Instant};

use crate::timers::{Expired, SeqCounter, TimerKey, Timers};
use chunks::Entry;
use divider::Divider;
use levels::{BucketId, Levels};
use ready::Ready;
use slots::{Live, Slots, NOWHERE};

/// Entries `next_deadline` reads at most to find a higher-level bucket's
/// earliest live deadline (a few hundred microseconds of slot reads).
const SCAN_LIMIT: usize = 4096;

/// The default tick: one millisecond.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

/// The tick given to [`TimerWheel::with_tick`] is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "timer wheel tick {0:?} is unusable: pass a tick of at least 1 ns and at most \
     u64::MAX ns (about 584 years); 1 ms (the default) suits most event loops"
)]
pub struct InvalidTick(pub Duration);

/// Hierarchical timing wheel; see the module docs.
///
/// ```
/// use std::time::{Duration, Instant};
/// use rouse_timer::{TimerWheel, Timers};
///
/// let start = Instant::now();
/// let mut wheel = TimerWheel::new(start);
/// let timeout = wheel.insert_after(start, Duration::from_secs(5), "timed out");
/// wheel.insert_after(start, Duration::from_millis(3), "tick");
/// assert_eq!(wheel.cancel(timeout), Some("timed out"));
/// assert!(wheel.pop_expired(start + Duration::from_millis(2)).is_none());
/// let due = wheel.pop_expired(start + Duration::from_millis(3)).unwrap();
/// assert_eq!(due.value, "tick");
/// ```
#[derive(Debug)]
pub struct TimerWheel<T> {
    start: Instant,
    /// Nanoseconds per tick, as a fast divider.
    tick: Divider,
    /// Every bucket before this tick has been visited.
    now_tick: u64,
    slots: Slots<T>,
    levels: Levels,
    ready: Ready,
    seq: SeqCounter,
}

impl<T> TimerWheel<T> {
    /// A wheel with a 1 ms tick whose time starts at `start`.
    pub fn new(start: Instant) -> Self {
        Self::build(start, DEFAULT_TICK.as_nanos() as u64)
    }

    /// A wheel with the given tick. Smaller ticks cost more bucket visits
    /// when time jumps; firing precision does not depend on the tick.
    ///
    /// # Errors
    /// [`InvalidTick`] for a zero tick or one longer than `u64::MAX` ns.
    pub fn with_tick(start: Instant, tick: Duration) -> Result<Self, InvalidTick> {
        match u64::try_from(tick.as_nanos()) {
            Ok(ns) if ns > 0 => Ok(Self::build(start, ns)),
            _ => Err(InvalidTick(tick)),
        }
    }

    fn build(start: Instant, tick_ns: u64) -> Self {
        Self {
            start,
            tick: Divider::new(tick_ns),
            now_tick: 0,
            slots: Slots::new(),
            levels: Levels::new(),
            ready: Ready::default(),
            seq: SeqCounter::new(),
        }
    }

    /// The wheel's tick.
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick.divisor())
    }

    /// Bytes of heap memory held: slots, buckets and the ready heap.
    pub fn allocated_bytes(&self) -> usize {
        self.slots.allocated_bytes() + self.levels.allocated_bytes() + self.ready.allocated_bytes()
    }

    /// Bytes one pending timer costs: its slot, its tag byte and its bucket
    /// entry (garbage, chunk and page slack not included).
    pub fn bytes_per_timer() -> usize {
        Slots::<T>::slot_size() + 1 + std::mem::size_of::<Entry>()
    }

    fn to_ns(&self, at: Instant) -> u64 {
        crate::ns_since(self.start, at)
    }

    fn to_instant(&self, ns: u64) -> Instant {
        crate::saturating_add(self.start, Duration::from_nanos(ns))
    }

    /// Gives a live timer a new entry where its deadline says, seen from
    /// `now_tick`: a bucket, or `ready` if its tick has come. Any older
    /// entry of the timer goes stale.
    #[inline]
    fn place(&mut self, index: u32, deadline_ns: u64, seq: u64) {
        match Levels::bucket_for(self.now_tick, self.tick.divide(deadline_ns)) {
            Some(bucket) => {
                let levels = &mut self.levels;
                self.slots.restamp(index, |check| {
                    levels.push(bucket, Entry { index, check }, deadline_ns)
                });
            }
            None => self.ready_up(index, deadline_ns, seq),
        }
    }

    /// Gives a live timer a new entry in `ready`.
    #[inline]
    fn ready_up(&mut self, index: u32, deadline_ns: u64, seq: u64) {
        let check = self.slots.restamp(index, |_| NOWHERE);
        self.ready.push(deadline_ns, seq, index, check);
    }

    /// Counts the entry in `chunk` a timer just left as garbage.
    #[inline]
    fn left(&mut self, chunk: slots::ChunkId) {
        if chunk != NOWHERE {
            let slots = &self.slots;
            self.levels
                .add_garbage(chunk, |e| slots.may_be_live(e.index, e.check));
        }
    }

    /// Empties `bucket`: its live timers are placed anew from `now_tick`
    /// (a visit), or moved to `ready` (`next_deadline` pulling a level-0
    /// bucket ahead of its tick); stale entries are dropped.
    fn empty_bucket(&mut self, bucket: BucketId, all_to_ready: bool) {
        let list = self.levels.take(bucket);
        for &chunk in &list {
            let entries = self.levels.take_chunk(chunk);
            if entries.len() > 10_000 {
                tracing::debug!(bucket, entries = entries.len(), "timer wheel large chunk");
            }
            for e in &entries {
                // The tag is a dense byte array: most stale entries are
                // dropped here without touching their records.
                if !self.slots.may_be_live(e.index, e.check) {
                    continue;
                }
                let Some(Live {
                    deadline_ns, seq, ..
                }) = self.slots.live_entry(e.index, e.check)
                else {
                    continue;
                };
                if all_to_ready {
                    self.ready_up(e.index, deadline_ns, seq);
                } else {
                    self.place(e.index, deadline_ns, seq);
                }
            }
            self.levels.recycle_entries(entries);
        }
        self.levels.recycle(bucket, list);
    }

    /// Visits every bucket due by tick `target`, cascading or readying its
    /// live timers, then sets the wheel's time to `target`.
    fn advance(&mut self, target: u64) {
        while let Some((tick, _)) = self.levels.next_bucket(self.now_tick) {
            if tick > target {
                break;
            }
            // Find every bucket visited at `tick` before moving time: seen
            // from `tick` itself, a visit at `tick` would look a whole
            // rotation away.
            let mut due: [Option<BucketId>; Levels::LEVELS] = [None; Levels::LEVELS];
            for (level, slot) in due.iter_mut().enumerate() {
                if let Some((t, bucket)) = self.levels.visit_of(level, self.now_tick) {
                    if t == tick {
                        *slot = Some(bucket);
                    }
                }
            }
            self.now_tick = tick;
            for bucket in due.into_iter().flatten() {
                self.empty_bucket(bucket, false);
            }
        }
        self.now_tick = self.now_tick.max(target);
    }

    /// Drops stale entries from the top of `ready`; returns the live top's
    /// deadline and index.
    fn ready_top(&mut self) -> Option<(u64, u32)> {
        while let Some((deadline_ns, _, index, check)) = self.ready.peek() {
            // A rescheduled timer's old entry has an older check; a freed
            // slot's, an older generation. The deadline is compared too, so
            // a check that came round again (256 moves) cannot fire a timer
            // at a deadline it no longer has.
            let live = self
                .slots
                .live_entry(index, check)
                .is_some_and(|live| live.deadline_ns == deadline_ns && live.chunk == NOWHERE);
            if live {
                return Some((deadline_ns, index));
            }
            self.ready.pop();
        }
        None
    }

    /// No timer in any bucket is due before this (ns): per level, the later
    /// of its next visit and the earliest deadline pushed into that bucket
    /// (a level's buckets hold disjoint, increasing ranges of deadlines, so
    /// its next bucket holds its earliest timer). Also the bucket that
    /// bounds, and whether it is on level 0.
    fn bucket_bound(&self) -> (u64, Option<(BucketId, bool)>) {
        let mut bound = u64::MAX;
        let mut bounding = None;
        for level in 0..Levels::LEVELS {
            if let Some((tick, bucket)) = self.levels.visit_of(level, self.now_tick) {
                let at = tick
                    .saturating_mul(self.tick.divisor())
                    .max(self.levels.earliest(bucket));
                if at < bound || (at == bound && level == 0) {
                    bound = at;
                    bounding = Some((bucket, level == 0));
                }
            }
        }
        (bound, bounding)
    }

    /// Replaces a higher-level bucket's earliest deadline (a lower bound
    /// that cancelled timers leave behind) by the earliest live one, read
    /// from the slots of its live entries; a bucket found to hold none is
    /// emptied. Once per visit of the bucket, and only for buckets of at
    /// most [`SCAN_LIMIT`] entries: a bigger one belongs to a loop so busy
    /// that it polls every tick anyway, and reading it would double the
    /// cost of its visit inside one poll.
    fn scan(&mut self, bucket: BucketId) {
        // Ok(earliest live deadline, if any), or Err past the limit.
        let found: Result<Option<u64>, ()> = {
            let slots = &self.slots;
            let mut earliest = None;
            let mut result = Ok(());
            for (n, e) in self.levels.entries_of(bucket).enumerate() {
                if n == SCAN_LIMIT {
                    result = Err(());
                    break;
                }
                if !slots.may_be_live(e.index, e.check) {
                    continue;
                }
                if let Some(live) = slots.live_entry(e.index, e.check) {
                    earliest =
                        Some(earliest.map_or(live.deadline_ns, |m: u64| m.min(live.deadline_ns)));
                }
            }
            result.map(|()| earliest)
        };
        match found {
            Ok(Some(deadline_ns)) => self.levels.set_scanned(bucket, deadline_ns),
            Ok(None) => self.empty_bucket(bucket, false),
            // Too big to read: keep the recorded bound, and do not retry.
            Err(()) => {
                let bound = self.levels.earliest(bucket);
                self.levels.set_scanned(bucket, bound);
            }
        }
    }
}

impl<T> Timers<T> for TimerWheel<T> {
    #[inline]
    fn insert_at(&mut self, deadline: Instant, value: T) -> TimerKey {
        let deadline_ns = self.to_ns(deadline);
        let seq = self.seq.next().get();
        let (index, generation) = self.slots.insert(value, deadline_ns, seq);
        self.place(index, deadline_ns, seq);
        TimerKey { index, generation }
    }

    #[inline]
    fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let (value, chunk) = self.slots.cancel(key)?;
        self.left(chunk);
        Some(value)
    }

    fn reschedule(&mut self, key: TimerKey, deadline: Instant) -> bool {
        let Some(live) = self
            .slots
            .is_live(key)
            .then(|| self.slots.live(key.index))
            .flatten()
        else {
            return false;
        };
        let deadline_ns = self.to_ns(deadline);
        self.slots.set_deadline(key.index, deadline_ns);
        let target = Levels::bucket_for(self.now_tick, self.tick.divide(deadline_ns));
        if let Some(bucket) = target.filter(|&b| self.levels.bucket_of(live.chunk) == Some(b)) {
            // Same bucket: its entry already sits where the new deadline
            // wants it (the visit reads the deadline from the slot). No new
            // entry, no garbage: an idle timeout pushed back on every packet
            // stays one entry until it crosses a bucket boundary.
            self.levels.lower_earliest(bucket, deadline_ns);
            return true;
        }
        self.place(key.index, deadline_ns, live.seq);
        self.left(live.chunk);
        true
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        if self.slots.len() == 0 {
            return None;
        }
        loop {
            let ready = self.ready_top().map(|(deadline_ns, _)| deadline_ns);
            let (bound, bounding) = self.bucket_bound();
            if let Some(deadline_ns) = ready.filter(|&d| d <= bound) {
                return Some(self.to_instant(deadline_ns));
            }
            match bounding {
                // The next level-0 bucket bounds: move it to `ready` now
                // and answer with its exact earliest live deadline, rather
                // than a boundary or a cancelled timer's deadline the loop
                // would wake for in vain.
                Some((bucket, true)) => self.empty_bucket(bucket, true),
                // A higher level bounds with a recorded earliest deadline,
                // whose timer may have been cancelled since: read the live
                // ones once.
                Some((bucket, false)) if !self.levels.is_scanned(bucket) => self.scan(bucket),
                Some(_) => return Some(self.to_instant(bound)),
                None => return ready.map(|d| self.to_instant(d)),
            }
        }
    }

    fn pop_expired(&mut self, now: Instant) -> Option<Expired<T>> {
        if now < self.start {
            return None;
        }
        let now_ns = self.to_ns(now);
        let target = self.tick.divide(now_ns);
        if target > self.now_tick {
            self.advance(target);
        }
        let (deadline_ns, index) = self.ready_top()?;
        if deadline_ns > now_ns {
            return None;
        }
        self.ready.pop();
        let (value, generation) = self.slots.remove(index)?;
        Some(Expired {
            key: TimerKey { index, generation },
            deadline: self.to_instant(deadline_ns),
            value,
        })
    }

    fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests;

//! [`TimerWheel`]: a hierarchical hashed timing wheel (Varghese & Lauck) with
//! O(1) insert and cancel, for event loops with many timeouts that mostly never
//! fire.
//!
//! ```text
//!  slots (dense, paged, one record each)            levels: 8 x 256 dense buckets of slot indices
//!  +----+-----------------------------------+      level 0 [ .. |5: [17, 3] | .. ]  1 tick each
//!  |  3 | gen 4, bucket 5 pos 1, value, t, seq| <--  level 1 [ .. |2: [9]     | .. ]  256 ticks each
//!  | 17 | gen 1, bucket 5 pos 0, value, t, seq|      ...
//!  +----+-----------------------------------+      ready: min-heap of timers whose tick came
//!                                                          (exact deadline t, then seq)
//! ```
//!
//! - **Insert** stores the timer in a slot and pushes its index on the
//!   bucket its deadline's tick names, noting the position: O(1).
//! - **Cancel** checks the key's generation, takes the value, and removes
//!   the bucket entry by moving the bucket's last entry into its place (and
//!   telling that entry's slot): O(1), two dense records touched, nothing
//!   left behind. No tombstones, no sweeping, no garbage to bound.
//! - **Time passing** visits only occupied buckets (occupancy bitmaps):
//!   higher-level buckets cascade down, level-0 buckets move to `ready`,
//!   which hands timers out by exact deadline. So a timer never fires before
//!   its deadline and, if the loop polls every tick, at most one tick late.
//! - **next_deadline** names a real deadline, not a bucket boundary: each
//!   bucket keeps the earliest deadline pushed into it since its visit, and
//!   a level's next bucket holds that level's earliest timers, so the answer
//!   is the least of the ready heap's top and, per level, the later of the
//!   next visit and that bucket's earliest. When the timer that set a
//!   bucket's earliest leaves it (cancel, reschedule), the bucket is read
//!   again the next time it bounds the answer (up to 4096 entries), so a
//!   loop sleeping to it wakes for nothing only if a timer is cancelled
//!   between the answer and the wake.
//!
//! Pitfalls: deadlines are kept as nanoseconds since the wheel's `start`, so a
//! deadline before `start` is treated as `start`, and one more than 584 years
//! after it as 584 years after it. A bucket is cascaded in one go, so a visit
//! costs as much as the timers due in that bucket's block: at most 256 ticks'
//! worth for any timer placed less than 65 536 ticks ahead (65 s at 1 ms).
//! A bucket of more than 4096 entries is not read for `next_deadline`: its
//! recorded earliest stays, possibly a cancelled timer's (an early wake,
//! never a late one; a loop with that many timers polls every tick anyway).

mod divider;
mod levels;
mod ready;
mod slots;

use std::time::{Duration, Instant};

use crate::timers::{Expired, SeqCounter, TimerKey, Timers};
use divider::Divider;
use levels::{BucketId, Hint, Levels, NO_BUCKET};
use ready::Ready;
use slots::{Cold, Slots};

/// Entries `next_deadline` reads at most to find a bucket's earliest
/// deadline (a few hundred microseconds of slot reads).
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

    /// Bytes one pending timer costs: its slot plus its bucket entry
    /// (bucket and page slack not included; there is no garbage).
    pub fn bytes_per_timer() -> usize {
        Slots::<T>::slot_size() + std::mem::size_of::<Hint>()
    }

    fn to_ns(&self, at: Instant) -> u64 {
        crate::ns_since(self.start, at)
    }

    fn to_instant(&self, ns: u64) -> Instant {
        crate::saturating_add(self.start, Duration::from_nanos(ns))
    }

    /// Puts a timer where its deadline says, seen from `now_tick`: a bucket,
    /// or `ready` if its tick has come.
    #[inline]
    fn place(&mut self, index: u32, generation: u32, cold: Cold) {
        let due_tick = self.tick.divide(cold.deadline_ns);
        match Levels::bucket_for(self.now_tick, due_tick) {
            Some(bucket) => {
                debug_assert!(due_tick > self.now_tick, "only future ticks go in buckets");
                let pos = self.levels.push(bucket, index, cold.deadline_ns);
                self.slots.set_place(index, bucket, pos);
            }
            None => {
                self.slots.set_place(index, NO_BUCKET, 0);
                self.ready
                    .push(cold.deadline_ns, cold.seq, index, generation);
            }
        }
    }

    /// Takes a live timer's entry out of its bucket, if it is in one.
    fn unplace(&mut self, index: u32, deadline_ns: u64) {
        if let Some((bucket, pos)) = self.slots.take_place(index) {
            self.debug_check_place(index, bucket, pos);
            self.remove_entry(bucket, pos);
            self.levels.forget(bucket, deadline_ns);
        }
    }

    /// The invariant that makes cancel O(1): a timer's recorded place is
    /// the bucket entry that holds it (kept so by `remove_entry` telling the
    /// entry it moves where it went).
    #[inline]
    fn debug_check_place(&self, index: u32, bucket: BucketId, pos: u32) {
        debug_assert_eq!(
            self.levels.hints(bucket).get(pos as usize),
            Some(&index),
            "timer {index}'s recorded place is not its bucket entry"
        );
    }

    /// Removes the entry at `pos` of `bucket`, telling the entry moved into
    /// its place where it now is.
    #[inline]
    fn remove_entry(&mut self, bucket: levels::BucketId, pos: u32) {
        if let Some(moved) = self.levels.remove_at(bucket, pos) {
            self.slots.set_place(moved, bucket, pos);
        }
    }

    /// Visits every bucket due by tick `target`, cascading or readying its
    /// live timers, then sets the wheel's time to
    /// `target`.
    fn advance(&mut self, target: u64) {
        while let Some((tick, _)) = self.levels.next_bucket(self.now_tick) {
            if tick > target {
                break;
            }
            // Take every bucket visited at `tick` before moving time: seen
            // from `tick` itself, a visit at `tick` would look a whole
            // rotation away.
            let mut due: [Option<(levels::BucketId, Vec<Hint>)>; Levels::LEVELS] =
                Default::default();
            for (level, slot) in due.iter_mut().enumerate() {
                if let Some((t, bucket)) = self.levels.visit_of(level, self.now_tick) {
                    if t == tick {
                        *slot = Some((bucket, self.levels.take(bucket)));
                    }
                }
            }
            self.now_tick = tick;
            for (bucket, hints) in due.into_iter().flatten() {
                if hints.len() > 10_000 {
                    tracing::debug!(
                        bucket,
                        hints = hints.len(),
                        "timer wheel cascading a large bucket"
                    );
                }
                // Every entry is live: cancel removes its entry at once.
                for &index in &hints {
                    debug_assert!(
                        self.slots.live(index).is_some(),
                        "no dead entry in a bucket"
                    );
                    if let Some((generation, cold)) = self.slots.live(index) {
                        // Never late: a bucket is visited no later than the
                        // tick of any timer in it.
                        debug_assert!(
                            self.tick.divide(cold.deadline_ns) >= tick,
                            "a timer due before its bucket's visit"
                        );
                        self.place(index, generation, cold);
                    }
                }
                self.levels.recycle(bucket, hints);
            }
        }
        self.now_tick = self.now_tick.max(target);
    }

    /// No timer in any bucket is due before this (ns): per level, the later
    /// of its next visit and the earliest deadline pushed into that bucket
    /// (a level's buckets hold disjoint, increasing ranges of deadlines, so
    /// its next bucket holds its earliest timer); and the bucket that
    /// bounds.
    fn bucket_bound(&self) -> (u64, Option<BucketId>) {
        let mut bound = u64::MAX;
        let mut bounding = None;
        for level in 0..Levels::LEVELS {
            if let Some((tick, bucket)) = self.levels.visit_of(level, self.now_tick) {
                let at = tick
                    .saturating_mul(self.tick.divisor())
                    .max(self.levels.earliest(bucket));
                if at < bound {
                    bound = at;
                    bounding = Some(bucket);
                }
            }
        }
        (bound, bounding)
    }

    /// Replaces a bucket's recorded earliest deadline (a lower bound once
    /// its timer was cancelled or moved) by the earliest of its entries,
    /// read from their slots, for buckets of at most [`SCAN_LIMIT`]
    /// entries: a bigger one belongs to a loop so busy that it polls every
    /// tick anyway, and reading it would double the cost of its visit inside
    /// one poll (it keeps its bound, never late).
    fn scan(&mut self, bucket: BucketId) {
        let hints = self.levels.hints(bucket);
        let earliest = if hints.len() > SCAN_LIMIT {
            self.levels.earliest(bucket)
        } else {
            hints
                .iter()
                .filter_map(|&index| self.slots.live(index))
                .map(|(_, cold)| cold.deadline_ns)
                .min()
                .unwrap_or(u64::MAX)
        };
        self.levels.set_exact(bucket, earliest);
    }

    /// Drops stale entries from the top of `ready`; returns the live top.
    fn ready_top(&mut self) -> Option<(u64, u32)> {
        while let Some((deadline_ns, seq, index, generation)) = self.ready.peek() {
            // A rescheduled timer's old entry names another deadline; a
            // freed slot's, another generation (or no timer at all).
            let live = self.slots.live(index) == Some((generation, Cold { deadline_ns, seq }));
            if live {
                return Some((deadline_ns, index));
            }
            self.ready.pop();
        }
        None
    }
}

impl<T> Timers<T> for TimerWheel<T> {
    #[inline]
    fn insert_at(&mut self, deadline: Instant, value: T) -> TimerKey {
        let cold = Cold {
            deadline_ns: self.to_ns(deadline),
            seq: self.seq.next().get(),
        };
        let (index, generation) = self.slots.insert(value, cold);
        self.place(index, generation, cold);
        TimerKey { index, generation }
    }

    #[inline]
    fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let (value, place) = self.slots.cancel(key)?;
        if let Some(((bucket, pos), deadline_ns)) = place {
            self.debug_check_place(key.index, bucket, pos);
            self.remove_entry(bucket, pos);
            self.levels.forget(bucket, deadline_ns);
        }
        Some(value)
    }

    fn reschedule(&mut self, key: TimerKey, deadline: Instant) -> bool {
        if !self.slots.is_live(key) {
            return false;
        }
        let deadline_ns = self.to_ns(deadline);
        let old_ns = self
            .slots
            .live(key.index)
            .map_or(0, |(_, cold)| cold.deadline_ns);
        self.unplace(key.index, old_ns);
        let Some((generation, cold)) = self.slots.reschedule(key.index, deadline_ns) else {
            return false;
        };
        self.place(key.index, generation, cold);
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
                // The bound is a recorded earliest deadline whose timer may
                // have left since: read the bucket's entries once.
                Some(bucket) if !self.levels.is_exact(bucket) => self.scan(bucket),
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

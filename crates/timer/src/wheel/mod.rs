//! [`TimerWheel`]: a hierarchical hashed timing wheel (Varghese & Lauck) with
//! O(1) insert and cancel, for event loops with many timeouts that mostly never
//! fire.
//!
//! ```text
//!  slots (dense, paged, one record each)      levels: 8 x 256 dense buckets of (slot, tag)
//!  +----+-----------------------------+      level 0 [ .. |5: [17/1, 3/4, 3/3] | .. ]  1 tick each
//!  |  3 | tag 4, bucket 5, value, t, ..| <--  level 1 [ .. |2: [9/0]            | .. ]  256 ticks each
//!  | 17 | tag 1, bucket 5, value, t, ..|      ...      (3/3: stale, its timer was cancelled)
//!  tags: dense copy of every slot's tag, one byte each
//!  +----+-----------------------------+      ready: min-heap of timers whose tick came
//!                                                    (exact deadline t, then seq)
//! ```
//!
//! - **Insert** stores the timer in a slot and appends `(index, tag)` to
//!   the bucket its deadline's tick names: O(1). Vacant slots are handed
//!   out in address order (`vacancies.rs`), so request timeouts, cancelled
//!   in about the order they were set, are cancelled walking the slots
//!   forward; a slot that a young timer freed is reused at once.
//! - **Cancel** checks the key's generation, takes the value and bumps the
//!   generation and the slot's tag: one cache line of the slot touched (a
//!   line-aligned record), plus the
//!   slot's byte in the dense tag array and its bucket's one-line record
//!   (small arrays that stay in the outer caches). Its bucket entry stays,
//!   stale. A bucket that becomes more than half garbage is swept, 64
//!   entries per further entry going stale in it, by their dense tags,
//!   oldest unread entries first and stopping where they turn out live
//!   (young), so garbage never exceeds the live entries of a bucket by much,
//!   an entry is read about once, and no cancel pays for a whole bucket;
//!   and every bucket is visited within one rotation of its level anyway,
//!   which drops all its stale entries without reading their slots.
//! - **Time passing** visits only occupied buckets (occupancy bitmaps):
//!   higher-level buckets cascade down, level-0 buckets move to `ready`,
//!   which hands timers out by exact deadline; stale entries are dropped on
//!   the way. So a timer never fires before its deadline and, if the loop
//!   polls every tick, at most one tick late. From 32 ticks before a
//!   level-1 visit, each poll moves a share of that bucket's timers down
//!   (those less than 256 ticks away, to where an insert would put them),
//!   so the visit itself cascades only the rest.
//! - **next_deadline** names a real deadline, not a bucket boundary: each
//!   bucket keeps the earliest deadline pushed into it since its visit, and
//!   a level's next bucket holds that level's earliest timers, so the answer
//!   is the least of the ready heap's top and, per level, the later of the
//!   next visit and that bucket's earliest. When the timer that set a
//!   bucket's earliest leaves it (cancel, reschedule), the bucket is
//!   compacted the next time it bounds the answer (up to 4096 entries),
//!   which makes its earliest exact again, so a loop sleeping to it wakes
//!   for nothing only if a timer is cancelled between the answer and the
//!   wake.
//!
//! Pitfalls: deadlines are kept as nanoseconds since the wheel's `start`, so a
//! deadline before `start` is treated as `start`, and one more than 584 years
//! after it as 584 years after it. A bucket of level 2 or above is cascaded
//! in one go, so its visit costs as much as the timers due in its block
//! (timers 65 s or more away at a 1 ms tick); a level-1 bucket is spread
//! over the polls before its visit only if the loop polls in those ticks
//! (a loop that sleeps through them cascades it whole, as before).
//! A bucket of more than 4096 entries is not read for `next_deadline`: its
//! recorded earliest stays, possibly a cancelled timer's (an early wake,
//! never a late one; a loop with that many timers polls every tick anyway).

mod bucket;
mod chunks;
mod divider;
mod levels;
mod ready;
mod slots;
mod vacancies;

use std::time::{Duration, Instant};

use crate::timers::{Expired, SeqCounter, TimerKey, Timers};
use chunks::Taken;
use divider::Divider;
use levels::{BucketId, Early, Entry, Levels, NO_BUCKET};
use ready::Ready;
use slots::{Cold, Left, Slots};

/// Entries `next_deadline` reads at most to find a bucket's earliest
/// deadline (a few hundred microseconds of slot reads).
const SCAN_LIMIT: usize = 4096;

/// Ticks before a level-1 bucket's visit from which its timers are moved
/// down ahead of it, a share per poll (see [`TimerWheel::move_down_early`]).
const EARLY_TICKS: u64 = 32;

/// Entries an early step reads at least (a small bucket goes in one step).
const EARLY_MIN_STEP: usize = 256;

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
    /// The level-1 visit (tick, bucket) whose timers have all been moved
    /// down early but those still too far ahead: not read again before it.
    early_done: Option<(u64, BucketId)>,
    /// Reused buffer of the entries an early step moves.
    moving: Vec<Entry>,
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
            early_done: None,
            moving: Vec::new(),
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
    /// (bucket and page slack and stale entries not included: a bucket
    /// holds at most about as many stale entries as live ones).
    pub fn bytes_per_timer() -> usize {
        Slots::<T>::slot_size() + std::mem::size_of::<Entry>()
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
                let entry = self.slots.set_bucket(index, bucket);
                self.levels.push(bucket, entry, cold.deadline_ns);
            }
            None => {
                self.slots.set_bucket(index, NO_BUCKET);
                self.ready
                    .push(cold.deadline_ns, cold.seq, index, generation);
            }
        }
    }

    /// The live entry in a bucket of slot `index`'s timer went stale:
    /// count it, and sweep the bucket a step if it is mostly garbage.
    #[inline]
    fn left(&mut self, index: u32, left: Left) {
        if let Some(bucket) = left {
            if self.levels.stale(bucket, index) {
                self.sweep_step(bucket);
            }
        }
    }

    /// Drops stale entries of `bucket` for one sweep step, telling them by
    /// the dense tags alone (no slot read for a stale entry).
    fn sweep_step(&mut self, bucket: BucketId) {
        let slots = &self.slots;
        self.levels
            .sweep_step(bucket, |entry| slots.tag_matches(entry));
    }

    /// Makes `bucket`'s recorded earliest exact: drops its stale entries
    /// and reads the deadlines of the live ones.
    fn compact_exact(&mut self, bucket: BucketId) {
        let slots = &self.slots;
        self.levels.compact_exact(bucket, |entry| {
            slots
                .entry_live(entry, bucket)
                .map(|(_, cold)| cold.deadline_ns)
        });
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
            let mut due: [Option<(BucketId, Taken)>; Levels::LEVELS] = Default::default();
            for (level, slot) in due.iter_mut().enumerate() {
                if let Some((t, bucket)) = self.levels.visit_of(level, self.now_tick) {
                    if t == tick {
                        *slot = Some((bucket, self.levels.take(bucket)));
                    }
                }
            }
            self.now_tick = tick;
            for (bucket, entries) in due.into_iter().flatten() {
                if entries.len() > 10_000 {
                    tracing::debug!(
                        bucket,
                        entries = entries.len(),
                        "timer wheel cascading a large bucket"
                    );
                }
                for entry in entries.iter() {
                    // Stale entries (cancelled or moved timers) drop here.
                    if let Some((generation, cold)) = self.slots.entry_live(entry, bucket) {
                        // Never late: a bucket is visited no later than the
                        // tick of any timer in it.
                        debug_assert!(
                            self.tick.divide(cold.deadline_ns) >= tick,
                            "a timer due before its bucket's visit"
                        );
                        self.place(entry.index, generation, cold);
                    }
                }
                self.levels.recycle(bucket, entries);
            }
        }
        self.now_tick = self.now_tick.max(target);
        self.move_down_early();
    }

    /// Spreads the next level-1 visit over the polls before it. A level-1
    /// bucket holds 256 ticks of timers (at a million timers in flight,
    /// tens of thousands, a slot read each): cascading it in one poll took
    /// milliseconds. From [`EARLY_TICKS`] before its visit, each poll moves
    /// a share of its timers down: those less than 256 ticks away go to
    /// level 0 (or `ready`), exactly where an insert at this tick would put
    /// them, so they are visited no later than their tick; the few due in
    /// the block's last ticks wait for the visit itself.
    fn move_down_early(&mut self) {
        let Some((visit, bucket)) = self.levels.visit_of(1, self.now_tick) else {
            return;
        };
        let ahead = visit - self.now_tick;
        if ahead > EARLY_TICKS || self.early_done == Some((visit, bucket)) {
            return;
        }
        let share = self.levels.len(bucket).div_ceil(ahead as usize);
        let mut moving = std::mem::take(&mut self.moving);
        let (slots, tick, now) = (&self.slots, self.tick, self.now_tick);
        let done = self.levels.early_step(
            bucket,
            share.max(EARLY_MIN_STEP),
            |entry| match slots.entry_live(entry, bucket) {
                None => Early::Stale,
                Some((_, cold)) if tick.divide(cold.deadline_ns).saturating_sub(now) < 256 => {
                    Early::Move
                }
                Some(_) => Early::Wait,
            },
            &mut moving,
        );
        if done {
            self.early_done = Some((visit, bucket));
        }
        for &entry in &moving {
            if let Some((generation, cold)) = self.slots.entry_live(entry, bucket) {
                self.place(entry.index, generation, cold);
                debug_assert!(
                    self.slots
                        .live(entry.index)
                        .is_some_and(|(_, b, _)| b != bucket),
                    "a timer moved early went below level 1"
                );
            }
        }
        moving.clear();
        self.moving = moving;
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

    /// Makes a bucket's recorded earliest deadline (a lower bound once its
    /// timer was cancelled or moved) exact by compacting it, for buckets of
    /// at most [`SCAN_LIMIT`] entries: a bigger one belongs to a loop so
    /// busy that it polls every tick anyway, and reading it would double the
    /// cost of its visit inside one poll (it keeps its bound, never late).
    fn scan(&mut self, bucket: BucketId) -> bool {
        if self.levels.len(bucket) > SCAN_LIMIT {
            return false;
        }
        self.compact_exact(bucket);
        true
    }

    /// Drops stale entries from the top of `ready`; returns the live top.
    fn ready_top(&mut self) -> Option<(u64, u32)> {
        while let Some((deadline_ns, seq, index, generation)) = self.ready.peek() {
            // A rescheduled timer's old entry names another deadline; a
            // freed slot's, another generation (or no timer at all).
            let live =
                self.slots.live(index) == Some((generation, NO_BUCKET, Cold { deadline_ns, seq }));
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
        let deadline_ns = self.to_ns(deadline);
        let cold = Cold {
            deadline_ns,
            seq: self.seq.next().get(),
        };
        // As `place`, but the slot is written once, bucket included.
        let due_tick = self.tick.divide(deadline_ns);
        let bucket = Levels::bucket_for(self.now_tick, due_tick).unwrap_or(NO_BUCKET);
        let (index, generation, entry) = self.slots.insert(value, cold, bucket);
        if bucket == NO_BUCKET {
            self.ready.push(deadline_ns, cold.seq, index, generation);
        } else {
            self.levels.push(bucket, entry, deadline_ns);
        }
        TimerKey { index, generation }
    }

    #[inline]
    fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let (value, left) = self.slots.cancel(key)?;
        if self.slots.len() == 0 {
            // Every entry left is stale: drop them now rather than keep
            // their memory until their visits (an idle loop's wheel).
            self.levels.clear();
            self.ready.clear();
        } else {
            self.left(key.index, left);
        }
        Some(value)
    }

    fn reschedule(&mut self, key: TimerKey, deadline: Instant) -> bool {
        if !self.slots.is_live(key) {
            return false;
        }
        let deadline_ns = self.to_ns(deadline);
        let Some((generation, left, cold)) = self.slots.reschedule(key.index, deadline_ns) else {
            return false;
        };
        self.left(key.index, left);
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
                Some(bucket) if !self.levels.is_exact(bucket) && self.scan(bucket) => {}
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
mod deadline_tests;
#[cfg(test)]
mod lazy_tests;
#[cfg(test)]
mod tests;

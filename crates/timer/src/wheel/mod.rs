//! [`TimerWheel`]: a hierarchical hashed timing wheel (Varghese & Lauck) with
//! O(1) insert and cancel, for event loops with many timeouts that mostly never
//! fire.
//!
//! ```text
//!  slots (dense, paged)                   levels: 8 x 256 buckets of hints
//!  +----+-------------+-------+           level 0 [ .. |5: (17,s2) (3,s0) | .. ]  1 tick each
//!  |  3 | gen 4, value| stamp 0 <-------- level 1 [ .. |2: (9,s1)         | .. ]  256 ticks each
//!  | 17 | gen 1, value| stamp 2 |         ...
//!  +----+-------------+-------+           ready: min-heap of timers whose tick came
//!       cold: deadline, seq                      (exact deadline, then seq)
//! ```
//!
//! - **Insert** stores the timer in a slot and pushes a hint `(slot, stamp)`
//!   on the bucket its deadline's tick names: O(1).
//! - **Cancel** checks the key's generation, takes the value and bumps the
//!   slot's generation and stamp: O(1), touching one small dense record. The
//!   bucket is not touched; the hint there is now stale (unless it was the
//!   hint pushed last, as when a timeout is cancelled right after being set:
//!   then it is simply popped).
//! - **Garbage** (stale hints) is bounded: when it exceeds an eighth of the
//!   live timers, every cancel also sweeps a few hints (amortised O(1), never
//!   a pause), and a bucket drops its stale hints when time reaches it.
//! - **Time passing** visits only occupied buckets (occupancy bitmaps):
//!   higher-level buckets cascade down, level-0 buckets move to `ready`,
//!   which hands timers out by exact deadline. So a timer never fires before
//!   its deadline and, if the loop polls every tick, at most one tick late.
//!
//! Pitfalls: deadlines are kept as nanoseconds since the wheel's `start`, so a
//! deadline before `start` is treated as `start`, and one more than 584 years
//! after it as 584 years after it. A bucket is cascaded in one go, so a visit
//! costs as much as the timers due in that bucket's block: at most 256 ticks'
//! worth for any timer placed less than 65 536 ticks ahead (65 s at 1 ms).
//! `next_deadline` may name a bucket boundary before the first real deadline
//! (the loop then wakes, finds nothing due, and asks again).

mod divider;
mod levels;
mod ready;
mod slots;

use std::time::{Duration, Instant};

use crate::timers::{Expired, SeqCounter, TimerKey, Timers};
use divider::Divider;
use levels::{Hint, Levels};
use ready::Ready;
use slots::{Cold, Slots};

/// The default tick: one millisecond.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

/// Stale hints tolerated before cancels start sweeping, on top of an eighth
/// of the live timers (so small wheels never bother).
const GARBAGE_SLACK: usize = 1024;
/// Hints a cancel checks while sweeping. Past the threshold at least one in
/// nine hints is stale, so checking 16 removes more garbage than the cancel
/// made. A check reads one byte of the dense stamp array: cheap.
const SWEEP_BUDGET: usize = 16;

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
    /// Stale hints believed to sit in buckets.
    garbage: usize,
    /// Stale hints tolerated beyond half the live timers before sweeping.
    garbage_slack: usize,
    /// The hint pushed last and its bucket: a timer cancelled right after
    /// it was set (an operation that completed at once) takes its hint back
    /// instead of leaving garbage.
    last_hint: Option<(levels::BucketId, Hint)>,
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
            garbage: 0,
            garbage_slack: GARBAGE_SLACK,
            last_hint: None,
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

    /// Bytes one pending timer costs with no garbage: its slot plus its
    /// bucket hint (bucket and page slack not included).
    pub fn bytes_per_timer() -> usize {
        Slots::<T>::slot_size() + std::mem::size_of::<Hint>()
    }

    fn to_ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX)
    }

    fn to_instant(&self, ns: u64) -> Instant {
        crate::saturating_add(self.start, Duration::from_nanos(ns))
    }

    /// Puts a timer where its deadline says, seen from `now_tick`: a bucket,
    /// or `ready` if its tick has come.
    fn place(&mut self, index: u32, stamp: u8, cold: Cold) {
        match Levels::bucket_for(self.now_tick, self.tick.divide(cold.deadline_ns)) {
            Some(bucket) => {
                let hint = Hint { index, stamp };
                self.levels.push(bucket, hint);
                self.last_hint = Some((bucket, hint));
            }
            None => self.ready.push(cold.deadline_ns, cold.seq, index, stamp),
        }
    }

    /// One more stale hint; sweep a little if they pile up.
    fn add_garbage(&mut self) {
        self.garbage += 1;
        if self.garbage > self.slots.len() / 8 + self.garbage_slack {
            let slots = &self.slots;
            let removed = self.levels.sweep(SWEEP_BUDGET, |hint| {
                slots.stamp(hint.index) != Some(hint.stamp)
            });
            self.garbage = self.garbage.saturating_sub(removed);
        }
    }

    /// Visits every bucket due by tick `target`, cascading or readying its
    /// live timers and dropping its stale hints, then sets the wheel's time to
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
                for &hint in &hints {
                    match self.slots.live_stamp(hint.index) {
                        Some(stamp) if stamp == hint.stamp => {
                            if let Some(cold) = self.slots.cold(hint.index) {
                                self.place(hint.index, stamp, cold);
                            }
                        }
                        _ => self.garbage = self.garbage.saturating_sub(1),
                    }
                }
                self.levels.recycle(bucket, hints);
            }
        }
        self.now_tick = self.now_tick.max(target);
    }

    /// Drops stale entries from the top of `ready`; returns the live top.
    fn ready_top(&mut self) -> Option<(u64, u32)> {
        while let Some((deadline_ns, seq, index, stamp)) = self.ready.peek() {
            let live = self.slots.live_stamp(index) == Some(stamp)
                && self
                    .slots
                    .cold(index)
                    .is_some_and(|cold| cold.seq == seq && cold.deadline_ns == deadline_ns);
            if live {
                return Some((deadline_ns, index));
            }
            self.ready.pop();
        }
        None
    }
}

impl<T> Timers<T> for TimerWheel<T> {
    fn insert_at(&mut self, deadline: Instant, value: T) -> TimerKey {
        let cold = Cold {
            deadline_ns: self.to_ns(deadline),
            seq: self.seq.next().get(),
        };
        let (index, generation, stamp) = self.slots.insert(value, cold);
        self.place(index, stamp, cold);
        TimerKey { index, generation }
    }

    fn cancel(&mut self, key: TimerKey) -> Option<T> {
        if !self.slots.is_live(key) {
            return None;
        }
        // Only a timer whose hint was the last one pushed can take it back;
        // checking the index first keeps the stamp read off the common path.
        let reclaim = self.last_hint.take().filter(|(_, hint)| {
            hint.index == key.index && self.slots.live_stamp(key.index) == Some(hint.stamp)
        });
        let (value, _) = self.slots.remove(key.index)?;
        let reclaimed = reclaim.is_some_and(|(bucket, hint)| self.levels.pop_last_if(bucket, hint));
        if !reclaimed {
            self.add_garbage();
        }
        Some(value)
    }

    fn reschedule(&mut self, key: TimerKey, deadline: Instant) -> bool {
        if !self.slots.is_live(key) {
            return false;
        }
        let deadline_ns = self.to_ns(deadline);
        let Some((stamp, cold)) = self.slots.reschedule(key.index, deadline_ns) else {
            return false;
        };
        self.place(key.index, stamp, cold);
        self.add_garbage();
        true
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        if self.slots.len() == 0 {
            // Buckets may still hold stale hints; nothing is pending.
            return None;
        }
        if let Some((deadline_ns, _)) = self.ready_top() {
            return Some(self.to_instant(deadline_ns));
        }
        let (tick, _) = self.levels.next_bucket(self.now_tick)?;
        Some(self.to_instant(tick.saturating_mul(self.tick.divisor())))
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

//! [`TimerWheel`]: a hierarchical hashed timing wheel (Varghese & Lauck) with
//! O(1) insert and O(1) cancel that touches one record, for event loops with
//! many timeouts that mostly never fire.
//!
//! ```text
//!  tick (u64) = [ block ........................ | digit of tick ]
//!                 block digit = block % 256          8 bits
//!
//!  level 1: 256 homes, one per block digit (a block = 256 ticks)
//!    home 5: [ rec | rec | vacant | rec ... ]   timers due in blocks 5, 261, ...
//!            records never move: the key names home and position
//!  level 0: 256 tick lists for the current block: (key) references
//!  ready:   min-heap of timers whose tick came (exact deadline, then seq)
//! ```
//!
//! - **Insert** stores the timer in the home of its deadline's block (a
//!   vacancy there, or the end): O(1). A timer due within the current block
//!   also gets a reference on its tick's list; one already due goes to
//!   `ready`.
//! - **Cancel** goes straight to the record the key names, checks its
//!   generation, takes the value and marks the position vacant: one 32-byte
//!   record touched, nothing unlinked or moved. The vacancy is reused by the
//!   next timer of that block and a home whose last timer goes is reset, so
//!   no tombstone outlives its block; references to a cancelled timer on the
//!   tick lists or in `ready` are stale by generation and dropped when
//!   reached (they live at most one block).
//! - **Time passing**: at the start of each block its home is scanned (only
//!   occupied homes and lists are visited, by bitmap) and its timers are put
//!   on their ticks' lists; each tick's list moves to `ready`, which hands
//!   timers out by exact deadline. So a timer never fires before its
//!   deadline and, if the loop polls every tick, at most one tick late.
//! - **Far timers** (a block more than 256 blocks ahead, 65 s at 1 ms) wait
//!   in their home's digit like any other and are passed over by the scans of
//!   earlier rotations; a jump of a whole rotation or more is one sweep over
//!   every home, not a visit per block.
//! - **Reschedule** keeps the record where it is and, when its new block's
//!   home is another one, leaves a reference in that home's block list
//!   (compacted when it doubles, so stale references stay bounded).
//!
//! Pitfalls: deadlines are kept as nanoseconds since the wheel's `start`, so a
//! deadline before `start` is treated as `start`, and one more than 584 years
//! after it as 584 years after it. A block's timers are put on tick lists in
//! one go at the block's start: that visit costs as much as the block's
//! timers (plus far timers stored in the same home). `next_deadline` may name
//! a block or tick boundary before the first real deadline (the loop then
//! wakes, finds nothing due, and asks again); a far timer causes one such
//! wake per rotation.

mod advance;
mod divider;
mod home;
mod ready;
mod refs;

use std::time::{Duration, Instant};

use crate::timers::{Expired, SeqCounter, TimerKey, Timers};
use divider::Divider;
use home::{Home, Record};
use ready::Ready;
use refs::RefLists;

/// The default tick: one millisecond.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);

/// Ticks per block, and blocks (homes) per rotation.
const DIGITS: u64 = 256;

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
pub struct TimerWheel<T> {
    start: Instant,
    /// Nanoseconds per tick, as a fast divider.
    tick: Divider,
    /// Every visit at a tick up to this one has been made.
    now_tick: u64,
    /// One per block digit.
    homes: Box<[Home<T>; DIGITS as usize]>,
    /// Bit `d` set while home `d` stores a timer.
    homes_occupied: [u64; 4],
    /// Timers of the current block waiting for their tick, by tick digit.
    ticks: RefLists,
    /// Timers stored outside their block's home, by block digit.
    blocks: RefLists,
    ready: Ready,
    seq: SeqCounter,
    len: usize,
}

/// The home (block digit) of a timer due at tick `due`.
#[inline]
fn home_of(due: u64) -> usize {
    ((due / DIGITS) % DIGITS) as usize
}

impl<T> TimerWheel<T> {
    /// A wheel with a 1 ms tick whose time starts at `start`.
    pub fn new(start: Instant) -> Self {
        Self::build(start, DEFAULT_TICK.as_nanos() as u64)
    }

    /// A wheel with the given tick. Smaller ticks cost more visits when
    /// time jumps and make a rotation shorter; firing precision does not
    /// depend on the tick.
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
            homes: Box::new(std::array::from_fn(|_| Home::new())),
            homes_occupied: [0; 4],
            ticks: RefLists::new(),
            blocks: RefLists::new(),
            ready: Ready::default(),
            seq: SeqCounter::new(),
            len: 0,
        }
    }

    /// The wheel's tick.
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick.divisor())
    }

    /// Bytes of heap memory held: homes, reference lists and the ready heap.
    pub fn allocated_bytes(&self) -> usize {
        std::mem::size_of::<[Home<T>; DIGITS as usize]>()
            + self.homes.iter().map(Home::allocated_bytes).sum::<usize>()
            + self.ticks.allocated_bytes()
            + self.blocks.allocated_bytes()
            + self.ready.allocated_bytes()
    }

    /// Bytes one pending timer costs: its record (home slack, vacancies and
    /// transient references not included).
    pub fn bytes_per_timer() -> usize {
        std::mem::size_of::<Record<T>>()
    }

    fn to_ns(&self, at: Instant) -> u64 {
        crate::ns_since(self.start, at)
    }

    fn to_instant(&self, ns: u64) -> Instant {
        crate::saturating_add(self.start, Duration::from_nanos(ns))
    }

    /// The live record `index` and `generation` name.
    #[inline]
    fn record(&self, index: u32, generation: u32) -> Option<&Record<T>> {
        let (h, pos) = home::split(index);
        self.homes.get(h)?.get(pos, generation)
    }

    /// Stores a timer in home `h` (or, if `h` is full, in another home);
    /// returns the key's index and generation, and the home used.
    #[inline]
    fn store(&mut self, h: usize, value: T, deadline_ns: u64, seq: u64) -> (u32, u32, usize) {
        match self.homes[h].insert(value, deadline_ns, seq) {
            Ok((pos, generation)) => {
                if self.homes[h].live() == 1 {
                    self.homes_occupied[h / 64] |= 1 << (h % 64);
                }
                (home::index(h, pos), generation, h)
            }
            Err(value) => self.store_elsewhere(h, value, deadline_ns, seq),
        }
    }

    /// Home `h` holds [`home::MAX_POS`] timers: the next home with room.
    #[cold]
    fn store_elsewhere(
        &mut self,
        h: usize,
        value: T,
        deadline_ns: u64,
        seq: u64,
    ) -> (u32, u32, usize) {
        let mut value = value;
        for other in (1..DIGITS as usize).map(|i| (h + i) % DIGITS as usize) {
            match self.homes[other].insert(value, deadline_ns, seq) {
                Ok((pos, generation)) => {
                    if self.homes[other].live() == 1 {
                        self.homes_occupied[other / 64] |= 1 << (other % 64);
                    }
                    return (home::index(other, pos), generation, other);
                }
                Err(back) => value = back,
            }
        }
        panic!("more than 4G pending timers");
    }

    /// Makes sure the timer is reached in time: `ready` if its tick has come,
    /// its tick's list if it is due in the current block, its block's list if
    /// it is not stored in its block's home (which is scanned anyway).
    #[inline]
    fn schedule(
        &mut self,
        index: u32,
        generation: u32,
        record: (u64, u64),
        due: u64,
        at_home: bool,
    ) {
        let (deadline_ns, seq) = record;
        if due <= self.now_tick {
            self.ready.push(deadline_ns, seq, index, generation);
        } else if due / DIGITS == self.now_tick / DIGITS {
            self.ticks
                .push((due % DIGITS) as usize, (index, generation));
        } else if !at_home {
            let d = home_of(due);
            if self.blocks.push(d, (index, generation)) {
                self.compact_block_list(d);
            }
        }
    }

    /// Frees the record `index` and `generation` name, if live: its value.
    #[inline]
    fn free(&mut self, index: u32, generation: u32) -> Option<T> {
        let (h, pos) = home::split(index);
        let home = self.homes.get_mut(h)?;
        let value = home.take(pos, generation)?;
        if home.live() == 0 {
            self.homes_occupied[h / 64] &= !(1 << (h % 64));
        }
        self.len -= 1;
        Some(value)
    }

    /// Drops stale entries from the top of `ready`; returns the live top.
    fn ready_top(&mut self) -> Option<(u64, u32, u32)> {
        while let Some((deadline_ns, seq, index, generation)) = self.ready.peek() {
            // A rescheduled timer's old entry names another deadline; a
            // freed record's, another generation (or no timer at all).
            let live = self
                .record(index, generation)
                .is_some_and(|r| r.deadline_ns == deadline_ns && r.seq == seq);
            if live {
                return Some((deadline_ns, index, generation));
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
        let seq = self.seq.next().get();
        let due = self.tick.divide(deadline_ns);
        let h = home_of(due);
        let (index, generation, stored) = self.store(h, value, deadline_ns, seq);
        self.len += 1;
        self.schedule(index, generation, (deadline_ns, seq), due, stored == h);
        TimerKey { index, generation }
    }

    #[inline]
    fn cancel(&mut self, key: TimerKey) -> Option<T> {
        self.free(key.index, key.generation)
    }

    fn reschedule(&mut self, key: TimerKey, deadline: Instant) -> bool {
        let deadline_ns = self.to_ns(deadline);
        let (h, pos) = home::split(key.index);
        let Some(record) = self
            .homes
            .get_mut(h)
            .and_then(|home| home.get_mut(pos, key.generation))
        else {
            return false;
        };
        record.deadline_ns = deadline_ns;
        let seq = record.seq;
        let due = self.tick.divide(deadline_ns);
        self.schedule(
            key.index,
            key.generation,
            (deadline_ns, seq),
            due,
            home_of(due) == h,
        );
        true
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        if let Some((deadline_ns, ..)) = self.ready_top() {
            return Some(self.to_instant(deadline_ns));
        }
        let tick = self.next_visit()?;
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
        let (deadline_ns, index, generation) = self.ready_top()?;
        if deadline_ns > now_ns {
            return None;
        }
        self.ready.pop();
        let value = self.free(index, generation)?;
        Some(Expired {
            key: TimerKey { index, generation },
            deadline: self.to_instant(deadline_ns),
            value,
        })
    }

    fn len(&self) -> usize {
        self.len
    }
}

impl<T> std::fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerWheel")
            .field("tick", &self.tick())
            .field("now_tick", &self.now_tick)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests;

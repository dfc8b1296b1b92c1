//! [`FixedQueue`]: timers that all share one duration (every request timeout
//! equal), kept as a FIFO: O(1) insert, cancel and expire.
//!
//! ```text
//!  slots (slab)                       queue (FIFO, deadlines non-decreasing)
//!  +---+--------------------+         front                               back
//!  | 0 | gen 3, Some(value) | <----   [ t=5000 #0 g3 | t=5001 #2 g0 x | t=5003 #1 g7 ]
//!  | 1 | gen 7, Some(value) |                            ^ stale: slot 2 is at gen 1
//!  | 2 | gen 1, None        |
//!  +---+--------------------+         free: [2]
//! ```
//!
//! With one duration, a timer inserted later is due later, so the queue is
//! sorted by construction: insert appends, expire pops the front. Cancel
//! only frees the slot and bumps its generation (one slot touched, nothing
//! unlinked); the queue entry it leaves behind is recognised as stale by its
//! generation and dropped when it reaches the front. So that garbage cannot
//! pile up for a whole duration, the queue is compacted (live entries kept,
//! in order) whenever it holds more garbage than live timers; each compaction
//! removes at least as many entries as it keeps, so it costs O(1) amortised
//! per cancel.
//!
//! Pitfalls: the deadline is `now + duration` for the `now` passed to
//! [`FixedQueue::insert`]; if `now` goes backwards the deadline is raised to
//! the previous one (later, never earlier) to keep the queue sorted. A
//! compaction is one pass over the queue: with a million timers it is a
//! multi-millisecond pause in the call that triggers it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::timers::{Expired, TimerKey};

/// Compaction waits for at least this much garbage (small queues never pay).
const MIN_GARBAGE: usize = 1024;

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// One queue entry: deadline (ns since start), slot index, generation.
#[derive(Debug, Clone, Copy)]
struct Entry {
    deadline_ns: u64,
    index: u32,
    generation: u32,
}

/// Timers of one fixed duration in a FIFO; see the module docs.
///
/// ```
/// use std::time::{Duration, Instant};
/// use rouse_timer::FixedQueue;
///
/// let start = Instant::now();
/// let mut timeouts = FixedQueue::new(start, Duration::from_secs(5));
/// let answered = timeouts.insert(start, "request 1");
/// timeouts.insert(start + Duration::from_millis(1), "request 2");
/// assert_eq!(timeouts.cancel(answered), Some("request 1"));
/// assert_eq!(timeouts.cancel(answered), None, "stale key: harmless");
/// assert!(timeouts.pop_expired(start + Duration::from_secs(5)).is_none());
/// let due = timeouts
///     .pop_expired(start + Duration::from_millis(5001))
///     .unwrap();
/// assert_eq!(due.value, "request 2");
/// ```
pub struct FixedQueue<T> {
    start: Instant,
    duration_ns: u64,
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    queue: VecDeque<Entry>,
    live: usize,
}

impl<T> FixedQueue<T> {
    /// An empty queue whose timers all fire `duration` after insertion; time
    /// is counted from `start` (instants before it count as `start`).
    pub fn new(start: Instant, duration: Duration) -> Self {
        Self {
            start,
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            slots: Vec::new(),
            free: Vec::new(),
            queue: VecDeque::new(),
            live: 0,
        }
    }

    /// The duration every timer waits (saturated at about 584 years).
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns)
    }

    /// Starts a timer that fires `duration` after `now`; returns its key.
    ///
    /// # Panics
    /// With more than `u32::MAX` live timers (memory runs out first).
    pub fn insert(&mut self, now: Instant, value: T) -> TimerKey {
        let mut deadline_ns = self.to_ns(now).saturating_add(self.duration_ns);
        if let Some(last) = self.queue.back() {
            // A clock that went backwards: later, never earlier, stays sorted.
            deadline_ns = deadline_ns.max(last.deadline_ns);
        }
        let (index, generation) = match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index as usize];
                slot.value = Some(value);
                (index, slot.generation)
            }
            None => {
                let index = u32::try_from(self.slots.len()).expect("more than 4G pending timers");
                self.slots.push(Slot {
                    generation: 0,
                    value: Some(value),
                });
                (index, 0)
            }
        };
        self.queue.push_back(Entry {
            deadline_ns,
            index,
            generation,
        });
        self.live += 1;
        TimerKey { index, generation }
    }

    /// Cancels the timer `key` names: its value, or `None` if it already
    /// fired or was cancelled (a stale key never touches another timer).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let value = self.free_slot(key.index, key.generation)?;
        let garbage = self.queue.len() - self.live;
        if garbage > self.live.max(MIN_GARBAGE) {
            self.compact();
        }
        Some(value)
    }

    /// When the front timer is due, if any timer is pending.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let front = self.live_front()?;
        Some(crate::saturating_add(
            self.start,
            Duration::from_nanos(front.deadline_ns),
        ))
    }

    /// Removes and returns the earliest timer due at `now` (deadline
    /// `<= now`), in insertion order; `None` when none is due.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Expired<T>> {
        if now < self.start {
            return None;
        }
        let now_ns = self.to_ns(now);
        let front = self.live_front()?;
        if front.deadline_ns > now_ns {
            return None;
        }
        self.queue.pop_front();
        let value = self.free_slot(front.index, front.generation)?;
        Some(Expired {
            key: TimerKey {
                index: front.index,
                generation: front.generation,
            },
            deadline: crate::saturating_add(self.start, Duration::from_nanos(front.deadline_ns)),
            value,
        })
    }

    /// Pending timers.
    pub fn len(&self) -> usize {
        self.live
    }

    /// `true` when no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of heap memory held: slots, free list and queue (garbage and
    /// slack included).
    pub fn allocated_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<T>>()
            + self.free.capacity() * std::mem::size_of::<u32>()
            + self.queue.capacity() * std::mem::size_of::<Entry>()
    }

    fn to_ns(&self, at: Instant) -> u64 {
        crate::ns_since(self.start, at)
    }

    fn is_live(&self, entry: &Entry) -> bool {
        let slot = &self.slots[entry.index as usize];
        slot.generation == entry.generation && slot.value.is_some()
    }

    /// Takes the value of slot `index` if it is at `generation`, freeing it.
    fn free_slot(&mut self, index: u32, generation: u32) -> Option<T> {
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.live -= 1;
        Some(value)
    }

    /// Drops stale entries from the front; returns the live front.
    fn live_front(&mut self) -> Option<Entry> {
        while let Some(&front) = self.queue.front() {
            if self.is_live(&front) {
                return Some(front);
            }
            self.queue.pop_front();
        }
        None
    }

    /// Keeps only live entries, in order, and gives back the slack.
    fn compact(&mut self) {
        let before = self.queue.len();
        let slots = &self.slots;
        self.queue.retain(|entry| {
            let slot = &slots[entry.index as usize];
            slot.generation == entry.generation && slot.value.is_some()
        });
        if self.queue.capacity() > 4 * self.queue.len().max(MIN_GARBAGE) {
            self.queue.shrink_to(2 * self.queue.len());
        }
        tracing::trace!(
            before,
            after = self.queue.len(),
            "fixed queue compacted its garbage"
        );
    }
}

impl<T> std::fmt::Debug for FixedQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedQueue")
            .field("duration", &self.duration())
            .field("live", &self.live)
            .field("queued", &self.queue.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;

//! The loop's timers: one-shot and periodic callbacks on a `rouse-timer`
//! wheel, found by [`TimerId`] so any thread can cancel them.
//!
//! Periodic timers follow tornado's `PeriodicCallback` overrun policy: the
//! next run is the first multiple of the period after now, counted from the
//! first deadline. A callback that overran two periods skips the two missed
//! ticks rather than running three times back to back, and the schedule never
//! drifts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rouse_timer::{Expired, TimerKey, TimerWheel, Timers};

use crate::handle::TimerId;
use crate::scheduling::{Callback, Repeating};

/// What runs when a timer fires.
pub(crate) enum TimerCallback<D> {
    Once(Callback<D>),
    Every {
        callback: Repeating<D>,
        period: Duration,
    },
}

pub(crate) struct TimerEntry<D> {
    pub(crate) id: TimerId,
    pub(crate) name: &'static str,
    pub(crate) callback: TimerCallback<D>,
}

enum Slot {
    Pending(TimerKey),
    /// A periodic timer whose callback is running: cancelling it now stops
    /// the next run.
    Running,
}

pub(crate) struct TimerTable<D> {
    /// The wheel itself, not a `Box<dyn Timers>`: a boxed trait object would
    /// force the loop's data to be `'static`.
    timers: TimerWheel<TimerEntry<D>>,
    slots: HashMap<TimerId, Slot>,
}

impl<D> TimerTable<D> {
    pub(crate) fn new(start: Instant) -> TimerTable<D> {
        TimerTable {
            timers: TimerWheel::new(start),
            slots: HashMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, at: Instant, entry: TimerEntry<D>) {
        let id = entry.id;
        let key = self.timers.insert_at(at, entry);
        self.slots.insert(id, Slot::Pending(key));
    }

    /// Cancels `id`; `false` if it already ran or was cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        match self.slots.remove(&id) {
            Some(Slot::Pending(key)) => self.timers.cancel(key).is_some(),
            Some(Slot::Running) => true,
            None => false,
        }
    }

    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }

    /// Moves every timer due at `now` into `out`, in deadline order. Timers
    /// those callbacks schedule cannot join this batch.
    pub(crate) fn take_due(&mut self, now: Instant, out: &mut Vec<Expired<TimerEntry<D>>>) {
        while let Some(due) = self.timers.pop_expired(now) {
            match due.value.callback {
                TimerCallback::Once(_) => {
                    self.slots.remove(&due.value.id);
                }
                TimerCallback::Every { .. } => {
                    self.slots.insert(due.value.id, Slot::Running);
                }
            }
            out.push(due);
        }
    }

    /// A periodic timer ran: schedule its next tick unless it was cancelled
    /// while it ran.
    pub(crate) fn rearm(&mut self, deadline: Instant, now: Instant, entry: TimerEntry<D>) {
        let TimerCallback::Every { period, .. } = &entry.callback else {
            return;
        };
        if !matches!(self.slots.get(&entry.id), Some(Slot::Running)) {
            return;
        }
        let next = next_tick(deadline, now, *period);
        self.insert(next, entry);
    }
}

/// The first `deadline + k * period` (k >= 1) that is after `now`.
pub(crate) fn next_tick(deadline: Instant, now: Instant, period: Duration) -> Instant {
    let period = period.max(Duration::from_nanos(1));
    let next = deadline + period;
    if next > now {
        return next;
    }
    let behind = now.duration_since(next).as_nanos();
    let skipped = behind / period.as_nanos() + 1;
    let skip = period.saturating_mul(u32::try_from(skipped).unwrap_or(u32::MAX));
    next + skip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tick_skips_missed_ticks_without_drift() {
        let t0 = Instant::now();
        let p = Duration::from_millis(100);
        assert_eq!(next_tick(t0, t0 + Duration::from_millis(10), p), t0 + p);
        // Overran to 350 ms: ticks at 100, 200, 300 are skipped, next is 400.
        assert_eq!(
            next_tick(t0, t0 + Duration::from_millis(350), p),
            t0 + Duration::from_millis(400)
        );
        // Exactly on a tick: that tick is not in the future, take the next.
        assert_eq!(
            next_tick(t0, t0 + Duration::from_millis(200), p),
            t0 + Duration::from_millis(300)
        );
    }
}

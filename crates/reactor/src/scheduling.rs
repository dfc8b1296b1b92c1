//! Callbacks and timers queued from the loop thread itself. They need not be
//! `Send`; from other threads, use the [`Handle`](crate::Handle).

use std::time::{Duration, Instant};

use crate::dispatch::LocalCallback;
use crate::handle::{saturating_add, TimerId};
use crate::label::Label;
use crate::timer_table::{TimerCallback, TimerEntry};
use crate::EventLoop;

impl EventLoop {
    /// Runs `callback` on the next iteration (never the current one, so a
    /// callback that re-queues itself cannot starve I/O).
    pub fn add_callback<F>(&mut self, callback: F)
    where
        F: FnOnce(&mut EventLoop) + 'static,
    {
        self.local.push(LocalCallback {
            name: Label::of::<F>(),
            run: Box::new(callback),
        });
    }

    /// Runs `callback` once `delay` has passed on the loop's clock.
    pub fn call_later<F>(&mut self, delay: Duration, callback: F) -> TimerId
    where
        F: FnOnce(&mut EventLoop) + 'static,
    {
        let at = saturating_add(self.now(), delay);
        self.call_at(at, callback)
    }

    /// Runs `callback` at `at` on the loop's clock: never earlier, and on the
    /// next iteration if `at` has passed.
    pub fn call_at<F>(&mut self, at: Instant, callback: F) -> TimerId
    where
        F: FnOnce(&mut EventLoop) + 'static,
    {
        let id = self.shared.next_timer_id();
        let entry = TimerEntry {
            id,
            name: std::any::type_name::<F>(),
            callback: TimerCallback::Once(Box::new(callback)),
        };
        self.timers.insert(at, entry);
        id
    }

    /// Runs `callback` every `period`, first one period from now, until
    /// cancelled. Overruns skip the missed ticks (tornado's
    /// `PeriodicCallback` policy): the next run is the first tick of the
    /// original schedule that is still ahead, so the schedule never drifts
    /// and a slow callback never runs back to back to catch up. A zero
    /// period is treated as one nanosecond.
    pub fn call_every<F>(&mut self, period: Duration, callback: F) -> TimerId
    where
        F: FnMut(&mut EventLoop) + 'static,
    {
        let id = self.shared.next_timer_id();
        let entry = TimerEntry {
            id,
            name: std::any::type_name::<F>(),
            callback: TimerCallback::Every {
                callback: Box::new(callback),
                period,
            },
        };
        let first = saturating_add(self.now(), period);
        self.timers.insert(first, entry);
        id
    }

    /// Cancels a timer, periodic ones included (also from inside their own
    /// callback). `false` if it already ran or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }
}

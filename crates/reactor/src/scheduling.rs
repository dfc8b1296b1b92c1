//! Callbacks, timers and prepare hooks queued from the loop thread itself.
//! They need not be `Send`; from other threads, use the
//! [`Handle`](crate::Handle). Each gets the loop and its data.

use std::time::{Duration, Instant};

use crate::dispatch::LocalCallback;
use rouse_timer::saturating_add;

use crate::handle::TimerId;
use crate::label::Label;
use crate::timer_table::{TimerCallback, TimerEntry};
use crate::EventLoop;

/// Names a prepare hook, for [`EventLoop::remove_prepare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrepareId(u64);

/// A callback or one-shot timer queued on the loop thread.
pub(crate) type Callback<D> = Box<dyn FnOnce(&mut EventLoop<D>, &mut D)>;
/// A periodic timer or prepare hook.
pub(crate) type Repeating<D> = Box<dyn FnMut(&mut EventLoop<D>, &mut D)>;

/// A hook, its name, and its closure (`None` while it runs).
pub(crate) type PrepareHook<D> = (PrepareId, Label, Option<Repeating<D>>);

impl<D> EventLoop<D> {
    /// Runs `callback` on the next iteration (never the current one, so a
    /// callback that re-queues itself cannot starve I/O).
    pub fn add_callback<F>(&mut self, callback: F)
    where
        F: FnOnce(&mut EventLoop<D>, &mut D) + 'static,
    {
        self.local.push(LocalCallback {
            name: Label::of::<F>(),
            run: Box::new(callback),
        });
    }

    /// Runs `callback` once `delay` has passed on the loop's clock.
    pub fn call_later<F>(&mut self, delay: Duration, callback: F) -> TimerId
    where
        F: FnOnce(&mut EventLoop<D>, &mut D) + 'static,
    {
        let at = saturating_add(self.now(), delay);
        self.call_at(at, callback)
    }

    /// Runs `callback` at `at` on the loop's clock: never earlier, and on the
    /// next iteration if `at` has passed.
    pub fn call_at<F>(&mut self, at: Instant, callback: F) -> TimerId
    where
        F: FnOnce(&mut EventLoop<D>, &mut D) + 'static,
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
        F: FnMut(&mut EventLoop<D>, &mut D) + 'static,
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

    /// Runs `hook` on every iteration, after the callbacks and timers and
    /// before the loop decides how long to sleep (libev's prepare watcher).
    /// A producer that hands work over through its own queue and wakes the
    /// loop with [`Handle::wake`](crate::Handle::wake) drains that queue here.
    /// Work the hook queues (callbacks, timers) is seen by this iteration's
    /// sleep decision.
    pub fn add_prepare<F>(&mut self, hook: F) -> PrepareId
    where
        F: FnMut(&mut EventLoop<D>, &mut D) + 'static,
    {
        let id = PrepareId(self.shared.next_timer_id().0);
        self.prepare
            .push((id, Label::of::<F>(), Some(Box::new(hook))));
        id
    }

    /// Removes a prepare hook (also from inside it); `false` if unknown.
    pub fn remove_prepare(&mut self, id: PrepareId) -> bool {
        let before = self.prepare.len();
        self.prepare.retain(|(i, _, _)| *i != id);
        self.prepare.len() != before
    }

    pub(crate) fn run_prepare_hooks(&mut self, data: &mut D) {
        let mut i = 0;
        while i < self.prepare.len() {
            let (id, name) = (self.prepare[i].0, self.prepare[i].1.clone());
            let Some(mut hook) = self.prepare[i].2.take() else {
                i += 1;
                continue;
            };
            self.guarded(&name, data, |el, data| hook(el, data));
            // The hook may have removed itself or others: find it again.
            if let Some(slot) = self.prepare.iter_mut().find(|(p, _, _)| *p == id) {
                slot.2 = Some(hook);
            }
            i = self
                .prepare
                .iter()
                .position(|(p, _, _)| *p == id)
                .map_or(i, |p| p + 1);
        }
    }

    /// Cancels a timer, periodic ones included (also from inside their own
    /// callback). `false` if it already ran or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }
}

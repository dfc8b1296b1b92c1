//! Running user code: handlers, callbacks and timers, each behind
//! `catch_unwind` and the blocked-loop detector, so one failure is logged by
//! name and the loop goes on. See `handler.rs` for what a handler's verdict
//! (or error, or panic) does to its registration.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use rouse_timer::Expired;

use crate::error::RegisterError;
use crate::handle::Command;
use crate::handler::{panic_message, Outcome};
use crate::io_table::SourceKey;
use crate::label::Label;
use crate::scheduling::Callback;
use crate::timer_table::{TimerCallback, TimerEntry};
use crate::{EventLoop, Ready, Trigger};

/// A callback queued on the loop thread itself (need not be `Send`).
pub(crate) struct LocalCallback<D> {
    pub(crate) name: Label,
    pub(crate) run: Callback<D>,
}

impl<D> EventLoop<D> {
    /// Calls `f` as the named piece of user code: timed by the watchdog,
    /// panics caught and logged. Returns `None` if it panicked.
    pub(crate) fn guarded<R>(
        &mut self,
        name: &Label,
        data: &mut D,
        f: impl FnOnce(&mut EventLoop<D>, &mut D) -> R,
    ) -> Option<R> {
        let entered = self.watchdog.as_ref().map(|w| w.enter(name));
        let result = catch_unwind(AssertUnwindSafe(|| f(self, data)));
        if let (Some(w), Some(entered)) = (&self.watchdog, entered) {
            w.exit(entered, name);
        }
        match result {
            Ok(r) => Some(r),
            Err(payload) => {
                self.metrics.panics += 1;
                tracing::error!(callback = %name, panic = %panic_message(&*payload), "callback panicked; the loop goes on");
                None
            }
        }
    }

    pub(crate) fn run_command(&mut self, data: &mut D, command: Command<D>) {
        match command {
            Command::Callback { name, run } => {
                self.metrics.callbacks_run += 1;
                self.guarded(&Label::Static(name), data, run);
            }
            Command::Timer { id, at, name, run } => {
                let entry = TimerEntry {
                    id,
                    name,
                    callback: TimerCallback::Once(run),
                };
                self.timers.insert(at, entry);
            }
            Command::Cancel(id) => {
                self.timers.cancel(id);
            }
        }
    }

    pub(crate) fn run_local(&mut self, data: &mut D, callback: LocalCallback<D>) {
        self.metrics.callbacks_run += 1;
        self.guarded(&callback.name, data, callback.run);
    }

    pub(crate) fn run_timer(&mut self, data: &mut D, timer: Expired<TimerEntry<D>>, now: Instant) {
        self.metrics.timers_fired += 1;
        let lag = now.saturating_duration_since(timer.deadline);
        self.metrics.timer_lag_total += lag;
        self.metrics.timer_lag_max = self.metrics.timer_lag_max.max(lag);
        let TimerEntry { id, name, callback } = timer.value;
        let label = Label::Static(name);
        match callback {
            TimerCallback::Once(run) => {
                self.guarded(&label, data, run);
            }
            TimerCallback::Every {
                mut callback,
                period,
            } => {
                self.guarded(&label, data, |el, data| callback(el, data));
                let entry = TimerEntry {
                    id,
                    name,
                    callback: TimerCallback::Every { callback, period },
                };
                let after = self.now().max(now);
                self.timers.rearm(timer.deadline, after, entry);
            }
        }
    }

    /// Calls a registration's handler with `ready` and applies its verdict.
    pub(crate) fn dispatch(&mut self, data: &mut D, key: SourceKey, ready: Ready) {
        let Some(mut handler) = self.io.take_handler(key) else {
            return; // removed earlier in this round
        };
        let (name, trigger) = match self.io.registration(key) {
            Some(r) => (r.name.clone(), r.trigger),
            None => return,
        };
        self.metrics.handlers_run += 1;
        let entered = self.watchdog.as_ref().map(|w| w.enter(&name));
        self.dispatching = Some(key);
        let result = catch_unwind(AssertUnwindSafe(|| handler.call(self, data, ready)));
        self.dispatching = None;
        if let (Some(w), Some(entered)) = (&self.watchdog, entered) {
            w.exit(entered, &name);
        }
        // Removed while it ran (by itself or another's code)? Its source is
        // dropped (closed) only now, after its handler let go of it, so its
        // fd number cannot be reused under a live registration.
        let orphan = self.io.put_back(key, handler);
        match Outcome::of(result) {
            Outcome::Continue if trigger == Trigger::Level => {
                self.io.set_level_ready(key, Some(ready));
            }
            Outcome::Continue => {}
            Outcome::Wait => self.io.set_level_ready(key, None),
            Outcome::Disable => match self.disable(key) {
                // Removed by its own handler before it said Disable: done.
                Ok(()) | Err(RegisterError::UnknownKey) => {}
                Err(error) => {
                    tracing::warn!(handler = %name, %error, "disabling a registration failed")
                }
            },
            Outcome::Remove { peer_closed } => {
                if peer_closed {
                    tracing::debug!(handler = %name, "peer closed the connection; registration removed");
                }
                self.remove(key);
            }
            Outcome::Failed(error) => {
                self.metrics.handler_errors += 1;
                tracing::warn!(handler = %name, %error, "handler failed; registration kept");
                self.io.set_level_ready(key, None);
            }
            Outcome::Panicked(panic) => {
                self.metrics.panics += 1;
                tracing::error!(handler = %name, %panic, "handler panicked; registration removed");
                self.remove(key);
            }
        }
        drop(orphan);
    }
}

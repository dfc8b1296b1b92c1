//! Running user code: handlers, callbacks and timers, each behind
//! `catch_unwind` and the blocked-loop detector, so one failure is logged by
//! name and the loop goes on. See `handler.rs` for what a handler's result
//! does to its registration.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use rouse_timer::Expired;

use crate::handle::Command;
use crate::handler::{panic_message, Outcome};
use crate::io_table::SourceKey;
use crate::label::Label;
use crate::timer_table::{TimerCallback, TimerEntry};
use crate::{EventLoop, Ready, Trigger};

/// A callback queued on the loop thread itself (need not be `Send`).
pub(crate) struct LocalCallback {
    pub(crate) name: Label,
    pub(crate) run: Box<dyn FnOnce(&mut EventLoop)>,
}

impl EventLoop {
    /// Calls `f` as the named piece of user code: timed by the watchdog,
    /// panics caught and logged. Returns `None` if it panicked.
    pub(crate) fn guarded<R>(
        &mut self,
        name: &Label,
        f: impl FnOnce(&mut EventLoop) -> R,
    ) -> Option<R> {
        let entered = self.watchdog.as_ref().map(|w| w.enter(name));
        let result = catch_unwind(AssertUnwindSafe(|| f(self)));
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

    pub(crate) fn run_command(&mut self, command: Command) {
        match command {
            Command::Callback { name, run } => {
                self.metrics.callbacks_run += 1;
                self.guarded(&Label::Static(name), run);
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

    pub(crate) fn run_local(&mut self, callback: LocalCallback) {
        self.metrics.callbacks_run += 1;
        self.guarded(&callback.name, callback.run);
    }

    pub(crate) fn run_timer(&mut self, timer: Expired<TimerEntry>, now: Instant) {
        self.metrics.timers_fired += 1;
        let lag = now.saturating_duration_since(timer.deadline);
        self.metrics.timer_lag_total += lag;
        self.metrics.timer_lag_max = self.metrics.timer_lag_max.max(lag);
        let TimerEntry { id, name, callback } = timer.value;
        let label = Label::Static(name);
        match callback {
            TimerCallback::Once(run) => {
                self.guarded(&label, run);
            }
            TimerCallback::Every {
                mut callback,
                period,
            } => {
                self.guarded(&label, |el| callback(el));
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

    /// Calls a registration's handler with `ready` and applies the outcome.
    pub(crate) fn dispatch(&mut self, key: SourceKey, ready: Ready) {
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
        let result = catch_unwind(AssertUnwindSafe(|| handler.call(self, ready)));
        self.dispatching = None;
        if let (Some(w), Some(entered)) = (&self.watchdog, entered) {
            w.exit(entered, &name);
        }
        // Removed by its own handler? Then it is dropped (closed) here.
        let orphan = self.io.put_back(key, handler);
        match Outcome::of(result) {
            Outcome::StillReady if trigger == Trigger::Level => {
                self.io.set_level_ready(key, Some(ready));
            }
            Outcome::StillReady => {}
            Outcome::Parked => self.io.set_level_ready(key, None),
            Outcome::PeerClosed => {
                tracing::debug!(handler = %name, "peer closed the connection; registration removed");
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

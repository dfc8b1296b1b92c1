//! [`Metrics`]: what the loop has done, as a snapshot.

use std::time::{Duration, Instant};

/// A snapshot of the loop's counters, from [`EventLoop::metrics`](crate::EventLoop::metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Loop iterations (one poll each).
    pub iterations: u64,
    /// Callbacks run (queued locally or from other threads).
    pub callbacks_run: u64,
    /// Timers fired (each tick of a periodic timer counts).
    pub timers_fired: u64,
    /// Handler calls for readiness.
    pub handlers_run: u64,
    /// Handler calls that returned an error other than `WouldBlock` or a
    /// peer close.
    pub handler_errors: u64,
    /// Handlers and callbacks that panicked (caught).
    pub panics: u64,
    /// Time spent outside the poll, running work (real time).
    pub busy: Duration,
    /// Time spent blocked in the poll (real time).
    pub idle: Duration,
    /// The most a fired timer ran after its deadline (loop clock).
    pub timer_lag_max: Duration,
    /// Summed lateness of fired timers; divide by `timers_fired` for the mean.
    pub timer_lag_total: Duration,
    /// Live registrations.
    pub registrations: usize,
    /// Pending timers.
    pub pending_timers: usize,
    /// Blocked-loop detector: calls over the threshold.
    pub slow_calls: u64,
    /// Blocked-loop detector: warnings made while a call was still running.
    pub blocked_reports: u64,
    /// Wakes requested of the loop's waker.
    pub wakes_requested: u64,
    /// Write syscalls those wakes cost.
    pub wake_syscalls: u64,
    /// The instant (loop clock) the precise timer wake was last armed to:
    /// the exact deadline of the timer that bounded that sleep. `None` if
    /// it never was (off, not Linux, or no short sleep yet).
    pub timer_wake_armed_at: Option<Instant>,
    /// Times the precise timer wake was armed, each one `timerfd_settime`
    /// (only when the nearest deadline changed).
    pub timer_wake_arms: u64,
    /// Times the precise timer wake went off (its event was polled).
    pub timer_wakes: u64,
}

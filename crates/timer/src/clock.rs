//! Where the time comes from.
//!
//! The timer structures never read the clock themselves: every operation that
//! needs "now" takes it as an argument. A [`Clock`] is what the caller (the
//! reactor) reads that argument from, so a test can swap the real
//! [`MonotonicClock`] for a [`ManualClock`] and move time by hand.
//!
//! Pitfall: a [`ManualClock`] never moves on its own. A loop that sleeps until
//! the next deadline must advance it, or it waits forever.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A source of monotonic time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant. Successive calls never go backwards unless the
    /// clock is a [`ManualClock`] that was explicitly [`set`](ManualClock::set)
    /// back.
    fn now(&self) -> Instant;
}

/// The real clock: [`Instant::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to.
///
/// Clones share the same time, so a test can keep one handle and give another
/// to the code under test.
///
/// ```
/// use std::time::{Duration, Instant};
/// use rouse_timer::{Clock, ManualClock};
///
/// let start = Instant::now();
/// let clock = ManualClock::new(start);
/// let shared = clock.clone();
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(shared.now(), start + Duration::from_millis(5));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl ManualClock {
    /// A clock that reads `start` until moved.
    pub fn new(start: Instant) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// The current (manual) time.
    pub fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves time forward by `by`; saturates instead of overflowing `Instant`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = crate::saturating_add(*now, by);
    }

    /// Sets the time to `to` (which may be earlier: tests of "time went
    /// backwards" need that).
    pub fn set(&self, to: Instant) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        ManualClock::now(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Instant::now();
        let clock = ManualClock::new(start);
        assert_eq!(Clock::now(&clock), start);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), start + Duration::from_secs(1));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn manual_clock_advance_saturates() {
        let clock = ManualClock::new(Instant::now());
        clock.advance(Duration::MAX);
        let after = clock.now();
        clock.advance(Duration::MAX);
        assert!(clock.now() >= after);
    }

    #[test]
    fn monotonic_clock_does_not_go_backwards() {
        let a = MonotonicClock.now();
        let b = MonotonicClock.now();
        assert!(b >= a);
    }
}

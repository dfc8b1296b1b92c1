//! Timers for event loops: a hierarchical timing wheel and a lazily-cancelled
//! heap, behind one small trait, [`Timers`].
//!
//! Event loops spend their timer budget on timeouts that never fire: a request
//! timeout is set, the response arrives, the timer is cancelled. Both
//! structures here cancel in O(1) with generational [`TimerKey`]s, never fire a
//! timer before its deadline, and take "now" as an argument so tests (and the
//! reactor's test mode, via [`ManualClock`]) control time.
//!
//! - [`TimerWheel`] — hierarchical timing wheel over dense slot storage: O(1)
//!   insert and cancel (cancel touches the timer's own record; its bucket
//!   entry goes stale and is dropped when the bucket is visited or
//!   compacted), exact deadline order, never early, and a `next_deadline`
//!   that names a real deadline. The one to use for request timeouts.
//! - [`TimerHeap`] — binary heap, lazy cancellation, tornado's compaction
//!   rule. Exact order; good when timers are few.
//! - [`FixedQueue`] — every timer has the same duration (all request
//!   timeouts equal): a FIFO with O(1) insert, cancel and expire. Its own
//!   small API, since it cannot take arbitrary deadlines.
//!
//! The wheel and the heap implement [`Timers`], so the loop is written once;
//! the example works unchanged with `TimerHeap::new()` in place of the wheel.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use rouse_timer::{Clock, ManualClock, TimerWheel, Timers};
//!
//! let clock = ManualClock::new(Instant::now());
//! let mut timers = TimerWheel::new(clock.now());
//! let request = timers.insert_after(clock.now(), Duration::from_secs(5), "request 1 timed out");
//! timers.insert_after(clock.now(), Duration::from_millis(10), "flush");
//!
//! // The response came: cancel the timeout. A second cancel is a no-op.
//! assert_eq!(timers.cancel(request), Some("request 1 timed out"));
//! assert_eq!(timers.cancel(request), None);
//!
//! // The loop sleeps until the next deadline, then fires what is due.
//! let wake = timers.next_deadline().unwrap();
//! assert!(timers.pop_expired(clock.now()).is_none(), "never early");
//! clock.set(wake);
//! let fired: Vec<_> = timers.drain_expired(clock.now()).map(|t| t.value).collect();
//! assert_eq!(fired, ["flush"]);
//! ```

#![forbid(unsafe_code)]

mod clock;
mod fixed;
mod heap;
mod slab;
mod timers;
mod wheel;

pub use clock::{Clock, ManualClock, MonotonicClock};
pub use fixed::FixedQueue;
pub use heap::TimerHeap;
pub use timers::{DrainExpired, Expired, TimerKey, Timers};
pub use wheel::{InvalidTick, TimerWheel, DEFAULT_TICK};

use std::time::{Duration, Instant};

/// Nanoseconds from `start` to `at` (0 before `start`), saturating at
/// `u64::MAX`. Computed in `u64` from seconds and subsecond nanoseconds,
/// not through the `u128` of `as_nanos`: both structures call it on every
/// insert.
#[inline]
pub(crate) fn ns_since(start: Instant, at: Instant) -> u64 {
    at.checked_duration_since(start).map_or(0, |since| {
        since
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(since.subsec_nanos()))
    })
}

/// `at + by`, or the latest instant reachable from `at` if that overflows:
/// a deadline for "after `by`" that never panics, for timers and for the
/// event loops that schedule them.
///
/// `Instant` has no `MAX`, so this halves the remaining step until it fits:
/// at most 64 halvings, never a panic.
pub fn saturating_add(at: Instant, by: Duration) -> Instant {
    if let Some(sum) = at.checked_add(by) {
        return sum;
    }
    let mut reached = at;
    let mut step = by;
    while !step.is_zero() {
        match reached.checked_add(step) {
            Some(next) => reached = next,
            None => step /= 2,
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturating_add_never_panics() {
        let now = Instant::now();
        assert_eq!(
            saturating_add(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        let far = saturating_add(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(365 * 24 * 3600));
        assert_eq!(saturating_add(far, Duration::MAX), far);
    }
}

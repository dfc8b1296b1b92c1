//! The interface the reactor codes against: [`Timers`], [`TimerKey`] and
//! [`Expired`].
//!
//! Contract, for every implementation:
//!
//! - **Never early.** [`Timers::pop_expired`] only returns a timer whose
//!   deadline is `<= now`.
//! - **Order.** Due timers come out in deadline order; equal deadlines in
//!   insertion order. [`Timers::reschedule`] keeps a timer's place among
//!   equals (it is the same timer, moved).
//! - **Generational keys.** A key names one insertion. Once its timer fired or
//!   was cancelled the key is stale: [`Timers::cancel`] returns `None` and
//!   [`Timers::reschedule`] returns `false`, even if the storage slot was reused
//!   by a newer timer.
//! - **Cheap deadline.** [`Timers::next_deadline`] is what a poll timeout is
//!   computed from; never later than the first real deadline, and earlier
//!   only when a timer it was computed from has since been cancelled or
//!   moved (the wheel keeps a lower bound per bucket), so a loop sleeping to
//!   it rarely wakes for nothing.
//!
//! Pitfall: a key is only meaningful to the structure that issued it.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

/// Generational key of a pending timer (8 bytes).
///
/// It pairs a storage slot with that slot's generation, which changes every
/// time the slot is freed, so a stale key cannot reach a newer timer in the
/// same slot (short of the slot being reused 2^32 times while the stale key
/// is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A timer that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired<T> {
    /// The key it was inserted under (now stale).
    pub key: TimerKey,
    /// When it was due (never after the `now` it was popped at).
    pub deadline: Instant,
    /// What was stored with it.
    pub value: T,
}

/// A set of timers keyed by [`TimerKey`], fired through [`Timers::pop_expired`].
pub trait Timers<T> {
    /// Schedules `value` to come due at `deadline`. A deadline in the past is
    /// due on the next [`pop_expired`](Timers::pop_expired).
    fn insert_at(&mut self, deadline: Instant, value: T) -> TimerKey;

    /// Schedules `value` to come due `delay` after `now`. Saturates: a delay
    /// too large for [`Instant`] lands as far in the future as `Instant` can
    /// go, it never panics.
    fn insert_after(&mut self, now: Instant, delay: Duration, value: T) -> TimerKey {
        self.insert_at(crate::saturating_add(now, delay), value)
    }

    /// Removes a pending timer and returns its value; `None` if the key is
    /// stale (the timer already fired or was cancelled).
    fn cancel(&mut self, key: TimerKey) -> Option<T>;

    /// Moves a pending timer to a new deadline, keeping its key and value;
    /// `false` if the key is stale.
    fn reschedule(&mut self, key: TimerKey, deadline: Instant) -> bool;

    /// A lower bound on the next deadline: never later than the first `now`
    /// at which [`pop_expired`](Timers::pop_expired) returns `Some`. `None`
    /// when no timer is pending.
    fn next_deadline(&mut self) -> Option<Instant>;

    /// Removes and returns one timer whose deadline is `<= now`, earliest
    /// first (ties in insertion order), or `None` if none is due. Other keys
    /// may be cancelled between calls.
    fn pop_expired(&mut self, now: Instant) -> Option<Expired<T>>;

    /// Number of pending (not fired, not cancelled) timers.
    fn len(&self) -> usize;

    /// `true` when no timer is pending.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An iterator over every timer due at `now`, built on
    /// [`pop_expired`](Timers::pop_expired).
    fn drain_expired(&mut self, now: Instant) -> DrainExpired<'_, Self, T>
    where
        Self: Sized,
    {
        DrainExpired {
            timers: self,
            now,
            _value: std::marker::PhantomData,
        }
    }
}

/// Iterator returned by [`Timers::drain_expired`]. Dropping it early leaves
/// the remaining due timers in place.
#[derive(Debug)]
pub struct DrainExpired<'a, S, T> {
    timers: &'a mut S,
    now: Instant,
    _value: std::marker::PhantomData<fn() -> T>,
}

impl<S: Timers<T>, T> Iterator for DrainExpired<'_, S, T> {
    type Item = Expired<T>;

    fn next(&mut self) -> Option<Expired<T>> {
        self.timers.pop_expired(self.now)
    }
}

/// Hands out insertion sequence numbers, starting at 1.
#[derive(Debug)]
pub(crate) struct SeqCounter(u64);

impl SeqCounter {
    pub(crate) fn new() -> Self {
        Self(0)
    }

    pub(crate) fn next(&mut self) -> NonZeroU64 {
        // A u64 incremented once per insertion cannot wrap in any real run
        // (584 years at one insertion per nanosecond); saturate regardless.
        self.0 = self.0.saturating_add(1);
        NonZeroU64::MIN.saturating_add(self.0 - 1)
    }
}

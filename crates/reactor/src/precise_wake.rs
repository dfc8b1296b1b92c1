//! Ending a sleep at a timer's exact deadline.
//!
//! `epoll_wait` takes its timeout in whole milliseconds and mio rounds a
//! sleep up to the next one, so a timer 4.3 ms away would fire 0.7 ms late
//! (and up to a whole millisecond for any other fraction). On Linux the loop
//! therefore keeps a `timerfd` (`CLOCK_MONOTONIC`, absolute expiry) in its
//! poller and, before a sleep that a timer bounds, arms it to that timer's
//! exact deadline. The poll keeps its rounded-up timeout as a backstop; the
//! timerfd ends it first.
//!
//! Cost: one `timerfd_settime` when the nearest deadline changes, none when
//! the loop sleeps again towards the deadline it armed (woken by I/O or
//! another thread in between), none for loops without timers or whose next
//! timer is far off. Timers further than [`HORIZON`] are not armed: the loop
//! sleeps with the poller's timeout to a little before them
//! ([`lead`]) and arms the timerfd on that wake, so request timeouts that are
//! cancelled long before they come cost nothing, and one that fires costs one
//! extra wake. A sleep that is already a whole number of milliseconds (to
//! within [`WHOLE_MS_SLACK`]) needs no timerfd either.
//!
//! Elsewhere (kqueue takes a `timespec` with nanoseconds, so mio does not
//! round there) and when turned off with
//! [`Builder::precise_timers`](crate::Builder::precise_timers), the loop
//! sleeps with the poller's timeout alone, as before.

use std::time::{Duration, Instant};

use mio::{Registry, Token};

/// The precise wake's token in the loop's poller; registration tokens never
/// reach it (their slot index is below 2^32 - 2).
pub(crate) const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// Timers at most this far off are armed on the timerfd; further ones are
/// approached with the poller's own timeout first (see [`lead`]).
pub(crate) const HORIZON: Duration = Duration::from_millis(50);

/// A sleep within this much below a whole number of milliseconds is left to
/// `epoll_wait`: rounding it up makes it this late at most.
pub(crate) const WHOLE_MS_SLACK: Duration = Duration::from_micros(20);

/// How a sleep that a timer `wait` away bounds is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The poller's timeout alone, this long.
    Poll(Duration),
    /// The timerfd armed to the deadline; the poller's timeout (`wait`,
    /// rounded up) as a backstop.
    Precise,
}

/// The plan for a sleep bounded by a timer `wait` away (the precise wake
/// being available).
pub(crate) fn plan(wait: Duration) -> Plan {
    if wait > HORIZON {
        return Plan::Poll(wait - lead(wait));
    }
    let below_whole_ms = ceil_ms(wait).saturating_sub(wait);
    if below_whole_ms <= WHOLE_MS_SLACK {
        Plan::Poll(wait)
    } else {
        Plan::Precise
    }
}

/// How long before a far timer the loop wakes to arm the timerfd: more than
/// `epoll_wait` can overshoot a sleep of `wait` (1 ms of rounding plus the
/// kernel's timer slack, at most 0.5% of the sleep for a niced thread and
/// 0.1% otherwise), so that wake comes before the deadline, and at most
/// [`HORIZON`] for sleeps up to 4.8 s, so it can arm at once. A longer
/// sleep takes a few such steps (an hour: three).
pub(crate) fn lead(wait: Duration) -> Duration {
    Duration::from_millis(2) + wait / 100
}

/// `wait` rounded up to whole milliseconds, as mio hands it to epoll.
fn ceil_ms(wait: Duration) -> Duration {
    let ms = wait.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// The loop's precise wake: the timerfd (Linux) and what it is armed to.
#[derive(Debug, Default)]
pub(crate) struct PreciseWake {
    #[cfg(target_os = "linux")]
    timer: Option<crate::timerfd::TimerFd>,
    /// The instant (loop clock) the timerfd is armed to and has not yet
    /// reported; `None` once it went off.
    armed: Option<Instant>,
    /// The last instant armed, kept after it went off (for metrics).
    last_armed: Option<Instant>,
    arms: u64,
    wakes: u64,
}

impl PreciseWake {
    /// The precise wake, registered with `registry`, if `on` and the
    /// platform has one. A timerfd that cannot be made is logged and the
    /// loop goes on with the poller's timeouts: timers then fire up to a
    /// millisecond late, as without it.
    pub(crate) fn new(registry: &Registry, on: bool) -> PreciseWake {
        let mut wake = PreciseWake::default();
        #[cfg(target_os = "linux")]
        if on {
            wake.timer = open(registry);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (registry, on);
        wake
    }

    #[cfg(target_os = "linux")]
    fn is_on(&self) -> bool {
        self.timer.is_some()
    }

    #[cfg(not(target_os = "linux"))]
    fn is_on(&self) -> bool {
        false
    }

    /// The poll timeout for a sleep to a timer due at `deadline`, `now`
    /// being before it; arms the timerfd when the plan says so and it is not
    /// armed to `deadline` already.
    pub(crate) fn sleep_to(&mut self, now: Instant, deadline: Instant) -> Duration {
        let wait = deadline.saturating_duration_since(now);
        if !self.is_on() {
            return wait;
        }
        match plan(wait) {
            Plan::Poll(timeout) => timeout,
            Plan::Precise => {
                if self.armed != Some(deadline) {
                    self.arm(now, deadline);
                }
                wait
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn arm(&mut self, now: Instant, deadline: Instant) {
        let Some(timer) = &self.timer else { return };
        let wait = deadline.saturating_duration_since(now);
        match timer.arm_after(wait) {
            Ok(()) => {
                self.armed = Some(deadline);
                self.last_armed = Some(now + wait);
                self.arms += 1;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot arm the loop's timerfd; timers fire on the poll's millisecond timeouts from now on (up to 1 ms late)");
                self.timer = None;
                self.armed = None;
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn arm(&mut self, _now: Instant, _deadline: Instant) {}

    /// The timerfd went off (its event was polled): it is no longer armed.
    pub(crate) fn fired(&mut self) {
        self.armed = None;
        self.wakes += 1;
    }

    /// The last deadline armed, the number of arms (each a
    /// `timerfd_settime`), and the number of times it went off.
    pub(crate) fn counts(&self) -> (Option<Instant>, u64, u64) {
        (self.last_armed, self.arms, self.wakes)
    }
}

/// Makes the timerfd and registers it (edge-triggered, as every mio
/// registration: arming again clears an expiry nobody read, so it is never
/// read).
#[cfg(target_os = "linux")]
fn open(registry: &Registry) -> Option<crate::timerfd::TimerFd> {
    use mio::unix::SourceFd;
    use std::os::fd::AsRawFd;

    let made = crate::timerfd::TimerFd::new().and_then(|timer| {
        let fd = timer.as_raw_fd();
        registry
            .register(&mut SourceFd(&fd), TIMER_TOKEN, mio::Interest::READABLE)
            .map(|()| timer)
    });
    match made {
        Ok(timer) => Some(timer),
        Err(error) => {
            tracing::warn!(%error, "no timerfd for the loop; timers fire on the poll's millisecond timeouts (up to 1 ms late)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn short_fractional_sleeps_are_armed() {
        for wait in [
            Duration::from_micros(1),
            Duration::from_micros(300),
            Duration::from_micros(4_300),
            Duration::from_micros(4_979),
            HORIZON - Duration::from_micros(500),
        ] {
            assert_eq!(plan(wait), Plan::Precise, "{wait:?}");
        }
    }

    #[test]
    fn whole_millisecond_sleeps_are_left_to_the_poll() {
        for wait in [MS, 5 * MS, 5 * MS - WHOLE_MS_SLACK, HORIZON] {
            assert_eq!(plan(wait), Plan::Poll(wait), "{wait:?}");
        }
    }

    #[test]
    fn far_timers_are_approached_to_within_the_horizon_never_past_them() {
        for wait in [
            HORIZON + Duration::from_nanos(1),
            Duration::from_millis(200),
            Duration::from_secs(1),
            Duration::from_secs(4),
            Duration::from_secs(3600),
        ] {
            let Plan::Poll(timeout) = plan(wait) else {
                panic!("{wait:?} was armed")
            };
            // What epoll may add: rounding up to a whole ms, then the
            // kernel's slack (0.5% of the sleep for a niced thread, at
            // least 50 us, at most 100 ms).
            let slack = (ceil_ms(timeout) / 200).clamp(Duration::from_micros(50), 100 * MS);
            let latest_wake = ceil_ms(timeout) + slack;
            assert!(latest_wake < wait, "{wait:?}: may wake at {latest_wake:?}");
            if wait <= Duration::from_millis(4_800) {
                assert!(
                    wait - timeout <= HORIZON,
                    "{wait:?}: lands outside the horizon"
                );
            }
        }
    }

    #[test]
    fn ceil_ms_rounds_up_as_mio_does() {
        assert_eq!(ceil_ms(Duration::ZERO), Duration::ZERO);
        assert_eq!(ceil_ms(Duration::from_nanos(1)), MS);
        assert_eq!(ceil_ms(MS), MS);
        assert_eq!(ceil_ms(Duration::from_micros(4_300)), 5 * MS);
    }
}

//! Linux `timerfd(2)` on `CLOCK_MONOTONIC`: the fd the loop's poller
//! watches so that a sleep ends at a timer's exact deadline, not at the
//! next whole millisecond `epoll_wait` can express.
//!
//! Rust's `Instant` is `CLOCK_MONOTONIC` on Linux, so a deadline `wait` after
//! the loop's `now` is armed as an absolute time: this clock read plus
//! `wait`. The read comes after `now` was taken, so the timer goes off at or
//! after the deadline, never before it (late by the nanoseconds between the
//! two reads).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A one-shot, non-blocking timerfd.
#[derive(Debug)]
pub(crate) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    /// Creates the timerfd (disarmed). Fails with the call's error (e.g. out
    /// of fds), named.
    pub(crate) fn new() -> io::Result<TimerFd> {
        // SAFETY: timerfd_create takes integer arguments only.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(err.kind(), format!("timerfd_create: {err}")));
        }
        // SAFETY: `fd` was just returned by timerfd_create and is owned by
        // nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(TimerFd { fd })
    }

    /// Arms the timer to go off once, `wait` from now (`CLOCK_MONOTONIC`,
    /// absolute). Arming again replaces the previous expiry and clears an
    /// expiry not yet read, so the fd is readable again only when this one
    /// comes: the loop never has to read it (its registration is
    /// edge-triggered).
    pub(crate) fn arm_after(&self, wait: Duration) -> io::Result<()> {
        let now = monotonic_now()?;
        let at = add(now, wait);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: at,
        };
        // SAFETY: `spec` is a valid itimerspec on the stack; the old value
        // is not asked for (null).
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(
                err.kind(),
                format!("timerfd_settime: {err}"),
            ));
        }
        Ok(())
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// `CLOCK_MONOTONIC` now (a vDSO call, no syscall on the usual platforms).
fn monotonic_now() -> io::Result<libc::timespec> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec on the stack for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("clock_gettime: {err}")));
    }
    Ok(now)
}

/// `at + by`, saturating at the largest `time_t` (a wait that long never
/// comes; the loop's default timeout ends the sleep first).
fn add(at: libc::timespec, by: Duration) -> libc::timespec {
    let secs = libc::time_t::try_from(by.as_secs()).unwrap_or(libc::time_t::MAX);
    // Both below 1e9, so the sum fits and carries at most one second.
    let mut nanos = nanos_of(&at) + i64::from(by.subsec_nanos());
    let mut tv_sec = at.tv_sec.saturating_add(secs);
    if nanos >= NANOS_PER_SEC {
        nanos -= NANOS_PER_SEC;
        tv_sec = tv_sec.saturating_add(1);
    }
    libc::timespec {
        tv_sec,
        // Below 1e9: fits every platform's tv_nsec.
        tv_nsec: nanos as _,
    }
}

/// A timespec's nanoseconds, as i64 whatever the platform's `c_long`.
#[allow(clippy::useless_conversion)] // tv_nsec is an i32 on 32-bit targets
fn nanos_of(at: &libc::timespec) -> i64 {
    i64::from(at.tv_nsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(sec: libc::time_t, nsec: i64) -> libc::timespec {
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec as _,
        }
    }

    #[test]
    fn add_carries_nanoseconds_and_saturates() {
        let r = add(ts(10, 999_999_000), Duration::from_nanos(5_000));
        assert_eq!((r.tv_sec, nanos_of(&r)), (11, 4_000));
        let r = add(ts(10, 1), Duration::new(2, 3));
        assert_eq!((r.tv_sec, nanos_of(&r)), (12, 4));
        let r = add(ts(10, 0), Duration::MAX);
        assert_eq!(r.tv_sec, libc::time_t::MAX);
        assert!(nanos_of(&r) < NANOS_PER_SEC);
    }

    /// Whether the fd is readable within `wait_ms`.
    fn readable(t: &TimerFd, wait_ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd: t.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd on the stack; a bounded wait.
        unsafe { libc::poll(&mut pfd, 1, wait_ms) == 1 }
    }

    #[test]
    fn an_armed_timerfd_becomes_readable_and_rearming_clears_it() {
        let t = TimerFd::new().unwrap();
        assert!(!readable(&t, 0), "created disarmed");
        t.arm_after(Duration::ZERO).unwrap();
        assert!(readable(&t, 1000), "an expiry in the past goes off at once");
        // Re-arming must clear the unread expiry: the loop never reads the
        // fd and relies on this.
        t.arm_after(Duration::from_secs(3600)).unwrap();
        assert!(!readable(&t, 0), "re-arming cleared the expiry");
    }
}

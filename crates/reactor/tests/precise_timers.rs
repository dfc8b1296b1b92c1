//! The precise timer wake (Linux timerfd): armed to the nearest timer's
//! exact deadline, re-armed only when that deadline changes, not armed for
//! far or whole-millisecond sleeps, and timers never early. No assertion
//! here depends on how long a sleep took: precision itself is measured by
//! `cargo bench -p rouse-reactor --bench timer_lateness`.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::UnixStream;
use rouse_reactor::{EventLoop, Metrics, Watch};
use rouse_timer::ManualClock;

const US: Duration = Duration::from_micros(1);

/// A loop on a manual clock with a socket whose readiness ends any sleep at
/// once: `poke` writes a byte, the handler drains it.
struct Rig {
    el: EventLoop,
    clock: ManualClock,
    t0: Instant,
    tx: UnixStream,
}

impl Rig {
    fn new(precise: bool) -> Rig {
        let t0 = Instant::now();
        let clock = ManualClock::new(t0);
        let mut el = EventLoop::builder()
            .clock(Arc::new(clock.clone()))
            .precise_timers(precise)
            .build()
            .unwrap();
        let (tx, rx) = UnixStream::pair().unwrap();
        el.register(rx, Watch::read(), |_, _, rx: &mut UnixStream, _| {
            let mut buf = [0u8; 64];
            // Until WouldBlock parks it till the next byte.
            while rx.read(&mut buf)? > 0 {}
            Ok(rouse_reactor::PostAction::Wait)
        })
        .unwrap();
        Rig { el, clock, t0, tx }
    }

    /// One iteration whose sleep the socket ends at once (the loop computes
    /// its timeout, and arms, as for a real sleep). Bounded: the socket is
    /// readable before the poll.
    fn poke(&mut self) -> Metrics {
        self.tx.write_all(b"x").unwrap();
        self.el.run_once(&mut (), None).unwrap();
        self.el.metrics()
    }
}

/// Asserts the arm count, allowing for arms the timerfd going off forced: a
/// descheduled test thread can let a short timerfd expire (then the next
/// sleep arms again); without that the count is exact.
fn assert_arms(m: &Metrics, expected: u64) {
    assert!(
        m.timer_wake_arms >= expected && m.timer_wake_arms <= expected + m.timer_wakes,
        "arms {} (expected {expected}, timerfd wakes {}): {m:?}",
        m.timer_wake_arms,
        m.timer_wakes
    );
}

#[cfg(target_os = "linux")]
#[test]
fn armed_to_the_nearest_exact_deadline_and_rearmed_only_when_it_changes() {
    let mut rig = Rig::new(true);
    let near = rig.t0 + 40_300 * US;
    rig.el.call_at(rig.t0 + 45_700 * US, |_, _| {});
    rig.el.call_at(near, |_, _| {});

    let m = rig.poke();
    assert_eq!(m.timer_wake_armed_at, Some(near), "{m:?}");
    assert_arms(&m, 1);

    // Woken again before it: same deadline, no second timerfd_settime.
    let m = rig.poke();
    assert_eq!(m.timer_wake_armed_at, Some(near));
    assert_arms(&m, 1);

    // An earlier timer becomes the nearest: armed to it, to the nanosecond.
    let nearer = rig.t0 + 20_100 * US + Duration::from_nanos(7);
    let id = rig.el.call_at(nearer, |_, _| {});
    let m = rig.poke();
    assert_eq!(m.timer_wake_armed_at, Some(nearer));
    assert_arms(&m, 2);

    // Cancelled: back to the first one.
    assert!(rig.el.cancel(id));
    let m = rig.poke();
    assert_eq!(m.timer_wake_armed_at, Some(near));
    assert_arms(&m, 3);

    // Time reaches it exactly: it fires then, not a tick later, and the
    // next sleep arms the remaining timer.
    rig.clock.set(near);
    let m = rig.poke();
    assert_eq!(m.timers_fired, 1);
    assert_eq!(m.timer_lag_max, Duration::ZERO);
    assert_eq!(m.timer_wake_armed_at, Some(rig.t0 + 45_700 * US));
    assert_arms(&m, 4);
}

/// A timerfd that went off is armed again for a sleep to the same deadline
/// (here the manual clock has not reached it, so the timer is still
/// pending): it is not left believed armed, which would let the poll's
/// rounded-up timeout end the sleep.
#[cfg(target_os = "linux")]
#[test]
fn an_arming_that_went_off_is_armed_again() {
    let mut rig = Rig::new(true);
    let at = rig.t0 + 2_300 * US;
    rig.el.call_at(at, |_, _| {});
    // No poke: the sleep runs until the timerfd (2.3 ms) or the poll's
    // backstop (3 ms) ends it.
    rig.el.run_once(&mut (), None).unwrap();
    let m = rig.el.metrics();
    assert_eq!(m.timers_fired, 0, "the manual clock did not move");
    if m.timer_wakes == 1 {
        let m = rig.poke();
        assert_eq!(m.timer_wake_armed_at, Some(at));
        assert_eq!(m.timer_wake_arms, 2, "{m:?}");
    } else {
        // Only if the backstop won the race, which the timerfd (armed to
        // 0.7 ms before it) loses only under extreme scheduling delay.
        assert_eq!(m.timer_wakes, 0, "{m:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn far_and_whole_millisecond_sleeps_are_left_to_the_poll() {
    let mut rig = Rig::new(true);
    // 10 s away: approached with the poll's timeout, not armed.
    let far = rig
        .el
        .call_at(rig.t0 + Duration::from_secs(10) + 300 * US, |_, _| {});
    let m = rig.poke();
    assert_eq!((m.timer_wake_arms, m.timer_wake_armed_at), (0, None));
    // Exactly 5 ms away: epoll's whole milliseconds are exact enough.
    rig.el.cancel(far);
    rig.el.call_at(rig.t0 + Duration::from_millis(5), |_, _| {});
    let m = rig.poke();
    assert_eq!((m.timer_wake_arms, m.timer_wake_armed_at), (0, None));
    // A fractional sleep within the horizon is armed.
    rig.el
        .call_at(rig.t0 + Duration::from_micros(2_500), |_, _| {});
    let m = rig.poke();
    assert_eq!(m.timer_wake_armed_at, Some(rig.t0 + 2_500 * US));
}

#[test]
fn turned_off_it_never_arms() {
    let mut rig = Rig::new(false);
    rig.el.call_at(rig.t0 + 4_300 * US, |_, _| {});
    let m = rig.poke();
    assert_eq!((m.timer_wake_arms, m.timer_wake_armed_at), (0, None));
    rig.clock.set(rig.t0 + 4_300 * US);
    assert_eq!(rig.poke().timers_fired, 1);
}

/// On the real clock, timers at fractional-millisecond offsets fire in
/// order and never before their deadline; the sleeps the timerfd ended
/// were ones it was armed for.
#[test]
fn real_clock_timers_are_never_early() {
    let mut el = EventLoop::new().unwrap();
    let t0 = el.now();
    let fired: Rc<RefCell<Vec<(Instant, Instant)>>> = Rc::default();
    let offsets_us = [250, 1_500, 2_050, 3_700, 7_300, 7_301, 12_999, 60_400];
    for us in offsets_us {
        let at = t0 + us * US;
        let fired = fired.clone();
        el.call_at(at, move |el, _| fired.borrow_mut().push((at, el.now())));
    }
    let bound = Instant::now() + Duration::from_secs(30);
    el.run_until(&mut (), |_, _| {
        fired.borrow().len() == offsets_us.len() || Instant::now() > bound
    })
    .unwrap();
    let fired = fired.borrow();
    assert_eq!(fired.len(), offsets_us.len(), "all fired within 30 s");
    for (i, &(at, ran)) in fired.iter().enumerate() {
        assert!(ran >= at, "timer {i} ran {:?} early", at - ran);
        assert_eq!(at, t0 + offsets_us[i] * US, "deadline order");
    }
    let m = el.metrics();
    assert!(m.timer_wakes <= m.timer_wake_arms, "{m:?}");
}

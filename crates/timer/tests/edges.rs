//! Edge cases at scale: a million timers, cancelling during expiry, timers
//! that fire late because the loop polled late.

use std::time::{Duration, Instant};

use rouse_timer::{TimerHeap, TimerKey, TimerWheel, Timers};

/// A cheap deterministic generator (xorshift), so the test needs no RNG crate.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn million<S: Timers<u32>>(mut timers: S, start: Instant) {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut keys = Vec::with_capacity(1_000_000);
    for i in 0..1_000_000u32 {
        let at = start + Duration::from_micros(xorshift(&mut rng) % 60_000_000);
        keys.push(timers.insert_at(at, i));
    }
    // Cancel every other one.
    for key in keys.iter().step_by(2) {
        assert!(timers.cancel(*key).is_some());
    }
    assert_eq!(timers.len(), 500_000);
    let mut now = start;
    let mut last = start;
    let mut count = 0;
    while !timers.is_empty() {
        now += Duration::from_millis(7);
        for e in timers.drain_expired(now) {
            assert!(e.deadline <= now && e.deadline >= last);
            assert_eq!(e.value % 2, 1);
            last = e.deadline;
            count += 1;
        }
        assert!(now < start + Duration::from_secs(61));
    }
    assert_eq!(count, 500_000);
}

#[test]
fn a_million_timers_on_the_wheel() {
    let start = Instant::now();
    million(TimerWheel::new(start), start);
}

/// Tens of thousands of timers in one level-1 bucket (ten of the wheel's
/// 8192-entry chunks), most cancelled in random order, some rescheduled
/// within it: its sweeps, early moves and visit cross chunk boundaries.
#[test]
fn a_bucket_of_many_chunks_keeps_every_timer() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let n = 80_000u32;
    let mut due: Vec<Option<Instant>> = Vec::with_capacity(n as usize);
    let mut keys = Vec::with_capacity(n as usize);
    for i in 0..n {
        // 300-500 ms: all in the level-1 bucket of ticks 256-511.
        let at = start + Duration::from_micros(300_000 + xorshift(&mut rng) % 200_000);
        keys.push(wheel.insert_at(at, i));
        due.push(Some(at));
    }
    for i in 0..n as usize {
        match xorshift(&mut rng) % 8 {
            0..=5 => {
                assert_eq!(wheel.cancel(keys[i]), Some(i as u32));
                due[i] = None;
            }
            6 => {
                let at = start + Duration::from_micros(300_000 + xorshift(&mut rng) % 200_000);
                assert!(wheel.reschedule(keys[i], at));
                due[i] = Some(at);
            }
            _ => {}
        }
    }
    let mut fired = vec![false; n as usize];
    let (mut now, mut last) = (start, start);
    while now < start + Duration::from_millis(600) {
        now += Duration::from_millis(1);
        for e in wheel.drain_expired(now) {
            let i = e.value as usize;
            assert_eq!(
                Some(e.deadline),
                due[i],
                "timer {i} fired at the wrong deadline"
            );
            assert!(
                e.deadline <= now && e.deadline >= last,
                "out of order or early"
            );
            assert!(!fired[i], "timer {i} fired twice");
            fired[i] = true;
            last = e.deadline;
        }
    }
    let lost = (0..n as usize)
        .filter(|&i| due[i].is_some() && !fired[i])
        .count();
    assert_eq!(lost, 0, "pending timers never fired");
    assert!(wheel.is_empty());
}

#[test]
fn a_million_timers_on_the_heap() {
    million(TimerHeap::new(), Instant::now());
}

fn cancel_during_expiry<S: Timers<usize>>(mut timers: S, start: Instant) {
    // Ten timers due at the same instant; each firing cancels the next one.
    let at = start + Duration::from_millis(3);
    let keys: Vec<TimerKey> = (0..10).map(|i| timers.insert_at(at, i)).collect();
    let mut fired = Vec::new();
    while let Some(e) = timers.pop_expired(at) {
        fired.push(e.value);
        if let Some(next) = keys.get(e.value + 1) {
            assert_eq!(timers.cancel(*next), Some(e.value + 1));
        }
        assert_eq!(timers.cancel(e.key), None, "a fired key is stale");
    }
    assert_eq!(fired, [0, 2, 4, 6, 8]);
    assert!(timers.is_empty());
}

#[test]
fn cancelling_during_expiry_wheel() {
    let start = Instant::now();
    cancel_during_expiry(TimerWheel::new(start), start);
}

#[test]
fn cancelling_during_expiry_heap() {
    cancel_during_expiry(TimerHeap::new(), Instant::now());
}

#[test]
fn late_poll_fires_everything_in_order() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    for i in (0..1000u64).rev() {
        wheel.insert_at(start + Duration::from_millis(i * 37), i);
    }
    let got: Vec<u64> = wheel
        .drain_expired(start + Duration::from_secs(3600))
        .map(|e| e.value)
        .collect();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

#[test]
fn both_are_send() {
    fn assert_send<S: Send>() {}
    assert_send::<TimerWheel<String>>();
    assert_send::<TimerHeap<String>>();
}

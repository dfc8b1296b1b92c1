//! Tests of `next_deadline` and of the polls before a level-1 visit.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_loop_sleeping_to_next_deadline_rarely_wakes_for_nothing() {
    // 100 000 timers of 1-30 s, nothing cancelled: every wake must fire
    // something but for at most 1 in 100 (the bound; the old wheel
    // reported bucket boundaries and woke for nothing 28 000 times here).
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in 0..100_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        wheel.insert_at(t0 + Duration::from_micros(1_000_000 + x % 29_000_000), i);
    }
    let (mut wakes, mut empty) = (0u32, 0u32);
    while let Some(now) = wheel.next_deadline() {
        wakes += 1;
        if wheel.drain_expired(now).count() == 0 {
            empty += 1;
        }
        assert!(wakes < 200_000, "the loop must make progress");
    }
    assert!(wheel.is_empty());
    assert!(empty * 100 <= wakes, "{empty} empty wakes of {wakes}");
}

#[test]
fn a_loop_sleeping_to_next_deadline_with_cancels_still_fires_on_most_wakes() {
    // Every other timer is cancelled just before it is due, when it already
    // sits in a level-0 bucket (or in `ready`): cancelling a bucket's
    // earliest makes the bucket be read again, so the loop does not wake
    // for the cancelled ones.
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut timers = Vec::new();
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = t0 + Duration::from_micros(1_000_000 + x % 29_000_000);
        timers.push((at, wheel.insert_at(at, i)));
    }
    timers.sort_by_key(|&(at, _)| at);
    let mut next = 0;
    let (mut wakes, mut empty) = (0u32, 0u32);
    while let Some(now) = wheel.next_deadline() {
        wakes += 1;
        let fired = wheel.drain_expired(now).count();
        if fired == 0 {
            empty += 1;
        }
        // Skip what fired; cancel the next one due (it fires next otherwise).
        while next < timers.len() && timers[next].0 <= now {
            next += 1;
        }
        if let Some(&(_, key)) = timers.get(next) {
            assert!(wheel.cancel(key).is_some());
            next += 1;
        }
    }
    assert!(empty * 100 <= wakes, "{empty} empty wakes of {wakes}");
}

#[test]
fn next_deadline_reads_past_a_cancelled_earliest_on_a_higher_level() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    // Level 1 (2048-2303 ms block): the earliest is cancelled.
    let first = wheel.insert_at(t0 + ms(2_050), 'a');
    wheel.insert_at(t0 + ms(2_100), 'b');
    // A block of only cancelled timers before it: nothing left there.
    let gone = wheel.insert_at(t0 + ms(1_800), 'x');
    wheel.cancel(gone);
    wheel.cancel(first);
    assert_eq!(wheel.next_deadline(), Some(t0 + ms(2_100)));
    assert_eq!(wheel.levels.entries(), 1);
    assert!(wheel.pop_expired(t0 + ms(2_099)).is_none());
    assert_eq!(
        wheel.pop_expired(t0 + ms(2_100)).map(|e| e.value),
        Some('b')
    );
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn next_deadline_does_not_read_a_bucket_bigger_than_the_scan_limit() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    // One level-1 bucket of SCAN_LIMIT + 2 timers; the earliest cancelled.
    let first = wheel.insert_at(t0 + ms(2_050), 0);
    for i in 1..=SCAN_LIMIT as u64 + 1 {
        wheel.insert_at(t0 + ms(2_100) + Duration::from_nanos(i), i);
    }
    wheel.cancel(first);
    // The recorded bound stays (a possible empty wake, never a late one)...
    assert_eq!(wheel.next_deadline(), Some(t0 + ms(2_050)));
    // ...and the wheel still fires everything on time.
    assert!(wheel.drain_expired(t0 + ms(2_100)).next().is_none());
    assert_eq!(
        wheel.drain_expired(t0 + ms(2_101)).count(),
        SCAN_LIMIT + 1,
        "all but the cancelled one"
    );
}

#[test]
fn cancelling_the_earliest_after_it_was_reported_makes_the_bucket_read_again() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let a = wheel.insert_at(t0 + ms(2_050), 'a');
    let b = wheel.insert_at(t0 + ms(2_100), 'b');
    wheel.insert_at(t0 + ms(2_200), 'c');
    assert_eq!(wheel.next_deadline(), Some(t0 + ms(2_050)));
    wheel.cancel(a);
    assert_eq!(wheel.next_deadline(), Some(t0 + ms(2_100)));
    // Moving the earliest away is the same as cancelling it.
    assert!(wheel.reschedule(b, t0 + ms(2_250)));
    assert_eq!(wheel.next_deadline(), Some(t0 + ms(2_200)));
}

#[test]
fn a_level_1_bucket_is_moved_down_over_the_polls_before_its_visit() {
    // 2 560 timers in the level-1 block of ticks 512..768, one every 0.1 ms,
    // and a loop that polls every tick.
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    for i in 0..2_560u32 {
        wheel.insert_at(t0 + ms(512) + Duration::from_micros(u64::from(i) * 100), i);
    }
    let bucket = Levels::bucket_for(0, 512).unwrap();
    for tick in 1..=511 {
        assert!(wheel.pop_expired(t0 + ms(tick)).is_none(), "never early");
    }
    // The polls before the visit moved down every timer less than 256 ticks
    // away when read (from tick 480 on): at most the block's last 32 ticks'
    // worth are left for the visit, not the whole bucket.
    let left = wheel.levels.len(bucket);
    assert!(left <= 320, "{left} of 2560 entries left for the visit");
    let mut fired = Vec::new();
    for tick in 512..=800 {
        let now = t0 + ms(tick);
        for e in wheel.drain_expired(now) {
            assert!(e.deadline <= now && now - e.deadline < ms(1), "on time");
            fired.push(e.value);
        }
    }
    assert_eq!(fired, (0..2_560).collect::<Vec<_>>(), "all, in order");
}

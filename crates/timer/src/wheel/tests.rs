use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn never_early_and_exact_within_a_tick() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let at = t0 + ms(7) + Duration::from_micros(400);
    wheel.insert_at(at, ());
    assert!(
        wheel.pop_expired(t0 + ms(7)).is_none(),
        "same tick, before the deadline"
    );
    assert!(wheel.next_deadline().unwrap() <= at);
    assert!(wheel.pop_expired(at - Duration::from_nanos(1)).is_none());
    assert_eq!(wheel.pop_expired(at).map(|e| e.deadline), Some(at));
}

#[test]
fn deadline_order_across_levels_then_insertion_order() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    for (i, d) in [70_000u64, 3, 300, 3, 70_000, 1 << 30]
        .into_iter()
        .enumerate()
    {
        wheel.insert_at(t0 + ms(d), i);
    }
    let got: Vec<_> = wheel
        .drain_expired(t0 + ms(1 << 31))
        .map(|e| e.value)
        .collect();
    assert_eq!(got, [1, 3, 2, 0, 4, 5]);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn past_and_present_deadlines_fire_on_next_poll() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    wheel.pop_expired(t0 + ms(100));
    wheel.insert_at(t0 + ms(100), "now");
    wheel.insert_at(t0 + ms(5), "past");
    wheel.insert_at(t0, "start");
    assert_eq!(wheel.next_deadline(), Some(t0));
    let got: Vec<_> = wheel.drain_expired(t0 + ms(100)).map(|e| e.value).collect();
    assert_eq!(got, ["start", "past", "now"]);
}

#[test]
fn next_deadline_is_a_lower_bound() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let at = t0 + ms(5_000) + Duration::from_micros(1);
    wheel.insert_at(at, ());
    let mut now = t0;
    let mut wakes = 0;
    // A loop that sleeps until next_deadline reaches the timer without
    // ever sleeping past it.
    loop {
        let next = wheel.next_deadline().unwrap();
        assert!(next <= at);
        now = now.max(next);
        wakes += 1;
        if wheel.pop_expired(now).is_some() {
            break;
        }
        if next == now && wheel.next_deadline() == Some(next) {
            now += Duration::from_nanos(1);
        }
        assert!(wakes < 20);
    }
    assert_eq!(now, at);
}

#[test]
fn cancel_and_reschedule_in_buckets_and_in_ready() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let a = wheel.insert_at(t0 + ms(1), 'a');
    let b = wheel.insert_at(t0 + ms(1), 'b');
    let c = wheel.insert_at(t0 + ms(1), 'c');
    assert_eq!(wheel.cancel(a), Some('a'));
    assert_eq!(wheel.cancel(c), Some('c'));
    assert_eq!(wheel.cancel(c), None);
    let d = wheel.insert_at(t0 + ms(2), 'd');
    assert!(wheel.pop_expired(t0 + ms(1)).is_some_and(|e| e.key == b));
    // d's tick came (now in `ready`): move it later, then cancel it there.
    assert!(wheel
        .pop_expired(t0 + ms(2) - Duration::from_nanos(1))
        .is_none());
    assert!(wheel.reschedule(d, t0 + ms(900)));
    assert!(wheel.pop_expired(t0 + ms(899)).is_none());
    assert!(wheel.reschedule(d, t0 + ms(10)));
    assert_eq!(wheel.cancel(d), Some('d'));
    assert!(!wheel.reschedule(d, t0));
    assert!(wheel.pop_expired(t0 + ms(10_000)).is_none());
    assert!(wheel.is_empty());
}

#[test]
fn stale_key_never_reaches_the_slot_reuser() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let old = wheel.insert_at(t0, 1);
    assert_eq!(wheel.pop_expired(t0).map(|e| e.value), Some(1));
    wheel.slots.aim(old.index);
    let new = wheel.insert_at(t0 + ms(3), 2);
    assert_eq!(old.index, new.index);
    assert_eq!(wheel.cancel(old), None);
    assert!(!wheel.reschedule(old, t0));
    assert_eq!(wheel.len(), 1);
}

#[test]
fn a_year_away_and_beyond_instant_range() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let year = Duration::from_secs(365 * 24 * 3600);
    wheel.insert_after(t0, year, "year");
    wheel.insert_after(t0, Duration::MAX, "never");
    assert!(wheel.pop_expired(t0 + year - ms(1)).is_none());
    assert_eq!(wheel.pop_expired(t0 + year).map(|e| e.value), Some("year"));
    assert!(wheel.pop_expired(t0 + year * 100).is_none());
    assert_eq!(wheel.len(), 1);
}

#[test]
fn custom_tick_and_invalid_ticks() {
    let t0 = Instant::now();
    assert_eq!(
        TimerWheel::<()>::with_tick(t0, Duration::ZERO).unwrap_err(),
        InvalidTick(Duration::ZERO)
    );
    assert!(TimerWheel::<()>::with_tick(t0, Duration::MAX).is_err());
    let mut wheel = TimerWheel::with_tick(t0, Duration::from_micros(50)).unwrap();
    assert_eq!(wheel.tick(), Duration::from_micros(50));
    wheel.insert_at(t0 + Duration::from_micros(175), ());
    assert!(wheel.pop_expired(t0 + Duration::from_micros(174)).is_none());
    assert!(wheel.pop_expired(t0 + Duration::from_micros(175)).is_some());
}

#[test]
fn time_before_start_fires_nothing() {
    let t0 = Instant::now() + ms(10);
    let mut wheel = TimerWheel::new(t0);
    wheel.insert_at(t0 - ms(5), ());
    assert!(wheel.pop_expired(t0 - ms(1)).is_none());
    assert!(wheel.pop_expired(t0).is_some());
}

#[test]
fn slot_stays_small() {
    // deadline + seq, generation, bucket, tag (+ 1 padding), value
    // (Option<u32>), and the packed bucket entry (index, tag).
    assert_eq!(
        TimerWheel::<u32>::bytes_per_timer(),
        16 + 4 + 2 + 1 + 1 + 8 + 5
    );
}

#[test]
fn cancelled_timers_leave_nothing_behind() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let keep = wheel.insert_at(t0 + Duration::from_secs(3600), u32::MAX);
    // Far-future timers cancelled at once: their hints would sit in a
    // level-2 bucket for half an hour if nothing swept them.
    for i in 0..200_000 {
        let k = wheel.insert_at(t0 + Duration::from_secs(1800) + ms(u64::from(i % 1000)), i);
        assert_eq!(wheel.cancel(k), Some(i));
    }
    assert!(
        wheel.levels.allocated_bytes() < 200_000,
        "{}",
        wheel.levels.allocated_bytes()
    );
    assert_eq!(wheel.len(), 1);
    assert_eq!(
        wheel
            .pop_expired(t0 + Duration::from_secs(3600))
            .map(|e| e.key),
        Some(keep)
    );
}

#[test]
fn a_long_random_mix_agrees_with_the_heap() {
    // Check against the exact reference through a long random mix of
    // operations, with bucket entries moved by every cancel.
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let mut heap = crate::TimerHeap::new();
    let mut keys = Vec::new();
    let mut now = t0;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for i in 0..50_000u32 {
        match next(10) {
            0..=4 => {
                let at = now + Duration::from_micros(next(5_000_000));
                keys.push((wheel.insert_at(at, i), heap.insert_at(at, i)));
            }
            5..=6 if !keys.is_empty() => {
                let (w, h) = keys[next(keys.len() as u64) as usize];
                assert_eq!(wheel.cancel(w), heap.cancel(h));
            }
            7 if !keys.is_empty() => {
                let (w, h) = keys[next(keys.len() as u64) as usize];
                let at = now + Duration::from_micros(next(5_000_000));
                assert_eq!(wheel.reschedule(w, at), heap.reschedule(h, at));
            }
            _ => {
                now += Duration::from_micros(next(20_000));
                loop {
                    let (w, h) = (wheel.pop_expired(now), heap.pop_expired(now));
                    assert_eq!(
                        w.as_ref().map(|e| (e.deadline, e.value)),
                        h.as_ref().map(|e| (e.deadline, e.value))
                    );
                    if w.is_none() {
                        break;
                    }
                }
            }
        }
        assert_eq!(wheel.len(), heap.len());
    }
    // Garbage is bounded: a bucket is compacted once half garbage and 32
    // stale entries.
    let entries: usize = wheel.levels.entries();
    let bound = 2 * wheel.len() + 32 * wheel.levels.occupied();
    assert!(
        entries <= bound,
        "{entries} bucket entries for {} timers",
        wheel.len()
    );
}

#[test]
fn visits_on_two_levels_at_the_same_tick_both_happen() {
    // A level-1 bucket and a level-0 bucket both visited at tick 768: the
    // second must not be mistaken for one a whole rotation away.
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    wheel.pop_expired(t0 + ms(300));
    wheel.insert_at(t0 + ms(800), "level 1");
    wheel.pop_expired(t0 + ms(600));
    wheel.insert_at(t0 + ms(768), "level 0");
    assert!(wheel.next_deadline() <= Some(t0 + ms(768)));
    assert_eq!(
        wheel.pop_expired(t0 + ms(790)).map(|e| e.value),
        Some("level 0")
    );
    assert_eq!(
        wheel.pop_expired(t0 + ms(800)).map(|e| e.value),
        Some("level 1")
    );
}

#[test]
fn cancel_leaves_a_stale_entry_that_the_visit_drops() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let a = wheel.insert_at(t0 + ms(2_000), 'a');
    let b = wheel.insert_at(t0 + ms(2_001), 'b');
    let c = wheel.insert_at(t0 + ms(2_002), 'c');
    assert_eq!(wheel.cancel(a), Some('a'));
    assert_eq!(wheel.cancel(c), Some('c'));
    assert_eq!(wheel.levels.entries(), 3, "cancel touches only the slot");
    // c's slot is reused by d: c's stale entry must not stand for d.
    wheel.slots.aim(c.index);
    let d = wheel.insert_at(t0 + ms(9_000), 'd');
    assert_eq!(d.index, c.index);
    assert_eq!(wheel.pop_expired(t0 + ms(2_002)).map(|e| e.key), Some(b));
    assert_eq!(wheel.pop_expired(t0 + ms(8_999)), None);
    assert_eq!(wheel.levels.entries(), 1, "the visits dropped the stale");
    assert_eq!(wheel.pop_expired(t0 + ms(9_000)).map(|e| e.key), Some(d));
}

#[test]
fn a_mostly_cancelled_bucket_is_compacted() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let keys: Vec<_> = (0..1_000u32)
        .map(|i| wheel.insert_at(t0 + ms(2_000) + Duration::from_micros(u64::from(i)), i))
        .collect();
    for &k in &keys[..600] {
        wheel.cancel(k);
    }
    let entries = wheel.levels.entries();
    assert!(entries < 800, "{entries} entries for 400 timers");
    let fired: Vec<_> = wheel
        .drain_expired(t0 + ms(3_000))
        .map(|e| e.value)
        .collect();
    assert_eq!(fired, (600..1_000).collect::<Vec<_>>());
}

#[test]
fn a_big_bucket_is_swept_a_step_per_cancel_not_all_at_once() {
    // One level-1 bucket of 10 000 timers. The cancel that makes it half
    // garbage starts a sweep but reads one step of it, not the bucket (a
    // cancel that swept 10 000 entries would be a pause); the cancels that
    // follow finish it, and garbage stays bounded.
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let keys: Vec<_> = (0..10_000u32)
        .map(|i| wheel.insert_at(t0 + ms(2_000) + Duration::from_micros(u64::from(i)), i))
        .collect();
    for &k in &keys[..5_001] {
        wheel.cancel(k);
    }
    let entries = wheel.levels.entries();
    assert!(
        entries > 9_900,
        "{entries}: one cancel swept the whole bucket"
    );
    for &k in &keys[5_001..9_000] {
        wheel.cancel(k);
    }
    let entries = wheel.levels.entries();
    assert!(
        entries <= 2 * 1_000 + 32,
        "{entries} entries for 1000 timers"
    );
    let fired: Vec<_> = wheel
        .drain_expired(t0 + ms(3_000))
        .map(|e| e.value)
        .collect();
    assert_eq!(fired, (9_000..10_000).collect::<Vec<_>>());
}

#[test]
fn rescheduled_back_and_forth_in_ready_fires_once() {
    // Ready-heap entries are told stale by generation and deadline, not by a
    // per-move stamp: a timer moved away from a due deadline and back (or to
    // the same one) leaves two matching entries, and must still fire once.
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    wheel.pop_expired(t0 + ms(50));
    let k = wheel.insert_at(t0 + ms(20), "a");
    let other = wheel.insert_at(t0 + ms(30), "b");
    assert!(wheel.reschedule(k, t0 + ms(40)));
    assert!(wheel.reschedule(k, t0 + ms(20)));
    assert!(wheel.reschedule(other, t0 + ms(30)), "same deadline");
    assert!(wheel.reschedule(k, t0 + ms(5_000)), "to a bucket");
    assert!(wheel.reschedule(k, t0 + ms(20)), "and back to ready");
    let fired: Vec<_> = wheel
        .drain_expired(t0 + ms(50))
        .map(|e| (e.value, e.deadline))
        .collect();
    assert_eq!(fired, [("a", t0 + ms(20)), ("b", t0 + ms(30))]);
    assert_eq!(wheel.cancel(k), None);
    assert!(wheel.is_empty());
    // The slots are reused: old entries must not match the new timers.
    let n1 = wheel.insert_at(t0 + ms(20), "c");
    let n2 = wheel.insert_at(t0 + ms(20), "d");
    assert_ne!((n1, n2), (k, other));
    let fired: Vec<_> = wheel.drain_expired(t0 + ms(60)).map(|e| e.value).collect();
    assert_eq!(fired, ["c", "d"]);
    assert_eq!(wheel.pop_expired(t0 + ms(10_000)), None);
}

#[test]
fn a_timer_pushed_back_thousands_of_times_fires_once_at_its_last_deadline() {
    // An idle timeout moved on every "packet".
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let k = wheel.insert_at(t0 + ms(10_000), 'k');
    for step in 1..=5_000u64 {
        assert!(wheel.reschedule(k, t0 + ms(10_000 + step * 7)));
    }
    // Each bucket it left keeps under 32 stale entries (then compacted).
    let entries = wheel.levels.entries();
    assert!(
        entries <= 1 + 32 * wheel.levels.occupied(),
        "{entries} entries for one timer"
    );
    assert!(wheel.pop_expired(t0 + ms(10_000 + 5_000 * 7 - 1)).is_none());
    assert_eq!(
        wheel
            .pop_expired(t0 + ms(10_000 + 5_000 * 7))
            .map(|e| e.key),
        Some(k)
    );
    assert!(wheel.is_empty());
}

#[test]
fn an_idle_wheel_gives_its_memory_back() {
    let t0 = Instant::now();
    let mut wheel = TimerWheel::new(t0);
    let keys: Vec<_> = (0..100_000u64)
        .map(|i| wheel.insert_at(t0 + ms(1_000 + i % 60_000), i))
        .collect();
    let busy = wheel.levels.allocated_bytes();
    let last = keys.len() - 1;
    for &k in &keys[..last] {
        wheel.cancel(k);
    }
    let one_left = wheel.levels.allocated_bytes();
    assert!(
        one_left < 1024 * 1024,
        "{one_left} of {busy} bucket bytes kept for one timer"
    );
    wheel.cancel(keys[last]);
    let idle = wheel.levels.allocated_bytes();
    // The bucket records themselves are a fixed table; beyond it, an idle
    // wheel keeps only small buffers.
    let table = Levels::new().allocated_bytes();
    assert!(
        idle < table + 45 * 1024,
        "{idle} of {busy} bucket bytes kept ({table} of them the table)"
    );
}

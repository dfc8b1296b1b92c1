use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(queue: &mut FixedQueue<u32>, now: Instant) -> Vec<u32> {
    std::iter::from_fn(|| queue.pop_expired(now).map(|e| e.value)).collect()
}

#[test]
fn fires_in_insertion_order_never_early() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(10));
    for i in 0..5 {
        queue.insert(t0 + ms(u64::from(i)), i);
    }
    assert_eq!(queue.next_deadline(), Some(t0 + ms(10)));
    assert!(queue.pop_expired(t0 + ms(9)).is_none());
    assert_eq!(drain(&mut queue, t0 + ms(12)), [0, 1, 2]);
    let last = queue.pop_expired(t0 + ms(20)).unwrap();
    assert_eq!((last.value, last.deadline), (3, t0 + ms(13)));
    assert_eq!(queue.len(), 1);
}

#[test]
fn equal_deadlines_fire_in_insertion_order() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(1));
    for i in 0..10 {
        queue.insert(t0, i);
    }
    assert_eq!(drain(&mut queue, t0 + ms(1)), (0..10).collect::<Vec<_>>());
    assert!(queue.is_empty());
    assert_eq!(queue.next_deadline(), None);
}

#[test]
fn stale_keys_are_inert() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(5));
    let a = queue.insert(t0, 1);
    assert_eq!(queue.cancel(a), Some(1));
    assert_eq!(queue.cancel(a), None);
    // The slot is reused under a new generation: the old key cannot touch it.
    let b = queue.insert(t0, 2);
    assert_eq!(queue.cancel(a), None);
    let fired = queue.pop_expired(t0 + ms(5)).unwrap();
    assert_eq!((fired.key, fired.value), (b, 2));
    assert_eq!(queue.cancel(b), None, "already fired");
}

#[test]
fn clock_going_backwards_fires_later_not_earlier() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(5));
    queue.insert(t0 + ms(10), 1);
    queue.insert(t0 + ms(3), 2);
    queue.insert(t0 - ms(3), 3);
    let fired: Vec<_> = std::iter::from_fn(|| queue.pop_expired(t0 + ms(15))).collect();
    assert_eq!(fired.iter().map(|e| e.value).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(fired.iter().all(|e| e.deadline == t0 + ms(15)));
    assert!(queue.pop_expired(t0 - ms(1)).is_none());
}

#[test]
fn compaction_bounds_garbage_and_keeps_order() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(100));
    let mut kept = Vec::new();
    for i in 0..50_000u32 {
        let key = queue.insert(t0 + Duration::from_micros(u64::from(i)), i);
        if i % 20 == 0 {
            kept.push(i);
        } else {
            assert_eq!(queue.cancel(key), Some(i));
        }
        // Garbage never exceeds the live count by more than the threshold.
        assert!(queue.queue.len() <= 2 * queue.len() + MIN_GARBAGE + 1);
    }
    assert_eq!(queue.len(), kept.len());
    assert_eq!(drain(&mut queue, t0 + ms(200)), kept);
    assert!(queue.is_empty());
}

#[test]
fn cancel_during_expiry_skips_the_cancelled() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(1));
    let keys: Vec<_> = (0..4).map(|i| queue.insert(t0, i)).collect();
    assert_eq!(queue.pop_expired(t0 + ms(1)).unwrap().value, 0);
    assert_eq!(queue.cancel(keys[1]), Some(1));
    assert_eq!(queue.cancel(keys[0]), None);
    assert_eq!(drain(&mut queue, t0 + ms(1)), [2, 3]);
}

#[test]
fn huge_duration_saturates() {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, Duration::MAX);
    queue.insert(t0, 1);
    assert!(queue.next_deadline().unwrap() > t0 + Duration::from_secs(365 * 24 * 3600));
    assert!(queue.pop_expired(t0 + ms(1)).is_none());
    assert_eq!(queue.duration(), Duration::from_nanos(u64::MAX));
}

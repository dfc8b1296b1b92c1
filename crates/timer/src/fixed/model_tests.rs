//! The FixedQueue against a reference FIFO of live timers, and under the
//! request-timeout load it is for.

use super::tests::{check_invariants, ms, queued, Rng};
use super::*;
use std::collections::VecDeque;

/// Runs `ops` random operations against a reference FIFO of live timers.
/// Returns the most chunks and live timers seen at once.
fn model_check(seed: u64, duration: Duration, max_step_ns: u64, ops: usize) -> (usize, usize) {
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, duration);
    let mut model: VecDeque<(TimerKey, u64, Instant)> = VecDeque::new();
    let mut stale: Vec<TimerKey> = Vec::new();
    let mut rng = Rng(seed);
    let mut now = t0;
    let mut next_value = 0u64;
    let (mut most_chunks, mut most_live) = (0, 0);
    for op in 0..ops {
        now += Duration::from_nanos(rng.below(max_step_ns + 1));
        match rng.below(100) {
            0..=44 => {
                let key = queue.insert(now, next_value);
                model.push_back((key, next_value, now + duration));
                next_value += 1;
            }
            45..=79 if !model.is_empty() => {
                // Cancel a live timer, mostly young ones (like responses).
                let len = model.len() as u64;
                let back = rng.below(len.min(3000));
                let at = if rng.below(4) == 0 {
                    rng.below(len)
                } else {
                    len - 1 - back
                } as usize;
                let (key, value, _) = model.remove(at).unwrap();
                assert_eq!(queue.cancel(key), Some(value), "op {op}");
                stale.push(key);
            }
            80..=84 if !stale.is_empty() => {
                let key = stale[rng.below(stale.len() as u64) as usize];
                assert_eq!(queue.cancel(key), None, "op {op}: stale key");
            }
            _ => loop {
                let got = queue.pop_expired(now);
                match model.front() {
                    Some(&(key, value, deadline)) if deadline <= now => {
                        let got = got.unwrap_or_else(|| panic!("op {op}: due timer missing"));
                        assert_eq!((got.key, got.value, got.deadline), (key, value, deadline));
                        model.pop_front();
                        stale.push(key);
                    }
                    _ => {
                        assert!(got.is_none(), "op {op}: fired early or a cancelled timer");
                        break;
                    }
                }
            },
        }
        if stale.len() > 100_000 {
            stale.drain(..50_000);
        }
        assert_eq!(queue.len(), model.len());
        most_chunks = most_chunks.max(queue.chunks.len());
        most_live = most_live.max(queue.len());
        if op % 997 == 0 {
            assert_eq!(
                queue.next_deadline(),
                model.front().map(|&(_, _, deadline)| deadline),
                "op {op}"
            );
        }
        if op % 20_011 == 0 {
            check_invariants(&queue);
        }
    }
    check_invariants(&queue);
    let end = now + duration;
    let rest: Vec<_> = std::iter::from_fn(|| queue.pop_expired(end).map(|e| e.value)).collect();
    assert_eq!(rest, model.iter().map(|&(_, v, _)| v).collect::<Vec<_>>());
    assert!(queue.is_empty());
    (most_chunks, most_live)
}

#[test]
fn model_check_dense() {
    // ~2 µs per op under a 100 ms duration: tens of thousands queued, dozens
    // of chunks compacting and merging.
    let (chunks, live) = model_check(0x5EED_0004, ms(100), 4_000, 600_000);
    assert!(
        chunks >= 10 && live >= 5_000,
        "{chunks} chunks, {live} live"
    );
}

#[test]
fn model_check_sparse_wide_offsets() {
    // Steps up to 2 s under a 20 s duration: chunks close on offset overflow
    // and merges are refused across far bases.
    let (chunks, _) = model_check(0x5EED_0005, Duration::from_secs(20), 2_000_000_000, 100_000);
    assert!(chunks >= 5, "{chunks} chunks");
}

#[test]
fn request_timeout_load_leaves_little_garbage() {
    // The load FixedQueue is for: each request's timeout is cancelled (95%)
    // or left to fire once N later requests have started, so cancels sweep
    // the queue in insertion order, a fixed distance behind the inserts.
    const N: usize = 10_000;
    let t0 = Instant::now();
    let mut queue = FixedQueue::new(t0, ms(400));
    let mut rng = Rng(0x5EED_0006);
    let mut ring = VecDeque::new();
    let mut worst = 0.0f64;
    for i in 0..1_000_000u64 {
        let now = t0 + Duration::from_micros(i);
        ring.push_back((queue.insert(now, i), rng.below(100) < 95));
        if ring.len() > N {
            let (key, cancels) = ring.pop_front().unwrap();
            if cancels {
                assert!(queue.cancel(key).is_some());
            }
        }
        if i % 1000 == 999 {
            while queue.pop_expired(now).is_some() {}
            if i > 500_000 {
                let stale = queued(&queue) - queue.len();
                worst = worst.max(stale as f64 / queue.len() as f64);
            }
        }
    }
    check_invariants(&queue);
    // The per-chunk rule alone allows up to one stale entry per live one:
    // merging the newer chunk into the older (settled) one came to 0.58
    // here, the older into the newer 0.04.
    assert!(worst < 0.15, "{worst:.3} stale entries per live timer");
}

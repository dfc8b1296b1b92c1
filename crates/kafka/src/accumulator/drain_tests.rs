//! What the drain tells `may_send` about a front batch: whether it is
//! complete (the idempotent producer pipelines only complete batches).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use super::tests::{acc, leader_one, send, settings, to_p};
use super::*;

/// Drains at `now`, refusing every batch, and returns what `may_send` was
/// told about each partition's front batch.
fn completeness(a: &Accumulator, now: Instant) -> Vec<(i32, bool)> {
    let seen = RefCell::new(Vec::new());
    let drained = a.drain_ready_if(now, leader_one, |tp, _, complete| {
        seen.borrow_mut().push((tp.partition, complete));
        false
    });
    assert!(drained.batches.is_empty());
    let mut seen = seen.into_inner();
    seen.sort_unstable();
    seen
}

#[test]
fn a_lone_batch_is_incomplete_until_full_backlogged_or_flushed() {
    let a = acc(settings().linger(Duration::ZERO).batch_size(200));
    let t0 = Instant::now();
    send(&a, to_p(0, "lone"), t0);
    // Partition 1: two records of ~50 bytes fit; a third opens a backlog.
    for i in 0..3 {
        send(&a, to_p(1, &"x".repeat(40 + i)), t0);
    }
    assert_eq!(
        completeness(&a, t0),
        [(0, false), (1, true)],
        "a lone batch can still take records; one with a batch behind it cannot"
    );
    let flush = a.begin_flush();
    assert_eq!(
        completeness(&a, t0),
        [(0, true), (1, true)],
        "a flush wants everything sent"
    );
    drop(flush);
    assert_eq!(completeness(&a, t0), [(0, false), (1, true)]);
}

#[test]
fn a_retry_is_complete() {
    let a = acc(settings().linger(Duration::ZERO));
    let t0 = Instant::now();
    send(&a, to_p(0, "v"), t0);
    let batch = super::tests::take_all(a.drain_ready(t0, leader_one)).remove(0);
    a.reenqueue(batch, t0);
    let later = t0 + Duration::from_secs(10);
    assert_eq!(completeness(&a, later), [(0, true)]);
}

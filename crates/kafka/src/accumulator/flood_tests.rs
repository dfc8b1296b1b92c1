//! Senders blocked on `buffer.memory`: only the oldest lingering batches
//! that cover what they wait for go early, and bytes already in flight
//! count as coming back.

use std::sync::mpsc;
use std::time::Duration;

use super::tests::{leader_one, send, settings, take_all, to_p, LINGER};
use super::*;

/// Partition of each batch drained, in partition order.
fn partitions(batches: &[ProducerBatch]) -> Vec<i32> {
    let mut ps: Vec<_> = batches
        .iter()
        .map(|b| b.topic_partition().partition)
        .collect();
    ps.sort_unstable();
    ps
}

/// An accumulator whose batches each reserve 100 bytes, `buffer.memory`
/// holding `batches` of them, and a channel told when a sender blocks.
fn tight(batches: usize) -> (Arc<Accumulator>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::sync_channel(8);
    let a = Accumulator::new(
        &settings()
            .batch_size(100)
            .buffer_memory(100 * batches)
            .max_block(Duration::from_secs(10))
            .build()
            .unwrap(),
    )
    .on_blocked(move || {
        let _ = tx.try_send(());
    });
    (Arc::new(a), rx)
}

/// Sends `record` from another thread and returns once it has blocked.
fn blocked_send(
    a: &Arc<Accumulator>,
    blocked: &mpsc::Receiver<()>,
    record: Record,
    t0: Instant,
) -> std::thread::JoinHandle<i32> {
    let sender = {
        let a = Arc::clone(a);
        std::thread::spawn(move || send(&a, record, t0).partition)
    };
    blocked.recv().unwrap();
    sender
}

#[test]
fn a_blocked_sender_sends_early_only_the_oldest_batch_that_covers_it() {
    let (a, blocked) = tight(3);
    let t0 = Instant::now();
    // Opened in this order, so partition 2's batch is the oldest.
    for p in [2, 0, 1] {
        send(&a, to_p(p, "a"), t0);
    }
    assert_eq!(a.stats().buffer_used, 300, "the pool is used up");
    let sender = blocked_send(&a, &blocked, to_p(3, "b"), t0);
    let early = take_all(a.drain_ready(t0, leader_one));
    assert_eq!(
        partitions(&early),
        [2],
        "one batch frees the 100 bytes the sender waits for; the rest linger"
    );
    for batch in early {
        batch.complete(0, None);
    }
    assert_eq!(sender.join().unwrap(), 3);
    let rest = take_all(a.drain_ready(t0 + LINGER, leader_one));
    assert_eq!(
        partitions(&rest),
        [0, 1, 3],
        "the others go at their linger"
    );
}

#[test]
fn bytes_in_flight_count_as_coming_back_until_a_retry_requeues_them() {
    let (a, blocked) = tight(3);
    let t0 = Instant::now();
    for p in 0..3 {
        send(&a, to_p(p, "a"), t0);
    }
    let sender = blocked_send(&a, &blocked, to_p(3, "b"), t0);
    let mut in_flight = take_all(a.drain_ready(t0, leader_one));
    assert_eq!(partitions(&in_flight), [0]);
    // The poller drains again before the response: nothing more is needed.
    assert!(take_all(a.drain_ready(t0, leader_one)).is_empty());
    assert_eq!(
        a.next_linger_deadline(),
        Some(t0 + LINGER),
        "no timer for an early send"
    );
    // A retriable failure puts the batch back, backing off: its bytes no
    // longer come back by themselves, so the next oldest goes.
    a.reenqueue(in_flight.remove(0), t0);
    let next = take_all(a.drain_ready(t0, leader_one));
    assert_eq!(partitions(&next), [1]);
    for batch in next {
        batch.complete(0, None);
    }
    assert_eq!(sender.join().unwrap(), 3);
    assert_eq!(
        a.stats().buffer_used,
        300,
        "partitions 0, 2 and 3 hold theirs"
    );
}

#[test]
fn a_bigger_wait_sends_as_many_of_the_oldest_as_cover_it() {
    let (a, blocked) = tight(4);
    let t0 = Instant::now();
    for p in 0..4 {
        send(&a, to_p(p, "a"), t0);
    }
    // About 250 bytes with its batch header: three 100-byte batches cover it.
    let big = to_p(0, &"x".repeat(180));
    let sender = blocked_send(&a, &blocked, big, t0);
    let early = take_all(a.drain_ready(t0, leader_one));
    assert_eq!(
        partitions(&early),
        [0, 1, 2],
        "the oldest three, not all four"
    );
    for batch in early {
        batch.complete(0, None);
    }
    assert_eq!(sender.join().unwrap(), 0);
}

#[test]
fn a_front_that_goes_anyway_counts_towards_the_wait() {
    let (a, blocked) = tight(3);
    let t0 = Instant::now();
    send(&a, to_p(0, "a"), t0);
    send(&a, to_p(1, "a"), t0);
    // Too big to join partition 0's batch, small enough for 100 bytes: a
    // second batch, so partition 0's first goes whatever its linger.
    send(&a, to_p(0, &"y".repeat(25)), t0);
    assert_eq!((a.stats().batches, a.stats().buffer_used), (3, 300));
    let sender = blocked_send(&a, &blocked, to_p(3, "b"), t0);
    let early = take_all(a.drain_ready(t0, leader_one));
    assert_eq!(
        partitions(&early),
        [0],
        "partition 0's front goes anyway and frees what the sender waits for"
    );
    for batch in early {
        batch.complete(0, None);
    }
    assert_eq!(sender.join().unwrap(), 3);
}

#[test]
fn flush_and_close_still_send_every_lingering_batch() {
    let (a, _blocked) = tight(3);
    let t0 = Instant::now();
    for p in 0..3 {
        send(&a, to_p(p, "a"), t0);
    }
    let flush = a.begin_flush();
    assert_eq!(
        partitions(&take_all(a.drain_ready(t0, leader_one))),
        [0, 1, 2]
    );
    drop(flush);
    send(&a, to_p(3, "a"), t0);
    a.close();
    assert_eq!(partitions(&take_all(a.drain_ready(t0, leader_one))), [3]);
}

//! `buffer.memory` and batch memory: blocking when it is used up, batches
//! that start small and grow while their partition has a backlog, and
//! memory given back however a batch ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::tests::{acc, leader_one, send, settings, take_all, to_p, LINGER};
use super::*;
use crate::config::Compression;
use crate::delivery::DeliveryErrorKind;
use crate::partitioner::DefaultPartitioner;

const KIB: u64 = 1024;

/// A record whose value is `bytes` long, for partition 0.
fn sized(bytes: usize) -> Record {
    Record::value("t", vec![b'x'; bytes])
        .with_partition(0)
        .with_timestamp(1_000)
}

#[test]
fn first_batch_bytes_doubles_exactly_to_the_limit() {
    const K: usize = 1024;
    assert_eq!(first_batch_bytes(1024 * K), 16 * K);
    assert_eq!(first_batch_bytes(100), 100, "a small limit is taken whole");
    for limit in [16 * K, 20_000, 1_000_000, 1024 * K, 3 * 1024 * K + 7] {
        let first = first_batch_bytes(limit);
        assert!((16 * K).min(limit) <= first && first < (32 * K).max(limit / 2 + 1));
        let mut grown = first;
        while grown * 2 <= limit {
            grown *= 2;
        }
        // Halving rounds down, a byte at most per halving; the last growth
        // step is capped at the limit, which tops those bytes up.
        assert!(limit - grown < 64, "{limit}: {first} doubles to {grown}");
    }
}

#[test]
fn a_batch_starts_small_and_doubles_up_to_batch_size_while_records_queue() {
    let a = acc(settings().batch_size(64 * 1024));
    let t0 = Instant::now();
    send(&a, sized(1000), t0);
    assert_eq!(
        a.stats().buffer_used,
        16 * KIB,
        "a new batch reserves 16 KiB"
    );
    let mut seen = vec![a.stats().buffer_used];
    while a.stats().batches == 1 {
        send(&a, sized(1000), t0);
        let used = a.stats().buffer_used;
        if seen.last() != Some(&used) {
            seen.push(used);
        }
    }
    assert_eq!(
        seen,
        [16 * KIB, 32 * KIB, 64 * KIB, 64 * KIB + 16 * KIB],
        "doubling to batch.size, then a second batch starts small"
    );
    let first = take_all(a.drain_ready(t0, leader_one)).remove(0);
    assert!(first.size_in_bytes() <= 64 * 1024);
    assert!(
        first.size_in_bytes() > 63 * 1024,
        "{}",
        first.size_in_bytes()
    );
}

#[test]
fn a_batch_that_cannot_grow_counts_as_full_and_the_next_sender_blocks() {
    let a = acc(settings()
        .batch_size(64 * 1024)
        .buffer_memory(20 * 1024)
        .max_block(Duration::from_millis(20)));
    let t0 = Instant::now();
    let mut accepted = 0;
    let err = loop {
        let p = DefaultPartitioner::with_seed(1);
        match a.append(sized(1000), &p, Partitions::all(4), OnDelivery::Future, t0) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 100, "the pool must stop the batch growing");
    };
    assert!(matches!(err, ProducerError::BufferFull { .. }), "{err}");
    assert_eq!(accepted, 16, "16 KiB holds 16 such records");
    assert_eq!(a.stats().buffer_used, 16 * KIB, "never past buffer.memory");
    let batch = take_all(a.drain_ready(t0, leader_one)).remove(0);
    assert_eq!(batch.record_count(), accepted);
}

#[test]
fn completion_resolves_every_record_and_frees_memory() {
    let a = acc(settings());
    let t0 = Instant::now();
    let futures: Vec<_> = (0..3)
        .map(|i| {
            send(&a, to_p(0, "v").with_timestamp(100 + i), t0)
                .future
                .unwrap()
        })
        .collect();
    let mut batch = take_all(a.drain_ready(t0 + LINGER, leader_one)).remove(0);
    let bytes = batch.encode(None, Compression::None).unwrap();
    assert_eq!(batch.encoded(), Some(&bytes));
    batch.complete(500, None);
    for (i, f) in futures.iter().enumerate() {
        let meta = f.wait_timeout(Duration::ZERO).unwrap().unwrap();
        assert_eq!(
            (meta.partition, meta.offset, meta.timestamp),
            (0, 500 + i as i64, 100 + i as i64)
        );
        assert_eq!(&*meta.topic, "t");
    }
    let s = a.stats();
    assert_eq!(
        (s.delivered, s.failed, s.in_flight_batches, s.buffer_used),
        (3, 0, 0, 0)
    );
}

#[test]
fn a_full_buffer_blocks_wakes_the_poller_then_returns_the_record() {
    let woken = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&woken);
    let a = Accumulator::new(
        &settings()
            .batch_size(100)
            .buffer_memory(150)
            .max_block(Duration::from_millis(30))
            .build()
            .unwrap(),
    )
    .on_blocked(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let t0 = Instant::now();
    send(&a, to_p(0, "a"), t0);
    let p = DefaultPartitioner::with_seed(1);
    let record = to_p(1, "b");
    let err = a
        .append(
            record.clone(),
            &p,
            Partitions::all(4),
            OnDelivery::Future,
            t0,
        )
        .unwrap_err();
    assert!(err.is_retriable(), "{err}");
    match err {
        ProducerError::BufferFull {
            record: back,
            waited,
        } => {
            assert_eq!(*back, record);
            assert!(waited >= Duration::from_millis(30));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    // Appends that fit the open batch need no memory and still succeed.
    send(&a, to_p(0, "c"), t0);
}

#[test]
fn a_blocked_sender_proceeds_when_a_batch_completes() {
    let (tx, rx) = mpsc::sync_channel(1);
    let a = Arc::new(
        Accumulator::new(
            &settings()
                .batch_size(100)
                .buffer_memory(150)
                .max_block(Duration::from_secs(10))
                .build()
                .unwrap(),
        )
        .on_blocked(move || {
            let _ = tx.try_send(());
        }),
    );
    let t0 = Instant::now();
    send(&a, to_p(0, "a"), t0);
    let sender = {
        let a = Arc::clone(&a);
        std::thread::spawn(move || send(&a, to_p(1, "b"), t0).partition)
    };
    rx.recv().unwrap();
    // The blocked sender makes the oldest lingering batch ready at once.
    let batch = take_all(a.drain_ready(t0, leader_one)).remove(0);
    batch.complete(0, None);
    assert_eq!(sender.join().unwrap(), 1);
}

#[test]
fn a_big_record_gets_a_batch_of_its_own() {
    let a = acc(settings().batch_size(100));
    let t0 = Instant::now();
    send(&a, to_p(0, "small"), t0);
    send(&a, to_p(0, &"x".repeat(500)), t0);
    assert_eq!(a.stats().batches, 2);
    let batches: Vec<_> = (0..2)
        .flat_map(|_| take_all(a.drain_ready(t0 + LINGER, leader_one)))
        .collect();
    let counts: Vec<_> = batches.iter().map(ProducerBatch::record_count).collect();
    assert_eq!(counts, [1, 1]);
    assert!(batches[1].size_in_bytes() > 500);
}

#[test]
fn a_batch_dropped_without_an_outcome_still_resolves_and_frees_memory() {
    let a = acc(settings());
    let t0 = Instant::now();
    let f = send(&a, to_p(0, "v"), t0).future.unwrap();
    let batch = take_all(a.drain_ready(t0 + LINGER, leader_one)).remove(0);
    drop(batch); // a poller bug, or a panic unwinding through it
    assert_eq!(f.wait().unwrap_err().kind(), DeliveryErrorKind::Dropped);
    let s = a.stats();
    assert_eq!((s.failed, s.in_flight_batches, s.buffer_used), (1, 0, 0));
    let flush = a.begin_flush();
    assert!(
        flush.wait(Some(Duration::ZERO)),
        "a dropped batch no longer holds up flush"
    );
}

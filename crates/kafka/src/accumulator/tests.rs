use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::BrokerId;
use bytes::Bytes;

use super::*;
use crate::config::{Compression, ProducerConfigBuilder};
use crate::delivery::{DeliveryError, DeliveryErrorKind};
use crate::partitioner::DefaultPartitioner;

pub(super) const LINGER: Duration = Duration::from_millis(10);

pub(super) fn settings() -> ProducerConfigBuilder {
    ProducerConfig::builder()
        .bootstrap_servers(["127.0.0.1:9092"])
        .linger(LINGER)
}

pub(super) fn acc(builder: ProducerConfigBuilder) -> Accumulator {
    Accumulator::new(&builder.build().unwrap())
}

pub(super) fn send(a: &Accumulator, record: Record, now: Instant) -> Appended {
    let p = DefaultPartitioner::with_seed(1);
    a.append(record, &p, Partitions::all(4), OnDelivery::Future, now)
        .unwrap()
}

pub(super) fn to_p(partition: i32, value: &str) -> Record {
    Record::value("t", value.to_owned())
        .with_partition(partition)
        .with_timestamp(1_000)
}

pub(super) fn leader_one(_: &TopicPartition) -> Option<BrokerId> {
    Some(BrokerId(1))
}

pub(super) fn take_all(d: Drained) -> Vec<ProducerBatch> {
    d.batches.into_values().flatten().collect()
}

#[test]
fn first_record_of_a_batch_wakes_the_rest_do_not() {
    let a = acc(settings());
    let t0 = Instant::now();
    assert!(
        send(&a, to_p(0, "a"), t0).wake,
        "a new batch needs the linger timer"
    );
    assert!(!send(&a, to_p(0, "b"), t0).wake);
    assert!(
        send(&a, to_p(1, "c"), t0).wake,
        "another partition, another batch"
    );
    let s = a.stats();
    assert_eq!((s.records_sent, s.queued_records, s.batches), (3, 3, 2));
    assert!(s.queued_bytes > 2 * RECORD_BATCH_OVERHEAD as u64);
    assert_eq!(
        s.buffer_used,
        2 * 16384,
        "each new batch reserves 16 KiB, not batch.size"
    );
}

#[test]
fn linger_zero_or_flush_wakes_every_append() {
    let a = acc(settings().linger(Duration::ZERO));
    let t0 = Instant::now();
    assert!(send(&a, to_p(0, "a"), t0).wake);
    assert!(send(&a, to_p(0, "b"), t0).wake);

    let a = acc(settings());
    send(&a, to_p(0, "a"), t0);
    let flush = a.begin_flush();
    assert!(send(&a, to_p(0, "b"), t0).wake);
    drop(flush);
    assert!(!send(&a, to_p(0, "c"), t0).wake);
}

#[test]
fn batches_wait_for_linger_then_drain() {
    let a = acc(settings());
    let t0 = Instant::now();
    send(&a, to_p(0, "a"), t0);
    assert_eq!(a.next_linger_deadline(), Some(t0 + LINGER));
    assert!(a.drain_ready(t0 + LINGER / 2, leader_one).is_empty());
    let drained = take_all(a.drain_ready(t0 + LINGER, leader_one));
    assert_eq!(drained.len(), 1);
    assert_eq!(drained[0].record_count(), 1);
    assert_eq!(a.next_linger_deadline(), None);
    assert!(!a.has_queued());
    let s = a.stats();
    assert_eq!(
        (s.queued_records, s.queued_bytes, s.in_flight_batches),
        (0, 0, 1)
    );
}

#[test]
fn a_full_batch_is_ready_at_once_and_the_next_record_opens_another() {
    let a = acc(settings().batch_size(200));
    let t0 = Instant::now();
    let mut wakes = Vec::new();
    for i in 0..6 {
        wakes.push(send(&a, to_p(0, &"x".repeat(40 + i)), t0).wake);
    }
    // 61 bytes of header + two ~50-byte records fill 200 bytes.
    assert_eq!(a.stats().batches, 3);
    assert_eq!(
        wakes.iter().filter(|&&w| w).count(),
        3,
        "one wake per new batch: {wakes:?}"
    );
    assert!(a.next_linger_deadline().unwrap() <= t0, "ready now");
    for _ in 0..2 {
        let closed = take_all(a.drain_ready(t0, leader_one));
        assert_eq!(closed.len(), 1, "one batch per partition per drain");
        assert_eq!(closed[0].record_count(), 2);
        assert!(closed[0].size_in_bytes() <= 200);
    }
    // The last batch is still open and lingers.
    assert!(a.drain_ready(t0, leader_one).is_empty());
    assert_eq!(take_all(a.drain_ready(t0 + LINGER, leader_one)).len(), 1);
}

#[test]
fn unknown_leaders_are_reported_and_brokers_get_their_own_batches() {
    let a = acc(settings());
    let t0 = Instant::now();
    for p in 0..3 {
        send(&a, to_p(p, "v"), t0);
    }
    let leader = |tp: &TopicPartition| match tp.partition {
        0 => Some(BrokerId(10)),
        1 => Some(BrokerId(11)),
        _ => None,
    };
    let d = a.drain_ready(t0 + LINGER, leader);
    assert_eq!(d.unknown_leaders, [TopicPartition::new("t", 2)]);
    assert_eq!(d.batches[&BrokerId(10)].len(), 1);
    assert_eq!(d.batches[&BrokerId(11)].len(), 1);
    assert_eq!(d.batches[&BrokerId(11)][0].topic_partition().partition, 1);
}

#[test]
fn one_request_stays_within_max_request_size() {
    let a = acc(settings().batch_size(1000).max_request_size(1000));
    let t0 = Instant::now();
    for p in 0..3 {
        send(&a, to_p(p, &"v".repeat(400)), t0);
    }
    let first = take_all(a.drain_ready(t0 + LINGER, leader_one));
    assert_eq!(
        first.len(),
        2,
        "two ~470-byte batches fit in 1000 bytes, three do not"
    );
    let second = take_all(a.drain_ready(t0 + LINGER, leader_one));
    assert_eq!(second.len(), 1, "the rest goes in the next request");
}

#[test]
fn acks_zero_and_log_append_time_show_in_metadata() {
    let a = acc(settings());
    let t0 = Instant::now();
    let f = send(&a, to_p(0, "v"), t0).future.unwrap();
    take_all(a.drain_ready(t0 + LINGER, leader_one))
        .remove(0)
        .complete(-1, Some(77));
    let meta = f.wait().unwrap();
    assert_eq!((meta.offset, meta.timestamp), (-1, 77));
}

#[test]
fn retries_go_back_in_order_after_backoff_with_identical_bytes() {
    let a = acc(settings()
        .batch_size(100)
        .retry_backoff(Duration::from_millis(100)));
    let t0 = Instant::now();
    for i in 0..4 {
        send(&a, to_p(0, &format!("{i}").repeat(60)), t0);
    }
    let mut first = take_all(a.drain_ready(t0, leader_one)).remove(0);
    let mut second = take_all(a.drain_ready(t0, leader_one)).remove(0);
    let stamp = |base_sequence| {
        Some(crate::batch::Stamp {
            identity: crate::batch::ProducerIdentity { id: 9, epoch: 0 },
            base_sequence,
        })
    };
    let bytes = (
        first.encode(stamp(0), Compression::Lz4).unwrap(),
        second.encode(stamp(1), Compression::Lz4).unwrap(),
    );
    // Responses fail in any order; the queue must end up oldest first.
    a.reenqueue(second, t0);
    a.reenqueue(first, t0);
    assert_eq!(a.stats().retries, 2);
    // 100 ms backoff, spread by ±20%.
    assert!(
        a.drain_ready(t0 + Duration::from_millis(79), leader_one)
            .is_empty(),
        "backing off"
    );
    let due = a.next_linger_deadline().expect("a retry is queued");
    assert!(
        (t0 + Duration::from_millis(80)..t0 + Duration::from_millis(120)).contains(&due),
        "{:?} after t0",
        due - t0
    );
    let later = t0 + Duration::from_millis(120);
    let mut again = take_all(a.drain_ready(later, leader_one)).remove(0);
    assert_eq!(again.attempts(), 1);
    assert_eq!(
        again.encode(stamp(0), Compression::None).unwrap(),
        bytes.0,
        "a retry resends the same bytes"
    );
    assert_eq!(
        again.encode(stamp(50), Compression::None),
        Err(crate::batch::BatchError::AlreadyStamped),
        "another stamp is refused, not silently ignored"
    );
    let next = take_all(a.drain_ready(later, leader_one)).remove(0);
    assert_eq!(next.encoded(), Some(&bytes.1));
    assert_eq!(next.stamp(), stamp(1));
    // Exponential: a second failure waits twice as long (200 ms ±20%).
    a.reenqueue(again, later);
    assert!(a
        .drain_ready(later + Duration::from_millis(159), leader_one)
        .batches
        .is_empty());
    assert_eq!(
        take_all(a.drain_ready(later + Duration::from_millis(240), leader_one)).len(),
        1
    );
    drop(next);
}

fn expire(a: &Accumulator, now: Instant) -> usize {
    let expired = a.take_expired(now);
    let records = expired.iter().map(ProducerBatch::record_count).sum();
    for batch in expired {
        batch.fail(DeliveryError::timeout(a.config().delivery_timeout(), false));
    }
    records
}

#[test]
fn bad_records_come_back_in_the_error() {
    let a = acc(settings().max_request_size(200).batch_size(200));
    let t0 = Instant::now();
    let p = DefaultPartitioner::with_seed(1);
    let append = |r: Record| {
        a.append(r, &p, Partitions::all(4), OnDelivery::Future, t0)
            .unwrap_err()
    };

    let err = append(to_p(0, &"x".repeat(300)));
    assert!(
        matches!(
            err,
            ProducerError::RecordTooLarge {
                setting: "max.request.size",
                limit: 200,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.into_record().is_some());

    let err = append(to_p(4, "v"));
    assert!(
        matches!(
            err,
            ProducerError::InvalidPartition {
                partition: 4,
                partition_count: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let err = append(to_p(-1, "v"));
    assert!(matches!(
        err,
        ProducerError::InvalidPartition { partition: -1, .. }
    ));
    let err = append(to_p(0, "v").with_timestamp(-2));
    assert!(matches!(
        err,
        ProducerError::InvalidTimestamp { timestamp: -2, .. }
    ));

    let small = acc(settings().buffer_memory(100));
    let err = small
        .append(
            to_p(0, &"x".repeat(100)),
            &p,
            Partitions::all(4),
            OnDelivery::Future,
            t0,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProducerError::RecordTooLarge {
                setting: "buffer.memory",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn abort_and_expire_resolve_queued_records_once() {
    let a = acc(settings()
        .linger(Duration::from_millis(5))
        .request_timeout(Duration::from_millis(5))
        .delivery_timeout(Duration::from_millis(50)));
    let calls = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let p = DefaultPartitioner::with_seed(1);
    for i in 0..4 {
        let seen = Arc::clone(&calls);
        let cb = OnDelivery::Callback(Box::new(move |r: crate::DeliveryResult| {
            assert_eq!(r.unwrap_err().kind(), DeliveryErrorKind::Timeout);
            seen.fetch_add(1, Ordering::SeqCst);
        }));
        a.append(to_p(i % 2, "v"), &p, Partitions::all(4), cb, t0)
            .unwrap();
    }
    assert_eq!(expire(&a, t0 + Duration::from_millis(49)), 0);
    assert_eq!(expire(&a, t0 + Duration::from_millis(50)), 4);
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    let futures: Vec<_> = (0..3)
        .map(|i| send(&a, to_p(i, "v"), t0).future.unwrap())
        .collect();
    assert_eq!(a.abort_all(DeliveryError::aborted("test")), 3);
    for f in futures {
        assert_eq!(f.wait().unwrap_err().kind(), DeliveryErrorKind::Aborted);
    }
    let s = a.stats();
    assert_eq!(
        (s.failed, s.queued_records, s.queued_bytes, s.buffer_used),
        (7, 0, 0, 0)
    );
    assert_eq!(a.abort_all(DeliveryError::aborted("again")), 0);
}

#[test]
fn flush_makes_batches_ready_and_waits_for_them() {
    let a = Arc::new(acc(settings().linger(Duration::from_secs(3600))));
    let t0 = Instant::now();
    let f = send(&a, to_p(0, "v"), t0).future.unwrap();
    assert!(a.drain_ready(t0, leader_one).is_empty());
    let flush = a.begin_flush();
    assert!(
        !flush.wait(Some(Duration::from_millis(1))),
        "nothing completed yet"
    );
    let batch = take_all(a.drain_ready(t0, leader_one)).remove(0);
    let poller = std::thread::spawn(move || batch.complete(3, None));
    assert!(flush.wait(None));
    poller.join().unwrap();
    assert_eq!(f.wait().unwrap().offset, 3);
    // Batches opened after the flush began are not waited for.
    send(&a, to_p(1, "later"), t0);
    assert!(flush.wait(Some(Duration::ZERO)));
}

#[test]
fn close_refuses_records_and_readies_everything() {
    let a = acc(settings().linger(Duration::from_secs(3600)));
    let t0 = Instant::now();
    send(&a, to_p(0, "v"), t0);
    a.close();
    assert!(a.is_closed());
    let p = DefaultPartitioner::with_seed(1);
    let err = a
        .append(to_p(0, "w"), &p, Partitions::all(4), OnDelivery::Future, t0)
        .unwrap_err();
    assert!(matches!(err, ProducerError::Closed { .. }));
    assert_eq!(take_all(a.drain_ready(t0, leader_one)).len(), 1);
}

#[test]
fn muted_partitions_are_skipped() {
    let a = acc(settings());
    let t0 = Instant::now();
    send(&a, to_p(0, "v"), t0);
    let tp = TopicPartition::new("t", 0);
    a.mute(&tp);
    assert!(a.drain_ready(t0 + LINGER, leader_one).batches.is_empty());
    assert_eq!(a.next_linger_deadline(), None);
    a.unmute(&tp);
    assert_eq!(take_all(a.drain_ready(t0 + LINGER, leader_one)).len(), 1);
}

#[test]
fn null_keys_stick_until_the_batch_fills_then_move() {
    let a = acc(settings().batch_size(200));
    let p = DefaultPartitioner::with_seed(5);
    let t0 = Instant::now();
    let mut partitions = Vec::new();
    for _ in 0..12 {
        let r = Record::value("s", Bytes::from(vec![7u8; 50])).with_timestamp(1);
        partitions.push(
            a.append(r, &p, Partitions::all(8), OnDelivery::Future, t0)
                .unwrap()
                .partition,
        );
    }
    // Runs of the same partition, each run one batch's worth.
    let mut runs = vec![1usize];
    for w in partitions.windows(2) {
        if w[0] == w[1] {
            *runs.last_mut().unwrap() += 1;
        } else {
            runs.push(1);
        }
    }
    assert!(
        runs.len() >= 3,
        "the sticky partition must move as batches fill: {partitions:?}"
    );
    assert!(
        runs[..runs.len() - 1]
            .iter()
            .all(|&n| n == runs[0] && n > 1),
        "{partitions:?}"
    );
    // Keyed records ignore stickiness.
    let keyed = Record::key_value("s", "k", "v").with_timestamp(1);
    let want = crate::partitioner::partition_for_key(b"k", 8);
    assert_eq!(
        a.append(keyed, &p, Partitions::all(8), OnDelivery::Future, t0)
            .unwrap()
            .partition,
        want
    );
}

#[test]
fn a_callback_may_send_again_while_batches_end() {
    let a = Arc::new(acc(settings()
        .linger(Duration::from_millis(5))
        .request_timeout(Duration::from_millis(5))
        .delivery_timeout(Duration::from_millis(20))));
    let t0 = Instant::now();
    let resent = Arc::new(AtomicUsize::new(0));
    let (inner, counter) = (Arc::clone(&a), Arc::clone(&resent));
    let cb = OnDelivery::Callback(Box::new(move |result: crate::DeliveryResult| {
        assert!(result.is_err());
        // Runs inside `expire`: no accumulator lock may be held here.
        let p = DefaultPartitioner::with_seed(1);
        inner
            .append(
                to_p(0, "again"),
                &p,
                Partitions::all(4),
                OnDelivery::Future,
                t0,
            )
            .unwrap();
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let p = DefaultPartitioner::with_seed(1);
    a.append(to_p(0, "first"), &p, Partitions::all(4), cb, t0)
        .unwrap();
    assert_eq!(expire(&a, t0 + Duration::from_millis(20)), 1);
    assert_eq!(resent.load(Ordering::SeqCst), 1);
    assert_eq!(
        a.stats().queued_records,
        1,
        "the resent record waits in a new batch"
    );
}

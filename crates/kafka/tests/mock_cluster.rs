//! The producer against `rouse-kafka-mock` over real sockets: every record
//! acknowledged exactly once, in order per partition, through faults.

use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use rouse_kafka::{DeliveryErrorKind, ProducerError, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

mod common;

use common::{assert_stored_exactly_once, cluster, producer, send_all, TOPIC};

#[test]
fn keyed_records_reach_three_brokers_once_each() {
    let cluster = cluster(3, 6);
    let producer = producer(&cluster, &[]);
    let acked = send_all(&producer, 500, "a");
    assert_stored_exactly_once(&cluster, &acked, 6);
    let stats = producer.stats();
    assert_eq!((stats.delivered, stats.failed), (500, 0));
    // Coalescing: far fewer wake syscalls than records.
    assert!(stats.wake_syscalls < 500, "{stats:?}");
    // Every Produce request the mock saw, and no other, was counted.
    let seen = cluster.handle().request_count(None, ApiKey::Produce);
    assert_eq!(stats.produce_requests, seen, "{stats:?}");
    assert!(!producer.broker_latency().is_empty());
    producer
        .close(Duration::from_secs(5))
        .expect("closes clean");
}

#[test]
fn every_acks_setting_and_linger_delivers() {
    for (acks, linger) in [("0", "0"), ("1", "0"), ("1", "5"), ("all", "5")] {
        let cluster = cluster(1, 2);
        let producer = producer(&cluster, &[("acks", acks), ("linger.ms", linger)]);
        let acked = send_all(&producer, 100, "x");
        if acks == "0" {
            assert!(
                acked.iter().all(|(_, offset, _)| *offset == -1),
                "acks=0 has no offsets"
            );
            producer.close(Duration::from_secs(5)).expect("closes");
            // Nobody tells an acks=0 producer when the broker has them: give
            // the mock's loop a bounded moment to read the last requests.
            let stored = || -> usize {
                (0..2)
                    .map(|p| cluster.handle().records(TOPIC, p).unwrap().len())
                    .sum()
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while stored() < 100 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(stored(), 100, "acks=0 records still arrive");
        } else {
            assert_stored_exactly_once(&cluster, &acked, 2);
        }
    }
}

#[test]
fn a_broker_stopped_mid_stream_loses_nothing() {
    let cluster = cluster(3, 6);
    let producer = producer(&cluster, &[]);
    let first = send_all(&producer, 200, "before");
    let handle = cluster.handle();
    let leaders = handle.leaders(TOPIC).expect("leaders");
    // Broker 2 holds its answers, so requests are in flight when it stops.
    handle.delay_responses(ApiKey::Produce, Some(2), Duration::from_millis(400));
    let produced_before = handle.request_count(Some(2), ApiKey::Produce);
    let futures: Vec<_> = (0..200)
        .map(|i| {
            let value = format!("during-{i}");
            let record = Record::value(TOPIC, value.clone()).with_partition(i % 6);
            (i % 6, value, producer.send(record).expect("send"))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while handle.request_count(Some(2), ApiKey::Produce) == produced_before {
        assert!(Instant::now() < deadline, "nothing was sent to broker 2");
        std::thread::sleep(Duration::from_millis(1));
    }
    cluster.stop_broker(2).expect("stops");
    // The other brokers' records arrive; broker 2's wait for it.
    let on_broker_2 = |p: &i32| leaders[*p as usize] == 2;
    for (partition, value, future) in futures.iter().filter(|(p, ..)| !on_broker_2(p)) {
        let outcome = future.wait_timeout(Duration::from_secs(10));
        assert!(
            matches!(outcome, Some(Ok(_))),
            "{value} on partition {partition}: {outcome:?}"
        );
    }
    let waiting = futures
        .iter()
        .filter(|(p, _, f)| on_broker_2(p) && !f.is_done())
        .count();
    assert!(waiting > 0, "records for the stopped broker waited for it");
    handle.clear_faults();
    cluster.restart_broker(2).expect("restarts");
    let mut acked = first;
    for (_, value, future) in futures {
        let meta = future
            .wait_timeout(Duration::from_secs(30))
            .expect("outcome")
            .expect("delivered");
        acked.push((meta.partition, meta.offset, value));
    }
    assert_stored_exactly_once(&cluster, &acked, 6);
    let stats = producer.stats();
    assert!(
        stats.retries > 0,
        "the requests cut by the stop were retried: {stats:?}"
    );
}

#[test]
fn leader_moves_and_retriable_errors_are_ridden_out() {
    let cluster = cluster(3, 3);
    let producer = producer(&cluster, &[]);
    let mut acked = send_all(&producer, 50, "warm");
    cluster.handle().move_leader(TOPIC, 0, 3).expect("moves");
    cluster
        .handle()
        .fail_next(ApiKey::Produce, None, ResponseError::NotLeaderOrFollower, 3);
    cluster
        .handle()
        .fail_next(ApiKey::Produce, None, ResponseError::RequestTimedOut, 2);
    cluster
        .handle()
        .delay_responses(ApiKey::Produce, None, Duration::from_millis(30));
    acked.extend(send_all(&producer, 150, "faults"));
    assert_stored_exactly_once(&cluster, &acked, 3);
    assert!(
        producer.stats().retries > 0,
        "the injected errors were retried"
    );
}

#[test]
fn records_for_a_broker_that_stays_down_time_out_each_with_an_error() {
    let cluster = cluster(1, 1);
    let producer = producer(
        &cluster,
        &[("delivery.timeout.ms", "2500"), ("linger.ms", "0")],
    );
    send_all(&producer, 1, "warm");
    cluster.stop_broker(1).expect("stops");
    let futures: Vec<_> = (0..20)
        .map(|i| {
            producer
                .send(Record::value(TOPIC, format!("v{i}")))
                .expect("send")
        })
        .collect();
    for future in futures {
        let outcome = future
            .wait_timeout(Duration::from_secs(20))
            .expect("an outcome, not a hang");
        let error = outcome.expect_err("the broker never came back");
        assert!(
            matches!(
                error.kind(),
                DeliveryErrorKind::Timeout | DeliveryErrorKind::Network
            ),
            "{error}"
        );
    }
    assert_eq!(producer.stats().failed, 20);
}

#[test]
fn an_unknown_topic_is_refused_after_max_block() {
    let cluster =
        MockCluster::start(ClusterConfig::new(1).with_auto_create_topics(false)).expect("starts");
    let producer = producer(&cluster, &[("max.block.ms", "300")]);
    let started = Instant::now();
    let error = producer
        .send(Record::value("no-such-topic", "v"))
        .expect_err("no topic");
    assert!(
        matches!(error, ProducerError::MetadataTimeout { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("no-such-topic"), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        error.into_record().map(|r| r.topic),
        Some("no-such-topic".to_string())
    );
}

#[test]
fn close_fails_what_cannot_be_sent_with_a_clear_error() {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[("linger.ms", "0")]);
    send_all(&producer, 1, "warm");
    cluster.stop_broker(1).expect("stops");
    let futures: Vec<_> = (0..10)
        .map(|i| {
            producer
                .send(Record::value(TOPIC, format!("v{i}")))
                .expect("send")
        })
        .collect();
    let closed = producer.close(Duration::from_millis(200));
    assert!(
        matches!(closed, Err(ProducerError::FlushTimeout { .. })),
        "{closed:?}"
    );
    for future in futures {
        let error = future
            .wait_timeout(Duration::from_secs(1))
            .expect("resolved by close")
            .expect_err("aborted");
        assert_eq!(error.kind(), DeliveryErrorKind::Aborted, "{error}");
    }
    let late = producer
        .send(Record::value(TOPIC, "late"))
        .expect_err("closed");
    assert!(matches!(late, ProducerError::Closed { .. }));
}

#[test]
fn wakeups_make_the_poller_see_a_record_at_once() {
    let poll = Duration::from_millis(400);
    let latency = |wakeups: &str| {
        let cluster = cluster(1, 1);
        let producer = producer(
            &cluster,
            &[
                ("rouse.wakeups", wakeups),
                ("rouse.poll.timeout.ms", "400"),
                ("linger.ms", "0"),
            ],
        );
        send_all(&producer, 1, "warm");
        std::thread::sleep(Duration::from_millis(50));
        let before = producer.stats();
        let started = Instant::now();
        let meta = producer
            .send(Record::value(TOPIC, "v"))
            .expect("send")
            .wait()
            .expect("delivered");
        let took = started.elapsed();
        let woke = producer.stats().wakes_requested - before.wakes_requested;
        assert_eq!(
            woke > 0,
            wakeups == "true",
            "send wakes the poller only with wakeups on"
        );
        (took, meta.poll_duration.expect("set by the poller"))
    };
    let (without, slept_without) = latency("false");
    let (with, slept_with) = latency("true");
    assert!(
        without >= poll / 2,
        "without wakeups the record waited for the poll: {without:?}"
    );
    assert!(
        slept_without >= poll * 3 / 4,
        "the poller slept its whole timeout: {slept_without:?}"
    );
    assert!(with < poll / 3, "a wake got it sent at once: {with:?}");
    assert!(slept_with < poll, "{slept_with:?}");
}

#[test]
fn pipelined_batches_stay_in_order_through_errors_and_dropped_connections() {
    let cluster = cluster(1, 1);
    // Small batches so up to five are in flight per partition at once.
    let producer = producer(&cluster, &[("batch.size", "512"), ("linger.ms", "1")]);
    let mut acked = send_all(&producer, 100, "warm");
    cluster
        .handle()
        .fail_next(ApiKey::Produce, None, ResponseError::RequestTimedOut, 2);
    cluster.handle().drop_connection_after(None, 7);
    acked.extend(send_all(&producer, 1500, "pipelined"));
    cluster
        .handle()
        .fail_next(ApiKey::Produce, None, ResponseError::NotLeaderOrFollower, 1);
    acked.extend(send_all(&producer, 400, "after"));
    assert_stored_exactly_once(&cluster, &acked, 1);
    assert!(producer.stats().retries > 0, "the faults forced retries");
}

#[test]
fn every_compression_type_is_stored_and_read_back_intact() {
    for compression in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let cluster = cluster(1, 1);
        let producer = producer(
            &cluster,
            &[("compression.type", compression), ("linger.ms", "5")],
        );
        let acked = send_all(&producer, 200, compression);
        assert_stored_exactly_once(&cluster, &acked, 1);
    }
}

//! What the producer's mock-cluster tests share: a cluster with one topic,
//! a producer with short timeouts, and a bounded send-and-wait.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

pub(crate) mod consume;
pub(crate) mod group;
pub(crate) mod load;
pub(crate) mod tansu;
pub(crate) mod tls;

use std::collections::HashMap;
use std::time::Duration;

use rouse_kafka::{DeliveryFuture, Producer, ProducerConfig, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

pub(crate) const TOPIC: &str = "events";

pub(crate) fn cluster(brokers: usize, partitions: i32) -> MockCluster {
    let cluster = MockCluster::start(ClusterConfig::new(brokers)).expect("mock starts");
    cluster.create_topic(TOPIC, partitions).expect("topic");
    cluster
}

pub(crate) fn producer(cluster: &MockCluster, extra: &[(&str, &str)]) -> Producer {
    let bootstrap = cluster.bootstrap_servers();
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "mock-test"),
        ("request.timeout.ms", "2000"),
        ("retry.backoff.ms", "20"),
        ("retry.backoff.max.ms", "100"),
        ("max.block.ms", "5000"),
    ];
    pairs.extend_from_slice(extra);
    Producer::new(ProducerConfig::from_pairs(pairs).expect("valid config")).expect("starts")
}

/// Sends `n` keyed records, waits for every outcome (bounded), returns the
/// acknowledged (partition, offset, value) in send order.
pub(crate) fn send_all(producer: &Producer, n: usize, tag: &str) -> Vec<(i32, i64, String)> {
    let futures: Vec<_> = (0..n)
        .map(|i| {
            let value = format!("{tag}-{i}");
            let record = Record::key_value(TOPIC, format!("key-{}", i % 17), value.clone());
            (value, producer.send(record).expect("send accepted"))
        })
        .collect();
    acknowledged(futures, Duration::from_secs(30))
}

/// The mock holds each acknowledged record once, at its offset, in send
/// order per partition.
pub(crate) fn assert_stored_exactly_once(
    cluster: &MockCluster,
    acked: &[(i32, i64, String)],
    partitions: i32,
) {
    let mut stored: HashMap<(i32, i64), String> = HashMap::new();
    let mut total = 0;
    for p in 0..partitions {
        for r in cluster.handle().records(TOPIC, p).expect("partition") {
            let value = String::from_utf8(r.value.expect("value").to_vec()).expect("utf8");
            stored.insert((p, r.offset), value);
            total += 1;
        }
    }
    assert_eq!(total, acked.len(), "each record stored once, none twice");
    let mut last: HashMap<i32, i64> = HashMap::new();
    for (p, offset, value) in acked {
        assert_eq!(
            stored.get(&(*p, *offset)),
            Some(value),
            "stored where acknowledged"
        );
        let previous = last.insert(*p, *offset);
        assert!(
            previous.map_or(true, |prev| prev < *offset),
            "send order kept in partition {p}"
        );
    }
}

/// Waits up to `within` for each record's outcome; every one must be an
/// acknowledgement. Returns (partition, offset, value) in send order.
pub(crate) fn acknowledged(
    futures: Vec<(String, DeliveryFuture)>,
    within: Duration,
) -> Vec<(i32, i64, String)> {
    futures
        .into_iter()
        .map(|(value, future)| {
            let meta = future
                .wait_timeout(within)
                .unwrap_or_else(|| panic!("{value}: no outcome within {within:?}"))
                .unwrap_or_else(|e| panic!("{value} failed: {e}"));
            (meta.partition, meta.offset, value)
        })
        .collect()
}

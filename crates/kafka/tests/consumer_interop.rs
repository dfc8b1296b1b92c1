//! 100k records over 6 partitions, a quarter with each of gzip, snappy, lz4
//! and zstd, produced by rouse's producer and by kafka-python (an
//! independent client and batch encoder), consumed by rouse's `Consumer`
//! exactly once and in order per partition: lost, duplicated, reordered and
//! wrong all 0. Against the embedded mock cluster (3 brokers) and against
//! tansu, a real Kafka-compatible broker.
//!
//! The mock run with rouse's producer runs in a plain `cargo test`; the
//! others need ROUSE_PYTHON (kafka-python with its codec libraries) and
//! ROUSE_TANSU, which `cargo xtask ci` sets, and are ignored otherwise.
//! Run with `--nocapture` to see the figures.

// The figures each run prints are the point of `--nocapture`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use rouse_kafka_mock::{ClusterConfig, MockCluster};

mod common;

use common::consume::{
    consumer, drain, partitions, produce_python, produce_rouse, Produced, Tally, CODECS,
};
use common::tansu::{free_port, start_on};

const TOPIC: &str = "interop";
const PARTITIONS: i32 = 6;
/// 100k records in all.
const PER_CODEC: usize = 25_000;

/// One consumer reads every partition from the start until it has as many
/// records as were produced (bounded), then polls once more to catch any
/// record handed out twice; every record must have come once, in order.
fn consume_everything(bootstrap: &str, produced: &Produced, what: &str) {
    let total: usize = produced.values().map(Vec::len).sum();
    assert_eq!(total, PER_CODEC * CODECS.len(), "{what}: all produced");
    let consumer = consumer(bootstrap, &[]);
    consumer
        .assign(partitions(TOPIC, PARTITIONS))
        .expect("assign");
    let started = Instant::now();
    let mut got = drain(&consumer, total, Duration::from_secs(90));
    let took = started.elapsed();
    got.extend(consumer.poll(Duration::from_millis(300)).expect("poll"));
    let tally = Tally::new(produced, &got);
    let stats = consumer.stats();
    println!(
        "{what}: {tally}; consumed in {} ms ({} fetches)",
        took.as_millis(),
        stats.fetch_requests
    );
    tally.assert_clean(what);
    assert_eq!(stats.records_fetched as usize, total, "{what}: {stats:?}");
    consumer.close(Duration::from_secs(5)).expect("close");
}

fn mock() -> MockCluster {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("mock starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    cluster
}

#[test]
fn mock_records_from_rouses_producer_with_every_codec_once_in_order() {
    let cluster = mock();
    let bootstrap = cluster.bootstrap_servers();
    let produced = produce_rouse(&bootstrap, TOPIC, PARTITIONS, PER_CODEC, "rouse");
    consume_everything(&bootstrap, &produced, "mock, rouse's producer");
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn mock_records_from_kafka_python_with_every_codec_once_in_order() {
    let cluster = mock();
    let bootstrap = cluster.bootstrap_servers();
    let produced = produce_python(&bootstrap, TOPIC, PARTITIONS, PER_CODEC, "py");
    consume_everything(&bootstrap, &produced, "mock, kafka-python");
}

#[test]
#[ignore = "needs ROUSE_TANSU; cargo xtask ci sets it"]
fn tansu_records_from_rouses_producer_with_every_codec_once_in_order() {
    let port = free_port().expect("a free port");
    let tansu = start_on(port, port, &[(TOPIC, PARTITIONS as u32)]);
    let produced = produce_rouse(&tansu.bootstrap(), TOPIC, PARTITIONS, PER_CODEC, "rouse");
    consume_everything(&tansu.bootstrap(), &produced, "tansu, rouse's producer");
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn tansu_records_from_kafka_python_with_every_codec_once_in_order() {
    let port = free_port().expect("a free port");
    let tansu = start_on(port, port, &[(TOPIC, PARTITIONS as u32)]);
    let produced = produce_python(&tansu.bootstrap(), TOPIC, PARTITIONS, PER_CODEC, "py");
    consume_everything(&tansu.bootstrap(), &produced, "tansu, kafka-python");
}

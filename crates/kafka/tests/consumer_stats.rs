//! `Consumer::stats` per partition, against the embedded mock and against
//! tansu (ignored unless ROUSE_TANSU is set, as `cargo xtask ci` does):
//! while records are only partly polled, each partition's position is the
//! next offset `poll` hands out, its high watermark the log end, its lag
//! their difference with the buffered records still counted in it; once
//! everything is polled, every lag and buffer is 0. Every wait is bounded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rouse_kafka::{
    Consumer, ConsumerConfig, ConsumerStats, Producer, ProducerConfig, Record, TopicPartition,
};

mod common;

use common::tansu::{free_port, start_on};

const RECORDS: usize = 600;
const PARTITIONS: i32 = 3;

/// Sends `RECORDS` keyed records; the log end of each partition it wrote.
fn produce(bootstrap: &str, topic: &str) -> BTreeMap<i32, i64> {
    let producer = Producer::new(
        ProducerConfig::from_pairs([
            ("bootstrap.servers", bootstrap),
            ("linger.ms", "2"),
            ("max.block.ms", "20000"),
        ])
        .expect("config"),
    )
    .expect("producer");
    let futures: Vec<_> = (0..RECORDS)
        .map(|i| {
            let record = Record::key_value(topic, format!("k{}", i % 11), format!("value-{i:04}"));
            producer.send(record).expect("send")
        })
        .collect();
    let mut ends = BTreeMap::new();
    for future in futures {
        let meta = future
            .wait_timeout(Duration::from_secs(30))
            .expect("an outcome within 30 s")
            .expect("delivered");
        let end = ends.entry(meta.partition).or_insert(0);
        *end = (*end).max(meta.offset + 1);
    }
    ends
}

/// Every partition's figures agree with what this test polled.
fn check(stats: &ConsumerStats, ends: &BTreeMap<i32, i64>, polled: &BTreeMap<i32, i64>) {
    assert_eq!(stats.partitions.len(), PARTITIONS as usize, "{stats:?}");
    for p in &stats.partitions {
        let id = p.partition.partition;
        let handed_out = polled.get(&id).copied().unwrap_or(0);
        let Some(position) = p.position else {
            // Not reset yet: nothing polled, nothing known.
            assert_eq!(handed_out, 0, "{p:?}");
            assert!(p.lag.is_none() && p.buffered_records == 0, "{p:?}");
            continue;
        };
        assert_eq!(
            position, handed_out,
            "{p:?}: the next offset poll hands out"
        );
        let Some(hw) = p.high_watermark else {
            assert!(p.lag.is_none() && p.buffered_records == 0, "{p:?}");
            continue;
        };
        assert_eq!(
            hw,
            ends.get(&id).copied().unwrap_or(0),
            "{p:?}: the log end"
        );
        assert_eq!(p.lag, Some(hw - handed_out), "{p:?}: hw - position");
        assert!(p.buffered_records as i64 <= hw - handed_out, "{p:?}");
        assert_eq!(p.buffered_bytes == 0, p.buffered_records == 0, "{p:?}");
    }
    let buffered: usize = stats.partitions.iter().map(|p| p.buffered_records).sum();
    assert_eq!(stats.buffered_records, buffered, "{stats:?}");
    let lag: i64 = stats.partitions.iter().filter_map(|p| p.lag).sum();
    assert_eq!(stats.total_lag(), lag);
}

fn lag_and_buffers_follow_the_polls(bootstrap: &str, topic: &str) {
    let ends = produce(bootstrap, topic);
    let consumer = Consumer::new(
        ConsumerConfig::from_pairs([
            ("bootstrap.servers", bootstrap),
            ("auto.offset.reset", "earliest"),
            ("max.poll.records", "25"),
            ("fetch.max.wait.ms", "100"),
            // A small buffer keeps records on the broker while polled ones
            // sit in memory, so lag, buffer and position all differ.
            ("queued.max.messages.kbytes", "1"),
        ])
        .expect("config"),
    )
    .expect("consumer");
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .expect("assign");
    let mut polled: BTreeMap<i32, i64> = BTreeMap::new();
    let mut total = 0;
    let mut saw_buffered = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while total < RECORDS && Instant::now() < deadline {
        for record in consumer.poll(Duration::from_millis(200)).expect("poll") {
            let next = polled.entry(record.partition).or_insert(0);
            assert_eq!(record.offset, *next, "in order, no gap");
            *next += 1;
            total += 1;
        }
        let stats = consumer.stats();
        saw_buffered |= stats.buffered_records > 0;
        assert_eq!(
            stats.records_fetched,
            total as u64 + stats.buffered_records as u64,
            "every record fetched is buffered or was polled: {stats:?}"
        );
        check(&stats, &ends, &polled);
    }
    assert_eq!(total, RECORDS, "every record within 30 s");
    assert!(saw_buffered, "some poll left records buffered");
    let stats = consumer.stats();
    check(&stats, &ends, &polled);
    for p in &stats.partitions {
        assert_eq!((p.lag, p.buffered_records), (Some(0), 0), "{p:?}");
    }
    assert_eq!(stats.records_fetched, RECORDS as u64, "{stats:?}");
    consumer.close(Duration::from_secs(5)).expect("close");
}

#[test]
fn against_the_mock_each_partition_reports_position_high_watermark_lag_and_buffer() {
    let cluster = common::cluster(2, PARTITIONS);
    lag_and_buffers_follow_the_polls(&cluster.bootstrap_servers(), common::TOPIC);
}

#[test]
#[ignore = "needs tansu: set ROUSE_TANSU (cargo xtask ci does)"]
fn against_tansu_each_partition_reports_position_high_watermark_lag_and_buffer() {
    let topic = "rouse-consumer-stats";
    let port = free_port().expect("a free port");
    let tansu = start_on(port, port, &[(topic, PARTITIONS as u32)]);
    lag_and_buffers_follow_the_polls(&tansu.bootstrap(), topic);
}

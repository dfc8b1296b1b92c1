//! The consumer core driven the way its poller will drive it
//! (`test_driver`), against the mock cluster in process
//! (`ClusterHandle::handle`, no sockets). Batches are written by the
//! producer's own encoder with every codec.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rouse_kafka_mock::{ClusterConfig, ClusterHandle, Outcome};

use super::error::PartitionError;
use super::group::GroupVerdict;
use super::positions::ResetTo;
use super::test_driver::{by_partition, call, Driver, Transport};
use crate::config::{Compression, ConsumerConfig};
use crate::record::{Record, TopicPartition};

const TOPIC: &str = "c";
const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// The mock's dispatcher as a transport, as the poller's connection would
/// reach it. Nothing else runs meanwhile, so a parked fetch is answered
/// (with what there is) once its wait is over.
pub(super) fn transport(cluster: &ClusterHandle) -> Transport {
    let cluster = cluster.clone();
    Box::new(move |broker, frame| {
        let mut outcome = cluster.handle(broker, frame);
        if let Outcome::Deferred(parked) = &outcome {
            if let Some(deadline) = parked.fetch_deadline() {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                outcome = cluster.resume(parked).expect("answered at its deadline");
            }
        }
        match outcome {
            Outcome::Respond { bytes, .. } => bytes.slice(4..),
            other => panic!("no response from broker {broker}: {other:?}"),
        }
    })
}

/// A cluster of `brokers` for the in-process driver: an empty fetch
/// waits 1 ms, since no record can arrive while the driver waits.
fn in_process(brokers: usize) -> ClusterConfig {
    ClusterConfig::new(brokers).with_fetch_wait_cap(std::time::Duration::from_millis(1))
}

fn start(cluster: &ClusterHandle, config: ConsumerConfig) -> Driver {
    Driver::new(transport(cluster), 1, TOPIC, config)
}

/// Produces `values` to `partition` in one batch with `codec`.
fn produce(cluster: &ClusterHandle, partition: i32, values: &[String], codec: Compression) {
    let records: Vec<Record> = values
        .iter()
        .map(|v| Record::key_value(TOPIC, format!("k-{v}"), v.clone()).with_header("h", "x"))
        .collect();
    let batch = crate::consumer::test_batches::produced(&records, codec);
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch))])]);
    let leader = cluster.leaders(TOPIC).unwrap()[partition as usize];
    let response = call(&mut transport(cluster), leader, 9, &request);
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
}

fn config(extra: &[(&str, &str)]) -> ConsumerConfig {
    let base = [
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("auto.offset.reset", "earliest"),
        ("max.poll.records", "7"),
        // Small: a fetch carries a batch or two, so positions move often.
        ("max.partition.fetch.bytes", "300"),
    ];
    ConsumerConfig::from_pairs(base.iter().chain(extra).copied()).unwrap()
}

/// What was produced: per partition, `(offset, value)` in order.
fn fill(
    cluster: &ClusterHandle,
    partitions: i32,
    batches: usize,
) -> BTreeMap<i32, Vec<(i64, String)>> {
    let mut sent: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for b in 0..batches {
        for p in 0..partitions {
            let values: Vec<String> = (0..5).map(|i| format!("p{p}-b{b}-r{i}")).collect();
            produce(cluster, p, &values, CODECS[(b + p as usize) % CODECS.len()]);
            let log = sent.entry(p).or_default();
            for v in values {
                log.push((log.len() as i64, v));
            }
        }
    }
    sent
}

#[test]
fn every_record_every_codec_exactly_once_in_order_through_partial_fetches() {
    let cluster = ClusterHandle::new(in_process(3)).unwrap();
    cluster.create_topic(TOPIC, 6).unwrap();
    let sent = fill(&cluster, 6, 10);
    let mut driver = start(&cluster, config(&[]));
    let got = driver.consume(300, 200);
    assert_eq!(got.len(), 300);
    assert_eq!(
        by_partition(&got),
        sent,
        "exactly once, in order per partition"
    );
    assert!(got
        .iter()
        .all(|r| r.leader_epoch == Some(0) && r.headers.len() == 1));
    for p in 0..6 {
        let tp = TopicPartition::new(TOPIC, p);
        assert_eq!(driver.positions.position(&tp), Ok(Some(50)));
        assert_eq!(driver.positions.lag(&tp), Some(0));
    }
    assert_eq!(driver.turn(), Ok(vec![]), "nothing more");
}

#[test]
fn a_moved_leader_is_followed_from_the_right_offset() {
    let cluster = ClusterHandle::new(in_process(2)).unwrap();
    cluster.create_topic(TOPIC, 2).unwrap();
    let sent = fill(&cluster, 2, 6);
    let mut driver = start(&cluster, config(&[]));
    let mut got = driver.consume(20, 200);
    for p in 0..2 {
        let now = cluster.leaders(TOPIC).unwrap()[p as usize];
        cluster.move_leader(TOPIC, p, 3 - now).unwrap();
    }
    got.extend(driver.consume(60 - got.len(), 200));
    assert_eq!(by_partition(&got), sent, "no record skipped or repeated");
    assert!(
        driver.metadata_refreshes >= 2,
        "NOT_LEADER / FENCED_LEADER_EPOCH followed"
    );
    assert!(got.iter().any(|r| r.leader_epoch == Some(0)));
    // Records produced after the move carry the new epoch.
    produce(&cluster, 0, &["after".to_owned()], Compression::None);
    let after = driver.consume(1, 200);
    assert_eq!((after[0].offset, after[0].leader_epoch), (30, Some(1)));
}

#[test]
fn out_of_range_resets_by_policy_or_stops_the_partition() {
    let cluster = ClusterHandle::new(in_process(1)).unwrap();
    cluster.create_topic(TOPIC, 1).unwrap();
    fill(&cluster, 1, 2);
    let tp = TopicPartition::new(TOPIC, 0);

    let mut driver = start(&cluster, config(&[]));
    driver.positions.seek(&tp, 500).unwrap();
    let got = driver.consume(10, 200);
    assert_eq!(got.first().map(|r| r.offset), Some(0), "reset to earliest");
    assert_eq!(got.len(), 10);

    let mut strict = start(&cluster, config(&[("auto.offset.reset", "none")]));
    strict.positions.seek(&tp, 500).unwrap();
    let err = (0..5).find_map(|_| strict.turn().err()).expect("an error");
    assert_eq!(
        err,
        PartitionError::OffsetOutOfRange {
            partition: tp.clone(),
            offset: 500
        }
    );
    assert!(err.to_string().contains("c-0"));

    let mut latest = start(&cluster, config(&[]));
    latest.positions.seek_to(&tp, ResetTo::Latest).unwrap();
    assert_eq!(latest.turn(), Ok(vec![]));
    assert_eq!(
        latest.positions.position(&tp),
        Ok(Some(10)),
        "the high watermark"
    );
}

#[test]
fn fetched_values_share_the_response_buffer() {
    let cluster = ClusterHandle::new(in_process(1)).unwrap();
    cluster.create_topic(TOPIC, 1).unwrap();
    let values: Vec<String> = (0..3).map(|i| format!("value-{i}")).collect();
    produce(&cluster, 0, &values, Compression::None);
    let mut driver = start(&cluster, config(&[("max.partition.fetch.bytes", "65536")]));
    let got = driver.consume(3, 200);
    let values: Vec<&Bytes> = got.iter().map(|r| r.value.as_ref().unwrap()).collect();
    // Slices of one buffer lie close together; copies would not be
    // contiguous with the keys between them.
    let span = values[2].as_ptr() as usize - values[0].as_ptr() as usize;
    assert!(
        span < 200,
        "values are slices of the fetched batch ({span} bytes apart)"
    );
}

#[test]
fn committed_positions_are_where_the_group_resumes_after_not_coordinator() {
    let cluster = ClusterHandle::new(in_process(3)).unwrap();
    cluster.create_topic(TOPIC, 3).unwrap();
    let sent = fill(&cluster, 3, 4);
    let group = [("group.id", "resumers"), ("max.poll.records", "5")];
    let mut first = start(&cluster, config(&group));
    let mut got = first.consume(25, 200);
    assert!(first.commit().iter().all(|v| *v == GroupVerdict::Done(())));
    for p in 0..3 {
        let tp = TopicPartition::new(TOPIC, p);
        let position = first.positions.position(&tp).unwrap();
        assert_eq!(cluster.committed("resumers", TOPIC, p), position, "{tp}");
    }

    // A consumer of the same group is told NOT_COORDINATOR once, finds the
    // coordinator again, and resumes exactly where the first left off.
    cluster.fail_next(ApiKey::OffsetFetch, None, ResponseError::NotCoordinator, 1);
    let mut second = start(&cluster, config(&group));
    got.extend(second.consume(60 - got.len(), 200));
    assert_eq!(
        by_partition(&got),
        sent,
        "no gap and no repeat across the commit"
    );
    assert_eq!(
        second.coordinator_lookups, 2,
        "found, told it moved, found again"
    );
}

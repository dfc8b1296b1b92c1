//! The consumer core driven the way its poller will drive it, against the
//! mock cluster in process (`ClusterHandle::handle`, no sockets): Metadata
//! for leaders and epochs, ListOffsets for resets, Fetch, the verdicts
//! applied to `Positions`, `drain` as `poll`. Batches are written by the
//! producer's own encoder with every codec.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, MetadataRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::{Request, StrBytes};
use rouse_kafka_mock::{ClusterConfig, ClusterHandle, Outcome};

use super::error::PartitionError;
use super::fetch::{fetch_verdicts, plan_fetches, Leader};
use super::list_offsets::{list_offsets_verdicts, plan_list_offsets};
use super::positions::{FollowUp, Positions, ResetTo};
use super::record::ConsumerRecord;
use crate::client::wire;
use crate::config::{Compression, ConsumerConfig};
use crate::record::{BrokerId, Record, TopicPartition};

const TOPIC: &str = "c";
const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// One request through the mock's dispatcher, as the poller's connection
/// would send it.
fn call<R: Request>(cluster: &ClusterHandle, broker: i32, version: i16, body: &R) -> R::Response
where
    R::Response: kafka_protocol::protocol::Decodable + kafka_protocol::protocol::HeaderVersion,
{
    let frame = wire::request(version, 1, "mock-test", body).expect("encodes");
    match cluster.handle(broker, frame.slice(4..)) {
        Outcome::Respond { bytes, .. } => {
            let api = ApiKey::try_from(R::KEY).expect("known api");
            wire::response(api, version, bytes.slice(4..)).expect("decodes")
        }
        other => panic!("no response from broker {broker}: {other:?}"),
    }
}

/// Leaders and epochs from a Metadata v12 answer.
fn leaders(cluster: &ClusterHandle) -> HashMap<TopicPartition, Leader> {
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_static_str(TOPIC))))]));
    let response = call(cluster, 1, 12, &request);
    response.topics[0]
        .partitions
        .iter()
        .map(|p| {
            let leader = Leader {
                broker: BrokerId(p.leader_id.0),
                epoch: Some(p.leader_epoch),
            };
            (TopicPartition::new(TOPIC, p.partition_index), leader)
        })
        .collect()
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
    let response = call(cluster, leader, 9, &request);
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
}

/// One turn of the poller to come: resets, fetches, verdicts; then what
/// `poll` would return. Follow-ups are counted.
struct Driver {
    cluster: ClusterHandle,
    config: ConsumerConfig,
    positions: Positions,
    leaders: HashMap<TopicPartition, Leader>,
    metadata_refreshes: usize,
}

impl Driver {
    fn new(cluster: ClusterHandle, config: ConsumerConfig, partitions: i32) -> Driver {
        let mut positions = Positions::new(&config);
        positions.assign((0..partitions).map(|p| TopicPartition::new(TOPIC, p)));
        let leaders = leaders(&cluster);
        Driver {
            cluster,
            config,
            positions,
            leaders,
            metadata_refreshes: 0,
        }
    }

    fn follow(&mut self, follow: FollowUp) {
        if follow == FollowUp::RefreshMetadata {
            self.metadata_refreshes += 1;
            self.leaders = leaders(&self.cluster);
        }
    }

    fn turn(&mut self) -> Result<Vec<ConsumerRecord>, PartitionError> {
        let iso = self.config.isolation_level();
        let plan = plan_list_offsets(&mut self.positions, &self.leaders, iso, |_| 7);
        for planned in plan.requests {
            let response = call(&self.cluster, planned.broker.0, 7, &planned.request);
            let verdicts = list_offsets_verdicts(&response, &planned.sent);
            for (reset, verdict) in planned.sent.iter().zip(verdicts) {
                let follow =
                    self.positions
                        .apply_reset(&reset.partition, reset.generation, verdict);
                self.follow(follow);
            }
        }
        let plan = plan_fetches(&mut self.positions, &self.leaders, &self.config, |_| 12);
        for planned in plan.fetches {
            let response = call(&self.cluster, planned.broker.0, 12, &planned.request);
            let verdicts = fetch_verdicts(response, &planned.sent, &self.config);
            for (fetched, verdict) in planned.sent.iter().zip(verdicts) {
                let follow = self.positions.apply_fetch(fetched, verdict);
                self.follow(follow);
            }
        }
        self.positions.drain()
    }

    /// Turns until `want` records came (or 200 turns passed).
    fn consume(&mut self, want: usize) -> Vec<ConsumerRecord> {
        let mut got = Vec::new();
        for _ in 0..200 {
            if got.len() >= want {
                break;
            }
            got.extend(self.turn().expect("no partition error"));
        }
        got
    }
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

fn by_partition(records: &[ConsumerRecord]) -> BTreeMap<i32, Vec<(i64, String)>> {
    let mut out: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for r in records {
        let value = String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap();
        out.entry(r.partition).or_default().push((r.offset, value));
    }
    out
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
    let cluster = ClusterHandle::new(ClusterConfig::new(3)).unwrap();
    cluster.create_topic(TOPIC, 6).unwrap();
    let sent = fill(&cluster, 6, 10);
    let mut driver = Driver::new(cluster, config(&[]), 6);
    let got = driver.consume(300);
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
    let cluster = ClusterHandle::new(ClusterConfig::new(2)).unwrap();
    cluster.create_topic(TOPIC, 2).unwrap();
    let sent = fill(&cluster, 2, 6);
    let mut driver = Driver::new(cluster.clone(), config(&[]), 2);
    let mut got = driver.consume(20);
    for p in 0..2 {
        let now = cluster.leaders(TOPIC).unwrap()[p as usize];
        cluster.move_leader(TOPIC, p, 3 - now).unwrap();
    }
    got.extend(driver.consume(60 - got.len()));
    assert_eq!(by_partition(&got), sent, "no record skipped or repeated");
    assert!(
        driver.metadata_refreshes >= 2,
        "NOT_LEADER / FENCED_LEADER_EPOCH followed"
    );
    assert!(got.iter().any(|r| r.leader_epoch == Some(0)));
    // Records produced after the move carry the new epoch.
    produce(&cluster, 0, &["after".to_owned()], Compression::None);
    let after = driver.consume(1);
    assert_eq!((after[0].offset, after[0].leader_epoch), (30, Some(1)));
}

#[test]
fn out_of_range_resets_by_policy_or_stops_the_partition() {
    let cluster = ClusterHandle::new(ClusterConfig::new(1)).unwrap();
    cluster.create_topic(TOPIC, 1).unwrap();
    fill(&cluster, 1, 2);
    let tp = TopicPartition::new(TOPIC, 0);

    let mut driver = Driver::new(cluster.clone(), config(&[]), 1);
    driver.positions.seek(&tp, 500).unwrap();
    let got = driver.consume(10);
    assert_eq!(got.first().map(|r| r.offset), Some(0), "reset to earliest");
    assert_eq!(got.len(), 10);

    let mut strict = Driver::new(cluster.clone(), config(&[("auto.offset.reset", "none")]), 1);
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

    let mut latest = Driver::new(cluster, config(&[]), 1);
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
    let cluster = ClusterHandle::new(ClusterConfig::new(1)).unwrap();
    cluster.create_topic(TOPIC, 1).unwrap();
    let values: Vec<String> = (0..3).map(|i| format!("value-{i}")).collect();
    produce(&cluster, 0, &values, Compression::None);
    let mut driver = Driver::new(
        cluster,
        config(&[("max.partition.fetch.bytes", "65536")]),
        1,
    );
    let got = driver.consume(3);
    let values: Vec<&Bytes> = got.iter().map(|r| r.value.as_ref().unwrap()).collect();
    // Slices of one buffer lie close together; copies would not be
    // contiguous with the keys between them.
    let span = values[2].as_ptr() as usize - values[0].as_ptr() as usize;
    assert!(
        span < 200,
        "values are slices of the fetched batch ({span} bytes apart)"
    );
}

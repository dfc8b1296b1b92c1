//! Fetch requests from the partitions' state, and every verdict.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::ProducerId;
use kafka_protocol::protocol::Encodable;

use super::*;
use crate::config::Compression;
use crate::consumer::positions::Position;
use crate::consumer::test_batches::{at, concat, marker, produced, records, txn};

fn config(extra: &[(&str, &str)]) -> ConsumerConfig {
    let base = [
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("fetch.max.wait.ms", "250"),
        ("fetch.min.bytes", "7"),
        ("fetch.max.bytes", "9000"),
        ("max.partition.fetch.bytes", "3000"),
    ];
    ConsumerConfig::from_pairs(base.iter().chain(extra).copied()).unwrap()
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn leader(broker: i32, epoch: i32) -> Leader {
    Leader {
        broker: BrokerId(broker),
        epoch: Some(epoch),
    }
}

/// Positions over `partitions`, each sought to offset 10 * partition.
fn positioned(config: &ConsumerConfig, partitions: &[TopicPartition]) -> Positions {
    let mut positions = Positions::new(config);
    positions.assign(partitions.iter().cloned());
    for p in partitions {
        positions.seek(p, 10 * i64::from(p.partition)).unwrap();
    }
    positions
}

#[test]
fn one_request_per_leader_with_the_configured_limits() {
    let config = config(&[("isolation.level", "read_committed")]);
    let parts = [tp("a", 0), tp("a", 1), tp("b", 0), tp("c", 0)];
    let mut positions = positioned(&config, &parts);
    let leaders: HashMap<_, _> = [
        (tp("a", 0), leader(1, 5)),
        (tp("a", 1), leader(2, 6)),
        (tp("b", 0), leader(1, 7)),
    ]
    .into_iter()
    .collect();
    let plan = plan_fetches(&mut positions, &leaders, &config, |_| 12);
    assert_eq!(plan.without_leader, [tp("c", 0)]);
    assert_eq!(plan.fetches.len(), 2);
    let first = &plan.fetches[0];
    assert_eq!(first.broker, BrokerId(1));
    let r = &first.request;
    assert_eq!((r.max_wait_ms, r.min_bytes, r.max_bytes), (250, 7, 9000));
    assert_eq!(
        (r.isolation_level, r.session_id, r.session_epoch),
        (1, 0, -1)
    );
    let names: Vec<&str> = r.topics.iter().map(|t| &*t.topic.0).collect();
    assert_eq!(names, ["a", "b"]);
    let a0 = &r.topics[0].partitions[0];
    assert_eq!((a0.partition, a0.fetch_offset), (0, 0));
    assert_eq!((a0.partition_max_bytes, a0.current_leader_epoch), (3000, 5));
    assert_eq!(
        plan.fetches[1].request.topics[0].partitions[0].fetch_offset,
        10
    );
    let sent: Vec<_> = first.sent.iter().map(|f| f.partition.clone()).collect();
    assert_eq!(sent, [tp("a", 0), tp("b", 0)]);
    // In flight now: a second plan fetches only the leaderless partition's
    // absence again.
    let again = plan_fetches(&mut positions, &leaders, &config, |_| 12);
    assert!(again.fetches.is_empty());
    assert_eq!(again.without_leader, [tp("c", 0)]);
}

#[test]
fn the_request_encodes_at_every_negotiable_version() {
    let config = config(&[]);
    for version in 4..=12 {
        let mut positions = positioned(&config, &[tp("a", 0)]);
        let leaders: HashMap<_, _> = [(tp("a", 0), leader(1, 3))].into_iter().collect();
        let plan = plan_fetches(&mut positions, &leaders, &config, |_| version);
        let request = &plan.fetches[0].request;
        let expected_epoch = if version >= 9 { 3 } else { -1 };
        assert_eq!(
            request.topics[0].partitions[0].current_leader_epoch,
            expected_epoch
        );
        let mut buf = BytesMut::new();
        request
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("v{version}: {e:#}"));
    }
}

#[test]
fn paused_and_full_partitions_are_not_fetched() {
    let config = config(&[("queued.max.messages.kbytes", "1")]);
    let parts = [tp("a", 0), tp("a", 1)];
    let mut positions = positioned(&config, &parts);
    positions.set_paused(&tp("a", 0), true).unwrap();
    let leaders: HashMap<_, _> = parts.iter().map(|p| (p.clone(), leader(1, 0))).collect();
    let plan = plan_fetches(&mut positions, &leaders, &config, |_| 12);
    assert_eq!(partitions_of(&plan.fetches[0]), [tp("a", 1)]);
    // Fill a-1's buffer past 1 KiB; it is not fetched until drained.
    let big = over_a_kib();
    let response = response_with("a", 1, |p| {
        p.with_high_watermark(11).with_records(Some(at(10, &big)))
    });
    let verdicts = fetch_verdicts(response, &plan.fetches[0].sent, &config);
    for (f, v) in plan.fetches[0].sent.iter().zip(verdicts) {
        positions.apply_fetch(f, v);
    }
    assert!(plan_fetches(&mut positions, &leaders, &config, |_| 12)
        .fetches
        .is_empty());
    assert_eq!(positions.drain().unwrap().len(), 1);
    assert_eq!(
        plan_fetches(&mut positions, &leaders, &config, |_| 12)
            .fetches
            .len(),
        1
    );
}

/// The partitions `fetch` asked for, in order.
fn partitions_of(fetch: &PlannedFetch) -> Vec<TopicPartition> {
    fetch.sent.iter().map(|f| f.partition.clone()).collect()
}

/// One batch of one 2000-byte record: past a 1 KiB prefetch bound.
fn over_a_kib() -> Bytes {
    produced(
        &[crate::record::Record::value("a", vec![0u8; 2000])],
        Compression::None,
    )
}

/// Applies `response` to what `fetch` asked for.
fn apply(
    positions: &mut Positions,
    fetch: &PlannedFetch,
    response: FetchResponse,
    c: &ConsumerConfig,
) {
    for (f, v) in fetch
        .sent
        .iter()
        .zip(fetch_verdicts(response, &fetch.sent, c))
    {
        positions.apply_fetch(f, v);
    }
}

/// Two partitions on one leader with a 1 KiB buffer each; the first fetch
/// fills a-0's buffer (one 2000-byte record) and answers a-1 with `a1`.
/// Returns the positions after that answer, the leaders and the config.
fn a0_full_after_first_fetch(
    a1: impl FnOnce(PartitionData) -> PartitionData,
) -> (Positions, HashMap<TopicPartition, Leader>, ConsumerConfig) {
    let config = config(&[("queued.max.messages.kbytes", "1")]);
    let parts = [tp("a", 0), tp("a", 1)];
    let mut positions = positioned(&config, &parts);
    let leaders: HashMap<_, _> = parts.iter().map(|p| (p.clone(), leader(1, 0))).collect();
    let plan = plan_fetches(&mut positions, &leaders, &config, |_| 12);
    assert_eq!(plan.fetches[0].request.max_wait_ms, 250);
    let big = over_a_kib();
    let mut response = response_with("a", 0, |p| {
        p.with_high_watermark(1).with_records(Some(at(0, &big)))
    });
    let second = response_with("a", 1, a1);
    response.responses[0]
        .partitions
        .extend(second.responses[0].partitions.clone());
    apply(&mut positions, &plan.fetches[0], response, &config);
    (positions, leaders, config)
}

#[test]
fn a_full_buffer_keeps_its_leaders_fetch_from_waiting_on_idle_partitions() {
    // a-0 fills its buffer while a-1 has caught up with its log: a waiting
    // fetch of a-1 alone would hold a-0's next fetch for fetch.max.wait.ms
    // behind it on the connection, so none is sent until a-0 drains.
    let (mut positions, leaders, config) = a0_full_after_first_fetch(|p| p.with_high_watermark(10));
    assert!(
        plan_fetches(&mut positions, &leaders, &config, |_| 12)
            .fetches
            .is_empty(),
        "a-1 is caught up and a-0 is about to be drained: wait for it"
    );
    // Records written to a-1 meanwhile are not known to the client; once
    // a-0 drains, both go out in one fetch that may wait.
    assert_eq!(positions.drain().unwrap().len(), 1);
    let plan = plan_fetches(&mut positions, &leaders, &config, |_| 12);
    assert_eq!(plan.fetches.len(), 1);
    assert_eq!(plan.fetches[0].sent.len(), 2);
    assert_eq!(plan.fetches[0].request.max_wait_ms, 250);
}

#[test]
fn a_full_buffer_lets_partitions_with_records_left_be_fetched_without_waiting() {
    let (mut positions, leaders, config) = a0_full_after_first_fetch(|p| {
        p.with_high_watermark(20)
            .with_records(Some(at(10, &produced(&records(1), Compression::None))))
    });
    // a-1 moved on last time: it is fetched, but the fetch must not wait
    // (a-0 will want its turn on the connection as soon as it drains).
    let plan = plan_fetches(&mut positions, &leaders, &config, |_| 12);
    assert_eq!(plan.fetches.len(), 1);
    assert_eq!(partitions_of(&plan.fetches[0]), [tp("a", 1)]);
    assert_eq!(plan.fetches[0].request.max_wait_ms, 0);
}

fn response_with(
    topic: &str,
    partition: i32,
    data: impl FnOnce(PartitionData) -> PartitionData,
) -> FetchResponse {
    let p = data(PartitionData::default().with_partition_index(partition));
    FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_string(topic.into())))
        .with_partitions(vec![p])])
}

fn sent(partition: TopicPartition, offset: i64) -> Vec<Fetchable> {
    vec![Fetchable {
        partition,
        position: Position::at(offset),
        generation: 1,
    }]
}

#[test]
fn records_are_decoded_from_the_fetch_offset_with_the_high_watermark() {
    let data = at(5, &produced(&records(4), Compression::Lz4));
    let response = response_with("t", 0, |p| {
        p.with_high_watermark(42).with_records(Some(data))
    });
    let verdicts = fetch_verdicts(response, &sent(tp("t", 0), 7), &config(&[]));
    let [FetchVerdict::Records {
        decoded,
        high_watermark,
        limit,
    }] = &verdicts[..]
    else {
        panic!("{verdicts:?}");
    };
    assert_eq!((*high_watermark, *limit), (42, 3000));
    let offsets: Vec<i64> = decoded.records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [7, 8]);
    assert_eq!(decoded.next_offset, 9);
}

#[test]
fn read_committed_uses_the_responses_aborted_transactions() {
    let data = concat(&[txn(0, 2, 7), marker(2, 7, 0), txn(3, 1, 8), marker(4, 8, 1)]);
    let aborted = vec![AbortedTransaction::default()
        .with_producer_id(ProducerId(7))
        .with_first_offset(0)];
    let respond = || {
        response_with("t", 0, |p| {
            p.with_high_watermark(5)
                .with_aborted_transactions(Some(aborted.clone()))
                .with_records(Some(data.clone()))
        })
    };
    let offsets = |config: &ConsumerConfig| {
        let verdicts = fetch_verdicts(respond(), &sent(tp("t", 0), 0), config);
        match &verdicts[..] {
            [FetchVerdict::Records { decoded, .. }] => {
                decoded.records.iter().map(|r| r.offset).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        offsets(&config(&[("isolation.level", "read_committed")])),
        [3]
    );
    assert_eq!(offsets(&config(&[])), [0, 1, 3]);
}

#[test]
fn every_error_code_has_its_verdict() {
    let cases = [
        (ResponseError::OffsetOutOfRange, "out of range"),
        (ResponseError::NotLeaderOrFollower, "metadata"),
        (ResponseError::FencedLeaderEpoch, "metadata"),
        (ResponseError::UnknownTopicOrPartition, "metadata"),
        (ResponseError::LeaderNotAvailable, "metadata"),
        (ResponseError::ReplicaNotAvailable, "metadata"),
        (ResponseError::KafkaStorageError, "metadata"),
        (ResponseError::OffsetNotAvailable, "metadata"),
        (ResponseError::UnknownLeaderEpoch, "retry"),
        (ResponseError::RequestTimedOut, "retry"),
        (ResponseError::NotEnoughReplicas, "retry"),
        (ResponseError::TopicAuthorizationFailed, "fatal"),
        (ResponseError::CorruptMessage, "retry"),
        (ResponseError::UnsupportedCompressionType, "fatal"),
    ];
    for (error, want) in cases {
        let response = response_with("t", 0, |p| p.with_error_code(error.code()));
        let verdicts = fetch_verdicts(response, &sent(tp("t", 0), 0), &config(&[]));
        let got = match &verdicts[0] {
            FetchVerdict::OffsetOutOfRange => "out of range",
            FetchVerdict::RefreshMetadata(name) => {
                assert_eq!(name, &error.to_string(), "names the error for the log");
                "metadata"
            }
            FetchVerdict::Retry(_) => "retry",
            FetchVerdict::Fatal(code) => {
                assert_eq!(*code, error.code());
                "fatal"
            }
            FetchVerdict::Records { .. } => "records",
        };
        assert_eq!(got, want, "{error:?}");
    }
    let unknown = response_with("t", 0, |p| p.with_error_code(-2));
    assert!(matches!(
        fetch_verdicts(unknown, &sent(tp("t", 0), 0), &config(&[]))[0],
        FetchVerdict::Fatal(-2)
    ));
}

#[test]
fn a_partition_left_out_or_a_session_error_is_retried() {
    let response = response_with("t", 1, |p| p);
    let verdicts = fetch_verdicts(response, &sent(tp("t", 0), 0), &config(&[]));
    assert!(matches!(&verdicts[0], FetchVerdict::Retry(why) if why.contains("left out t-0")));
    let session =
        FetchResponse::default().with_error_code(ResponseError::FetchSessionIdNotFound.code());
    let verdicts = fetch_verdicts(session, &sent(tp("t", 0), 0), &config(&[]));
    assert!(matches!(&verdicts[0], FetchVerdict::Retry(_)));
}

#[test]
fn config_values_reach_the_request_as_milliseconds() {
    let config = config(&[("fetch.max.wait.ms", "1500")]);
    assert_eq!(config.fetch_max_wait(), Duration::from_millis(1500));
    let mut positions = positioned(&config, &[tp("a", 0)]);
    let leaders: HashMap<_, _> = [(tp("a", 0), leader(1, 0))].into_iter().collect();
    let plan = plan_fetches(&mut positions, &leaders, &config, |_| 4);
    assert_eq!(plan.fetches[0].request.max_wait_ms, 1500);
}

//! ListOffsets requests from pending resets, and every verdict.

use bytes::BytesMut;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::protocol::Encodable;

use super::*;
use crate::config::ConsumerConfig;

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("t", partition)
}

fn resets(n: i32) -> Positions {
    let config = ConsumerConfig::from_pairs([
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("auto.offset.reset", "earliest"),
    ])
    .unwrap();
    let mut positions = Positions::new(&config);
    positions.assign((0..n).map(tp));
    positions
}

fn leaders(entries: &[(i32, i32)]) -> HashMap<TopicPartition, Leader> {
    entries
        .iter()
        .map(|&(p, broker)| {
            let leader = Leader {
                broker: BrokerId(broker),
                epoch: Some(9),
            };
            (tp(p), leader)
        })
        .collect()
}

#[test]
fn resets_are_asked_once_per_leader() {
    let mut positions = resets(3);
    positions.seek_to(&tp(2), ResetTo::Latest).unwrap();
    let plan = plan_list_offsets(
        &mut positions,
        &leaders(&[(0, 1), (2, 1)]),
        IsolationLevel::ReadCommitted,
        |_| 7,
    );
    assert_eq!(plan.requests.len(), 1);
    assert_eq!(plan.requests[0].broker, BrokerId(1));
    let sent: Vec<(TopicPartition, ResetTo)> = plan.requests[0]
        .sent
        .iter()
        .map(|r| (r.partition.clone(), r.to))
        .collect();
    assert_eq!(sent, [(tp(0), ResetTo::Earliest), (tp(2), ResetTo::Latest)]);
    let r = &plan.requests[0].request;
    assert_eq!(r.isolation_level, 1);
    let asked: Vec<(i32, i64, i32)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.timestamp, p.current_leader_epoch))
        .collect();
    assert_eq!(asked, [(0, -2, 9), (2, -1, 9)], "earliest, latest");
    assert_eq!(plan.without_leader.len(), 1);
    assert_eq!(plan.without_leader[0].partition, tp(1));
    // Asked: not again until a verdict puts it back.
    let again = plan_list_offsets(
        &mut positions,
        &leaders(&[(1, 1)]),
        IsolationLevel::ReadCommitted,
        |_| 7,
    );
    assert!(again.requests.is_empty() && again.without_leader.is_empty());
}

#[test]
fn the_request_encodes_at_every_negotiable_version() {
    for version in 1..=7 {
        let mut positions = resets(1);
        let plan = plan_list_offsets(
            &mut positions,
            &leaders(&[(0, 1)]),
            IsolationLevel::ReadCommitted,
            |_| version,
        );
        let mut buf = BytesMut::new();
        plan.requests[0]
            .request
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("v{version}: {e:#}"));
    }
}

fn answer(p: ListOffsetsPartitionResponse) -> ListOffsetsResponse {
    ListOffsetsResponse::default().with_topics(vec![ListOffsetsTopicResponse::default()
        .with_name(TopicName(StrBytes::from_static_str("t")))
        .with_partitions(vec![p])])
}

fn sent() -> Vec<SentReset> {
    vec![SentReset {
        partition: tp(0),
        to: ResetTo::Earliest,
        generation: 1,
    }]
}

#[test]
fn every_answer_has_its_verdict() {
    let ok = answer(
        ListOffsetsPartitionResponse::default()
            .with_offset(17)
            .with_leader_epoch(3),
    );
    assert_eq!(
        list_offsets_verdicts(&ok, &sent()),
        [ListOffsetsVerdict::Offset(Position {
            offset: 17,
            leader_epoch: Some(3)
        })]
    );
    let no_epoch = answer(
        ListOffsetsPartitionResponse::default()
            .with_offset(17)
            .with_leader_epoch(-1),
    );
    assert!(matches!(
        list_offsets_verdicts(&no_epoch, &sent())[0],
        ListOffsetsVerdict::Offset(Position {
            leader_epoch: None,
            ..
        })
    ));
    let none = answer(ListOffsetsPartitionResponse::default().with_offset(-1));
    assert!(matches!(
        list_offsets_verdicts(&none, &sent())[0],
        ListOffsetsVerdict::Retry(_)
    ));
    let other = answer(ListOffsetsPartitionResponse::default().with_partition_index(5));
    assert!(matches!(
        &list_offsets_verdicts(&other, &sent())[0],
        ListOffsetsVerdict::Retry(why) if why.contains("left out t-0")
    ));
    let by_code = |e: ResponseError| {
        let r = answer(ListOffsetsPartitionResponse::default().with_error_code(e.code()));
        list_offsets_verdicts(&r, &sent()).remove(0)
    };
    for e in [
        ResponseError::NotLeaderOrFollower,
        ResponseError::FencedLeaderEpoch,
        ResponseError::UnknownLeaderEpoch,
        ResponseError::UnknownTopicOrPartition,
        ResponseError::LeaderNotAvailable,
        ResponseError::OffsetNotAvailable,
    ] {
        assert!(
            matches!(by_code(e), ListOffsetsVerdict::RefreshMetadata(_)),
            "{e:?}"
        );
    }
    assert!(matches!(
        by_code(ResponseError::RequestTimedOut),
        ListOffsetsVerdict::Retry(_)
    ));
    assert_eq!(
        by_code(ResponseError::TopicAuthorizationFailed),
        ListOffsetsVerdict::Fatal(ResponseError::TopicAuthorizationFailed.code())
    );
}

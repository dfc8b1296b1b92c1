//! Group requests encode at every version, and every verdict.

use bytes::BytesMut;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::protocol::Encodable;

use super::*;

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn at(offset: i64, epoch: Option<i32>) -> Position {
    Position {
        offset,
        leader_epoch: epoch,
    }
}

#[test]
fn requests_encode_at_every_negotiable_version() {
    for version in 0..=4 {
        let mut buf = BytesMut::new();
        find_coordinator("g", version)
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("FindCoordinator v{version}: {e:#}"));
    }
    let offsets = [
        (tp("a", 0), at(5, Some(2))),
        (tp("a", 1), at(6, None)),
        (tp("b", 0), at(7, None)),
    ];
    for version in 2..=8 {
        let request = offset_commit("g", &offsets, version);
        assert_eq!(request.topics.len(), 2, "grouped by topic");
        assert_eq!(
            request.generation_id_or_member_epoch, -1,
            "no generation: manual assignment"
        );
        let epoch = request.topics[0].partitions[0].committed_leader_epoch;
        assert_eq!(epoch, if version >= 6 { 2 } else { -1 });
        let mut buf = BytesMut::new();
        request
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("OffsetCommit v{version}: {e:#}"));
    }
    let partitions = [tp("a", 0), tp("a", 1), tp("b", 0)];
    for version in 1..=7 {
        let request = offset_fetch("g", &partitions);
        assert_eq!(
            request.topics.as_ref().unwrap()[0].partition_indexes,
            [0, 1]
        );
        let mut buf = BytesMut::new();
        request
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("OffsetFetch v{version}: {e:#}"));
    }
}

#[test]
fn coordinator_verdicts_for_both_answer_shapes() {
    let found = FindCoordinatorResponse::default()
        .with_node_id(kafka_protocol::messages::BrokerId(2))
        .with_host(StrBytes::from_static_str("h"))
        .with_port(9);
    let want = CoordinatorVerdict::Found {
        broker: BrokerId(2),
        host: "h".into(),
        port: 9,
    };
    assert_eq!(coordinator_verdict(&found, 3), want);
    let listed = FindCoordinatorResponse::default().with_coordinators(vec![Coordinator::default()
        .with_node_id(kafka_protocol::messages::BrokerId(2))
        .with_host(StrBytes::from_static_str("h"))
        .with_port(9)]);
    assert_eq!(coordinator_verdict(&listed, 4), want);
    assert!(matches!(
        coordinator_verdict(&FindCoordinatorResponse::default(), 4),
        CoordinatorVerdict::Retry(_)
    ));
    let error = |e: ResponseError| {
        let r = FindCoordinatorResponse::default()
            .with_error_code(e.code())
            .with_node_id(kafka_protocol::messages::BrokerId(-1));
        coordinator_verdict(&r, 2)
    };
    assert!(matches!(
        error(ResponseError::CoordinatorNotAvailable),
        CoordinatorVerdict::Retry(_)
    ));
    assert!(matches!(
        error(ResponseError::CoordinatorLoadInProgress),
        CoordinatorVerdict::Retry(_)
    ));
    assert_eq!(
        error(ResponseError::GroupAuthorizationFailed),
        CoordinatorVerdict::Fatal(ResponseError::GroupAuthorizationFailed.code())
    );
}

fn commit_answer(codes: &[(i32, i16)]) -> OffsetCommitResponse {
    let partitions = codes
        .iter()
        .map(|&(p, code)| {
            OffsetCommitResponsePartition::default()
                .with_partition_index(p)
                .with_error_code(code)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(vec![OffsetCommitResponseTopic::default()
        .with_name(TopicName(StrBytes::from_static_str("a")))
        .with_partitions(partitions)])
}

#[test]
fn commit_verdicts_for_every_error_class() {
    let sent: Vec<(TopicPartition, Position)> = (0..6).map(|p| (tp("a", p), at(1, None))).collect();
    let answer = commit_answer(&[
        (0, 0),
        (1, ResponseError::NotCoordinator.code()),
        (2, ResponseError::CoordinatorLoadInProgress.code()),
        (3, ResponseError::UnknownTopicOrPartition.code()),
        (4, ResponseError::OffsetMetadataTooLarge.code()),
    ]);
    let verdicts = offset_commit_verdicts(&answer, &sent);
    assert_eq!(verdicts[0], GroupVerdict::Done(()));
    assert!(matches!(verdicts[1], GroupVerdict::FindCoordinator(_)));
    assert!(matches!(verdicts[2], GroupVerdict::Retry(_)));
    assert_eq!(
        verdicts[3],
        GroupVerdict::Fatal(ResponseError::UnknownTopicOrPartition.code())
    );
    assert_eq!(
        verdicts[4],
        GroupVerdict::Fatal(ResponseError::OffsetMetadataTooLarge.code())
    );
    assert!(matches!(&verdicts[5], GroupVerdict::Retry(why) if why.contains("left out a-5")));
}

#[test]
fn fetch_verdicts_read_offsets_epochs_and_errors() {
    let partition = |p: i32, offset: i64, epoch: i32, code: i16| {
        OffsetFetchResponsePartition::default()
            .with_partition_index(p)
            .with_committed_offset(offset)
            .with_committed_leader_epoch(epoch)
            .with_error_code(code)
    };
    let answer =
        OffsetFetchResponse::default().with_topics(vec![OffsetFetchResponseTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("a")))
            .with_partitions(vec![
                partition(0, 12, 3, 0),
                partition(1, -1, -1, 0),
                partition(2, 5, -1, 0),
                partition(3, -1, -1, ResponseError::GroupAuthorizationFailed.code()),
            ])]);
    let sent: Vec<TopicPartition> = (0..5).map(|p| tp("a", p)).collect();
    let verdicts = offset_fetch_verdicts(&answer, &sent);
    assert_eq!(verdicts[0], GroupVerdict::Done(Some(at(12, Some(3)))));
    assert_eq!(verdicts[1], GroupVerdict::Done(None), "nothing committed");
    assert_eq!(verdicts[2], GroupVerdict::Done(Some(at(5, None))));
    assert!(matches!(verdicts[3], GroupVerdict::Fatal(_)));
    assert!(matches!(verdicts[4], GroupVerdict::Retry(_)), "left out");
    // A top-level error (v2+) applies to every partition.
    let moved =
        OffsetFetchResponse::default().with_error_code(ResponseError::NotCoordinator.code());
    let verdicts = offset_fetch_verdicts(&moved, &sent[..2]);
    assert!(verdicts
        .iter()
        .all(|v| matches!(v, GroupVerdict::FindCoordinator(_))));
}

//! Random and mutated frames never panic the mock, and never stop it from
//! serving the next, well-formed request.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;
use rouse_kafka_mock::frame::{encode_frame, FrameDecoder};
use rouse_kafka_mock::versions::SUPPORTED_APIS;
use rouse_kafka_mock::{ClusterConfig, ClusterHandle, Outcome};

fn frame<R: Request>(version: i16, body: &R) -> Vec<u8> {
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("fuzz")))
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str("t"))
}

fn records() -> Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: 5,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: 0,
        timestamp: 1,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options).unwrap();
    buf.freeze()
}

/// How many frames [`seeds`] returns.
const SEEDS: usize = 21;

/// Well-formed frames of every served API, to be mutated.
fn seeds() -> Vec<Vec<u8>> {
    let produce =
        ProduceRequest::default()
            .with_acks(1)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic())
                .with_partition_data(vec![
                    PartitionProduceData::default().with_records(Some(records()))
                ])]);
    let fetch = FetchRequest::default().with_topics(vec![FetchTopic::default()
        .with_topic(topic())
        .with_partitions(vec![
            FetchPartition::default().with_partition_max_bytes(1 << 20)
        ])]);
    let metadata = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(topic())),
    ]));
    vec![
        frame(3, &ApiVersionsRequest::default()),
        frame(12, &metadata.clone()),
        frame(4, &metadata),
        frame(9, &produce.clone()),
        frame(3, &produce),
        frame(12, &fetch.clone()),
        frame(4, &fetch),
        frame(
            4,
            &InitProducerIdRequest::default().with_transactional_id(None),
        ),
        frame(7, &ListOffsetsRequest::default()),
        frame(7, &CreateTopicsRequest::default()),
        frame(
            5,
            &JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_session_timeout_ms(10_000)
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
                )
                .with_name(StrBytes::from_static_str("range"))]),
        ),
        frame(
            5,
            &SyncGroupRequest::default().with_group_id(GroupId(StrBytes::from_static_str("g"))),
        ),
        frame(
            4,
            &HeartbeatRequest::default().with_group_id(GroupId(StrBytes::from_static_str("g"))),
        ),
        frame(
            5,
            &LeaveGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_members(vec![leave_group_request::MemberIdentity::default()]),
        ),
        frame(
            5,
            &DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(StrBytes::from_static_str("g"))]),
        ),
        frame(4, &ListGroupsRequest::default()),
        frame(
            4,
            &FindCoordinatorRequest::default()
                .with_coordinator_keys(vec![StrBytes::from_static_str("g")]),
        ),
        frame(
            8,
            &OffsetCommitRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(topic())
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_committed_offset(1),
                        ]),
                ]),
        ),
        frame(
            7,
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(topic())
                        .with_partition_indexes(vec![0]),
                ])),
        ),
        frame(
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
        ),
        frame(
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"\0u\0p")),
        ),
    ]
}

fn assert_still_serves(cluster: &ClusterHandle) {
    let ping = frame(3, &ApiVersionsRequest::default());
    assert!(matches!(
        cluster.handle(1, Bytes::from(ping)),
        Outcome::Respond { .. }
    ));
}

fn cluster() -> ClusterHandle {
    let cluster = ClusterHandle::new(ClusterConfig::new(1)).unwrap();
    cluster.create_topic("t", 1).unwrap();
    cluster
}

proptest! {
    #[test]
    fn random_frames(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let cluster = cluster();
        let _ = cluster.handle(1, Bytes::from(bytes));
        assert_still_serves(&cluster);
    }

    #[test]
    fn random_bodies_behind_real_headers(
        key in prop::sample::select(
            SUPPORTED_APIS.iter().map(|api| api.key as i16).collect::<Vec<_>>()
        ),
        version in -1i16..20,
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let cluster = cluster();
        let mut frame = Vec::new();
        frame.extend_from_slice(&key.to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 1, 0, 0]); // correlation id, empty client id
        frame.extend_from_slice(&body);
        let _ = cluster.handle(1, Bytes::from(frame));
        assert_still_serves(&cluster);
    }

    #[test]
    fn mutated_real_frames(
        seed in 0usize..SEEDS,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let cluster = cluster();
        let mut frame = seeds().swap_remove(seed);
        for (at, byte) in edits {
            let i = at.index(frame.len());
            frame[i] = byte;
        }
        if truncate {
            frame.truncate(cut.index(frame.len()));
        }
        let _ = cluster.handle(1, Bytes::from(frame));
        assert_still_serves(&cluster);
    }

    #[test]
    fn streams_through_the_frame_decoder(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..12),
        valid_first in any::<bool>(),
    ) {
        let cluster = cluster();
        let mut decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::new();
        if valid_first {
            buf.extend_from_slice(&encode_frame(&seeds()[0]).unwrap());
        }
        'stream: for chunk in chunks {
            buf.extend_from_slice(&chunk);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        if let Outcome::Close { .. } = cluster.handle(1, frame) {
                            break 'stream;
                        }
                    }
                    Ok(None) => break,
                    Err(_) => break 'stream,
                }
            }
        }
        assert_still_serves(&cluster);
    }
}

#[test]
fn seeds_cover_every_served_api() {
    let seeds = seeds();
    assert_eq!(seeds.len(), SEEDS);
    for api in SUPPORTED_APIS {
        assert!(
            seeds
                .iter()
                .any(|s| i16::from_be_bytes([s[0], s[1]]) == api.key as i16),
            "no seed frame for {:?}",
            api.key
        );
    }
}

#[test]
fn every_seed_is_answered() {
    let cluster = cluster();
    for seed in seeds() {
        assert!(
            matches!(
                cluster.handle(1, Bytes::from(seed)),
                Outcome::Respond { .. }
            ),
            "seeds are well-formed"
        );
    }
    assert_eq!(
        cluster.records("t", 0).unwrap().len(),
        1,
        "v9 produce stored, v3 duplicate acknowledged"
    );
}

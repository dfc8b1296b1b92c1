use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, Message, StrBytes};
use proptest::prelude::*;

use super::schema::request_schema;
use super::*;
use crate::testkit::name;
use crate::versions::SUPPORTED_APIS;

fn s(text: &'static str) -> StrBytes {
    StrBytes::from_static_str(text)
}

/// Encodes `req` at every version the crate knows and checks the walker
/// consumes exactly its bytes.
fn walks_exactly<R: Encodable + Message>(key: ApiKey, build: impl Fn(i16) -> R) {
    let schema = request_schema(key).unwrap();
    for version in R::VERSIONS.min..=R::VERSIONS.max {
        let mut buf = bytes::BytesMut::new();
        build(version)
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("{key:?} v{version} encode: {e}"));
        let mut body = &buf[..];
        walk_struct(schema, version, &mut body)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
        assert!(
            body.is_empty(),
            "{key:?} v{version}: {} bytes left",
            body.len()
        );
    }
}

#[test]
fn walker_mirrors_the_crate_for_every_version() {
    walks_exactly(ApiKey::ApiVersions, |_| {
        ApiVersionsRequest::default()
            .with_client_software_name(s("x"))
            .with_client_software_version(s("1"))
    });
    walks_exactly(ApiKey::Metadata, |_| {
        let topic = MetadataRequestTopic::default().with_name(Some(name("t")));
        MetadataRequest::default()
            .with_topics(Some(vec![topic.clone(), topic]))
            .with_allow_auto_topic_creation(true)
    });
    walks_exactly(ApiKey::Produce, |v| {
        let partition =
            PartitionProduceData::default().with_records(Some(Bytes::from_static(b"xyz")));
        let topic =
            TopicProduceData::default().with_partition_data(vec![partition.clone(), partition]);
        let topic = if v <= 12 {
            topic.with_name(name("t"))
        } else {
            topic
        };
        ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(s("tx"))))
            .with_topic_data(vec![topic])
    });
    walks_exactly(ApiKey::Fetch, |v| {
        let partition = FetchPartition::default().with_partition(1);
        let topic = FetchTopic::default().with_partitions(vec![partition.clone(), partition]);
        let topic = if v <= 12 {
            topic.with_topic(name("t"))
        } else {
            topic
        };
        let mut req = FetchRequest::default().with_topics(vec![topic]);
        if v >= 7 {
            let forgotten = ForgottenTopic::default().with_partitions(vec![1, 2, 3]);
            let forgotten = if v <= 12 {
                forgotten.with_topic(name("f"))
            } else {
                forgotten
            };
            req = req.with_forgotten_topics_data(vec![forgotten]);
        }
        if v >= 11 {
            req = req.with_rack_id(s("rack"));
        }
        req
    });
    walks_exactly(ApiKey::ListOffsets, |_| {
        let partition = ListOffsetsPartition::default().with_timestamp(-1);
        let topic = ListOffsetsTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![partition.clone(), partition]);
        ListOffsetsRequest::default().with_topics(vec![topic])
    });
    walks_exactly(ApiKey::InitProducerId, |_| {
        InitProducerIdRequest::default().with_transactional_id(Some(TransactionalId(s("tx"))))
    });
    walks_exactly(ApiKey::CreateTopics, |_| {
        let assignment =
            CreatableReplicaAssignment::default().with_broker_ids(vec![BrokerId(1), BrokerId(2)]);
        let config = CreatableTopicConfig::default()
            .with_name(s("k"))
            .with_value(Some(s("v")));
        let topic = CreatableTopic::default()
            .with_name(name("t"))
            .with_assignments(vec![assignment])
            .with_configs(vec![config]);
        CreateTopicsRequest::default().with_topics(vec![topic])
    });
}

fn group(text: &'static str) -> GroupId {
    GroupId(s(text))
}

/// `value` when `version` carries the field (the crate refuses to encode a
/// non-default value at other versions), else the default.
fn at<T: Default>(version: i16, since: i16, until: i16, value: T) -> T {
    if (since..=until).contains(&version) {
        value
    } else {
        T::default()
    }
}

/// The group coordinator's and SASL requests with every field each version
/// carries set to a non-default value (lists of two, so a miscounted
/// element shows).
#[test]
fn walker_mirrors_the_crate_for_group_and_sasl_apis() {
    const ALL: i16 = i16::MAX;
    walks_exactly(ApiKey::FindCoordinator, |v| {
        FindCoordinatorRequest::default()
            .with_key(at(v, 0, 3, s("g")))
            .with_key_type(at(v, 1, ALL, 1))
            .with_coordinator_keys(at(v, 4, ALL, vec![s("g1"), s("g2")]))
    });
    walks_exactly(ApiKey::OffsetCommit, |v| {
        let partition = OffsetCommitRequestPartition::default()
            .with_partition_index(1)
            .with_committed_offset(42)
            .with_committed_leader_epoch(if v >= 6 { 3 } else { -1 })
            .with_committed_metadata(Some(s("meta")));
        let topic = OffsetCommitRequestTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![partition.clone(), partition]);
        OffsetCommitRequest::default()
            .with_group_id(group("g"))
            .with_generation_id_or_member_epoch(7)
            .with_member_id(s("m"))
            .with_group_instance_id(at(v, 7, ALL, Some(s("i"))))
            .with_retention_time_ms(if v <= 4 { 1000 } else { -1 })
            .with_topics(vec![topic.clone(), topic])
    });
    walks_exactly(ApiKey::OffsetFetch, |v| {
        let topic = OffsetFetchRequestTopic::default()
            .with_name(name("t"))
            .with_partition_indexes(vec![0, 1]);
        let topics = OffsetFetchRequestTopics::default()
            .with_name(name("u"))
            .with_partition_indexes(vec![2, 3]);
        let group_entry = OffsetFetchRequestGroup::default()
            .with_group_id(group("g2"))
            .with_member_id(at(v, 9, ALL, Some(s("m"))))
            .with_member_epoch(if v >= 9 { 5 } else { -1 })
            .with_topics(Some(vec![topics.clone(), topics]));
        OffsetFetchRequest::default()
            .with_group_id(at(v, 0, 7, group("g")))
            .with_topics(if v <= 7 {
                Some(vec![topic.clone(), topic])
            } else {
                Some(Vec::new())
            })
            .with_groups(at(v, 8, ALL, vec![group_entry.clone(), group_entry]))
            .with_require_stable(at(v, 7, ALL, true))
    });
    walks_exactly(ApiKey::JoinGroup, |v| {
        let protocol = JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"subscription"));
        JoinGroupRequest::default()
            .with_group_id(group("g"))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(if v >= 1 { 20_000 } else { -1 })
            .with_member_id(s("m"))
            .with_group_instance_id(at(v, 5, ALL, Some(s("i"))))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![protocol.clone(), protocol])
            .with_reason(at(v, 8, ALL, Some(s("why"))))
    });
    walks_exactly(ApiKey::SyncGroup, |v| {
        let assignment = SyncGroupRequestAssignment::default()
            .with_member_id(s("m"))
            .with_assignment(Bytes::from_static(b"assigned"));
        SyncGroupRequest::default()
            .with_group_id(group("g"))
            .with_generation_id(3)
            .with_member_id(s("m"))
            .with_group_instance_id(at(v, 3, ALL, Some(s("i"))))
            .with_protocol_type(at(v, 5, ALL, Some(s("consumer"))))
            .with_protocol_name(at(v, 5, ALL, Some(s("range"))))
            .with_assignments(vec![assignment.clone(), assignment])
    });
    walks_exactly(ApiKey::Heartbeat, |v| {
        HeartbeatRequest::default()
            .with_group_id(group("g"))
            .with_generation_id(3)
            .with_member_id(s("m"))
            .with_group_instance_id(at(v, 3, ALL, Some(s("i"))))
    });
    walks_exactly(ApiKey::LeaveGroup, |v| {
        let member = MemberIdentity::default()
            .with_member_id(s("m"))
            .with_group_instance_id(Some(s("i")))
            .with_reason(at(v, 5, ALL, Some(s("bye"))));
        LeaveGroupRequest::default()
            .with_group_id(group("g"))
            .with_member_id(at(v, 0, 2, s("m0")))
            .with_members(at(v, 3, ALL, vec![member.clone(), member]))
    });
    walks_exactly(ApiKey::DescribeGroups, |v| {
        DescribeGroupsRequest::default()
            .with_groups(vec![group("g1"), group("g2")])
            .with_include_authorized_operations(at(v, 3, ALL, true))
    });
    walks_exactly(ApiKey::ListGroups, |v| {
        ListGroupsRequest::default()
            .with_states_filter(at(v, 4, ALL, vec![s("Stable"), s("Empty")]))
            .with_types_filter(at(v, 5, ALL, vec![s("classic"), s("consumer")]))
    });
    walks_exactly(ApiKey::SaslHandshake, |_| {
        SaslHandshakeRequest::default().with_mechanism(s("PLAIN"))
    });
    walks_exactly(ApiKey::SaslAuthenticate, |_| {
        SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"\0user\0pass"))
    });
}

#[test]
fn a_huge_describe_groups_list_is_rejected() {
    // The body that made the crate ask for a 53.9 GB allocation: a classic
    // array of strings announcing far more group ids than the bytes hold.
    let schema = request_schema(ApiKey::DescribeGroups).unwrap();
    let mut body = i32::MAX.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 1, b'g', 0]);
    assert!(matches!(
        check(schema, 0, &body),
        Err(ShapeError::ArrayTooLong { .. })
    ));
    // Compact form at v5: a 5-byte varint count.
    let body = [0xff, 0xff, 0xff, 0xff, 0x0f, 2, b'g', 0, 0];
    assert!(matches!(
        check(schema, 5, &body),
        Err(ShapeError::ArrayTooLong { .. })
    ));
}

#[test]
fn huge_array_counts_are_rejected() {
    let schema = request_schema(ApiKey::Produce).unwrap();
    // transactional_id null, acks, timeout, then 2^31-1 topics.
    let mut body = vec![0xff, 0xff, 0, 1, 0, 0, 0, 10];
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    body.extend_from_slice(&[0; 32]);
    assert!(matches!(
        check(schema, 3, &body),
        Err(ShapeError::ArrayTooLong { .. })
    ));
    // The same in compact form at v9: a 5-byte varint count.
    let mut body = vec![0x00, 0, 1, 0, 0, 0, 10, 0xff, 0xff, 0xff, 0xff, 0x0f];
    body.extend_from_slice(&[0; 32]);
    assert!(matches!(
        check(schema, 9, &body),
        Err(ShapeError::ArrayTooLong { .. })
    ));
}

#[test]
fn min_sizes_follow_flexibility() {
    let produce = request_schema(ApiKey::Produce).unwrap();
    // v3: string(2) + i16 + i32 + array(4); v9: 1 + 2 + 4 + 1 + tags(1).
    assert_eq!(produce.min_size(3), 12);
    assert_eq!(produce.min_size(9), 9);
}

proptest! {
    #[test]
    fn random_bodies_never_panic(
        key in prop::sample::select(SUPPORTED_APIS.iter().map(|api| api.key).collect::<Vec<_>>()),
        version in 0i16..20,
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = check(request_schema(key).unwrap(), version, &body);
    }
}

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, Message, StrBytes};
use proptest::prelude::*;

use super::schema::request_schema;
use super::*;
use crate::testkit::name;

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
    fn random_bodies_never_panic(key in prop::sample::select(vec![
        ApiKey::ApiVersions, ApiKey::Metadata, ApiKey::Produce, ApiKey::Fetch,
        ApiKey::ListOffsets, ApiKey::InitProducerId, ApiKey::CreateTopics,
    ]), version in 0i16..20, body in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = check(request_schema(key).unwrap(), version, &body);
    }
}

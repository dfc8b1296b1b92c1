//! Version negotiation, malformed input and faults, through whole frames.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Message};
use kafka_protocol::records::Compression;
use kafka_protocol::ResponseError;

use crate::testkit::*;
use crate::versions::SUPPORTED_APIS;
use crate::{CloseReason, ClusterConfig, ClusterHandle, Outcome};

fn cluster(brokers: usize) -> ClusterHandle {
    ClusterHandle::new(ClusterConfig::new(brokers)).unwrap()
}

fn close_reason(outcome: Outcome) -> CloseReason {
    match outcome {
        Outcome::Close { reason } => reason,
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn api_versions_lists_what_is_served_at_every_version() {
    let cluster = cluster(1);
    let mut client = Client::new(&cluster);
    for version in 0..=4 {
        let response = client.call(1, version, &ApiVersionsRequest::default());
        assert_eq!(response.error_code, 0);
        let listed: Vec<(i16, i16, i16)> = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        let served: Vec<(i16, i16, i16)> = SUPPORTED_APIS
            .iter()
            .map(|a| (a.key as i16, a.min, a.max))
            .collect();
        assert_eq!(listed, served, "v{version}");
    }
}

#[test]
fn unsupported_api_versions_is_answered_at_v0_with_the_list() {
    let cluster = cluster(1);
    // A future client: ApiVersions v9 with a flexible (v2) header and a body
    // the mock cannot know.
    let mut frame = vec![0, 18, 0, 9, 0, 0, 0, 42, 0, 0, 0];
    frame.extend_from_slice(b"future body");
    let Outcome::Respond { bytes, .. } = cluster.handle(1, Bytes::from(frame)) else {
        panic!("must answer");
    };
    let (correlation_id, response) = decode_response::<ApiVersionsResponse>(0, &bytes);
    assert_eq!(correlation_id, 42);
    assert_eq!(
        response.error_code,
        ResponseError::UnsupportedVersion.code()
    );
    assert_eq!(response.api_keys.len(), SUPPORTED_APIS.len());
}

#[test]
fn unserved_versions_get_unsupported_version_not_a_close() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let produce = produce_request("t", 0, batch(&["a"], None, Compression::None), 1);
    let response = client.call(1, 11, &produce);
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        ResponseError::UnsupportedVersion.code()
    );
    assert_eq!(
        cluster.offsets("t", 0).unwrap().high_watermark,
        0,
        "nothing stored"
    );
    let response = client.call(1, 8, &ListOffsetsRequest::default());
    assert!(response.topics.is_empty());
    let response = client.call(1, 5, &InitProducerIdRequest::default());
    assert_eq!(
        response.error_code,
        ResponseError::UnsupportedVersion.code()
    );
}

#[test]
fn versions_the_crate_cannot_decode_close_the_connection() {
    let cluster = cluster(1);
    // Produce v2: below Kafka 4's and the crate's floor.
    let frame = Bytes::from_static(&[0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff]);
    assert_eq!(
        close_reason(cluster.handle(1, frame)),
        CloseReason::UndecodableVersion {
            api: ApiKey::Produce,
            version: 2
        }
    );
}

#[test]
fn every_served_api_encodes_at_every_decodable_version() {
    // Serving and failing must produce encodable responses at each version
    // a request can arrive at, or a client would see a closed connection.
    fn each<R: kafka_protocol::protocol::Request>(
        cluster: &ClusterHandle,
        build: impl Fn(i16) -> R,
    ) {
        for version in R::VERSIONS.min..=R::VERSIONS.max {
            for fail in [false, true] {
                if fail {
                    cluster.fail_next(
                        ApiKey::try_from(R::KEY).unwrap(),
                        None,
                        ResponseError::NotLeaderOrFollower,
                        1,
                    );
                }
                let mut client = Client::new(cluster);
                match client.send(1, version, &build(version)) {
                    Outcome::Respond { bytes, .. } => {
                        decode_response::<R::Response>(version, &bytes);
                    }
                    Outcome::NoResponse | Outcome::Deferred(_) => {}
                    Outcome::Close { reason } => {
                        panic!("{} v{version} (fail {fail}): {reason}", R::KEY)
                    }
                }
            }
        }
    }
    let cluster = cluster(1);
    cluster.create_topic("t", 2).unwrap();
    each(&cluster, |_| ApiVersionsRequest::default());
    each(&cluster, |_| metadata_request(Some(&["t", "auto"])));
    each(&cluster, |v| {
        let mut req = produce_request("t", 0, batch(&["a"], None, Compression::None), 1);
        if v >= 13 {
            req.topic_data[0].name = Default::default();
        }
        req
    });
    each(&cluster, |v| {
        let mut req = fetch_request(v.min(12), "t", 0, 0).with_max_wait_ms(0);
        if v >= 13 {
            req.topics[0].topic = Default::default();
        }
        req
    });
    each(&cluster, |_| {
        ListOffsetsRequest::default().with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1)
                ]),
        ])
    });
    each(&cluster, |_| {
        InitProducerIdRequest::default().with_transactional_id(None)
    });
    each(&cluster, |v| {
        CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default()
                .with_name(name(&format!("c{v}")))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ])
    });
}

#[test]
fn malformed_frames_close_only_with_a_reason() {
    let cluster = cluster(1);
    assert!(matches!(
        close_reason(cluster.handle(1, Bytes::from_static(&[0, 18]))),
        CloseReason::Malformed(_)
    ));
    assert_eq!(
        close_reason(cluster.handle(1, Bytes::from_static(&[0x7f, 0, 0, 0, 0, 0, 0, 1]))),
        CloseReason::UnknownApiKey(0x7f00)
    );
    assert_eq!(
        close_reason(cluster.handle(1, Bytes::from_static(&[0, 42, 0, 0, 0, 0, 0, 1]))),
        CloseReason::UnsupportedApi(ApiKey::DeleteGroups)
    );
    // Produce v3 claiming 2^31-1 topics: rejected before the crate allocates.
    let frame = Bytes::from_static(&[
        0, 0, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff,
    ]);
    assert!(
        matches!(close_reason(cluster.handle(1, frame)), CloseReason::Malformed(m) if m.contains("elements"))
    );
    assert_eq!(
        close_reason(cluster.handle(9, Bytes::new())),
        CloseReason::UnknownBroker(9)
    );
    // The cluster still serves.
    Client::new(&cluster).call(1, 3, &ApiVersionsRequest::default());
}

#[test]
fn stopped_broker_closes_connections_and_leaves_metadata() {
    let cluster = cluster(3);
    cluster.create_topic("t", 3).unwrap();
    let mut client = Client::new(&cluster);
    cluster.stop_broker(2).unwrap();
    assert_eq!(cluster.is_broker_up(2), Some(false));
    assert_eq!(
        close_reason(client.send(2, 3, &ApiVersionsRequest::default())),
        CloseReason::BrokerDown(2)
    );
    let response = client.call(1, 12, &metadata_request(Some(&["t"])));
    let ids: Vec<i32> = response.brokers.iter().map(|b| b.node_id.0).collect();
    assert_eq!(ids, [1, 3]);
    let p1 = &response.topics[0].partitions[1];
    assert_eq!(p1.error_code, ResponseError::LeaderNotAvailable.code());
    assert_eq!((p1.leader_id.0, p1.offline_replicas.len()), (-1, 1));

    cluster.restart_broker(2).unwrap();
    let response = client.call(2, 12, &metadata_request(Some(&["t"])));
    assert_eq!(response.brokers.len(), 3);
    assert_eq!(response.topics[0].partitions[1].leader_id.0, 2);
    assert!(cluster.stop_broker(7).is_err());
}

#[test]
fn moved_leader_makes_the_old_one_refuse() {
    let cluster = cluster(2);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let records = || batch(&["a"], None, Compression::None);
    assert_eq!(
        client
            .call(1, 9, &produce_request("t", 0, records(), -1))
            .responses[0]
            .partition_responses[0]
            .error_code,
        0
    );
    cluster.move_leader("t", 0, 2).unwrap();
    let refused = client.call(1, 9, &produce_request("t", 0, records(), -1));
    assert_eq!(
        refused.responses[0].partition_responses[0].error_code,
        ResponseError::NotLeaderOrFollower.code()
    );
    let fetched = client.call(1, 12, &fetch_request(12, "t", 0, 0));
    assert_eq!(
        fetched.responses[0].partitions[0].error_code,
        ResponseError::NotLeaderOrFollower.code()
    );
    let metadata = client.call(2, 12, &metadata_request(Some(&["t"])));
    let p = &metadata.topics[0].partitions[0];
    assert_eq!((p.leader_id.0, p.leader_epoch), (2, 1));
    let ok = client.call(2, 9, &produce_request("t", 0, records(), -1));
    assert_eq!(
        ok.responses[0].partition_responses[0].base_offset, 1,
        "the log moved with the leader"
    );
}

#[test]
fn injected_failures_hit_the_next_n_requests_only() {
    let cluster = cluster(2);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    cluster.fail_next(
        ApiKey::Produce,
        Some(1),
        ResponseError::NotEnoughReplicas,
        2,
    );
    let produce = || produce_request("t", 0, batch(&["a"], None, Compression::None), 1);
    let error = |client: &mut Client| {
        client.call(1, 9, &produce()).responses[0].partition_responses[0].error_code
    };
    assert_eq!(error(&mut client), ResponseError::NotEnoughReplicas.code());
    assert_eq!(
        client.call(1, 3, &ApiVersionsRequest::default()).error_code,
        0,
        "other APIs unaffected"
    );
    assert_eq!(error(&mut client), ResponseError::NotEnoughReplicas.code());
    assert_eq!(error(&mut client), 0);
    assert_eq!(
        cluster.records("t", 0).unwrap().len(),
        1,
        "failed requests store nothing"
    );
    assert_eq!(cluster.request_count(Some(1), ApiKey::Produce), 3);
    assert_eq!(cluster.request_count(None, ApiKey::ApiVersions), 1);
    assert_eq!(
        cluster.request_counts(),
        [(1, ApiKey::Produce, 3), (1, ApiKey::ApiVersions, 1)]
    );
}

#[test]
fn delays_and_drops() {
    let cluster = cluster(2);
    let mut client = Client::new(&cluster);
    cluster.delay_responses(ApiKey::Metadata, Some(2), Duration::from_millis(250));
    let metadata = metadata_request(None);
    assert!(matches!(
        client.send(1, 12, &metadata),
        Outcome::Respond { delay: None, .. }
    ));
    assert!(
        matches!(client.send(2, 12, &metadata), Outcome::Respond { delay: Some(d), .. } if d == Duration::from_millis(250))
    );

    cluster.drop_connection_after(Some(1), 1);
    assert!(matches!(
        client.send(1, 12, &metadata),
        Outcome::Respond { .. }
    ));
    assert_eq!(
        close_reason(client.send(1, 12, &metadata)),
        CloseReason::InjectedDrop
    );
    assert!(
        matches!(client.send(1, 12, &metadata), Outcome::Respond { .. }),
        "fires once"
    );

    cluster.clear_faults();
    assert!(matches!(
        client.send(2, 12, &metadata),
        Outcome::Respond { delay: None, .. }
    ));
}

#[test]
fn response_headers_follow_flexibility() {
    // Metadata v9+ responses carry header v1 (tagged fields), earlier v0.
    let cluster = cluster(1);
    let mut client = Client::new(&cluster);
    for version in [8, 9] {
        let Outcome::Respond { bytes, .. } = client.send(1, version, &metadata_request(None))
        else {
            panic!()
        };
        let mut body = bytes.slice(4..);
        let header = ResponseHeader::decode(&mut body, if version >= 9 { 1 } else { 0 }).unwrap();
        assert!(header.correlation_id > 0);
        MetadataResponse::decode(&mut body, version).unwrap();
        assert!(body.is_empty());
    }
    assert_eq!(<MetadataResponse as Message>::VERSIONS.max, 13);
}

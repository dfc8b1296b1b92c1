//! Each API served end to end: client-encoded request frames in, decoded
//! responses out.

use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use kafka_protocol::ResponseError;

use crate::testkit::*;
use crate::{ClusterConfig, ClusterHandle, Outcome};

fn cluster(brokers: usize) -> ClusterHandle {
    ClusterHandle::new(ClusterConfig::new(brokers)).unwrap()
}

fn code(error: ResponseError) -> i16 {
    error.code()
}

/// Produces `values` to partition 0 of `topic` through its leader and
/// returns the partition's error code and base offset.
fn produce(client: &mut Client, version: i16, topic: &str, records: bytes::Bytes) -> (i16, i64) {
    let leader = client.cluster.leaders(topic).unwrap()[0];
    let response = client.call(leader, version, &produce_request(topic, 0, records, -1));
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn produce_then_fetch_round_trips_at_every_version() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let mut expected = Vec::new();
    for (i, version) in (3..=9).enumerate() {
        let compression = [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ][i % 5];
        let values = [format!("a{version}"), format!("b{version}")];
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let (error, base) = produce(&mut client, version, "t", batch(&refs, None, compression));
        assert_eq!((error, base), (0, 2 * i as i64), "produce v{version}");
        expected.extend(
            values
                .iter()
                .enumerate()
                .map(|(j, v)| (base + j as i64, v.clone())),
        );
    }
    for version in 4..=12 {
        let response = client.call(1, version, &fetch_request(version, "t", 0, 0));
        let p = &response.responses[0].partitions[0];
        assert_eq!(
            (p.error_code, p.high_watermark),
            (0, 14),
            "fetch v{version}"
        );
        assert_eq!(
            fetched_values(p.records.as_ref().unwrap()),
            expected,
            "fetch v{version}"
        );
    }
    let stored = cluster.records("t", 0).unwrap();
    assert_eq!(stored.len(), 14);
    assert_eq!(stored[3].offset, 3);
    assert_eq!(stored[3].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(stored[3].value.as_deref(), Some(&b"b4"[..]));
    assert_eq!(stored[3].timestamp, 1_700_000_000_001);
    assert_eq!(
        stored[3].headers,
        vec![("h".to_owned(), Some(bytes::Bytes::from_static(b"v")))]
    );
}

#[test]
fn fetch_from_the_middle_returns_the_holding_batch_and_respects_limits() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    for _ in 0..3 {
        produce(
            &mut client,
            9,
            "t",
            batch(&["x", "y"], None, Compression::None),
        );
    }
    let response = client.call(1, 12, &fetch_request(12, "t", 0, 3));
    let offsets: Vec<i64> = fetched_values(
        response.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap(),
    )
    .into_iter()
    .map(|(offset, _)| offset)
    .collect();
    assert_eq!(
        offsets,
        [2, 3, 4, 5],
        "whole batches from the one holding offset 3"
    );

    let mut small = fetch_request(12, "t", 0, 0);
    small.topics[0].partitions[0].partition_max_bytes = 1;
    let response = client.call(1, 12, &small);
    let values = fetched_values(
        response.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap(),
    );
    assert_eq!(
        values.len(),
        2,
        "one oversized batch still comes back (KIP-74)"
    );

    let response = client.call(1, 12, &fetch_request(12, "t", 0, 7));
    assert_eq!(
        response.responses[0].partitions[0].error_code,
        code(ResponseError::OffsetOutOfRange)
    );
}

#[test]
fn acks_zero_stores_without_answering() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let outcome = client.send(
        1,
        8,
        &produce_request("t", 0, batch(&["quiet"], None, Compression::None), 0),
    );
    assert_eq!(outcome, Outcome::NoResponse);
    assert_eq!(
        cluster.records("t", 0).unwrap()[0].value.as_deref(),
        Some(&b"quiet"[..])
    );
}

#[test]
fn corrupt_batch_is_refused_and_not_stored() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let mut raw = bytes::BytesMut::from(&batch(&["a"], None, Compression::None)[..]);
    let last = raw.len() - 1;
    raw[last] ^= 0x40;
    let (error, base) = produce(&mut client, 9, "t", raw.freeze());
    assert_eq!((error, base), (code(ResponseError::CorruptMessage), -1));
    assert_eq!(cluster.offsets("t", 0).unwrap().high_watermark, 0);
}

#[test]
fn bad_acks_and_unknown_partitions() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let response = client.call(
        1,
        9,
        &produce_request("t", 0, batch(&["a"], None, Compression::None), 2),
    );
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        code(ResponseError::InvalidRequiredAcks)
    );
    let response = client.call(
        1,
        9,
        &produce_request("t", 5, batch(&["a"], None, Compression::None), 1),
    );
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        code(ResponseError::UnknownTopicOrPartition)
    );
    let response = client.call(
        1,
        9,
        &produce_request("nope", 0, batch(&["a"], None, Compression::None), 1),
    );
    assert_eq!(
        response.responses[0].partition_responses[0].error_code,
        code(ResponseError::UnknownTopicOrPartition)
    );
}

#[test]
fn idempotent_duplicates_are_acknowledged_once_and_gaps_refused() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let init = client.call(
        1,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000),
    );
    assert_eq!(init.error_code, 0);
    let pid = |base_sequence| Idempotence {
        producer_id: init.producer_id.0,
        epoch: init.producer_epoch,
        base_sequence,
    };
    let first = batch(&["a", "b"], Some(pid(0)), Compression::None);
    assert_eq!(produce(&mut client, 9, "t", first.clone()), (0, 0));
    assert_eq!(
        produce(
            &mut client,
            9,
            "t",
            batch(&["c"], Some(pid(2)), Compression::None)
        ),
        (0, 2)
    );
    assert_eq!(
        produce(&mut client, 9, "t", first),
        (0, 0),
        "a retried batch gets its first offset"
    );
    assert_eq!(
        cluster.offsets("t", 0).unwrap().high_watermark,
        3,
        "and is not stored twice"
    );
    let (error, _) = produce(
        &mut client,
        9,
        "t",
        batch(&["e"], Some(pid(5)), Compression::None),
    );
    assert_eq!(error, code(ResponseError::OutOfOrderSequenceNumber));
    let mut stale = pid(3);
    stale.epoch -= 1;
    let (error, _) = produce(
        &mut client,
        9,
        "t",
        batch(&["f"], Some(stale), Compression::None),
    );
    assert_eq!(error, code(ResponseError::InvalidProducerEpoch));
    assert_eq!(cluster.offsets("t", 0).unwrap().high_watermark, 3);

    let refused = client.call(
        1,
        4,
        &InitProducerIdRequest::default().with_transactional_id(Some(TransactionalId("tx".into()))),
    );
    assert_eq!(
        refused.error_code,
        code(ResponseError::TransactionalIdAuthorizationFailed)
    );
}

#[test]
fn metadata_auto_creates_topics_when_allowed() {
    let cluster = cluster(3);
    cluster.set_broker_address(2, "127.0.0.1", 9092).unwrap();
    let mut client = Client::new(&cluster);
    let response = client.call(1, 12, &metadata_request(Some(&["fresh"])));
    assert_eq!(response.topics[0].error_code, 0);
    assert_eq!(response.topics[0].partitions.len(), 1);
    assert_eq!(response.brokers.len(), 3);
    assert_eq!(response.brokers[1].port, 9092);
    assert_eq!(response.cluster_id.as_deref(), Some("rouse-kafka-mock"));
    assert_eq!(cluster.topics(), ["fresh"]);

    let response = client.call(1, 12, &metadata_request(Some(&["bad name"])));
    assert_eq!(
        response.topics[0].error_code,
        code(ResponseError::InvalidTopicException)
    );
    let no_auto = metadata_request(Some(&["other"])).with_allow_auto_topic_creation(false);
    let response = client.call(1, 12, &no_auto);
    assert_eq!(
        response.topics[0].error_code,
        code(ResponseError::UnknownTopicOrPartition)
    );

    let off = ClusterHandle::new(ClusterConfig::new(1).with_auto_create_topics(false)).unwrap();
    let response = Client::new(&off).call(1, 1, &metadata_request(Some(&["x"])));
    assert_eq!(
        response.topics[0].error_code,
        code(ResponseError::UnknownTopicOrPartition)
    );
    assert!(off.topics().is_empty());
}

#[test]
fn metadata_all_topics_differs_at_v0() {
    let cluster = cluster(1);
    cluster.create_topic("a", 2).unwrap();
    let mut client = Client::new(&cluster);
    assert_eq!(
        client.call(1, 0, &metadata_request(Some(&[]))).topics.len(),
        1,
        "v0: empty = all"
    );
    assert_eq!(
        client.call(1, 1, &metadata_request(Some(&[]))).topics.len(),
        0,
        "v1+: empty = none"
    );
    assert_eq!(
        client.call(1, 1, &metadata_request(None)).topics.len(),
        1,
        "v1+: null = all"
    );
}

#[test]
fn list_offsets_earliest_latest_and_by_time() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    produce(
        &mut client,
        9,
        "t",
        batch(&["a", "b", "c"], None, Compression::None),
    );
    let ask = |timestamp| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![
                    ListOffsetsPartition::default().with_timestamp(timestamp)
                ])])
    };
    for version in 1..=7 {
        let offset = |client: &mut Client, ts| {
            client.call(1, version, &ask(ts)).topics[0].partitions[0].offset
        };
        assert_eq!(offset(&mut client, -2), 0, "v{version} earliest");
        assert_eq!(offset(&mut client, -1), 3, "v{version} latest");
        assert_eq!(
            offset(&mut client, 1_700_000_000_001),
            1,
            "v{version} by time"
        );
        assert_eq!(
            offset(&mut client, 1_800_000_000_000),
            -1,
            "v{version} after the last record"
        );
    }
    assert_eq!(
        client.call(1, 7, &ask(-3)).topics[0].partitions[0].offset,
        2,
        "max timestamp"
    );
}

#[test]
fn create_topics_creates_validates_and_refuses() {
    let cluster = cluster(2);
    let mut client = Client::new(&cluster);
    let topic = |name_: &str, partitions| {
        CreatableTopic::default()
            .with_name(name(name_))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
    };
    let manual = CreatableTopic::default()
        .with_name(name("manual"))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![
            CreatableReplicaAssignment::default()
                .with_partition_index(0)
                .with_broker_ids(vec![BrokerId(2)]),
            CreatableReplicaAssignment::default()
                .with_partition_index(1)
                .with_broker_ids(vec![BrokerId(2)]),
        ]);
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![
            topic("six", 6),
            topic("zero", 0),
            topic("default", -1),
            manual,
        ]);
    for version in [2, 5, 7] {
        let cluster = ClusterHandle::new(ClusterConfig::new(2)).unwrap();
        let response = Client::new(&cluster).call(1, version, &request);
        let codes: Vec<i16> = response.topics.iter().map(|t| t.error_code).collect();
        assert_eq!(
            codes,
            [0, code(ResponseError::InvalidPartitions), 0, 0],
            "v{version}"
        );
        assert_eq!(cluster.leaders("six").unwrap().len(), 6);
        assert_eq!(cluster.leaders("default").unwrap().len(), 1);
        assert_eq!(cluster.leaders("manual").unwrap(), [2, 2]);
    }
    let response = client.call(1, 7, &request.clone().with_validate_only(true));
    assert_eq!(response.topics[0].num_partitions, 6);
    assert!(cluster.topics().is_empty(), "validate_only creates nothing");
    client.call(1, 7, &request);
    let again = client.call(1, 7, &request);
    assert_eq!(
        again.topics[0].error_code,
        code(ResponseError::TopicAlreadyExists)
    );
}

#[test]
fn init_producer_id_without_transactional_id_always_issues_a_new_id_at_epoch_0() {
    let cluster = cluster(1);
    let mut client = Client::new(&cluster);
    let first = client.call(
        1,
        4,
        &InitProducerIdRequest::default().with_transactional_id(None),
    );
    assert_eq!((first.error_code, first.producer_epoch), (0, 0));
    let mut seen = vec![first.producer_id];
    // v3 and v4 carry the current id and epoch (KIP-360); for a null
    // transactional id Kafka ignores them and hands out a new id.
    for version in [3, 4] {
        for (transactional_id, epoch) in [(None, 0), (None, 7), (Some(""), 0)] {
            let response = client.call(
                1,
                version,
                &InitProducerIdRequest::default()
                    .with_transactional_id(
                        transactional_id.map(|t: &str| TransactionalId(t.into())),
                    )
                    .with_producer_id(first.producer_id)
                    .with_producer_epoch(epoch),
            );
            assert_eq!(response.error_code, 0, "v{version}");
            assert_eq!(response.producer_epoch, 0, "v{version}: epoch 0");
            assert!(
                !seen.contains(&response.producer_id),
                "v{version}: a brand-new id, not {:?}",
                response.producer_id
            );
            seen.push(response.producer_id);
        }
    }
    let served = crate::versions::supported(ApiKey::InitProducerId).unwrap();
    assert!(
        served.contains(3) && served.contains(4),
        "KIP-360 versions served"
    );
}

fn init_producer(client: &mut Client) -> (i64, i16) {
    let init = client.call(
        1,
        4,
        &InitProducerIdRequest::default().with_transactional_id(None),
    );
    assert_eq!(init.error_code, 0);
    (init.producer_id.0, init.producer_epoch)
}

fn idempotent(producer: (i64, i16), base_sequence: i32) -> Option<Idempotence> {
    Some(Idempotence {
        producer_id: producer.0,
        epoch: producer.1,
        base_sequence,
    })
}

#[test]
fn an_unknown_producer_may_start_anywhere_unless_strict() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let a = init_producer(&mut client);
    let b = init_producer(&mut client);
    let late = |p| batch(&["x"], idempotent(p, 5), Compression::None);
    assert_eq!(
        produce(&mut client, 9, "t", late(a)),
        (0, 0),
        "default: accepted"
    );
    cluster.set_strict_unknown_producer(true);
    assert_eq!(
        produce(&mut client, 9, "t", late(b)).0,
        code(ResponseError::UnknownProducerId),
        "strict: UNKNOWN_PRODUCER_ID (59)"
    );
    assert_eq!(
        produce(
            &mut client,
            9,
            "t",
            batch(&["y"], idempotent(b, 0), Compression::None)
        ),
        (0, 1),
        "strict: sequence 0 is fine"
    );
    assert_eq!(
        produce(
            &mut client,
            9,
            "t",
            batch(&["z"], idempotent(a, 6), Compression::None)
        ),
        (0, 2),
        "strict: a known producer goes on"
    );
    assert_eq!(cluster.offsets("t", 0).unwrap().high_watermark, 3);
    let strict =
        ClusterHandle::new(ClusterConfig::new(1).with_strict_unknown_producer(true)).unwrap();
    assert!(strict.config().strict_unknown_producer());
}

#[test]
fn forgotten_producer_state_makes_a_producer_unknown() {
    let config = ClusterConfig::new(2)
        .with_forget_producers_on_restart(true)
        .with_strict_unknown_producer(true);
    let cluster = ClusterHandle::new(config).unwrap();
    cluster.create_topic("t", 2).unwrap(); // partition 0 on broker 1, 1 on 2
    let mut client = Client::new(&cluster);
    let p = init_producer(&mut client);
    let first = batch(&["a"], idempotent(p, 0), Compression::None);
    assert_eq!(produce(&mut client, 9, "t", first.clone()), (0, 0));
    let leader = cluster.leaders("t").unwrap()[0];
    // Restarting a running broker changes nothing.
    cluster.restart_broker(leader).unwrap();
    assert_eq!(
        produce(&mut client, 9, "t", first.clone()),
        (0, 0),
        "still a duplicate"
    );
    cluster.stop_broker(leader).unwrap();
    cluster.restart_broker(leader).unwrap();
    assert_eq!(
        produce(
            &mut client,
            9,
            "t",
            batch(&["b"], idempotent(p, 1), Compression::None)
        )
        .0,
        code(ResponseError::UnknownProducerId),
        "the restarted leader forgot the producer"
    );
    assert_eq!(
        cluster.offsets("t", 0).unwrap().high_watermark,
        1,
        "records stay"
    );
    // Without the option, a restart keeps the state; forget_producers drops it.
    cluster.set_forget_producers_on_restart(false);
    assert_eq!(
        produce(&mut client, 9, "t", first.clone()),
        (0, 1),
        "seq 0 again: stored anew"
    );
    cluster.stop_broker(leader).unwrap();
    cluster.restart_broker(leader).unwrap();
    assert_eq!(
        produce(
            &mut client,
            9,
            "t",
            batch(&["c"], idempotent(p, 1), Compression::None)
        ),
        (0, 2),
        "state kept over the restart"
    );
    assert_eq!(cluster.forget_producers(leader).unwrap(), 1);
    assert_eq!(
        produce(
            &mut client,
            9,
            "t",
            batch(&["d"], idempotent(p, 2), Compression::None)
        )
        .0,
        code(ResponseError::UnknownProducerId)
    );
    assert!(cluster.forget_producers(99).is_err());
}

#[test]
fn injected_produce_errors_include_the_idempotence_ones() {
    let cluster = cluster(1);
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let p = init_producer(&mut client);
    for error in [
        ResponseError::UnknownProducerId,
        ResponseError::OutOfOrderSequenceNumber,
    ] {
        cluster.fail_next(ApiKey::Produce, None, error, 1);
        let (got, base) = produce(
            &mut client,
            9,
            "t",
            batch(&["a"], idempotent(p, 0), Compression::None),
        );
        assert_eq!((got, base), (code(error), -1), "{error}");
    }
    assert_eq!(
        cluster.offsets("t", 0).unwrap().high_watermark,
        0,
        "nothing stored"
    );
    assert_eq!(
        produce(
            &mut client,
            9,
            "t",
            batch(&["a"], idempotent(p, 0), Compression::None)
        ),
        (0, 0)
    );
}

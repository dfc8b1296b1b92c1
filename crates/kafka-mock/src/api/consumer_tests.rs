//! What a consumer needs beyond Produce: FindCoordinator, OffsetCommit and
//! OffsetFetch end to end at every served version, the leader-epoch
//! checks of Fetch and ListOffsets, and Fetch's `min_bytes`.

use std::time::{Duration, Instant};

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use kafka_protocol::ResponseError;

use crate::testkit::*;
use crate::{ClusterConfig, ClusterHandle, Outcome};

fn cluster(brokers: usize) -> ClusterHandle {
    let cluster = ClusterHandle::new(ClusterConfig::new(brokers)).unwrap();
    cluster.create_topic("t", 3).unwrap();
    cluster
}

fn find(key: &str, version: i16) -> FindCoordinatorRequest {
    let key = StrBytes::from_string(key.to_owned());
    if version >= 4 {
        FindCoordinatorRequest::default().with_coordinator_keys(vec![key])
    } else {
        FindCoordinatorRequest::default().with_key(key)
    }
}

/// `(node, error)` from a FindCoordinator answer of either shape.
fn located(response: &FindCoordinatorResponse, version: i16) -> (i32, i16) {
    if version >= 4 {
        let c = &response.coordinators[0];
        (c.node_id.0, c.error_code)
    } else {
        (response.node_id.0, response.error_code)
    }
}

fn commit(group: &str, offsets: &[(i32, i64)], version: i16) -> OffsetCommitRequest {
    let partitions = offsets
        .iter()
        .map(|&(p, offset)| {
            let partition = OffsetCommitRequestPartition::default()
                .with_partition_index(p)
                .with_committed_offset(offset)
                .with_committed_metadata(Some(StrBytes::from_static_str("m")));
            if version >= 6 {
                partition.with_committed_leader_epoch(4)
            } else {
                partition
            }
        })
        .collect();
    OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name("t"))
            .with_partitions(partitions)])
}

fn fetch_offsets(group: &str, partitions: Option<Vec<i32>>) -> OffsetFetchRequest {
    OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_topics(partitions.map(|p| {
            vec![OffsetFetchRequestTopic::default()
                .with_name(name("t"))
                .with_partition_indexes(p)]
        }))
}

/// `(partition, offset, error)` per partition of an OffsetFetch answer.
fn fetched(response: &OffsetFetchResponse) -> Vec<(i32, i64, i16)> {
    response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| (p.partition_index, p.committed_offset, p.error_code))
        .collect()
}

#[test]
fn find_coordinator_names_a_running_broker_at_every_version() {
    let cluster = cluster(3);
    let mut client = Client::new(&cluster);
    let coordinator = cluster.coordinator("billing").unwrap();
    for version in 0..=4 {
        let response = client.call(1, version, &find("billing", version));
        assert_eq!(located(&response, version), (coordinator, 0), "v{version}");
    }
    // Stopping it moves the group to another running broker.
    cluster.stop_broker(coordinator).unwrap();
    let moved = cluster.coordinator("billing").unwrap();
    assert_ne!(moved, coordinator);
    let asked = if moved == 1 { 2 } else { 1 };
    let asked = if asked == coordinator { 3 } else { asked };
    let response = client.call(asked, 3, &find("billing", 3));
    assert_eq!(located(&response, 3), (moved, 0));
    let bad = client.call(asked, 3, &find("billing", 3).with_key_type(7));
    assert_eq!(located(&bad, 3).1, ResponseError::InvalidRequest.code());
}

#[test]
fn commits_are_read_back_at_every_version() {
    let cluster = cluster(1);
    let mut client = Client::new(&cluster);
    for version in 2..=8 {
        let offset = 100 + i64::from(version);
        let response = client.call(1, version, &commit("g", &[(0, offset), (2, 7)], version));
        let codes: Vec<i16> = response.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(codes, [0, 0], "commit v{version}");
        assert_eq!(cluster.committed("g", "t", 0), Some(offset));
    }
    for version in 1..=7 {
        let response = client.call(1, version, &fetch_offsets("g", Some(vec![0, 1, 2])));
        assert_eq!(
            fetched(&response),
            [(0, 108, 0), (1, -1, 0), (2, 7, 0)],
            "v{version}"
        );
        let epoch = response.topics[0].partitions[0].committed_leader_epoch;
        assert_eq!(epoch, if version >= 5 { 4 } else { -1 }, "v{version}");
        assert_eq!(
            response.topics[0].partitions[0].metadata.as_deref(),
            Some("m")
        );
    }
    // Null topics (v2+): everything the group committed.
    let all = client.call(1, 7, &fetch_offsets("g", None));
    assert_eq!(fetched(&all), [(0, 108, 0), (2, 7, 0)]);
    // Another group has its own offsets.
    let other = client.call(1, 7, &fetch_offsets("h", Some(vec![0])));
    assert_eq!(fetched(&other), [(0, -1, 0)]);
}

#[test]
fn only_the_coordinator_answers_and_bad_commits_are_refused() {
    let cluster = cluster(3);
    let mut client = Client::new(&cluster);
    let coordinator = cluster.coordinator("g").unwrap();
    let other = if coordinator == 1 { 2 } else { 1 };
    let response = client.call(other, 8, &commit("g", &[(0, 5)], 8));
    let code = response.topics[0].partitions[0].error_code;
    assert_eq!(code, ResponseError::NotCoordinator.code());
    let response = client.call(other, 7, &fetch_offsets("g", Some(vec![0])));
    assert_eq!(response.error_code, ResponseError::NotCoordinator.code());
    assert_eq!(cluster.committed("g", "t", 0), None);

    let unknown = commit("g", &[(9, 5)], 8);
    let response = client.call(coordinator, 8, &unknown);
    let code = response.topics[0].partitions[0].error_code;
    assert_eq!(code, ResponseError::UnknownTopicOrPartition.code());

    let in_generation = commit("g", &[(0, 5)], 8).with_generation_id_or_member_epoch(3);
    let response = client.call(coordinator, 8, &in_generation);
    let code = response.topics[0].partitions[0].error_code;
    assert_eq!(code, ResponseError::IllegalGeneration.code());

    let nameless = client.call(coordinator, 8, &commit("", &[(0, 5)], 8));
    let code = nameless.topics[0].partitions[0].error_code;
    assert_eq!(code, ResponseError::InvalidGroupId.code());
    assert_eq!(cluster.committed("g", "t", 0), None, "nothing stored");
}

#[test]
fn injected_failures_reach_the_group_apis() {
    let cluster = cluster(1);
    let mut client = Client::new(&cluster);
    cluster.fail_next(
        ApiKey::OffsetCommit,
        None,
        ResponseError::CoordinatorLoadInProgress,
        1,
    );
    let response = client.call(1, 8, &commit("g", &[(0, 5)], 8));
    let code = response.topics[0].partitions[0].error_code;
    assert_eq!(code, ResponseError::CoordinatorLoadInProgress.code());
    assert_eq!(cluster.committed("g", "t", 0), None);
    let response = client.call(1, 8, &commit("g", &[(0, 5)], 8));
    assert_eq!(response.topics[0].partitions[0].error_code, 0);

    cluster.fail_next(
        ApiKey::OffsetFetch,
        None,
        ResponseError::CoordinatorNotAvailable,
        1,
    );
    let response = client.call(1, 1, &fetch_offsets("g", Some(vec![0])));
    assert_eq!(
        fetched(&response),
        [(0, -1, ResponseError::CoordinatorNotAvailable.code())]
    );

    cluster.fail_next(
        ApiKey::FindCoordinator,
        None,
        ResponseError::CoordinatorNotAvailable,
        2,
    );
    for version in [2, 4] {
        let response = client.call(1, version, &find("g", version));
        let (node, code) = located(&response, version);
        assert_eq!(
            (node, code),
            (-1, ResponseError::CoordinatorNotAvailable.code())
        );
    }
}

#[test]
fn fetch_and_list_offsets_check_the_leader_epoch() {
    let cluster = cluster(2);
    let mut client = Client::new(&cluster);
    let leader = cluster.leaders("t").unwrap()[0];
    let other = if leader == 1 { 2 } else { 1 };
    cluster.move_leader("t", 0, other).unwrap();
    let fetch = |epoch: i32| {
        let mut request = fetch_request(12, "t", 0, 0);
        request.topics[0].partitions[0].current_leader_epoch = epoch;
        request
    };
    let code = |r: &FetchResponse| r.responses[0].partitions[0].error_code;
    // Moving the leader bumped the epoch from 0 to 1.
    assert_eq!(code(&client.call(other, 12, &fetch(1))), 0);
    assert_eq!(
        code(&client.call(other, 12, &fetch(-1))),
        0,
        "no epoch: no check"
    );
    assert_eq!(
        code(&client.call(other, 12, &fetch(0))),
        ResponseError::FencedLeaderEpoch.code()
    );
    assert_eq!(
        code(&client.call(other, 12, &fetch(2))),
        ResponseError::UnknownLeaderEpoch.code()
    );

    let list = |epoch: i32| {
        ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_current_leader_epoch(epoch)
                .with_timestamp(-2)])])
    };
    let code = |r: &ListOffsetsResponse| r.topics[0].partitions[0].error_code;
    assert_eq!(code(&client.call(other, 7, &list(1))), 0);
    assert_eq!(
        code(&client.call(other, 7, &list(0))),
        ResponseError::FencedLeaderEpoch.code()
    );
}

#[test]
fn a_fetch_short_of_min_bytes_is_held_up_to_max_wait() {
    let config = ClusterConfig::new(1).with_fetch_wait_cap(Duration::from_millis(40));
    let cluster = ClusterHandle::new(config).unwrap();
    cluster.create_topic("t", 1).unwrap();
    let mut client = Client::new(&cluster);
    let (error, _) = {
        let response = client.call(
            1,
            9,
            &produce_request("t", 0, batch(&["a", "b"], None, Compression::None), -1),
        );
        let p = &response.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    };
    assert_eq!(error, 0);
    let mut parked = |min_bytes: i32, max_wait_ms: i32| {
        let mut request = fetch_request(12, "t", 0, 0);
        request.min_bytes = min_bytes;
        request.max_wait_ms = max_wait_ms;
        match client.send(1, 12, &request) {
            Outcome::Respond { delay: None, .. } => None,
            Outcome::Deferred(deferred) => deferred.fetch_deadline(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(parked(1, 500), None, "enough bytes: at once");
    let before = Instant::now();
    let deadline = parked(1 << 20, 500).expect("short: parked");
    assert!(
        deadline > before && deadline <= Instant::now() + Duration::from_millis(40),
        "parked up to the 40 ms cap, not the 500 ms asked"
    );
    assert_eq!(parked(1 << 20, 0), None, "no wait asked");
    assert_eq!(parked(0, 500), None);
}

/// A cluster of `config` with topic "t" of one partition, and a client.
fn one_partition(config: ClusterConfig) -> (ClusterHandle, Client) {
    let cluster = ClusterHandle::new(config).unwrap();
    cluster.create_topic("t", 1).unwrap();
    let client = Client::new(&cluster);
    (cluster, client)
}

#[test]
fn empty_fetch_is_parked_until_its_wait_is_over() {
    let (cluster, mut client) =
        one_partition(ClusterConfig::new(1).with_fetch_wait_cap(Duration::from_millis(30)));
    let asked = Instant::now();
    let Outcome::Deferred(parked) = client.send(1, 11, &fetch_request(11, "t", 0, 0)) else {
        panic!("an empty fetch with max_wait is parked");
    };
    let deadline = parked
        .fetch_deadline()
        .expect("a parked fetch has a deadline");
    assert!(deadline >= asked + Duration::from_millis(30), "capped wait");
    assert!(deadline <= Instant::now() + Duration::from_millis(30));
    assert_eq!(cluster.resume(&parked), None, "nothing yet: still waiting");
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    let Some(Outcome::Respond { bytes, delay: None }) = cluster.resume(&parked) else {
        panic!("answered at its deadline");
    };
    let (_, response) = decode_response::<FetchResponse>(11, &bytes);
    assert_eq!(
        response.responses[0].partitions[0].records.as_deref(),
        Some(&[][..])
    );

    let mut no_wait = fetch_request(11, "t", 0, 0);
    no_wait.max_wait_ms = 0;
    assert!(matches!(
        client.send(1, 11, &no_wait),
        Outcome::Respond { delay: None, .. }
    ));
}

#[test]
fn a_parked_fetch_is_answered_once_records_arrive() {
    let (cluster, mut client) =
        one_partition(ClusterConfig::new(1).with_fetch_wait_cap(Duration::from_secs(60)));
    let Outcome::Deferred(parked) = client.send(1, 11, &fetch_request(11, "t", 0, 0)) else {
        panic!("an empty fetch with max_wait is parked");
    };
    assert_eq!(cluster.resume(&parked), None);
    let produced = client.call(
        1,
        9,
        &produce_request("t", 0, batch(&["woken"], None, Compression::None), -1),
    );
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
    let Some(Outcome::Respond { bytes, .. }) = cluster.resume(&parked) else {
        panic!("the record answers the parked fetch long before its 60 s wait");
    };
    let (correlation_id, response) = decode_response::<FetchResponse>(11, &bytes);
    assert_eq!(correlation_id, parked.correlation_id);
    let records = response.responses[0].partitions[0].records.clone().unwrap();
    assert!(!records.is_empty(), "the fetch carries the new record");
}

#[test]
fn an_injected_delay_is_added_to_a_parked_fetch_once_it_is_answered() {
    let (cluster, mut client) =
        one_partition(ClusterConfig::new(1).with_fetch_wait_cap(Duration::from_secs(60)));
    cluster.delay_responses(ApiKey::Fetch, None, Duration::from_millis(70));
    let Outcome::Deferred(parked) = client.send(1, 11, &fetch_request(11, "t", 0, 0)) else {
        panic!("an empty fetch with max_wait is parked, delay or not");
    };
    let produced = client.call(
        1,
        9,
        &produce_request("t", 0, batch(&["late"], None, Compression::None), -1),
    );
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
    match cluster.resume(&parked) {
        Some(Outcome::Respond { delay, .. }) => {
            assert_eq!(delay, Some(Duration::from_millis(70)), "the fault's delay")
        }
        other => panic!("answered once the record is there: {other:?}"),
    }
}

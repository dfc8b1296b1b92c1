//! The mock's group coordinator over real sockets: a waiting JoinGroup
//! holds only its own connection, the join phase waits out the initial
//! delay, a follower's SyncGroup waits for the leader's, and the
//! coordinator faults (move, load spell, forced rebalance) answer as a
//! Kafka broker does.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{plain, Client};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rouse_kafka_mock::{ClusterConfig, GroupSettings, MockCluster};

const GROUP: &str = "wire-group";
const DELAY: Duration = Duration::from_millis(400);

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn cluster() -> MockCluster {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("starts");
    let settings = GroupSettings {
        initial_rebalance_delay: DELAY,
        ..GroupSettings::default()
    };
    cluster
        .handle()
        .set_group_settings(settings)
        .expect("valid");
    cluster
}

fn coordinator(cluster: &MockCluster) -> Client<TcpStream> {
    let id = cluster.handle().coordinator(GROUP).expect("a broker runs");
    plain(cluster.broker_address(id).expect("known"))
}

fn join_request(member: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(text(GROUP)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(text(member))
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(text("range"))
            .with_metadata(Bytes::from_static(b"subscription"))])
}

fn heartbeat(client: &mut Client<TcpStream>, member: &str, generation: i32) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(text(GROUP)))
        .with_member_id(text(member))
        .with_generation_id(generation);
    let response: HeartbeatResponse = client.call(4, &request).expect("answered");
    response.error_code
}

fn sync_request(member: &str, generation: i32, plan: &[(&str, &'static [u8])]) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(GroupId(text(GROUP)))
        .with_member_id(text(member))
        .with_generation_id(generation)
        .with_assignments(
            plan.iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(text(m))
                        .with_assignment(Bytes::from_static(a))
                })
                .collect(),
        )
}

/// Two members, A (v5, KIP-394) and B (v3), through a whole rebalance;
/// returns their ids and the clients, the group Stable at generation 1.
fn stable_pair(cluster: &MockCluster) -> (String, String, Client<TcpStream>, Client<TcpStream>) {
    let (mut a, mut b) = (coordinator(cluster), coordinator(cluster));
    let first: JoinGroupResponse = a.call(5, &join_request("")).expect("answered");
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
    let a_id = first.member_id.to_string();
    let started = Instant::now();
    let waiting = a.send(5, &join_request(&a_id)).expect("sent");
    // The test client does not set TCP_NODELAY: its frame may take a
    // delayed ACK to arrive whole. Wait (bounded) until A is a member.
    let arrived = Instant::now();
    while cluster.handle().group(GROUP).members.is_empty() {
        assert!(
            arrived.elapsed() < Duration::from_secs(2),
            "A's join never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // While A's join waits, its broker answers other connections at once.
    let mut other = coordinator(cluster);
    let asked = Instant::now();
    let hb: HeartbeatResponse = {
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(text(GROUP)))
            .with_member_id(text(&a_id))
            .with_generation_id(0);
        other.call(4, &request).expect("answered")
    };
    assert!(
        asked.elapsed() < DELAY / 2,
        "another connection waited {:?}",
        asked.elapsed()
    );
    assert_eq!(hb.error_code, ResponseError::RebalanceInProgress.code());
    let b_waiting = b.send(3, &join_request("")).expect("sent");
    let (got, a_join) = a.receive::<JoinGroupResponse>(5).expect("A answered");
    assert_eq!(got, waiting);
    assert!(
        started.elapsed() >= DELAY,
        "the initial delay was waited out"
    );
    let (got, b_join) = b.receive::<JoinGroupResponse>(3).expect("B answered");
    assert_eq!(got, b_waiting);
    assert_eq!((a_join.error_code, b_join.error_code), (0, 0));
    assert_eq!((a_join.generation_id, b_join.generation_id), (1, 1));
    assert_eq!(a_join.leader.as_str(), a_id, "the first member leads");
    assert_eq!((a_join.members.len(), b_join.members.len()), (2, 0));
    let b_id = b_join.member_id.to_string();

    // B's SyncGroup waits for the leader's, then gets its share.
    let b_sync = b.send(3, &sync_request(&b_id, 1, &[])).expect("sent");
    let plan = [(a_id.as_str(), &b"A"[..]), (b_id.as_str(), &b"B"[..])];
    let a_sync: SyncGroupResponse = a.call(3, &sync_request(&a_id, 1, &plan)).expect("answered");
    assert_eq!(
        (a_sync.error_code, a_sync.assignment.as_ref()),
        (0, &b"A"[..])
    );
    let (got, b_sync_response) = b.receive::<SyncGroupResponse>(3).expect("B synced");
    assert_eq!(got, b_sync);
    assert_eq!(b_sync_response.assignment.as_ref(), b"B");
    assert_eq!(cluster.handle().group(GROUP).state, "Stable");
    (a_id, b_id, a, b)
}

#[test]
fn members_join_sync_and_waiting_joins_hold_only_their_connection() {
    let cluster = cluster();
    let (a_id, b_id, mut a, mut b) = stable_pair(&cluster);
    assert_eq!(heartbeat(&mut a, &a_id, 1), 0);
    assert_eq!(
        heartbeat(&mut b, &b_id, 0),
        ResponseError::IllegalGeneration.code()
    );
    let group = cluster.handle().group(GROUP);
    assert_eq!(group.members.len(), 2);
    assert_eq!(group.members[1].assignment.as_ref(), b"B");
}

#[test]
fn forced_rebalance_moves_and_load_spells_answer_as_kafka_does() {
    let cluster = cluster();
    let (a_id, b_id, mut a, mut b) = stable_pair(&cluster);
    let handle = cluster.handle();

    assert!(handle.force_rebalance(GROUP));
    let rebalancing = ResponseError::RebalanceInProgress.code();
    assert_eq!(heartbeat(&mut a, &a_id, 1), rebalancing);
    assert_eq!(heartbeat(&mut b, &b_id, 1), rebalancing);
    let a_join = a.send(5, &join_request(&a_id)).expect("sent");
    let b_join: JoinGroupResponse = b.call(3, &join_request(&b_id)).expect("answered");
    let (got, a_rejoined) = a.receive::<JoinGroupResponse>(5).expect("answered");
    assert_eq!(got, a_join);
    assert_eq!((a_rejoined.generation_id, b_join.generation_id), (2, 2));

    // The coordinator moves: the old one says NOT_COORDINATOR, FindCoordinator
    // names the new one, and the group (generation 2) came along.
    let old = handle.coordinator(GROUP).expect("runs");
    let new = if old == 1 { 2 } else { 1 };
    handle
        .move_group_coordinator(GROUP, new)
        .expect("known broker");
    assert_eq!(
        heartbeat(&mut a, &a_id, 2),
        ResponseError::NotCoordinator.code()
    );
    let find = FindCoordinatorRequest::default().with_key(text(GROUP));
    let found = a.call(3, &find).expect("answered");
    assert_eq!(found.node_id.0, new);
    let mut moved = plain(cluster.broker_address(new).expect("known"));
    assert_eq!(
        heartbeat(&mut moved, &a_id, 2),
        0,
        "CompletingRebalance: heartbeats are fine"
    );

    // A load spell: joins wait it out, heartbeats pass blindly, SyncGroup
    // says rebalance.
    handle.coordinator_loading(GROUP, Duration::from_secs(30));
    let join: JoinGroupResponse = moved.call(5, &join_request(&a_id)).expect("answered");
    assert_eq!(
        join.error_code,
        ResponseError::CoordinatorLoadInProgress.code()
    );
    assert_eq!(heartbeat(&mut moved, &a_id, 999), 0);
    let sync: SyncGroupResponse = moved
        .call(3, &sync_request(&a_id, 2, &[]))
        .expect("answered");
    assert_eq!(sync.error_code, rebalancing);
}

/// Kafka's coordinator answers the JoinGroups waiting on a group
/// NOT_COORDINATOR when the group moves away; the member then finds the
/// new coordinator and joins there with the same id. Member ids start with
/// the client id, as Kafka's do.
#[test]
fn a_join_waiting_when_the_coordinator_moves_is_answered_not_coordinator() {
    let cluster = cluster();
    let handle = cluster.handle();
    let mut a = coordinator(&cluster);
    let first: JoinGroupResponse = a.call(5, &join_request("")).expect("answered");
    let a_id = first.member_id.to_string();
    assert!(
        a_id.starts_with("secured-test-"),
        "Kafka's member ids start with the client id: {a_id}"
    );
    let waiting = a.send(5, &join_request(&a_id)).expect("sent");
    let arrived = Instant::now();
    while handle.group(GROUP).members.is_empty() {
        assert!(arrived.elapsed() < Duration::from_secs(2), "never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    let old = handle.coordinator(GROUP).expect("runs");
    let new = if old == 1 { 2 } else { 1 };
    handle
        .move_group_coordinator(GROUP, new)
        .expect("known broker");
    let moved = Instant::now();
    let (got, answer) = a.receive::<JoinGroupResponse>(5).expect("answered");
    assert_eq!(got, waiting);
    assert_eq!(answer.error_code, ResponseError::NotCoordinator.code());
    assert!(
        moved.elapsed() < DELAY / 2,
        "answered at the move, not at the join phase's end: {:?}",
        moved.elapsed()
    );
    let mut at_new = plain(cluster.broker_address(new).expect("known"));
    let joined: JoinGroupResponse = at_new.call(5, &join_request(&a_id)).expect("answered");
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.member_id.as_str(), a_id);
    assert_eq!(joined.leader.as_str(), a_id);
    assert_eq!(joined.generation_id, 1);
}

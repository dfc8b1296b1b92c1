//! The coordinator's state machine on a clock of the tests' own.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::*;

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);
const DELAY: Duration = Duration::from_millis(100);

fn join(member: &str, instance: Option<&str>) -> JoinRequest {
    JoinRequest {
        group: "g".into(),
        member_id: member.into(),
        instance_id: instance.map(str::to_owned),
        client_id: "c".into(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"sub"))],
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

fn now_join(groups: &mut Groups, req: JoinRequest, at: Instant) -> JoinResult {
    match groups.join(req, at) {
        Reply::Now(result) => result,
        Reply::Wait(t) => panic!("waits ({t})"),
    }
}

fn wait_join(groups: &mut Groups, req: JoinRequest, at: Instant) -> Ticket {
    match groups.join(req, at) {
        Reply::Wait(t) => t,
        Reply::Now(result) => panic!("answered {result:?}"),
    }
}

fn joined(groups: &mut Groups, ticket: Ticket) -> JoinResult {
    match groups.take(ticket) {
        Some(Completion::Join(result)) => result,
        other => panic!("ticket {ticket}: {other:?}"),
    }
}

/// KIP-394: the first join gets MEMBER_ID_REQUIRED and an id; the second,
/// with it, waits in the join phase.
fn member(groups: &mut Groups, at: Instant) -> (String, Ticket) {
    let first = now_join(groups, join("", None), at);
    assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
    // Kafka's shape: the client id, then a UUID.
    assert!(first.member_id.starts_with("c-"), "{}", first.member_id);
    let ticket = wait_join(groups, join(&first.member_id, None), at);
    (first.member_id, ticket)
}

fn sync(member: &str, generation: i32, assignments: Vec<(String, Bytes)>) -> SyncRequest {
    SyncRequest {
        group: "g".into(),
        member_id: member.into(),
        instance_id: None,
        generation,
        protocol_type: None,
        protocol: None,
        assignments,
    }
}

/// Two members through a whole rebalance to Stable; (a, b, t).
fn stable_pair(groups: &mut Groups, t0: Instant) -> (String, String, Instant) {
    let (a, ta) = member(groups, t0);
    let (b, tb) = member(groups, t0 + Duration::from_millis(10));
    groups.tick(t0 + DELAY / 2);
    assert!(
        groups.take(ta).is_none(),
        "the initial delay holds the join"
    );
    // b arrived during the delay: it is extended once by as much again.
    groups.tick(t0 + DELAY + Duration::from_millis(20));
    assert!(
        groups.take(ta).is_none(),
        "a new member extends the initial delay"
    );
    let t = t0 + 2 * DELAY + Duration::from_millis(40);
    groups.tick(t);
    let (ra, rb) = (joined(groups, ta), joined(groups, tb));
    assert_eq!((ra.generation, rb.generation), (1, 1));
    assert_eq!(ra.leader, a);
    assert_eq!(ra.members.len(), 2, "the leader gets every subscription");
    assert!(rb.members.is_empty());
    assert_eq!(ra.protocol.as_deref(), Some("range"));
    let follower = groups.sync(sync(&b, 1, vec![]), t);
    let Reply::Wait(tf) = follower else {
        panic!("a follower waits for the leader: {follower:?}")
    };
    let plan = vec![
        (a.clone(), Bytes::from_static(b"A")),
        (b.clone(), Bytes::from_static(b"B")),
    ];
    let leader = groups.sync(sync(&a, 1, plan), t);
    assert!(matches!(leader, Reply::Now(ref r) if r.assignment == Bytes::from_static(b"A")));
    match groups.take(tf) {
        Some(Completion::Sync(r)) => assert_eq!(r.assignment, Bytes::from_static(b"B")),
        other => panic!("{other:?}"),
    }
    assert_eq!(groups.describe("g", t).state, "Stable");
    (a, b, t)
}

#[test]
fn two_members_join_sync_and_heartbeat() {
    let mut groups = Groups::default();
    let (a, b, t) = stable_pair(&mut groups, Instant::now());
    assert_eq!(groups.heartbeat("g", &a, None, 1, t), None);
    assert_eq!(
        groups.heartbeat("g", &b, None, 0, t),
        Some(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        groups.heartbeat("g", "nobody", None, 1, t),
        Some(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        groups.heartbeat("h", &a, None, 1, t),
        Some(ResponseError::UnknownMemberId)
    );
}

#[test]
fn a_leaving_member_rebalances_and_stale_commits_are_refused() {
    let mut groups = Groups::default();
    let (a, b, t) = stable_pair(&mut groups, Instant::now());
    let left = groups.leave(
        "g",
        &[Leaving {
            member_id: b.clone(),
            instance_id: None,
        }],
        t,
    );
    assert_eq!(left, vec![None]);
    assert_eq!(
        groups.heartbeat("g", &a, None, 1, t),
        Some(ResponseError::RebalanceInProgress)
    );
    // Commits are still taken while the group prepares (Kafka relies on the
    // heartbeat to say rebalance).
    assert_eq!(groups.check_commit("g", &a, None, 1, t), Ok(()));
    assert_eq!(
        groups.check_commit("g", &b, None, 1, t),
        Err(ResponseError::UnknownMemberId)
    );
    let rejoined = now_join(&mut groups, join(&a, None), t);
    assert_eq!(rejoined.generation, 2, "everyone left rejoined: no waiting");
    assert_eq!(
        groups.check_commit("g", &a, None, 2, t),
        Err(ResponseError::RebalanceInProgress)
    );
    assert!(matches!(groups.sync(sync(&a, 2, vec![]), t), Reply::Now(_)));
    assert_eq!(
        groups.check_commit("g", &a, None, 1, t),
        Err(ResponseError::IllegalGeneration)
    );
    assert_eq!(groups.check_commit("g", &a, None, 2, t), Ok(()));
    assert_eq!(
        groups.check_commit("g", "", None, -1, t),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(groups.check_commit("other", "", None, -1, t), Ok(()));
    assert_eq!(
        groups.check_commit("other", "x", None, 3, t),
        Err(ResponseError::IllegalGeneration)
    );
}

#[test]
fn a_silent_member_expires_after_its_session_timeout() {
    let mut groups = Groups::default();
    let (a, _, t) = stable_pair(&mut groups, Instant::now());
    let later = t + SESSION - Duration::from_millis(1);
    assert_eq!(groups.heartbeat("g", &a, None, 1, later), None);
    // b never heartbeat since t: gone at t + SESSION.
    assert_eq!(
        groups.heartbeat("g", &a, None, 1, t + SESSION),
        Some(ResponseError::RebalanceInProgress)
    );
    assert_eq!(groups.describe("g", t + SESSION).members.len(), 1);
}

#[test]
fn the_join_phase_ends_at_the_rebalance_timeout_without_the_silent_member() {
    let mut groups = Groups::default();
    let (a, b, t) = stable_pair(&mut groups, Instant::now());
    assert!(groups.force_rebalance("g", t));
    assert!(!groups.force_rebalance("g", t), "already rebalancing");
    let ticket = wait_join(&mut groups, join(&a, None), t);
    // b heartbeats (so its session holds) but never rejoins.
    for secs in [5, 12, 19, 26] {
        let at = t + Duration::from_secs(secs);
        assert_eq!(
            groups.heartbeat("g", &b, None, 1, at),
            Some(ResponseError::RebalanceInProgress)
        );
    }
    groups.tick(t + REBALANCE - Duration::from_millis(1));
    assert!(groups.take(ticket).is_none());
    groups.tick(t + REBALANCE);
    let result = joined(&mut groups, ticket);
    assert_eq!((result.generation, result.members.len()), (2, 1));
    assert_eq!(
        groups.heartbeat("g", &b, None, 1, t + REBALANCE),
        Some(ResponseError::UnknownMemberId)
    );
}

#[test]
fn a_restarted_static_member_takes_its_slot_without_a_rebalance() {
    let mut groups = Groups::default();
    let t0 = Instant::now();
    let ta = wait_join(&mut groups, join("", Some("i-1")), t0);
    let t = t0 + DELAY;
    groups.tick(t);
    let first = joined(&mut groups, ta);
    assert!(
        first.member_id.starts_with("i-1-"),
        "static members skip KIP-394"
    );
    assert!(matches!(
        groups.sync(
            sync(
                &first.member_id,
                1,
                vec![(first.member_id.clone(), Bytes::from_static(b"A"))]
            ),
            t
        ),
        Reply::Now(_)
    ));
    // Restarted: no member id, same instance id.
    let again = now_join(&mut groups, join("", Some("i-1")), t);
    assert_eq!(again.error, None);
    assert_eq!(again.generation, 1, "no rebalance");
    assert_ne!(again.member_id, first.member_id);
    assert_eq!(
        groups.heartbeat("g", &first.member_id, Some("i-1"), 1, t),
        Some(ResponseError::FencedInstanceId)
    );
    assert_eq!(
        groups.heartbeat("g", &again.member_id, Some("i-1"), 1, t),
        None
    );
    assert_eq!(
        groups.check_commit("g", &first.member_id, Some("i-1"), 1, t),
        Err(ResponseError::FencedInstanceId)
    );
    assert_eq!(groups.describe("g", t).state, "Stable");
}

#[test]
fn joins_are_checked() {
    let mut groups = Groups::default();
    let t = Instant::now();
    let mut short = join("", None);
    short.session_timeout = Duration::from_secs(1);
    assert_eq!(
        now_join(&mut groups, short, t).error,
        Some(ResponseError::InvalidSessionTimeout)
    );
    assert_eq!(
        now_join(&mut groups, join("ghost", None), t).error,
        Some(ResponseError::UnknownMemberId)
    );
    let (_, _) = member(&mut groups, t);
    let mut other = join("", None);
    other.require_known_member_id = false;
    other.protocols = vec![("roundrobin".into(), Bytes::new())];
    assert_eq!(
        now_join(&mut groups, other, t).error,
        Some(ResponseError::InconsistentGroupProtocol)
    );
}

#[test]
fn the_first_member_to_join_leads() {
    let mut groups = Groups::default();
    let t = Instant::now();
    let (a, ta) = member(&mut groups, t);
    let mut old = join("", None);
    old.require_known_member_id = false;
    let tb = wait_join(&mut groups, old, t);
    groups.tick(t + DELAY);
    groups.tick(t + 2 * DELAY);
    let (ra, rb) = (joined(&mut groups, ta), joined(&mut groups, tb));
    assert_eq!(
        (ra.leader.as_str(), rb.leader.as_str()),
        (a.as_str(), a.as_str())
    );
}

/// A coordinator that stops coordinating answers its waiting JoinGroup
/// and SyncGroup NOT_COORDINATOR (`withdraw`); they no longer wait.
#[test]
fn waiting_requests_are_withdrawn_with_not_coordinator() {
    let mut groups = Groups::default();
    let t0 = Instant::now();
    let (a, ta) = member(&mut groups, t0);
    assert_eq!(groups.waiting_group(ta).as_deref(), Some("g"));
    match groups.withdraw(ta, t0) {
        Some(Completion::Join(r)) => {
            assert_eq!(r.error, Some(ResponseError::NotCoordinator));
            assert_eq!(r.member_id, a);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(groups.waiting_group(ta), None, "no longer waiting");
    // It joins again (at the new coordinator) and the phase completes.
    let ta = wait_join(&mut groups, join(&a, None), t0);
    let (b, tb) = member(&mut groups, t0);
    // The initial delay, extended once since b arrived meanwhile.
    groups.tick(t0 + DELAY + Duration::from_millis(1));
    let t = t0 + 2 * DELAY + Duration::from_millis(2);
    groups.tick(t);
    let (ra, _) = (joined(&mut groups, ta), joined(&mut groups, tb));
    assert_eq!(ra.generation, 1);
    let Reply::Wait(tf) = groups.sync(sync(&b, 1, vec![]), t) else {
        panic!("a follower waits for the leader")
    };
    match groups.withdraw(tf, t) {
        Some(Completion::Sync(r)) => assert_eq!(r.error, Some(ResponseError::NotCoordinator)),
        other => panic!("{other:?}"),
    }
    assert_eq!(groups.waiting_group(tf), None);
    assert_eq!(groups.withdraw(tf, t), None, "answered once");
}

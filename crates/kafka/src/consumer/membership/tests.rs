//! The member's state machine on a deterministic clock: a start instant
//! moved by hand, answers built as a coordinator would send them.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::JoinGroupResponse;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::*;

fn settings(cooperative: bool, instance: Option<&str>) -> Settings {
    Settings {
        heartbeat_interval: Duration::from_secs(3),
        max_poll_interval: Duration::from_secs(60),
        retry_backoff: Duration::from_millis(100),
        instance_id: instance.map(str::to_owned),
        cooperative,
    }
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

/// A clock the test moves, and a poll clock that says the application is
/// polling (so max.poll.interval.ms never runs out unless a test wants).
struct Clock {
    now: Instant,
}

impl Clock {
    fn advance(&mut self, by: Duration) -> Instant {
        self.now += by;
        self.now
    }
    fn polling(&self) -> PollClock {
        PollClock {
            last_poll: self.now,
            in_poll: true,
        }
    }
}

fn joined(
    member: &str,
    leader: &str,
    generation: i32,
    error: Option<ResponseError>,
) -> JoinGroupResponse {
    let s = |s: &str| StrBytes::from_string(s.to_owned());
    JoinGroupResponse::default()
        .with_error_code(error.map_or(0, |e| e.code()))
        .with_generation_id(generation)
        .with_protocol_name(Some(s("range")))
        .with_leader(s(leader))
        .with_member_id(s(member))
        .with_members(if member == leader {
            vec![JoinGroupResponseMember::default()
                .with_member_id(s(member))
                .with_metadata(Bytes::from_static(b"sub"))]
        } else {
            Vec::new()
        })
}

/// Joins as a follower through KIP-394's MEMBER_ID_REQUIRED round and
/// syncs `partitions`; returns the member and the clock.
fn stable(cooperative: bool, partitions: &[i32]) -> (Membership, Clock) {
    let clock = Clock {
        now: Instant::now(),
    };
    let mut m = Membership::new(settings(cooperative, None), clock.now);
    m.subscribe(clock.now);
    assert_eq!(
        m.next(clock.now, false, clock.polling()),
        None,
        "no coordinator yet"
    );
    let Some(Send::Join {
        epoch, member_id, ..
    }) = m.next(clock.now, true, clock.polling())
    else {
        panic!("join first");
    };
    assert_eq!(member_id, "");
    m.on_join(
        epoch,
        &joined("m-1", "", -1, Some(ResponseError::MemberIdRequired)),
        clock.now,
    );
    let Some(Send::Join {
        epoch, member_id, ..
    }) = m.next(clock.now, true, clock.polling())
    else {
        panic!("KIP-394: join again at once with the given id");
    };
    assert_eq!(member_id, "m-1");
    m.on_join(epoch, &joined("m-1", "m-0", 1, None), clock.now);
    let Some(Send::Sync {
        assignments,
        generation,
        ..
    }) = m.next(clock.now, true, clock.polling())
    else {
        panic!("a follower syncs with no assignments");
    };
    assert!(assignments.is_empty());
    assert_eq!(generation, 1);
    m.on_sync(
        epoch,
        Ok(partitions.iter().map(|p| tp(*p)).collect()),
        clock.now,
    );
    assert_eq!(m.phase(), &Phase::Stable);
    let effects = m.take_effects();
    assert_eq!(
        effects,
        vec![Effect::Assign {
            added: partitions.iter().map(|p| tp(*p)).collect(),
            assignment: partitions.iter().map(|p| tp(*p)).collect(),
        }]
    );
    assert_eq!(m.commit_identity(), Some((1, "m-1")));
    (m, clock)
}

#[test]
fn heartbeats_every_interval_whatever_the_application_does() {
    let (mut m, mut clock) = stable(false, &[0, 1]);
    assert_eq!(m.next(clock.now, true, clock.polling()), None);
    assert_eq!(
        m.deadline(clock.polling()),
        Some(clock.now + Duration::from_secs(3))
    );
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat {
        epoch,
        generation,
        member_id,
    }) = m.next(at, true, clock.polling())
    else {
        panic!("heartbeat due");
    };
    assert_eq!((generation, member_id.as_str()), (1, "m-1"));
    assert_eq!(
        m.next(at, true, clock.polling()),
        None,
        "one heartbeat in flight"
    );
    m.on_heartbeat(epoch, 0, at);
    assert_eq!(
        m.deadline(clock.polling()),
        Some(at + Duration::from_secs(3))
    );
}

#[test]
fn eager_revokes_everything_before_joining_again() {
    let (mut m, mut clock) = stable(false, &[0, 1]);
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat { epoch, .. }) = m.next(at, true, clock.polling()) else {
        panic!();
    };
    m.on_heartbeat(epoch, ResponseError::RebalanceInProgress.code(), at);
    let effects = m.take_effects();
    let [Effect::Revoke { partitions, ticket }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(partitions, &vec![tp(0), tp(1)]);
    assert_eq!(
        m.next(at, true, clock.polling()),
        None,
        "no JoinGroup before the revocation"
    );
    m.revoked(*ticket, at);
    let Some(Send::Join {
        owned, generation, ..
    }) = m.next(at, true, clock.polling())
    else {
        panic!("join after the revocation");
    };
    assert!(owned.is_empty(), "eager joins owning nothing");
    assert_eq!(generation, 1);
}

#[test]
fn cooperative_revokes_only_what_moves_then_rejoins() {
    let (mut m, mut clock) = stable(true, &[0, 1, 2]);
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat { epoch, .. }) = m.next(at, true, clock.polling()) else {
        panic!();
    };
    m.on_heartbeat(epoch, ResponseError::RebalanceInProgress.code(), at);
    assert!(
        m.take_effects().is_empty(),
        "cooperative keeps its partitions while joining"
    );
    let Some(Send::Join { epoch, owned, .. }) = m.next(at, true, clock.polling()) else {
        panic!();
    };
    assert_eq!(
        owned,
        vec![tp(0), tp(1), tp(2)],
        "joins owning its partitions"
    );
    m.on_join(epoch, &joined("m-1", "m-0", 2, None), at);
    let Some(Send::Sync { .. }) = m.next(at, true, clock.polling()) else {
        panic!()
    };
    m.on_sync(epoch, Ok(vec![tp(1), tp(2)]), at);
    let effects = m.take_effects();
    let [Effect::Revoke { partitions, ticket }, Effect::Assign { added, .. }] = effects.as_slice()
    else {
        panic!("{effects:?}");
    };
    assert_eq!(partitions, &vec![tp(0)], "only the partition that moves");
    assert!(added.is_empty());
    m.revoked(*ticket, at);
    let Some(Send::Join { owned, .. }) = m.next(at, true, clock.polling()) else {
        panic!("the second rebalance hands the revoked partition out");
    };
    assert_eq!(owned, vec![tp(1), tp(2)]);
}

#[test]
fn unknown_member_loses_the_partitions_and_joins_without_an_id() {
    let (mut m, mut clock) = stable(false, &[3]);
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat { epoch, .. }) = m.next(at, true, clock.polling()) else {
        panic!()
    };
    m.on_heartbeat(epoch, ResponseError::UnknownMemberId.code(), at);
    assert_eq!(m.take_effects(), vec![Effect::Lost(vec![tp(3)])]);
    let Some(Send::Join {
        member_id,
        generation,
        ..
    }) = m.next(at, true, clock.polling())
    else {
        panic!()
    };
    assert_eq!((member_id.as_str(), generation), ("", -1));
}

#[test]
fn illegal_generation_keeps_the_member_id() {
    let (mut m, mut clock) = stable(false, &[3]);
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat { epoch, .. }) = m.next(at, true, clock.polling()) else {
        panic!()
    };
    m.on_heartbeat(epoch, ResponseError::IllegalGeneration.code(), at);
    assert_eq!(m.take_effects(), vec![Effect::Lost(vec![tp(3)])]);
    let Some(Send::Join {
        member_id,
        generation,
        ..
    }) = m.next(at, true, clock.polling())
    else {
        panic!()
    };
    assert_eq!((member_id.as_str(), generation), ("m-1", -1));
}

#[test]
fn coordinator_errors_rediscover_or_retry_and_fenced_is_fatal() {
    let (mut m, mut clock) = stable(false, &[0]);
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat { epoch, .. }) = m.next(at, true, clock.polling()) else {
        panic!()
    };
    m.on_heartbeat(epoch, ResponseError::NotCoordinator.code(), at);
    assert_eq!(m.take_effects(), vec![Effect::FindCoordinator]);
    assert_eq!(
        m.phase(),
        &Phase::Stable,
        "a moved coordinator keeps the membership"
    );
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat { epoch, .. }) = m.next(at, true, clock.polling()) else {
        panic!()
    };
    m.on_heartbeat(epoch, ResponseError::FencedInstanceId.code(), at);
    let effects = m.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Fatal(why)] if why.contains("group.instance.id")),
        "{effects:?}"
    );
    assert_eq!(m.next(at, true, clock.polling()), None);
}

#[test]
fn load_in_progress_retries_the_join_after_the_backoff() {
    let mut clock = Clock {
        now: Instant::now(),
    };
    let mut m = Membership::new(settings(false, None), clock.now);
    m.subscribe(clock.now);
    let Some(Send::Join { epoch, .. }) = m.next(clock.now, true, clock.polling()) else {
        panic!()
    };
    m.on_join(
        epoch,
        &joined("", "", -1, Some(ResponseError::CoordinatorLoadInProgress)),
        clock.now,
    );
    assert_eq!(
        m.next(clock.now, true, clock.polling()),
        None,
        "not before the backoff"
    );
    let at = clock.advance(Duration::from_millis(100));
    assert!(matches!(
        m.next(at, true, clock.polling()),
        Some(Send::Join { .. })
    ));
}

#[test]
fn an_old_heartbeat_answer_is_ignored() {
    let (mut m, mut clock) = stable(true, &[0]);
    let at = clock.advance(Duration::from_secs(3));
    let Some(Send::Heartbeat { epoch: old, .. }) = m.next(at, true, clock.polling()) else {
        panic!()
    };
    m.request_rejoin(at);
    let Some(Send::Join { .. }) = m.next(at, true, clock.polling()) else {
        panic!()
    };
    m.on_heartbeat(old, ResponseError::UnknownMemberId.code(), at);
    assert!(
        m.take_effects().is_empty(),
        "a heartbeat of the last epoch cannot reset this one"
    );
}

#[test]
fn the_leader_syncs_what_the_assignor_computed() {
    let mut clock = Clock {
        now: Instant::now(),
    };
    let mut m = Membership::new(settings(false, None), clock.now);
    m.subscribe(clock.now);
    let Some(Send::Join { epoch, .. }) = m.next(clock.now, true, clock.polling()) else {
        panic!()
    };
    m.on_join(epoch, &joined("m-0", "m-0", 1, None), clock.now);
    let effects = m.take_effects();
    let [Effect::Lead {
        epoch: lead,
        protocol,
        members,
    }] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert_eq!((protocol.as_str(), members.len()), ("range", 1));
    assert_eq!(
        m.next(clock.now, true, clock.polling()),
        None,
        "waits for the assignor"
    );
    m.leader_assigned(*lead, vec![("m-0".into(), Bytes::from_static(b"a"))]);
    let Some(Send::Sync { assignments, .. }) =
        m.next(clock.advance(Duration::ZERO), true, clock.polling())
    else {
        panic!()
    };
    assert_eq!(assignments.len(), 1);
}

#[test]
fn no_poll_within_the_interval_leaves_and_rejoins_on_the_next_poll() {
    let (mut m, mut clock) = stable(false, &[0, 1]);
    let last = clock.now;
    let idle = |last| PollClock {
        last_poll: last,
        in_poll: false,
    };
    assert_eq!(
        m.deadline(idle(last)),
        Some(last + Duration::from_secs(3)),
        "heartbeat first"
    );
    let at = clock.advance(Duration::from_secs(60));
    assert_eq!(
        m.next(at, true, idle(last)),
        Some(Send::Leave {
            member_id: "m-1".into()
        })
    );
    assert_eq!(
        m.take_effects(),
        vec![Effect::Lost(vec![tp(0), tp(1)]), Effect::PollExpired]
    );
    assert_eq!(
        m.next(at, true, idle(last)),
        None,
        "no rejoin until the application polls"
    );
    assert_eq!(m.deadline(idle(last)), None);
    let polled = clock.advance(Duration::from_secs(1));
    let Some(Send::Join { member_id, .. }) = m.next(polled, true, idle(polled)) else {
        panic!("the next poll rejoins");
    };
    assert_eq!(member_id, "", "a dynamic member joins as a new one");
}

#[test]
fn a_static_member_never_sends_leave_group() {
    let mut clock = Clock {
        now: Instant::now(),
    };
    let mut m = Membership::new(settings(false, Some("host-1")), clock.now);
    m.subscribe(clock.now);
    let Some(Send::Join { epoch, .. }) = m.next(clock.now, true, clock.polling()) else {
        panic!()
    };
    m.on_join(epoch, &joined("m-1", "m-0", 1, None), clock.now);
    assert_eq!(m.instance_id(), Some("host-1"));
    assert_eq!(m.leave(), None);
    let (mut dynamic, _) = stable(false, &[0]);
    assert_eq!(
        dynamic.leave(),
        Some(Send::Leave {
            member_id: "m-1".into()
        })
    );
    clock.advance(Duration::ZERO);
}

#[test]
fn a_lost_join_finds_the_coordinator_and_joins_again() {
    let mut clock = Clock {
        now: Instant::now(),
    };
    let mut m = Membership::new(settings(false, None), clock.now);
    m.subscribe(clock.now);
    let Some(Send::Join { epoch, .. }) = m.next(clock.now, true, clock.polling()) else {
        panic!()
    };
    m.on_lost(epoch, clock.now);
    assert_eq!(m.take_effects(), vec![Effect::FindCoordinator]);
    let at = clock.advance(Duration::from_millis(100));
    assert!(matches!(
        m.next(at, true, clock.polling()),
        Some(Send::Join { .. })
    ));
}

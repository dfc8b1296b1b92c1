//! The classic group protocol's requests for one member (JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup), built from what
//! [`Membership::next`](super::Membership::next) asks to send. Encoding
//! is kafka-protocol's; fields a version lacks are left at their defaults.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;

/// The protocol type every consumer group uses.
const CONSUMER: &str = "consumer";

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// What JoinGroup's wait may exceed the rebalance timeout by (Java's
/// `AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE`).
pub(crate) const JOIN_GROUP_TIMEOUT_LAPSE: Duration = Duration::from_secs(5);

/// How long a JoinGroup may wait for its answer: the coordinator holds it
/// until every member has rejoined, up to the rebalance timeout
/// (`max.poll.interval.ms`), so Java waits that plus
/// [`JOIN_GROUP_TIMEOUT_LAPSE`], and never less than `request.timeout.ms`.
pub(crate) fn join_timeout(request_timeout: Duration, rebalance_timeout: Duration) -> Duration {
    request_timeout.max(rebalance_timeout.saturating_add(JOIN_GROUP_TIMEOUT_LAPSE))
}

/// JoinGroup with `protocols` (assignor name, subscription metadata),
/// preferred first; `member_id` empty on the first join (KIP-394: the
/// coordinator answers MEMBER_ID_REQUIRED with one). `instance_id` goes
/// from v5 (the poller refuses static membership below it).
#[allow(clippy::too_many_arguments)] // each is one field of the request
pub(crate) fn join_group(
    version: i16,
    group: &str,
    member_id: &str,
    instance_id: Option<&str>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_session_timeout_ms(millis(session_timeout))
        .with_rebalance_timeout_ms(millis(rebalance_timeout))
        .with_member_id(text(member_id))
        .with_group_instance_id(instance_id.filter(|_| version >= 5).map(text))
        .with_protocol_type(text(CONSUMER))
        .with_protocols(
            protocols
                .into_iter()
                .map(|(name, metadata)| {
                    JoinGroupRequestProtocol::default()
                        .with_name(text(&name))
                        .with_metadata(metadata)
                })
                .collect(),
        )
}

/// SyncGroup; the leader sends every member's assignment, the others none.
pub(crate) fn sync_group(
    group: &str,
    generation: i32,
    member_id: &str,
    instance_id: Option<&str>,
    protocol: &str,
    assignments: Vec<(String, Bytes)>,
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_generation_id(generation)
        .with_member_id(text(member_id))
        .with_group_instance_id(instance_id.map(text))
        .with_protocol_type(Some(text(CONSUMER)))
        .with_protocol_name(Some(text(protocol)))
        .with_assignments(
            assignments
                .into_iter()
                .map(|(member, assignment)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(text(&member))
                        .with_assignment(assignment)
                })
                .collect(),
        )
}

pub(crate) fn heartbeat(
    group: &str,
    generation: i32,
    member_id: &str,
    instance_id: Option<&str>,
) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_generation_id(generation)
        .with_member_id(text(member_id))
        .with_group_instance_id(instance_id.map(text))
}

/// LeaveGroup for one member: by `member_id` before v3, in `members` from.
pub(crate) fn leave_group(group: &str, member_id: &str, version: i16) -> LeaveGroupRequest {
    let request = LeaveGroupRequest::default().with_group_id(GroupId(text(group)));
    if version >= 3 {
        let reason = (version >= 5).then(|| text("the consumer is leaving the group"));
        request.with_members(vec![MemberIdentity::default()
            .with_member_id(text(member_id))
            .with_reason(reason)])
    } else {
        request.with_member_id(text(member_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn join_waits_the_rebalance_timeout_and_five_seconds_at_least_the_request_timeout() {
        let s = Duration::from_secs;
        assert_eq!(join_timeout(s(30), s(300)), s(305));
        assert_eq!(join_timeout(s(30), s(1)), s(30));
        assert_eq!(join_timeout(s(1), Duration::MAX), Duration::MAX);
    }

    #[test]
    fn every_version_encodes() {
        let join = |v| {
            join_group(
                v,
                "g",
                "",
                Some("i"),
                Duration::from_secs(45),
                Duration::from_secs(300),
                vec![("range".into(), Bytes::from_static(b"\0\x01"))],
            )
        };
        for v in 4..=9 {
            let mut buf = bytes::BytesMut::new();
            join(v).encode(&mut buf, v).unwrap();
        }
        let sync = sync_group("g", 3, "m", None, "range", vec![("m".into(), Bytes::new())]);
        for v in 3..=5 {
            sync.encode(&mut bytes::BytesMut::new(), v).unwrap();
        }
        let hb = heartbeat("g", 3, "m", None);
        for v in 3..=4 {
            hb.encode(&mut bytes::BytesMut::new(), v).unwrap();
        }
        for v in 0..=5 {
            leave_group("g", "m", v)
                .encode(&mut bytes::BytesMut::new(), v)
                .unwrap();
        }
    }
}

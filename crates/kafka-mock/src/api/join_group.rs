//! JoinGroup: a member joins a classic group (or rejoins for a
//! rebalance). The group logic is the coordinator's
//! (`state::groups`); this file decodes and encodes. A join that must wait
//! for the other members is answered later ([`Served::Wait`]), so it holds
//! back only its own connection.
//!
//! v0 has no rebalance timeout: the session timeout serves as both, as in
//! Kafka. Fields a version lacks are left at their defaults, so every
//! answer encodes at the version asked.

use std::time::{Duration, Instant};

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::find_coordinator::group_error;
use super::{Ctx, Endpoint, Served};
use crate::state::groups::{JoinRequest, JoinResult, Reply};
use crate::state::ClusterState;

pub(crate) struct JoinGroup;

/// A request's millisecond count as a duration (negative: zero, which no
/// bound accepts).
pub(crate) fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Endpoint for JoinGroup {
    type Req = JoinGroupRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: JoinGroupRequest,
    ) -> Served<JoinGroupResponse> {
        let group = req.group_id.0.to_string();
        if let Some(error) = group_error(state, ctx.broker, &group) {
            return Self::fail(state, ctx, &req, error);
        }
        let session = millis(req.session_timeout_ms);
        let request = JoinRequest {
            group,
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.to_string()),
            client_id: ctx.client_id.to_owned(),
            session_timeout: session,
            rebalance_timeout: if ctx.version >= 1 {
                millis(req.rebalance_timeout_ms)
            } else {
                session
            },
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
            require_known_member_id: ctx.version >= 4,
            supports_skip_assignment: ctx.version >= 9,
        };
        match state.groups.join(request, Instant::now()) {
            Reply::Now(result) => Served::Respond(response(ctx.version, &result)),
            Reply::Wait(ticket) => Served::Wait(ticket),
        }
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        req: &JoinGroupRequest,
        error: ResponseError,
    ) -> Served<JoinGroupResponse> {
        let result = JoinResult::error(&req.member_id, error);
        Served::Respond(response(ctx.version, &result))
    }
}

/// `result` as a JoinGroup response at `version`.
pub(crate) fn response(version: i16, result: &JoinResult) -> JoinGroupResponse {
    let text = |s: &str| StrBytes::from_string(s.to_owned());
    let protocol = result.protocol.as_deref().map(text);
    let mut response = JoinGroupResponse::default()
        .with_error_code(result.error.map_or(0, |e| e.code()))
        .with_generation_id(result.generation)
        .with_leader(text(&result.leader))
        .with_member_id(text(&result.member_id))
        .with_members(
            result
                .members
                .iter()
                .map(|(id, instance, metadata)| {
                    let member = JoinGroupResponseMember::default()
                        .with_member_id(text(id))
                        .with_metadata(metadata.clone());
                    if version >= 5 {
                        member.with_group_instance_id(instance.as_deref().map(text))
                    } else {
                        member
                    }
                })
                .collect(),
        );
    if version >= 7 {
        response = response
            .with_protocol_name(protocol)
            .with_protocol_type(result.protocol_type.as_deref().map(text));
    } else {
        // Not nullable before v7: Kafka sends "" for no protocol.
        response = response.with_protocol_name(Some(protocol.unwrap_or_default()));
    }
    if version >= 9 {
        response = response.with_skip_assignment(result.skip_assignment);
    }
    response
}

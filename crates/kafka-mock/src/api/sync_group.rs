//! SyncGroup: the leader hands in every member's assignment and each
//! member collects its own. A follower that asks before the leader has
//! answered waits ([`Served::Wait`]) without holding other connections.
//! While the coordinator is "loading" (a fault) the answer is
//! REBALANCE_IN_PROGRESS, as Kafka's, so members rejoin.

use std::time::Instant;

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::find_coordinator::group_error;
use super::{Ctx, Endpoint, Served};
use crate::state::groups::{Reply, SyncRequest, SyncResult};
use crate::state::ClusterState;

pub(crate) struct SyncGroup;

impl Endpoint for SyncGroup {
    type Req = SyncGroupRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: SyncGroupRequest,
    ) -> Served<SyncGroupResponse> {
        let group = req.group_id.0.to_string();
        if let Some(error) = group_error(state, ctx.broker, &group) {
            let error = match error {
                ResponseError::CoordinatorLoadInProgress => ResponseError::RebalanceInProgress,
                other => other,
            };
            return Self::fail(state, ctx, &req, error);
        }
        let request = SyncRequest {
            group,
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.to_string()),
            generation: req.generation_id,
            protocol_type: req.protocol_type.as_ref().map(|t| t.to_string()),
            protocol: req.protocol_name.as_ref().map(|p| p.to_string()),
            assignments: req
                .assignments
                .iter()
                .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                .collect(),
        };
        match state.groups.sync(request, Instant::now()) {
            Reply::Now(result) => Served::Respond(response(ctx.version, &result)),
            Reply::Wait(ticket) => Served::Wait(ticket),
        }
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        _: &SyncGroupRequest,
        error: ResponseError,
    ) -> Served<SyncGroupResponse> {
        Served::Respond(response(ctx.version, &SyncResult::error(error)))
    }
}

/// `result` as a SyncGroup response at `version`.
pub(crate) fn response(version: i16, result: &SyncResult) -> SyncGroupResponse {
    let text = |s: &String| StrBytes::from_string(s.clone());
    let response = SyncGroupResponse::default()
        .with_error_code(result.error.map_or(0, |e| e.code()))
        .with_assignment(result.assignment.clone());
    if version >= 5 {
        response
            .with_protocol_type(result.protocol_type.as_ref().map(text))
            .with_protocol_name(result.protocol.as_ref().map(text))
    } else {
        response
    }
}

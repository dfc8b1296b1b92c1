//! Heartbeat: a member says it is alive; the answer says whether the
//! group is rebalancing (REBALANCE_IN_PROGRESS: rejoin) or the member is
//! gone (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID). While
//! the coordinator is "loading" (a fault) heartbeats succeed blindly, as
//! Kafka's do.

use std::time::Instant;

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
use kafka_protocol::ResponseError;

use super::find_coordinator::group_error;
use super::{Ctx, Endpoint, Served};
use crate::state::ClusterState;

pub(crate) struct Heartbeat;

impl Endpoint for Heartbeat {
    type Req = HeartbeatRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: HeartbeatRequest,
    ) -> Served<HeartbeatResponse> {
        let group = req.group_id.0.to_string();
        let error = match group_error(state, ctx.broker, &group) {
            Some(ResponseError::CoordinatorLoadInProgress) => None,
            Some(error) => Some(error),
            None => state.groups.heartbeat(
                &group,
                &req.member_id,
                req.group_instance_id.as_deref(),
                req.generation_id,
                Instant::now(),
            ),
        };
        Served::Respond(HeartbeatResponse::default().with_error_code(error.map_or(0, |e| e.code())))
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        _: &HeartbeatRequest,
        error: ResponseError,
    ) -> Served<HeartbeatResponse> {
        Served::Respond(HeartbeatResponse::default().with_error_code(error.code()))
    }
}

//! LeaveGroup: members leave at once, so the others rebalance without
//! waiting out a session timeout. v0–v2 name one member and answer with
//! one error; v3+ name several (KIP-345, by member id or
//! group.instance.id) and answer per member.

use std::time::Instant;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
use kafka_protocol::ResponseError;

use super::find_coordinator::group_error;
use super::{Ctx, Endpoint, Served};
use crate::state::groups::Leaving;
use crate::state::ClusterState;

pub(crate) struct LeaveGroup;

impl Endpoint for LeaveGroup {
    type Req = LeaveGroupRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: LeaveGroupRequest,
    ) -> Served<LeaveGroupResponse> {
        let group = req.group_id.0.to_string();
        if let Some(error) = group_error(state, ctx.broker, &group) {
            return Self::fail(state, ctx, &req, error);
        }
        let leaving: Vec<Leaving> = if ctx.version >= 3 {
            req.members
                .iter()
                .map(|m| Leaving {
                    member_id: m.member_id.to_string(),
                    instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
                })
                .collect()
        } else {
            vec![Leaving {
                member_id: req.member_id.to_string(),
                instance_id: None,
            }]
        };
        let errors = state.groups.leave(&group, &leaving, Instant::now());
        let code = |e: &Option<ResponseError>| e.map_or(0, |e| e.code());
        if ctx.version < 3 {
            let first = errors.first().map_or(0, code);
            return Served::Respond(LeaveGroupResponse::default().with_error_code(first));
        }
        let members = req
            .members
            .iter()
            .zip(&errors)
            .map(|(m, e)| {
                MemberResponse::default()
                    .with_member_id(m.member_id.clone())
                    .with_group_instance_id(m.group_instance_id.clone())
                    .with_error_code(code(e))
            })
            .collect();
        Served::Respond(LeaveGroupResponse::default().with_members(members))
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        _: &LeaveGroupRequest,
        error: ResponseError,
    ) -> Served<LeaveGroupResponse> {
        Served::Respond(LeaveGroupResponse::default().with_error_code(error.code()))
    }
}

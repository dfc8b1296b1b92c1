//! DescribeGroups: each group's state, assignor and members, as Kafka
//! reports them (metadata and assignments only while Stable; an unknown
//! group is `Dead` with no error). Groups another broker coordinates get
//! NOT_COORDINATOR.

use std::time::Instant;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse, GroupId};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::find_coordinator::group_error;
use super::{Ctx, Endpoint, Served};
use crate::state::ClusterState;

pub(crate) struct DescribeGroups;

impl Endpoint for DescribeGroups {
    type Req = DescribeGroupsRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: DescribeGroupsRequest,
    ) -> Served<DescribeGroupsResponse> {
        let groups = req
            .groups
            .iter()
            .map(|id| {
                let name = id.0.to_string();
                if let Some(error) = group_error(state, ctx.broker, &name) {
                    return errored(ctx, id, error);
                }
                let snapshot = state.groups.describe(&name, Instant::now());
                let text = |s: &str| StrBytes::from_string(s.to_owned());
                let members = snapshot
                    .members
                    .iter()
                    .map(|m| {
                        let member = DescribedGroupMember::default()
                            .with_member_id(text(&m.member_id))
                            .with_client_id(text(&m.client_id))
                            .with_client_host(text("/127.0.0.1"))
                            .with_member_metadata(m.metadata.clone())
                            .with_member_assignment(m.assignment.clone());
                        if ctx.version >= 4 {
                            member.with_group_instance_id(m.instance_id.as_deref().map(text))
                        } else {
                            member
                        }
                    })
                    .collect();
                described(ctx, id)
                    .with_group_state(text(snapshot.state))
                    .with_protocol_type(text(&snapshot.protocol_type))
                    .with_protocol_data(text(&snapshot.protocol))
                    .with_members(members)
            })
            .collect();
        Served::Respond(DescribeGroupsResponse::default().with_groups(groups))
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        req: &DescribeGroupsRequest,
        error: ResponseError,
    ) -> Served<DescribeGroupsResponse> {
        let groups = req
            .groups
            .iter()
            .map(|id| errored(ctx, id, error))
            .collect();
        Served::Respond(DescribeGroupsResponse::default().with_groups(groups))
    }
}

fn described(ctx: Ctx, id: &GroupId) -> DescribedGroup {
    let group = DescribedGroup::default().with_group_id(id.clone());
    if ctx.version >= 3 {
        // Kafka's "not requested" marker for authorized operations.
        group.with_authorized_operations(i32::MIN)
    } else {
        group
    }
}

fn errored(ctx: Ctx, id: &GroupId, error: ResponseError) -> DescribedGroup {
    let group = described(ctx, id).with_error_code(error.code());
    if ctx.version >= 6 {
        group.with_error_message(Some(StrBytes::from_string(error.to_string())))
    } else {
        group
    }
}

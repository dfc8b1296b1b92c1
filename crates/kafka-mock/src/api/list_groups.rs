//! ListGroups: the groups this broker coordinates, with their protocol
//! type and (v4+) state, filtered by state (v4+) and type (v5+) when asked.

use std::time::Instant;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{Ctx, Endpoint, Served};
use crate::state::ClusterState;

pub(crate) struct ListGroups;

impl Endpoint for ListGroups {
    type Req = ListGroupsRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: ListGroupsRequest,
    ) -> Served<ListGroupsResponse> {
        let mine: Vec<String> = state
            .groups
            .names()
            .filter(|g| state.coordinator(g) == Some(ctx.broker))
            .map(str::to_owned)
            .collect();
        let overviews = state
            .groups
            .list(Instant::now(), |g| mine.iter().any(|m| m == g));
        let wanted = |filter: &[StrBytes], value: &str| {
            filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
        };
        let groups = overviews
            .iter()
            .filter(|o| ctx.version < 4 || wanted(&req.states_filter, o.state))
            .filter(|_| ctx.version < 5 || wanted(&req.types_filter, "classic"))
            .map(|o| {
                let listed = ListedGroup::default()
                    .with_group_id(GroupId(StrBytes::from_string(o.group.clone())))
                    .with_protocol_type(StrBytes::from_string(o.protocol_type.clone()));
                let listed = if ctx.version >= 4 {
                    listed.with_group_state(StrBytes::from_static_str(o.state))
                } else {
                    listed
                };
                if ctx.version >= 5 {
                    listed.with_group_type(StrBytes::from_static_str("classic"))
                } else {
                    listed
                }
            })
            .collect();
        Served::Respond(ListGroupsResponse::default().with_groups(groups))
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        _: &ListGroupsRequest,
        error: ResponseError,
    ) -> Served<ListGroupsResponse> {
        Served::Respond(ListGroupsResponse::default().with_error_code(error.code()))
    }
}

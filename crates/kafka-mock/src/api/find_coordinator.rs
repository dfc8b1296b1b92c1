//! FindCoordinator: which broker coordinates a consumer group (or a
//! transactional id; the mock answers both alike, though it models no
//! transactions).
//!
//! The coordinator is a running broker chosen by the key's hash
//! (`ClusterState::coordinator`), so stopping it moves the group, as a
//! moved `__consumer_offsets` leader does in Kafka. v0–v3 ask for one key;
//! v4+ for a list (KIP-699). The coordinator check the group APIs share
//! lives here too.

use std::time::Instant;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{Ctx, Endpoint, Served};
use crate::state::ClusterState;

pub(crate) struct FindCoordinator;

/// The error a group request sent to `broker` gets, or `None` when
/// `broker` coordinates `group` (and is not "loading" it: a fault).
pub(crate) fn group_error(state: &ClusterState, broker: i32, group: &str) -> Option<ResponseError> {
    if group.is_empty() {
        return Some(ResponseError::InvalidGroupId);
    }
    match state.coordinator(group) {
        None => Some(ResponseError::CoordinatorNotAvailable),
        Some(id) if id != broker => Some(ResponseError::NotCoordinator),
        Some(_) if state.groups.is_loading(group, Instant::now()) => {
            Some(ResponseError::CoordinatorLoadInProgress)
        }
        Some(_) => None,
    }
}

/// `(node, host, port)` of `key`'s coordinator, or the error to answer.
fn locate(
    state: &ClusterState,
    key_type: i8,
    key: &str,
) -> Result<(i32, String, i32), ResponseError> {
    if !matches!(key_type, 0 | 1) {
        return Err(ResponseError::InvalidRequest);
    }
    let id = state
        .coordinator(key)
        .ok_or(ResponseError::CoordinatorNotAvailable)?;
    let broker = state
        .broker(id)
        .map_err(|_| ResponseError::CoordinatorNotAvailable)?;
    Ok((id, broker.host.clone(), broker.port))
}

impl Endpoint for FindCoordinator {
    type Req = FindCoordinatorRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: FindCoordinatorRequest,
    ) -> Served<FindCoordinatorResponse> {
        let answer = |key: &str| locate(state, req.key_type, key);
        Served::Respond(respond(ctx, &req, answer))
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        req: &FindCoordinatorRequest,
        error: ResponseError,
    ) -> Served<FindCoordinatorResponse> {
        Served::Respond(respond(ctx, req, |_| Err(error)))
    }
}

fn respond(
    ctx: Ctx,
    req: &FindCoordinatorRequest,
    answer: impl Fn(&str) -> Result<(i32, String, i32), ResponseError>,
) -> FindCoordinatorResponse {
    if ctx.version < 4 {
        let response = FindCoordinatorResponse::default();
        return match answer(&req.key) {
            Ok((id, host, port)) => response
                .with_node_id(BrokerId(id))
                .with_host(StrBytes::from_string(host))
                .with_port(port),
            Err(error) => with_error(response, ctx.version, error)
                .with_node_id(BrokerId(-1))
                .with_host(StrBytes::default())
                .with_port(-1),
        };
    }
    let coordinators = req
        .coordinator_keys
        .iter()
        .map(|key| {
            let coordinator = Coordinator::default().with_key(key.clone());
            match answer(key) {
                Ok((id, host, port)) => coordinator
                    .with_node_id(BrokerId(id))
                    .with_host(StrBytes::from_string(host))
                    .with_port(port),
                Err(error) => coordinator
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string()))),
            }
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}

fn with_error(
    response: FindCoordinatorResponse,
    version: i16,
    error: ResponseError,
) -> FindCoordinatorResponse {
    let response = response.with_error_code(error.code());
    if version >= 1 {
        response.with_error_message(Some(StrBytes::from_string(error.to_string())))
    } else {
        response
    }
}

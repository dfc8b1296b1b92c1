//! ApiVersions: the list of served APIs and versions.
//!
//! A request at a version the mock does not serve is still answered, as real
//! brokers do: with `UNSUPPORTED_VERSION` and the full list, encoded at v0
//! (which every client can read), so the client can retry at a version both
//! sides know. The response header is always v0, even for flexible versions
//! (KIP-511).

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::ResponseError;

use super::{Ctx, Endpoint, Served};
use crate::state::ClusterState;
use crate::versions::SUPPORTED_APIS;

pub(crate) struct ApiVersions;

impl Endpoint for ApiVersions {
    type Req = ApiVersionsRequest;

    fn serve(_: &mut ClusterState, _: Ctx, _: ApiVersionsRequest) -> Served<ApiVersionsResponse> {
        Served::Respond(response(0))
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        _: &ApiVersionsRequest,
        error: ResponseError,
    ) -> Served<ApiVersionsResponse> {
        Served::Respond(response(error.code()))
    }
}

/// The response with `error_code` and the served APIs; valid at every
/// version.
pub(crate) fn response(error_code: i16) -> ApiVersionsResponse {
    let api_keys = SUPPORTED_APIS
        .iter()
        .map(|api| {
            ApiVersion::default()
                .with_api_key(api.key as i16)
                .with_min_version(api.min)
                .with_max_version(api.max)
        })
        .collect();
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(api_keys)
}

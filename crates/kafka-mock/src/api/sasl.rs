//! SaslHandshake and SaslAuthenticate where no login is under way: on a
//! listener without SASL, or after a connection has logged in (the login
//! itself is the connection's [`Session`](crate::sasl::Session), before any
//! frame reaches the cluster). Kafka answers both with `ILLEGAL_SASL_STATE`
//! there; so does the mock. Sessions have no lifetime, so clients never
//! re-authenticate (KIP-368).

use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{Ctx, Endpoint, Served};
use crate::state::ClusterState;

pub(crate) struct SaslHandshake;

impl Endpoint for SaslHandshake {
    type Req = SaslHandshakeRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: SaslHandshakeRequest,
    ) -> Served<SaslHandshakeResponse> {
        Self::fail(state, ctx, &req, ResponseError::IllegalSaslState)
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        _: &SaslHandshakeRequest,
        error: ResponseError,
    ) -> Served<SaslHandshakeResponse> {
        Served::Respond(SaslHandshakeResponse::default().with_error_code(error.code()))
    }
}

pub(crate) struct SaslAuthenticate;

impl Endpoint for SaslAuthenticate {
    type Req = SaslAuthenticateRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: SaslAuthenticateRequest,
    ) -> Served<SaslAuthenticateResponse> {
        Self::fail(state, ctx, &req, ResponseError::IllegalSaslState)
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        _: &SaslAuthenticateRequest,
        error: ResponseError,
    ) -> Served<SaslAuthenticateResponse> {
        let message = if error == ResponseError::IllegalSaslState {
            "SaslAuthenticate is served only during a SASL listener's login \
             (after SaslHandshake, before the login succeeds)"
        } else {
            "injected failure"
        };
        Served::Respond(
            SaslAuthenticateResponse::default()
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_static_str(message))),
        )
    }
}

//! InitProducerId: hands out producer ids for idempotent producers.
//!
//! Without a transactional id (null, or empty, which real brokers refuse
//! with `INVALID_REQUEST` but the mock accepts alike) every request gets a
//! brand-new producer id at epoch 0, even one carrying an existing producer
//! id and epoch (the KIP-360 fields of v3+): as in Kafka, only
//! transactional producers have their epoch bumped by the coordinator; an
//! idempotent producer bumps its epoch itself, or asks for a new id.
//! Transactions are not modelled: a non-empty transactional id is refused
//! with `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::{Ctx, Endpoint, Served};
use crate::state::ClusterState;

pub(crate) struct InitProducerId;

impl Endpoint for InitProducerId {
    type Req = InitProducerIdRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: InitProducerIdRequest,
    ) -> Served<InitProducerIdResponse> {
        if req
            .transactional_id
            .as_ref()
            .is_some_and(|id| !id.0.is_empty())
        {
            return Self::fail(
                state,
                ctx,
                &req,
                ResponseError::TransactionalIdAuthorizationFailed,
            );
        }
        let (id, epoch) = (state.allocate_producer_id(), 0);
        tracing::debug!(
            producer_id = id,
            epoch,
            presented_id = req.producer_id.0,
            presented_epoch = req.producer_epoch,
            "producer id issued"
        );
        Served::Respond(
            InitProducerIdResponse::default()
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(epoch),
        )
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        _: &InitProducerIdRequest,
        error: ResponseError,
    ) -> Served<InitProducerIdResponse> {
        Served::Respond(
            InitProducerIdResponse::default()
                .with_error_code(error.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
    }
}

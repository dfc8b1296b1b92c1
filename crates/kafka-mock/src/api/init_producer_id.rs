//! InitProducerId: hands out producer ids for idempotent producers.
//!
//! A new producer gets a fresh id at epoch 0. From v3 a producer may present
//! its current id and epoch (KIP-360) and gets the same id with the epoch
//! bumped, which resets its sequence numbers. Transactions are not modelled:
//! a (non-empty) transactional id is refused with
//! `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`.

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
        let (id, epoch) = if req.producer_id.0 >= 0
            && req.producer_epoch >= 0
            && req.producer_epoch < i16::MAX - 1
        {
            (req.producer_id.0, req.producer_epoch + 1)
        } else {
            (state.allocate_producer_id(), 0)
        };
        tracing::debug!(producer_id = id, epoch, "producer id issued");
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

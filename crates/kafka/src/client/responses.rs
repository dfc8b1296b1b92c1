//! What the poller does with each response.
//!
//! Produce, per partition: no error (or DUPLICATE_SEQUENCE_NUMBER, a retry
//! the broker had already written) completes the batch; a retriable error
//! puts it back for another attempt, and a leadership error also asks for
//! fresh metadata; anything else fails it with the broker's error.

use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiVersionsResponse, InitProducerIdResponse, MetadataResponse, ProduceResponse,
};
use kafka_protocol::ResponseError;

use super::connection::{InFlight, Phase, Purpose};
use super::poller::Poller;
use super::{requests, wire};
use crate::accumulator::ProducerBatch;
use crate::delivery::DeliveryError;

/// Applies the response to `request`; an error closes the connection.
pub(super) fn apply(
    poller: &mut Poller,
    id: u64,
    request: InFlight,
    payload: Bytes,
    now: Instant,
) -> Result<(), String> {
    let (api, version) = (request.api, request.version);
    match request.purpose {
        Purpose::ApiVersions => {
            let response: ApiVersionsResponse =
                wire::response(api, version, payload).map_err(|e| e.to_string())?;
            api_versions(poller, id, version, &response, now)
        }
        Purpose::Metadata => {
            poller.metadata_in_flight = false;
            poller.metadata_not_before = now + poller.shared.config.retry_backoff();
            let response: MetadataResponse =
                wire::response(api, version, payload).map_err(|e| e.to_string())?;
            poller.shared.metadata.update(&response, now);
            adopt_bootstrap_connection(poller, id);
            tracing::debug!(
                brokers = response.brokers.len(),
                topics = response.topics.len(),
                "metadata"
            );
            Ok(())
        }
        Purpose::InitProducerId => {
            poller.pid_in_flight = false;
            let response: InitProducerIdResponse =
                wire::response(api, version, payload).map_err(|e| e.to_string())?;
            init_producer_id(poller, &response);
            Ok(())
        }
        Purpose::Produce(batches) => {
            let latency = now.duration_since(request.sent);
            if let Some(broker) = poller.conns.get(&id).and_then(|s| s.conn.broker) {
                poller
                    .shared
                    .latency
                    .lock()
                    .entry(broker)
                    .or_default()
                    .record(latency);
            }
            match wire::response::<ProduceResponse>(api, version, payload) {
                Ok(response) => produce(poller, batches, &response, now),
                Err(error) => {
                    for batch in batches {
                        poller.retry_or_fail(
                            batch,
                            DeliveryError::network(&error.to_string()),
                            now,
                        );
                    }
                    return Err(error.to_string());
                }
            }
            Ok(())
        }
    }
}

fn api_versions(
    poller: &mut Poller,
    id: u64,
    version: i16,
    response: &ApiVersionsResponse,
    now: Instant,
) -> Result<(), String> {
    if response.error_code == ResponseError::UnsupportedVersion.code() && version > 0 {
        // An older broker: it answered at v0; ask again in its terms.
        return poller.send_api_versions(id, 0, now);
    }
    if response.error_code != 0 {
        return Err(format!(
            "ApiVersions failed with error code {}",
            response.error_code
        ));
    }
    let versions = requests::negotiate(&response.api_keys).map_err(|e| {
        tracing::error!(error = %e, "broker too old for this producer");
        e.to_string()
    })?;
    let slot = poller.conns.get_mut(&id).ok_or("connection gone")?;
    slot.conn.versions = versions;
    slot.conn.phase = Phase::Ready;
    tracing::debug!(addr = %slot.conn.addr, ?versions, "versions negotiated");
    Ok(())
}

/// A bootstrap connection whose address is a broker's becomes that
/// broker's connection, so it is not dialled twice.
fn adopt_bootstrap_connection(poller: &mut Poller, id: u64) {
    let Some(slot) = poller.conns.get(&id) else {
        return;
    };
    if slot.conn.broker.is_some() {
        return;
    }
    let addr = slot.conn.addr;
    let metadata = &poller.shared.metadata;
    let found = metadata.brokers().into_iter().find(|(broker, host, port)| {
        !poller.by_broker.contains_key(broker)
            && std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))
                .is_ok_and(|mut a| a.any(|a| a == addr))
    });
    if let Some((broker, _, _)) = found {
        if let Some(slot) = poller.conns.get_mut(&id) {
            slot.conn.broker = Some(broker);
            poller.by_broker.insert(broker, id);
        }
    }
}

fn init_producer_id(poller: &mut Poller, response: &InitProducerIdResponse) {
    match ResponseError::try_from_code(response.error_code) {
        None => {
            poller.producer_id = Some((response.producer_id.0, response.producer_epoch));
            tracing::info!(
                producer_id = response.producer_id.0,
                epoch = response.producer_epoch,
                "idempotent producer id"
            );
        }
        Some(error) if error.is_retriable() => {
            tracing::debug!(%error, "InitProducerId will be retried");
        }
        Some(error) => {
            tracing::error!(
                %error,
                "InitProducerId refused: sending without idempotence (duplicates are possible on \
                 retries); set enable.idempotence=false to silence this"
            );
            poller.producer_id = Some((-1, -1));
        }
    }
}

fn produce(
    poller: &mut Poller,
    batches: Vec<ProducerBatch>,
    response: &ProduceResponse,
    now: Instant,
) {
    for batch in batches {
        let tp = batch.topic_partition();
        let answer = response
            .responses
            .iter()
            .filter(|t| t.name.0.as_str() == &*tp.topic)
            .flat_map(|t| t.partition_responses.iter())
            .find(|p| p.index == tp.partition);
        let Some(answer) = answer else {
            let reason = format!("the Produce response left out {tp}");
            poller.retry_or_fail(batch, DeliveryError::network(&reason), now);
            continue;
        };
        let code = answer.error_code;
        if code == 0 || code == ResponseError::DuplicateSequenceNumber.code() {
            poller.batch_done(tp);
            let append_time = (answer.log_append_time_ms >= 0).then_some(answer.log_append_time_ms);
            batch.complete(answer.base_offset, append_time);
            continue;
        }
        let error = ResponseError::try_from_code(code);
        if error.is_some_and(|e| {
            matches!(
                e,
                ResponseError::NotLeaderOrFollower
                    | ResponseError::LeaderNotAvailable
                    | ResponseError::UnknownTopicOrPartition
                    | ResponseError::FencedLeaderEpoch
            )
        }) {
            poller.shared.metadata.mark_stale();
        }
        tracing::debug!(%tp, code, attempts = batch.attempts(), "produce error");
        let attempts = batch.attempts() + 1;
        let mut error = DeliveryError::broker(code, attempts);
        if code == ResponseError::OutOfOrderSequenceNumber.code() {
            // A batch pipelined behind one that failed: the broker refuses
            // the gap. It goes again, in order, once the earlier one has.
            error = DeliveryError::new(error.kind(), true, error.message());
        }
        poller.retry_or_fail(batch, error, now);
    }
}

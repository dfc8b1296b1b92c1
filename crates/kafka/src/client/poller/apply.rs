//! Where responses take effect: each one decoded, turned into verdicts by
//! `responses` (pure), and applied here, the one place that completes,
//! retries or fails a batch and keeps the partition's sequence stream and
//! in-flight count in step with it.

use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{InitProducerIdResponse, MetadataResponse, ProduceResponse};
use rouse_reactor::SourceKey;

use super::{Link, Poller};
use crate::accumulator::ProducerBatch;
use crate::client::requests::Purpose;
use crate::client::responses::{self, Verdict};
use crate::client::sequences::OutOfOrder;
use crate::client::Failure;
use crate::delivery::DeliveryError;
use crate::net::{wire, Answered, Connections};

/// The verdict for a batch whose request got no answer (its connection
/// died, or the write failed): in doubt, so it goes again unchanged.
pub(super) fn lost_answer(error: &DeliveryError) -> Verdict {
    Verdict::Retry(error.clone())
}

impl Poller {
    /// Applies the response to `request` on connection `key`; an error
    /// closes the connection.
    pub(super) fn apply(
        &mut self,
        key: SourceKey,
        link: &mut Link,
        request: Answered<Purpose>,
        payload: Bytes,
        now: Instant,
    ) -> Result<(), String> {
        let (api, version) = (request.api, request.version);
        match request.purpose {
            Purpose::Metadata => {
                self.metadata_in_flight = false;
                self.metadata_not_before = now + self.shared.config.retry_backoff();
                let response: MetadataResponse =
                    wire::response(api, version, payload).map_err(|e| e.to_string())?;
                self.shared.metadata.update(&response, now);
                self.adopt_bootstrap_connection(key, link);
                tracing::debug!(
                    brokers = response.brokers.len(),
                    topics = response.topics.len(),
                    "metadata"
                );
                Ok(())
            }
            Purpose::InitProducerId => {
                let response: InitProducerIdResponse = wire::response(api, version, payload)
                    .map_err(|e| {
                        self.identity.unanswered(now);
                        e.to_string()
                    })?;
                let granted = responses::init_producer_id(&response);
                let backoff = self.shared.config.retry_backoff();
                if let Err(reason) = self.identity.granted(granted, now, backoff) {
                    self.pending_fatal = Some(Failure::fatal(&reason));
                }
                Ok(())
            }
            Purpose::Produce(batches) => {
                self.record_latency(link, now.duration_since(request.sent));
                match wire::response::<ProduceResponse>(api, version, payload) {
                    Ok(response) => {
                        for batch in batches {
                            let answer = responses::answer_for(&response, batch.topic_partition());
                            let verdict = responses::produce_verdict(
                                batch.topic_partition(),
                                answer,
                                batch.attempts(),
                            );
                            self.settle(batch, verdict, now);
                        }
                        Ok(())
                    }
                    Err(error) => {
                        let lost = DeliveryError::network(&error.to_string());
                        for batch in batches {
                            self.settle(batch, lost_answer(&lost), now);
                        }
                        Err(error.to_string())
                    }
                }
            }
        }
    }

    fn record_latency(&self, link: &Link, latency: std::time::Duration) {
        if let Some(broker) = link.conn.target.broker() {
            self.shared
                .latency
                .lock()
                .entry(broker)
                .or_default()
                .record(latency);
        }
    }

    /// An `acks=0` request was written: that is all the broker will say.
    pub(super) fn written_unanswered(&mut self, purpose: Purpose) {
        for batch in purpose.into_batches() {
            self.batch_done(batch.topic_partition());
            batch.complete(-1, None);
        }
    }

    /// Applies `verdict` to a batch that was on the wire.
    pub(super) fn settle(&mut self, batch: ProducerBatch, verdict: Verdict, now: Instant) {
        let (tp, id) = (batch.topic_partition().clone(), batch.id());
        self.batch_done(&tp);
        match verdict {
            Verdict::Complete {
                base_offset,
                log_append_time,
            } => {
                self.sequences.acked(&tp, id);
                self.identity.acked();
                batch.complete(base_offset, log_append_time);
            }
            Verdict::Retry(error) => self.retry_or_fail(batch, error, now),
            Verdict::RetryAfterMetadata(error) => {
                self.shared.metadata.mark_stale();
                self.retry_or_fail(batch, error, now);
            }
            Verdict::OutOfOrder(error) => {
                if self.sequences.out_of_order(&tp, id) == OutOfOrder::Gap {
                    tracing::warn!(%tp, stamp = ?batch.stamp(), "sequence gap: the batch waits for a new producer id");
                }
                self.retry_or_fail(batch, error, now);
            }
            Verdict::RecoverIdentity(error) => {
                tracing::warn!(%tp, stamp = ?batch.stamp(), "the broker lost this producer's state: the batch waits for a new producer id");
                self.sequences.not_written(&tp, id);
                self.retry_or_fail(batch, error, now);
            }
            Verdict::Fail(error) => {
                self.sequences.ended_unacked(&tp, id);
                batch.fail(error);
            }
            Verdict::Fatal(reason) => {
                self.sequences.ended_unacked(&tp, id);
                batch.fail(DeliveryError::fatal(&reason));
                self.pending_fatal
                    .get_or_insert_with(|| Failure::fatal(&reason));
            }
        }
    }

    /// A batch that failed retriably goes back to its queue unless it is
    /// out of retries or `delivery.timeout.ms` has passed; a fatal error
    /// fails it at once.
    fn retry_or_fail(&mut self, batch: ProducerBatch, error: DeliveryError, now: Instant) {
        let config = &self.shared.config;
        let (tp, id) = (batch.topic_partition().clone(), batch.id());
        if let Some(failure) = self.shared.fatal.get().or(self.pending_fatal.as_ref()) {
            self.sequences.ended_unacked(&tp, id);
            batch.fail(failure.error.clone());
        } else if batch.is_expired(now, config.delivery_timeout()) {
            self.sequences.ended_unacked(&tp, id);
            batch.fail(DeliveryError::timeout(config.delivery_timeout(), true));
        } else if !error.is_retriable() || batch.attempts() >= config.retries() {
            self.sequences.ended_unacked(&tp, id);
            batch.fail(error);
        } else {
            self.shared.accumulator.reenqueue(batch, now);
        }
    }
}

//! The send pump: metadata and InitProducerId requests when due, and ready
//! batches drained from the accumulator into one Produce request per
//! broker, each batch stamped as `sequences` says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::BrokerId;
use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use rouse_reactor::SourceKey;

use super::{Link, Loop, Poller};
use crate::accumulator::ProducerBatch;
use crate::batch::{BatchError, ProducerIdentity};
use crate::client::requests::{self, Purpose, Versions};
use crate::client::responses::Verdict;
use crate::client::sequences::SendStamp;
use crate::delivery::DeliveryError;
use crate::net::{sync_interest, Connections, Serve};
use crate::record::TopicPartition;

/// Drains per pump at most (a connection's in-flight limit is at most 5
/// per partition, so more rounds than that only find muted partitions).
const MAX_DRAIN_ROUNDS: usize = 8;

impl Poller {
    pub(super) fn refresh_metadata(&mut self, el: &mut Loop, now: Instant) {
        let metadata = &self.shared.metadata;
        if self.metadata_in_flight
            || now < self.metadata_not_before
            || !metadata.needs_refresh(now, self.shared.config.metadata_max_age())
        {
            return;
        }
        let Some((key, versions)) = self.ready_versions(el) else {
            self.connect(el, None, now);
            return;
        };
        let topics = metadata.wanted();
        let body = requests::metadata(&topics);
        match self.send_on(
            el,
            key,
            ApiKey::Metadata,
            versions.metadata,
            &body,
            Purpose::Metadata,
            now,
            true,
        ) {
            Ok(()) => self.metadata_in_flight = true,
            Err(reason) => self.close(el, key, &reason, now),
        }
    }

    /// Any Ready connection, and the versions it negotiated.
    fn ready_versions(&self, el: &Loop) -> Option<(SourceKey, Versions)> {
        let key = self.ready_conn(el, None)?;
        Some((key, Versions::of(&el.source::<Link>(key)?.conn.versions)))
    }

    pub(super) fn init_producer_id(&mut self, el: &mut Loop, now: Instant) {
        if !self.identity.wanted_at().is_some_and(|at| at <= now) {
            return;
        }
        let Some((key, versions)) = self.ready_versions(el) else {
            self.connect(el, None, now);
            return;
        };
        let Some(version) = versions.init_producer_id else {
            if let Err(reason) = self.identity.unsupported() {
                self.raise_fatal(el, &reason);
            }
            return;
        };
        let timeout_ms =
            i32::try_from(self.shared.config.delivery_timeout().as_millis()).unwrap_or(i32::MAX);
        let (producer_id, epoch) = self.identity.request_fields(version);
        let body = requests::init_producer_id(timeout_ms, producer_id, epoch);
        self.identity.asked();
        let purpose = Purpose::InitProducerId;
        if let Err(reason) = self.send_on(
            el,
            key,
            ApiKey::InitProducerId,
            version,
            &body,
            purpose,
            now,
            true,
        ) {
            self.close(el, key, &reason, now);
        }
    }

    /// How many batches of one partition may be in flight: one without
    /// idempotence (order), up to five with it (the broker's window).
    fn per_partition_limit(&self) -> usize {
        if self.identity.is_off() {
            1
        } else {
            self.shared
                .config
                .max_in_flight_requests_per_connection()
                .clamp(1, 5)
        }
    }

    /// Whether connection to `broker` can take one more Produce request.
    fn has_room(&self, el: &Loop, broker: BrokerId) -> bool {
        let max = self.shared.config.max_in_flight_requests_per_connection();
        self.ready_conn(el, Some(broker))
            .and_then(|key| el.source::<Link>(key))
            .is_some_and(|link| link.conn.produce_in_flight() < max)
    }

    pub(super) fn send_ready(&mut self, el: &mut Loop, now: Instant, slept: Duration) {
        if !self.identity.is_ready() {
            return; // idempotent: nothing goes before the producer id
        }
        let current = self.identity.current();
        let shared = Arc::clone(&self.shared);
        // Each drain takes at most one batch per partition: drain again
        // while it yields, so a busy partition fills its pipeline (and the
        // connections their in-flight limit) in one pass, not one per
        // loop iteration. Bounded: every round sends or mutes something.
        for round in 0..MAX_DRAIN_ROUNDS {
            let drained = shared.accumulator.drain_ready_if(
                now,
                |tp| {
                    let leader = shared.metadata.leader(tp)?;
                    self.has_room(el, leader).then_some(leader)
                },
                |tp, batch, complete| {
                    current.map_or(true, |c| {
                        self.sequences.may_send(tp, batch.id(), batch.stamp(), c)
                            && (complete || !self.sequences.in_flight(tp))
                    })
                },
            );
            if round == 0 {
                for tp in &drained.unknown_leaders {
                    match shared.metadata.leader(tp) {
                        None => shared.metadata.mark_stale(),
                        Some(leader) => self.connect(el, Some(leader), now),
                    }
                }
            }
            if drained.batches.is_empty() {
                return;
            }
            for (broker, batches) in drained.batches {
                self.produce(el, broker, batches, current, now, slept);
            }
        }
    }

    /// The bytes to send `batch` with: encoded or restamped as `sequences`
    /// says, or its bytes as they are for a retry in doubt.
    fn stamped_bytes(
        &mut self,
        batch: &mut ProducerBatch,
        current: Option<ProducerIdentity>,
    ) -> Result<Bytes, BatchError> {
        let compression = self.shared.config.compression();
        let Some(current) = current else {
            return batch.encode(None, compression);
        };
        let (tp, id) = (batch.topic_partition().clone(), batch.id());
        match self
            .sequences
            .stamp_for_send(&tp, id, batch.stamp(), batch.record_count(), current)
        {
            SendStamp::Resend => batch.encoded().cloned().ok_or(BatchError::NotEncoded),
            SendStamp::New(stamp) if batch.encoded().is_some() => batch.restamp(stamp),
            SendStamp::New(stamp) => batch.encode(Some(stamp), compression),
        }
    }

    fn produce(
        &mut self,
        el: &mut Loop,
        broker: BrokerId,
        batches: Vec<ProducerBatch>,
        current: Option<ProducerIdentity>,
        now: Instant,
        slept: Duration,
    ) {
        let config = &self.shared.config;
        let acks = config.acks().wire_value();
        let timeout_ms = i32::try_from(config.request_timeout().as_millis()).unwrap_or(i32::MAX);
        let mut encoded = Vec::with_capacity(batches.len());
        for mut batch in batches {
            batch.note_poll_duration(slept);
            match self.stamped_bytes(&mut batch, current) {
                Ok(bytes) => {
                    self.batch_sent(batch.topic_partition());
                    encoded.push((batch, bytes));
                }
                Err(error) => {
                    self.batch_sent(batch.topic_partition());
                    let error = DeliveryError::encoding(&error.to_string());
                    self.settle(batch, Verdict::Fail(error), now);
                }
            }
        }
        if encoded.is_empty() {
            return;
        }
        let Some((key, link)) = self
            .ready_conn(el, Some(broker))
            .and_then(|key| Some((key, el.source::<Link>(key)?)))
        else {
            let lost = DeliveryError::network("the leader's connection closed");
            for (batch, _) in encoded {
                self.settle(batch, Verdict::Retry(lost.clone()), now);
            }
            return;
        };
        let refs: Vec<(&ProducerBatch, Bytes)> = encoded
            .iter()
            .map(|(b, bytes)| (b, bytes.clone()))
            .collect();
        let body = requests::produce(acks, timeout_ms, &refs);
        drop(refs);
        let version = Versions::of(&link.conn.versions).produce;
        let batches: Vec<ProducerBatch> = encoded.into_iter().map(|(b, _)| b).collect();
        tracing::trace!(broker = broker.0, batches = batches.len(), "produce");
        let purpose = Purpose::Produce(batches);
        if let Err(reason) = self.send_on(
            el,
            key,
            ApiKey::Produce,
            version,
            &body,
            purpose,
            now,
            acks != 0,
        ) {
            self.close(el, key, &reason, now);
        } else {
            self.shared.accumulator.note_produce_request();
            if let Some(link) = el.source::<Link>(key) {
                // Bytes the socket did not take wait for WRITE readiness.
                sync_interest(el, key, link.conn.wants_write());
            }
        }
    }

    /// A batch of `tp` left for the broker: mute the partition at its limit.
    fn batch_sent(&mut self, tp: &TopicPartition) {
        let limit = self.per_partition_limit();
        let count = self.in_flight.entry(tp.clone()).or_insert(0);
        *count += 1;
        if *count >= limit {
            self.shared.accumulator.mute(tp);
        }
    }

    /// A batch of `tp` ended or went back to the queue.
    pub(super) fn batch_done(&mut self, tp: &TopicPartition) {
        let limit = self.per_partition_limit();
        if let Some(count) = self.in_flight.get_mut(tp) {
            *count = count.saturating_sub(1);
            if *count < limit {
                self.shared.accumulator.unmute(tp);
            }
            if *count == 0 {
                self.in_flight.remove(tp);
            }
        }
    }
}

//! The poller's side of the accumulator: which batches are ready, taking
//! them, putting retries back, and ending batches that waited too long.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::BrokerId;

use super::early::{goes_early, EarlyUpTo};
use super::{Accumulator, PartitionQueue, ProducerBatch, Queue};
use crate::delivery::DeliveryError;
use crate::record::TopicPartition;

/// What one [`Accumulator::drain_ready`] took.
#[derive(Debug, Default)]
pub struct Drained {
    /// Ready batches by leader, at most one per partition, each broker's
    /// total within `max.request.size` (a single larger batch goes alone).
    pub batches: HashMap<BrokerId, Vec<ProducerBatch>>,
    /// Partitions holding batches whose leader is unknown: refresh metadata.
    pub unknown_leaders: Vec<TopicPartition>,
}

impl Drained {
    /// Whether nothing was taken and no leader is missing.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty() && self.unknown_leaders.is_empty()
    }
}

impl Accumulator {
    /// Takes the front batch of every ready partition whose leader
    /// `leader_of` knows. `leader_of` runs under a partition's lock: it must
    /// not call back into the accumulator.
    pub fn drain_ready(
        &self,
        now: Instant,
        leader_of: impl Fn(&TopicPartition) -> Option<BrokerId>,
    ) -> Drained {
        self.drain_ready_if(now, leader_of, |_, _, _| true)
    }

    /// [`drain_ready`](Self::drain_ready), leaving every partition whose
    /// front batch `may_send` holds back (the idempotent producer's
    /// sequence rules, and its rule that a batch still growing waits for
    /// the partition's request in flight). `may_send` is also told whether
    /// the batch is *complete*: a batch queues behind it, it is full, a
    /// flush, a close or a blocked sender needs it now, or it is a retry.
    /// Both closures run under a partition's lock.
    pub fn drain_ready_if(
        &self,
        now: Instant,
        leader_of: impl Fn(&TopicPartition) -> Option<BrokerId>,
        may_send: impl Fn(&TopicPartition, &ProducerBatch, bool) -> bool,
    ) -> Drained {
        let mut drained = Drained::default();
        let queues = self.all_queues();
        if queues.is_empty() {
            return drained;
        }
        let start = self.drain_start.fetch_add(1, Ordering::Relaxed) % queues.len();
        let early = self.early(&queues);
        let max_request = self.config.max_request_size();
        let mut request_bytes: HashMap<BrokerId, usize> = HashMap::new();
        for i in 0..queues.len() {
            let mut q = queues[(start + i) % queues.len()].lock();
            if q.batches.is_empty() {
                continue;
            }
            let Some(leader) = leader_of(&q.tp) else {
                drained.unknown_leaders.push(q.tp.clone());
                continue;
            };
            if !self.ready_at(&q, early).is_some_and(|at| at <= now) {
                continue;
            }
            let complete = Self::is_complete(&q, early);
            if !q
                .batches
                .front()
                .is_some_and(|b| may_send(&q.tp, b, complete))
            {
                continue;
            }
            let size = q.batches.front().map_or(0, ProducerBatch::size_in_bytes);
            let bytes = request_bytes.entry(leader).or_insert(0);
            if *bytes > 0 && *bytes + size > max_request {
                continue; // next request
            }
            if let Some(mut batch) = q.batches.pop_front() {
                *bytes += size;
                batch.mark_drained();
                drained.batches.entry(leader).or_default().push(batch);
            }
        }
        drained
    }

    /// The earliest time a queued batch becomes ready by itself (linger or
    /// retry backoff running out); a time in the past means "drain now".
    /// Partitions without a known leader count too: pair this with a
    /// metadata refresh rather than spinning on it.
    pub fn next_linger_deadline(&self) -> Option<Instant> {
        let queues = self.all_queues();
        let early = self.early(&queues);
        queues
            .iter()
            .filter_map(|q| self.ready_at(&q.lock(), early))
            .min()
    }

    /// Puts a batch that failed with a retriable error back at the front of
    /// its partition, in creation order among other retries, to be drained
    /// again after `retry.backoff.ms` (growing to `retry.backoff.max.ms`,
    /// each spread by ±20%).
    /// Its encoded bytes are kept, so the retry is byte-identical.
    pub fn reenqueue(&self, mut batch: ProducerBatch, now: Instant) {
        batch.attempts += 1;
        let backoff = self
            .config
            .jittered_backoff(batch.attempts, crate::backoff::random());
        batch.retry_at = Some(now.checked_add(backoff).unwrap_or(now));
        batch.mark_requeued();
        tracing::debug!(tp = %batch.topic_partition(), attempts = batch.attempts, ?backoff, "batch re-enqueued");
        let queue = self.queue(
            &batch.topic_partition().topic,
            batch.topic_partition().partition,
        );
        let mut q = queue.lock();
        let at = q
            .batches
            .iter()
            .position(|b| b.id > batch.id)
            .unwrap_or(q.batches.len());
        q.batches.insert(at, batch);
    }

    /// Takes every queued batch whose `delivery.timeout.ms` has run out, from
    /// the front of each partition, for the caller to fail (the poller
    /// first notes the hole a sent batch leaves in its partition's sequence).
    pub fn take_expired(&self, now: Instant) -> Vec<ProducerBatch> {
        let timeout = self.config.delivery_timeout();
        let mut expired = Vec::new();
        for queue in self.all_queues() {
            let mut q = queue.lock();
            while q
                .batches
                .front()
                .is_some_and(|b| b.is_expired(now, timeout))
            {
                expired.extend(q.batches.pop_front());
            }
        }
        expired
    }

    /// When the oldest queued batch's `delivery_timeout` runs out, so a
    /// batch held back (not ready, or its partition waiting) still expires
    /// on time.
    pub fn next_expiry(&self, delivery_timeout: Duration) -> Option<Instant> {
        self.all_queues()
            .iter()
            .filter_map(|q| q.lock().batches.front().map(ProducerBatch::created))
            .min()
            .and_then(|created| created.checked_add(delivery_timeout))
    }

    /// Fails every queued batch with `error` (a forced close); batches the
    /// poller holds are its own to fail. Returns the records failed.
    pub fn abort_all(&self, error: DeliveryError) -> usize {
        let mut aborted = Vec::new();
        for queue in self.all_queues() {
            aborted.extend(queue.lock().batches.drain(..));
        }
        let records = aborted.iter().map(ProducerBatch::record_count).sum();
        for batch in aborted {
            batch.fail(error.clone());
        }
        records
    }

    /// Stops draining a partition (ordering with one request in flight);
    /// [`unmute`](Self::unmute) resumes it.
    pub fn mute(&self, tp: &TopicPartition) {
        self.queue(&tp.topic, tp.partition).lock().muted = true;
    }

    /// Undoes [`mute`](Self::mute).
    pub fn unmute(&self, tp: &TopicPartition) {
        self.queue(&tp.topic, tp.partition).lock().muted = false;
    }

    /// Counts a Produce request the poller sent (for
    /// [`ProducerStats::produce_requests`](crate::ProducerStats::produce_requests)).
    pub(crate) fn note_produce_request(&self) {
        self.shared
            .stats
            .produce_requests
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Whether any batch waits in the accumulator.
    pub fn has_queued(&self) -> bool {
        self.all_queues()
            .iter()
            .any(|q| !q.lock().batches.is_empty())
    }

    /// When the front batch of `q` is (or was) ready: `None` if it has none
    /// or is muted, or its linger cannot be represented as an `Instant`.
    fn ready_at(&self, q: &PartitionQueue, early: EarlyUpTo) -> Option<Instant> {
        let first = q.batches.front().filter(|_| !q.muted)?;
        if let Some(retry_at) = first.retry_at {
            return Some(retry_at);
        }
        if q.batches.len() > 1 || first.is_full() || goes_early(q, early) {
            return Some(first.created());
        }
        first.created().checked_add(self.config.linger())
    }

    /// Whether the front batch of `q` would gain nothing by waiting: a
    /// batch queues behind it (so it cannot grow), it is full, something
    /// needs it sent now (a flush, a close, a sender blocked for memory), or
    /// it is a retry. A batch that is not complete is still taking the
    /// records that keep arriving.
    fn is_complete(q: &PartitionQueue, early: EarlyUpTo) -> bool {
        q.batches.len() > 1
            || goes_early(q, early)
            || q.batches
                .front()
                .is_some_and(|b| b.is_full() || b.retry_at.is_some())
    }

    pub(super) fn all_queues(&self) -> Vec<Queue> {
        self.queues
            .read()
            .values()
            .flat_map(|partitions| partitions.values().map(Arc::clone))
            .collect()
    }
}

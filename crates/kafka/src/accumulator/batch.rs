//! [`ProducerBatch`]: one batch of one partition, from its first record to
//! its outcome, with the futures of its records and the memory it holds.
//!
//! Life of a batch:
//!
//! ```text
//!   append ──► open ──(full / next batch opened)──► closed ──► drained ──► encode ──► in flight
//!                 └───────────(linger / flush / close)──────────────┘                     │
//!                                                   reenqueue (retry, same bytes) ◄──────┤
//!                                                   complete / fail ◄────────────────────┘
//! ```
//!
//! Whatever way a batch ends (completed, failed, expired, aborted, or
//! dropped by mistake) its `Drop` gives its memory back, takes it off the
//! incomplete list that `flush` waits on, and every record still pending
//! gets an error: no outcome is ever lost.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Shared;
use crate::batch::{
    record_size_upper_bound, restamp, AppendError, BatchBuilder, BatchError, Stamp,
};
use crate::config::Compression;
use crate::delivery::{Completer, DeliveryError, DeliveryFuture, OnDelivery, RecordMetadata};
use crate::record::{Record, TopicPartition};

/// About what a new batch starts with. Batches start small and double while
/// their partition has a backlog, so a large `batch.size` costs memory only
/// where records queue up: a thousand partitions with a record each hold a
/// thousand small buffers, not a thousand `batch.size` ones.
pub(super) const FIRST_BATCH_BYTES: usize = 16 * 1024;

/// `limit` halved while the half is still at least [`FIRST_BATCH_BYTES`]
/// (a limit below that is taken whole), so a batch that keeps doubling
/// ends exactly at `limit`.
pub(super) fn first_batch_bytes(limit: usize) -> usize {
    let mut bytes = limit;
    while bytes / 2 >= FIRST_BATCH_BYTES {
        bytes /= 2;
    }
    bytes
}

/// A record waiting in a batch for its outcome.
struct Pending {
    completer: Completer,
    timestamp: i64,
}

enum Contents {
    /// Records encoded so far; the header is not written yet.
    Building(BatchBuilder),
    /// The exact bytes sent, kept for identical retries, and their stamp.
    Encoded { bytes: Bytes, stamp: Option<Stamp> },
    /// Encoding failed (the builder is gone); only failing is left.
    Lost,
}

/// A batch of records for one partition; see the module docs.
///
/// The poller owns drained batches: it [`encode`](Self::encode)s them, sends
/// them, and ends each with [`complete`](Self::complete),
/// [`fail`](Self::fail), or
/// [`Accumulator::reenqueue`](super::Accumulator::reenqueue).
pub struct ProducerBatch {
    tp: TopicPartition,
    /// Creation order across the accumulator; orders retries in a partition.
    pub(super) id: u64,
    contents: Contents,
    records: Vec<Pending>,
    /// Records appended; `records` empties when they resolve, this does not.
    count: usize,
    created: Instant,
    /// Bytes the batch takes uncompressed, header included.
    size: usize,
    /// `buffer.memory` bytes held until the batch ends.
    reserved: usize,
    pub(super) attempts: u32,
    pub(super) retry_at: Option<Instant>,
    /// Appends go to the last batch of a queue only while it is open.
    pub(super) open: bool,
    /// `buffer.memory` could not grow the batch: it is as full as it gets.
    out_of_memory: bool,
    pub(super) in_flight: bool,
    /// The poll that ended before the poller first drained the batch.
    poll_duration: Option<Duration>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ProducerBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBatch")
            .field("tp", &self.tp)
            .field("records", &self.records.len())
            .field("size", &self.size)
            .field("attempts", &self.attempts)
            .field("stamp", &self.stamp())
            .finish()
    }
}

impl ProducerBatch {
    pub(super) fn new(
        tp: TopicPartition,
        id: u64,
        builder: BatchBuilder,
        reserved: usize,
        created: Instant,
        shared: Arc<Shared>,
    ) -> ProducerBatch {
        shared.stats.batches_created.fetch_add(1, Relaxed);
        let size = builder.size_in_bytes();
        shared.stats.queued_bytes.fetch_add(size as u64, Relaxed);
        ProducerBatch {
            tp,
            id,
            size,
            contents: Contents::Building(builder),
            records: Vec::new(),
            count: 0,
            created,
            reserved,
            attempts: 0,
            retry_at: None,
            open: true,
            out_of_memory: false,
            in_flight: false,
            poll_duration: None,
            shared,
        }
    }

    /// Appends a record if the batch is open and has room, and keeps the
    /// completer for its outcome. Returns the record's future (for
    /// [`OnDelivery::Future`]) and whether the batch is now full; hands
    /// `on_delivery` back with the reason otherwise.
    pub(super) fn try_append(
        &mut self,
        record: &Record,
        timestamp: i64,
        on_delivery: OnDelivery,
    ) -> Result<(Option<DeliveryFuture>, bool), (AppendError, OnDelivery)> {
        let builder = match &mut self.contents {
            Contents::Building(builder) if self.open => builder,
            _ => return Err((AppendError::Full, on_delivery)),
        };
        if !Self::make_room(builder, &mut self.reserved, &self.shared, record) {
            self.out_of_memory = true;
            return Err((AppendError::Full, on_delivery));
        }
        if let Err(e) = builder.append(record, timestamp) {
            return Err((e, on_delivery));
        }
        debug_assert!(
            builder.size_in_bytes() <= self.reserved,
            "a batch holds no more than its buffer.memory reservation"
        );
        let grown = builder.size_in_bytes() - self.size;
        let full = builder.is_full();
        self.size += grown;
        let stats = &self.shared.stats;
        stats.queued_bytes.fetch_add(grown as u64, Relaxed);
        stats.queued_records.fetch_add(1, Relaxed);
        stats.records_appended.fetch_add(1, Relaxed);
        self.count += 1;
        let (completer, future) = Completer::new(on_delivery);
        self.records.push(Pending {
            completer,
            timestamp,
        });
        Ok((future, full))
    }

    /// Grows the batch's `buffer.memory` reservation (and its buffer) so
    /// `record` fits, doubling up to `batch.size`: a batch starts small and
    /// grows only while its partition has a backlog. False when the pool
    /// has no bytes free right now or senders are waiting for memory: the
    /// batch then counts as full and the record opens a new one (where the
    /// sender may block, in turn).
    fn make_room(
        builder: &mut BatchBuilder,
        reserved: &mut usize,
        shared: &Shared,
        record: &Record,
    ) -> bool {
        if builder.is_empty() {
            return true; // the opener reserved the first record's exact size
        }
        let needed = builder.size_in_bytes() + record_size_upper_bound(record);
        if needed <= *reserved {
            return true;
        }
        // Past batch.size the builder refuses the record itself.
        let target = needed
            .max(reserved.saturating_mul(2))
            .min(builder.batch_size());
        if target <= *reserved {
            return true;
        }
        if !shared.pool.try_reserve(target - *reserved) {
            return false;
        }
        *reserved = target;
        builder.reserve_total(target);
        true
    }

    /// Whether no more records fit under `batch.size`, or `buffer.memory`
    /// had no room to grow the batch for the last one.
    pub fn is_full(&self) -> bool {
        match &self.contents {
            Contents::Building(b) => self.out_of_memory || b.is_full(),
            _ => true,
        }
    }

    /// The partition the batch is for.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// How many records it holds.
    pub fn record_count(&self) -> usize {
        self.count
    }

    /// Bytes uncompressed, header included; what `max.request.size` counts
    /// before encoding.
    pub fn size_in_bytes(&self) -> usize {
        self.size
    }

    /// `buffer.memory` bytes it holds (at least its size: it grows by
    /// doubling).
    pub(super) fn reserved(&self) -> usize {
        self.reserved
    }

    /// When the first record was appended.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// How many times the batch was put back for a retry.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether `delivery.timeout.ms` has passed since the batch was created.
    pub fn is_expired(&self, now: Instant, delivery_timeout: Duration) -> bool {
        self.created
            .checked_add(delivery_timeout)
            .is_some_and(|deadline| now >= deadline)
    }

    /// The bytes for a Produce request. The first call writes the header
    /// with `stamp` (the idempotent producer's id, epoch and base sequence;
    /// `None` without idempotence) and compresses. A later call with the
    /// same stamp (a retry) returns those same bytes, because the broker
    /// recognises a duplicate only by an identical stamp; a later call with
    /// another stamp is refused ([`BatchError::AlreadyStamped`]): moving a
    /// batch to another stamp is [`restamp`](Self::restamp)'s job.
    pub fn encode(
        &mut self,
        stamp: Option<Stamp>,
        compression: Compression,
    ) -> Result<Bytes, BatchError> {
        match std::mem::replace(&mut self.contents, Contents::Lost) {
            Contents::Encoded { bytes, stamp: was } => {
                self.contents = Contents::Encoded {
                    bytes: bytes.clone(),
                    stamp: was,
                };
                if was == stamp {
                    Ok(bytes)
                } else {
                    Err(BatchError::AlreadyStamped)
                }
            }
            Contents::Building(builder) => {
                let bytes = builder.finish(stamp, compression)?;
                self.contents = Contents::Encoded {
                    bytes: bytes.clone(),
                    stamp,
                };
                Ok(bytes)
            }
            Contents::Lost => Err(BatchError::Lost),
        }
    }

    /// Moves an encoded batch to `stamp`: only for a batch the broker is
    /// known not to have written (its old stamp's sequence range was
    /// refused), which the idempotent producer sends again under a new
    /// producer identity. Returns the new bytes.
    pub fn restamp(&mut self, stamp: Stamp) -> Result<Bytes, BatchError> {
        match &mut self.contents {
            Contents::Encoded { bytes, stamp: was } => {
                tracing::debug!(tp = %self.tp, from = ?was, to = ?stamp, "batch restamped");
                *bytes = restamp(bytes, stamp);
                *was = Some(stamp);
                Ok(bytes.clone())
            }
            Contents::Building(_) => Err(BatchError::NotEncoded),
            Contents::Lost => Err(BatchError::Lost),
        }
    }

    /// The stamp it was encoded with (`None` before encoding, or without
    /// idempotence).
    pub fn stamp(&self) -> Option<Stamp> {
        match &self.contents {
            Contents::Encoded { stamp, .. } => *stamp,
            _ => None,
        }
    }

    /// Its creation order across the accumulator (orders a partition's
    /// batches).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Notes how long the poller's last poll lasted before it drained this
    /// batch (the first drain only; a retry keeps it). Its records report it
    /// as [`RecordMetadata::poll_duration`].
    pub fn note_poll_duration(&mut self, slept: Duration) {
        self.poll_duration.get_or_insert(slept);
    }

    /// The bytes from [`encode`](Self::encode), if it ran.
    pub fn encoded(&self) -> Option<&Bytes> {
        match &self.contents {
            Contents::Encoded { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// The broker accepted the batch at `base_offset` (`-1` with `acks=0`);
    /// `log_append_time` is the broker's timestamp for `LogAppendTime`
    /// topics. Every record gets its metadata.
    pub fn complete(mut self, base_offset: i64, log_append_time: Option<i64>) {
        let records = std::mem::take(&mut self.records);
        self.shared
            .stats
            .delivered
            .fetch_add(records.len() as u64, Relaxed);
        for (i, pending) in records.into_iter().enumerate() {
            let offset = if base_offset >= 0 {
                base_offset + i as i64
            } else {
                -1
            };
            pending.completer.complete(Ok(RecordMetadata {
                topic: Arc::clone(&self.tp.topic),
                partition: self.tp.partition,
                offset,
                timestamp: log_append_time.unwrap_or(pending.timestamp),
                poll_duration: self.poll_duration,
            }));
        }
    }

    /// The batch failed for good: every record gets `error`.
    pub fn fail(mut self, error: DeliveryError) {
        let records = std::mem::take(&mut self.records);
        self.shared
            .stats
            .failed
            .fetch_add(records.len() as u64, Relaxed);
        for pending in records {
            pending.completer.complete(Err(error.clone()));
        }
    }

    /// Leaving the queue for the poller.
    pub(super) fn mark_drained(&mut self) {
        self.open = false;
        self.in_flight = true;
        self.shared.pool.sent(self.reserved);
        self.shared.stats.in_flight_batches.fetch_add(1, Relaxed);
        self.shared
            .stats
            .queued_records
            .fetch_sub(self.count as u64, Relaxed);
        self.shared
            .stats
            .queued_bytes
            .fetch_sub(self.size as u64, Relaxed);
    }

    /// Back in the queue for a retry.
    pub(super) fn mark_requeued(&mut self) {
        if std::mem::take(&mut self.in_flight) {
            self.shared.stats.in_flight_batches.fetch_sub(1, Relaxed);
            self.shared.pool.requeued(self.reserved);
        }
        self.shared.stats.retries.fetch_add(1, Relaxed);
        self.shared
            .stats
            .queued_records
            .fetch_add(self.count as u64, Relaxed);
        self.shared
            .stats
            .queued_bytes
            .fetch_add(self.size as u64, Relaxed);
    }
}

impl Drop for ProducerBatch {
    fn drop(&mut self) {
        let stats = &self.shared.stats;
        if self.in_flight {
            stats.in_flight_batches.fetch_sub(1, Relaxed);
        } else {
            // Ended while queued (expired, aborted): it no longer counts.
            stats.queued_records.fetch_sub(self.count as u64, Relaxed);
            stats.queued_bytes.fetch_sub(self.size as u64, Relaxed);
        }
        if !self.records.is_empty() {
            // Neither completed nor failed: each completer reports itself
            // dropped as it goes.
            stats.failed.fetch_add(self.records.len() as u64, Relaxed);
        }
        self.records.clear();
        if self.in_flight {
            self.shared.pool.release_sent(self.reserved);
        } else {
            self.shared.pool.release(self.reserved);
        }
        self.shared.batch_ended(self.id);
    }
}

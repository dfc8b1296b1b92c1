//! The record accumulator: where `send` leaves records and the poller picks
//! up batches.
//!
//! ```text
//!   sender threads                                  poller thread
//!   ──────────────                                  ─────────────
//!   append(record) ─┐      queues: topic ─► partition ─► Mutex<PartitionQueue>
//!                   ├─►  "orders" ─► 0 ─► [ closed ][ closed ][ open ◄─ appends ]
//!   append(record) ─┘             └► 1 ─► [ open ]
//!                        "clicks" ─► 0 ─► [ retry (backing off) ][ open ]
//!                                                    │
//!                            drain_ready(now, leader_of) takes the FRONT batch
//!                            of each ready partition ──► per-broker batches
//!                            reenqueue(batch) puts a retry back at the front
//! ```
//!
//! Contract:
//!
//! * [`append`](Accumulator::append) never does I/O and holds a partition's
//!   lock only to encode one record into the open batch. It returns whether
//!   the poller should be woken: a batch was opened (the poller must arm its
//!   linger timer), a batch filled up, `linger.ms` is 0, or a flush is on.
//! * When a new batch needs memory and `buffer.memory` is used up, `append`
//!   blocks (no lock held) for up to `max.block.ms`, after calling the
//!   *blocked* hook so the poller drains and frees memory; then it gives the
//!   record back inside [`ProducerError::BufferFull`].
//! * A partition's front batch is *ready* when it is full (or not the last),
//!   has lingered `linger.ms`, a flush is in progress, or the accumulator is
//!   closed; or when senders are blocked on memory and it is among the oldest
//!   batches whose bytes cover what they wait for (see `early.rs`); and it is
//!   not backing off after a failure, and its partition is not muted.
//! * Every batch ends by [`ProducerBatch::complete`], [`ProducerBatch::fail`]
//!   or being dropped; each of these resolves every record once and frees
//!   the batch's memory.
//!
//! Pitfall: delivery callbacks run wherever a batch ends: for
//! [`abort_all`](Accumulator::abort_all), and for the batches
//! [`take_expired`](Accumulator::take_expired) hands over, that is the
//! caller's thread. No accumulator lock is held then, so a callback may call
//! `send` again.

mod batch;
mod drain;
mod early;
mod flush;
mod pool;

#[cfg(test)]
mod drain_tests;
#[cfg(test)]
mod flood_tests;
#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(test)]
mod memory_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, VecDeque};

use crate::fast_map::FastMap;
use batch::first_batch_bytes;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, RwLock};

use crate::batch::{
    record_size_in_first_position, AppendError, BatchBuilder, RECORD_BATCH_OVERHEAD,
};
use crate::config::ProducerConfig;
use crate::delivery::{DeliveryFuture, OnDelivery};
use crate::error::ProducerError;
use crate::partitioner::{Partitioner, Partitions};
use crate::record::{Record, TopicPartition};
use crate::stats::{Counters, ProducerStats};
pub use batch::ProducerBatch;
pub use drain::Drained;
pub use flush::Flush;
use pool::{BufferPool, ReserveError};

/// What a successful [`Accumulator::append`] reports.
#[derive(Debug)]
pub struct Appended {
    /// The record's future, for [`OnDelivery::Future`].
    pub future: Option<DeliveryFuture>,
    /// The partition the record went to.
    pub partition: i32,
    /// Whether the poller should be woken now.
    pub wake: bool,
}

/// A checked record with its partition, on its way into a new batch.
struct Placed {
    record: Record,
    timestamp: i64,
    partition: i32,
    /// Bytes it needs as the first record of a batch, header included.
    size: usize,
}

/// State shared by the accumulator and every batch it created.
pub(crate) struct Shared {
    pool: BufferPool,
    pub(crate) stats: Counters,
    /// Ids of batches that have not ended, for `flush`.
    incomplete: Mutex<BTreeSet<u64>>,
    batch_ended: Condvar,
}

impl Shared {
    fn batch_ended(&self, id: u64) {
        self.incomplete.lock().remove(&id);
        self.batch_ended.notify_all();
    }
}

/// One partition's batches, oldest first; only the last can be open.
pub(crate) struct PartitionQueue {
    tp: TopicPartition,
    batches: VecDeque<ProducerBatch>,
    muted: bool,
}

impl PartitionQueue {
    /// Appends to the open batch if there is one with room. Hands
    /// `on_delivery` back when the record needs a new batch.
    fn try_append(
        &mut self,
        record: &Record,
        timestamp: i64,
        on_delivery: OnDelivery,
    ) -> Result<(Option<DeliveryFuture>, bool), OnDelivery> {
        match self.batches.back_mut() {
            Some(last) if last.open => last
                .try_append(record, timestamp, on_delivery)
                .map_err(|(_, back)| back),
            _ => Err(on_delivery),
        }
    }
}

type Queue = Arc<Mutex<PartitionQueue>>;

/// Hook called when a sender is about to block on `buffer.memory`.
type BlockedHook = Box<dyn Fn() + Send + Sync>;

/// Per-partition batch queues; see the module docs.
pub struct Accumulator {
    config: ProducerConfig,
    /// `batch.size`, but never above `max.request.size`.
    batch_limit: usize,
    /// What a new batch reserves and allocates: `batch_limit` halved until
    /// it is near `batch::FIRST_BATCH_BYTES`, so doubling lands on the limit.
    first_batch_bytes: usize,
    queues: RwLock<FastMap<Arc<str>, FastMap<i32, Queue>>>,
    shared: Arc<Shared>,
    next_batch_id: AtomicU64,
    flushes: AtomicUsize,
    closed: AtomicBool,
    /// Where the next drain starts, so no partition is always last in line.
    drain_start: AtomicUsize,
    on_blocked: Option<BlockedHook>,
}

impl fmt::Debug for Accumulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accumulator")
            .field("stats", &self.stats())
            .field("closed", &self.is_closed())
            .finish()
    }
}

fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Accumulator {
    /// An empty accumulator for these settings.
    pub fn new(config: &ProducerConfig) -> Accumulator {
        let batch_limit = config.batch_size().min(config.max_request_size());
        Accumulator {
            batch_limit,
            first_batch_bytes: first_batch_bytes(batch_limit),
            config: config.clone(),
            queues: RwLock::new(FastMap::default()),
            shared: Arc::new(Shared {
                pool: BufferPool::new(config.buffer_memory()),
                stats: Counters::default(),
                incomplete: Mutex::new(BTreeSet::new()),
                batch_ended: Condvar::new(),
            }),
            next_batch_id: AtomicU64::new(0),
            flushes: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            drain_start: AtomicUsize::new(0),
            on_blocked: None,
        }
    }

    /// Calls `hook` whenever a sender is about to block waiting for
    /// `buffer.memory`; the producer passes "wake the poller".
    pub fn on_blocked(mut self, hook: impl Fn() + Send + Sync + 'static) -> Accumulator {
        self.on_blocked = Some(Box::new(hook));
        self
    }

    /// The settings it was built with.
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    /// Adds `record` to its partition's open batch, opening one if needed.
    ///
    /// The partition is the record's own, or `partitioner`'s choice among
    /// `partitions`; for a sticky choice that needs a new batch the
    /// partitioner is told ([`Partitioner::on_new_batch`]) and asked again.
    /// Records without a timestamp get the wall clock. On error the record
    /// comes back inside the error and `on_delivery` is dropped uncalled.
    pub fn append(
        &self,
        record: Record,
        partitioner: &dyn Partitioner,
        partitions: Partitions<'_>,
        on_delivery: OnDelivery,
        now: Instant,
    ) -> Result<Appended, ProducerError> {
        self.append_at(record, partitioner, partitions, on_delivery, || now)
    }

    /// [`append`](Self::append), reading the clock only if the record opens
    /// a batch (its creation time starts the linger): most records join an
    /// open batch, and a clock read per record was a tenth of `send`'s cost.
    pub(crate) fn append_at(
        &self,
        record: Record,
        partitioner: &dyn Partitioner,
        partitions: Partitions<'_>,
        on_delivery: OnDelivery,
        now: impl FnOnce() -> Instant,
    ) -> Result<Appended, ProducerError> {
        if self.is_closed() {
            return Err(ProducerError::Closed {
                record: Box::new(record),
            });
        }
        if let Some(timestamp) = record.timestamp.filter(|&t| t < 0) {
            return Err(ProducerError::InvalidTimestamp {
                record: Box::new(record),
                timestamp,
            });
        }
        let size = RECORD_BATCH_OVERHEAD + record_size_in_first_position(&record);
        for (setting, limit) in [
            ("max.request.size", self.config.max_request_size()),
            ("buffer.memory", self.config.buffer_memory()),
        ] {
            if size > limit {
                return Err(ProducerError::RecordTooLarge {
                    record: Box::new(record),
                    size,
                    limit,
                    setting,
                });
            }
        }
        let timestamp = record.timestamp.unwrap_or_else(wall_clock_ms);
        let (mut partition, sticky) = match record.partition {
            Some(p) => (p, false),
            None => {
                let p = partitioner.partition(
                    &record.topic,
                    record.key.as_deref(),
                    record.value.as_deref(),
                    partitions,
                );
                (p, record.key.is_none())
            }
        };
        let mut record = check_partition(record, partition, partitions)?;

        let mut queue = self.queue(&record.topic, partition);
        let mut on_delivery =
            match self.try_open(&queue, &record, timestamp, partition, on_delivery) {
                Ok(appended) => return Ok(appended),
                Err(back) => back,
            };
        if sticky {
            // KIP-480: the sticky partition's batch is full or gone; move on.
            partitioner.on_new_batch(&record.topic, partition, partitions);
            let next =
                partitioner.partition(&record.topic, None, record.value.as_deref(), partitions);
            if next != partition {
                record = check_partition(record, next, partitions)?;
                partition = next;
                queue = self.queue(&record.topic, partition);
                on_delivery =
                    match self.try_open(&queue, &record, timestamp, partition, on_delivery) {
                        Ok(appended) => return Ok(appended),
                        Err(back) => back,
                    };
            }
        }
        let placed = Placed {
            record,
            timestamp,
            partition,
            size,
        };
        self.append_new_batch(placed, &queue, on_delivery, now)
    }

    /// The fast path: the open batch of `queue`, if it has room.
    fn try_open(
        &self,
        queue: &Queue,
        record: &Record,
        timestamp: i64,
        partition: i32,
        on_delivery: OnDelivery,
    ) -> Result<Appended, OnDelivery> {
        let (future, full) = queue.lock().try_append(record, timestamp, on_delivery)?;
        Ok(self.appended(future, partition, full))
    }

    /// The slow path: reserve memory (maybe blocking), then open a batch,
    /// unless another sender opened one meanwhile.
    fn append_new_batch(
        &self,
        placed: Placed,
        queue: &Queue,
        on_delivery: OnDelivery,
        now: impl FnOnce() -> Instant,
    ) -> Result<Appended, ProducerError> {
        let Placed {
            record,
            timestamp,
            partition,
            size,
        } = placed;
        let want = size
            .max(self.first_batch_bytes)
            .min(self.config.buffer_memory());
        let blocked = || {
            tracing::debug!(want, "buffer.memory exhausted; send blocks");
            if let Some(hook) = &self.on_blocked {
                hook();
            }
        };
        let reservation = match self
            .shared
            .pool
            .reserve(want, self.config.max_block(), blocked)
        {
            Ok(r) => r,
            Err(ReserveError::Timeout(waited)) => {
                return Err(ProducerError::BufferFull {
                    record: Box::new(record),
                    waited,
                });
            }
            Err(ReserveError::Closed) => {
                return Err(ProducerError::Closed {
                    record: Box::new(record),
                })
            }
        };
        let mut q = queue.lock();
        if self.is_closed() {
            return Err(ProducerError::Closed {
                record: Box::new(record),
            });
        }
        let on_delivery = match q.try_append(&record, timestamp, on_delivery) {
            Ok((future, full)) => return Ok(self.appended(future, partition, full)),
            Err(back) => back,
        };
        let id = self.next_batch_id.fetch_add(1, Ordering::SeqCst);
        self.shared.incomplete.lock().insert(id);
        let builder =
            BatchBuilder::with_capacity(self.batch_limit, self.config.max_request_size(), want);
        let mut batch = ProducerBatch::new(
            q.tp.clone(),
            id,
            builder,
            reservation.keep(),
            now(),
            Arc::clone(&self.shared),
        );
        match batch.try_append(&record, timestamp, on_delivery) {
            Ok((future, _)) => {
                if let Some(last) = q.batches.back_mut() {
                    last.open = false;
                }
                q.batches.push_back(batch);
                tracing::trace!(tp = %q.tp, id, "opened a batch");
                Ok(self.appended(future, partition, true))
            }
            // Cannot happen: the size was checked against max.request.size.
            Err((AppendError::TooLarge { size, limit }, _)) => Err(ProducerError::RecordTooLarge {
                record: Box::new(record),
                size,
                limit,
                setting: "max.request.size",
            }),
            Err((AppendError::Full, _)) => Err(ProducerError::RecordTooLarge {
                record: Box::new(record),
                size,
                limit: self.batch_limit,
                setting: "batch.size",
            }),
        }
    }

    fn appended(&self, future: Option<DeliveryFuture>, partition: i32, wake: bool) -> Appended {
        let wake =
            wake || self.config.linger().is_zero() || self.flushes.load(Ordering::SeqCst) > 0;
        Appended {
            future,
            partition,
            wake,
        }
    }

    /// The queue of a partition, created on first use.
    fn queue(&self, topic: &str, partition: i32) -> Queue {
        if let Some(q) = self
            .queues
            .read()
            .get(topic)
            .and_then(|t| t.get(&partition))
        {
            return Arc::clone(q);
        }
        let mut queues = self.queues.write();
        // Share one `Arc<str>` per topic among its partitions.
        let name = queues
            .get_key_value(topic)
            .map_or_else(|| Arc::from(topic), |(name, _)| Arc::clone(name));
        let topic_queues = queues.entry(Arc::clone(&name)).or_default();
        Arc::clone(topic_queues.entry(partition).or_insert_with(|| {
            Arc::new(Mutex::new(PartitionQueue {
                tp: TopicPartition::new(name, partition),
                batches: VecDeque::new(),
                muted: false,
            }))
        }))
    }

    /// Stops taking records: `append` fails with `Closed`, blocked senders
    /// give up, and every queued batch counts as ready so the poller can
    /// drain them. Call [`abort_all`](Self::abort_all) to fail them instead.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.shared.pool.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Starts a flush: until the returned guard is dropped every batch is
    /// ready at once. [`Flush::wait`] blocks until every batch that existed
    /// when the flush began has ended. Wake the poller after this call.
    pub fn begin_flush(&self) -> Flush<'_> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Flush {
            accumulator: self,
            upto: self.next_batch_id.load(Ordering::SeqCst),
        }
    }

    /// A snapshot of the counters (waker fields zero; see
    /// [`ProducerStats::with_waker`]).
    pub fn stats(&self) -> ProducerStats {
        self.shared.stats.snapshot(self.shared.pool.used())
    }
}

fn check_partition(
    record: Record,
    partition: i32,
    partitions: Partitions<'_>,
) -> Result<Record, ProducerError> {
    if (0..partitions.count).contains(&partition) {
        return Ok(record);
    }
    Err(ProducerError::InvalidPartition {
        topic: record.topic.clone(),
        record: Box::new(record),
        partition,
        partition_count: partitions.count,
    })
}

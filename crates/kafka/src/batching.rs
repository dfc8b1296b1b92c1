//! The producer's I/O-free core, usable without the client: partitioning,
//! record batches, and the accumulator that sender threads append to and a
//! poller drains. [`Producer`](crate::Producer) is built on it; use it to
//! drive Kafka produce requests from your own event loop, or to test
//! batching in isolation.
//!
//! * [`Accumulator`]: per-partition batch queues, `buffer.memory` with
//!   blocking appends, linger, retries, expiry, flush and close;
//! * [`BatchBuilder`]: an incremental record batch (v2) builder that writes
//!   exactly the bytes kafka-protocol's encoder does, stamped for the
//!   idempotent producer ([`Stamp`]) or not;
//! * [`murmur2`] and [`partition_for_key`]: Java's key partitioning.
//!
//! A sender's `append` never does I/O and holds a partition lock only to
//! encode one record. It reports whether the poller needs waking (a batch
//! opened or filled, `linger.ms` is 0, a flush is on); the poller sleeps
//! until the next [`Accumulator::next_linger_deadline`] or a wake, drains
//! ready batches per broker, and ends each batch with exactly one outcome.
//!
//! The core's two sides, in one thread:
//!
//! ```
//! use std::time::Instant;
//! use rouse_kafka::batching::{Accumulator, OnDelivery};
//! use rouse_kafka::{BrokerId, DefaultPartitioner, Partitions, ProducerConfig, Record};
//!
//! let config = ProducerConfig::from_pairs([
//!     ("bootstrap.servers", "127.0.0.1:9092"),
//!     ("linger.ms", "0"),
//!     ("compression.type", "lz4"),
//! ])?;
//! let accumulator = Accumulator::new(&config);
//! let partitioner = DefaultPartitioner::new();
//!
//! // Sender: partition, append, and wake the poller if told to.
//! let record = Record::key_value("orders", "user-42", "paid");
//! let appended = accumulator.append(record, &partitioner, Partitions::all(3), OnDelivery::Future, Instant::now())?;
//! assert!(appended.wake, "linger.ms=0: every record wakes the poller");
//! let future = appended.future.expect("asked for a future");
//!
//! // Poller: drain ready batches per leader, encode, send, complete.
//! let drained = accumulator.drain_ready(Instant::now(), |_partition| Some(BrokerId(1)));
//! for mut batch in drained.batches.into_values().flatten() {
//!     let bytes = batch.encode(None, config.compression())?;
//!     let mut wire = bytes.clone();
//!     let decoded = kafka_protocol::records::RecordBatchDecoder::decode(&mut wire).map_err(|e| e.to_string())?;
//!     assert_eq!(decoded.records[0].value.as_deref(), Some(&b"paid"[..]));
//!     // ...a Produce request carries `bytes`; the broker answers offset 41.
//!     batch.complete(41, None);
//! }
//!
//! let delivered = future.wait()?;
//! let partition = rouse_kafka::batching::partition_for_key(b"user-42", 3);
//! assert_eq!((delivered.partition, delivered.offset), (partition, 41));
//! assert_eq!(accumulator.stats().delivered, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::accumulator::{Accumulator, Appended, Drained, Flush, ProducerBatch};
pub use crate::batch::{
    record_size_in_first_position, restamp, AppendError, BatchBuilder, BatchError,
    ProducerIdentity, Stamp, RECORD_BATCH_OVERHEAD,
};
pub use crate::delivery::{DeliveryCallback, OnDelivery};
pub use crate::partitioner::{murmur2, partition_for_key, to_positive};

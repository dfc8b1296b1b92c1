//! A pure-Rust Kafka producer built the way kafka-python's is, minus its
//! wakeup bugs: application threads append records and wake one background
//! poller thread that owns every broker connection.
//!
//! ```text
//!  app threads ── send(record) ──► Accumulator ◄── drain_ready ── poller thread ──► brokers
//!     │  partitioner picks a        per-partition    (linger,       encode, Produce,
//!     │  partition, append          batch queues      full, flush)   complete / retry
//!     └─ wake the poller (coalesced, via rouse-waker) when a batch opens or fills
//! ```
//!
//! [`Producer`] is the whole client: a cheap `Clone + Send + Sync` handle
//! whose `send` partitions and appends, and a poller thread named
//! `rouse-kafka-poller` that runs a `rouse-reactor` loop over non-blocking
//! broker connections (ApiVersions negotiation, metadata, InitProducerId and
//! per-partition sequences for idempotence, Produce with retries, backoff
//! and timeouts). It is built on an I/O-free core, usable on its own:
//!
//! * [`config`]: [`ProducerConfig`] from Kafka's key/value settings or a
//!   typed builder, with Java's defaults and cross-checks;
//! * [`partitioner`]: Java-compatible murmur2 for keys, sticky partitioning
//!   for null keys, and the [`Partitioner`] hook;
//! * [`batch`]: an incremental record batch (v2) builder that writes exactly
//!   the bytes kafka-protocol's encoder does;
//! * [`accumulator`]: the per-partition queues, `buffer.memory` with
//!   blocking sends, linger, retries, expiry, flush and close;
//! * [`delivery`]: every record's single outcome, as a [`DeliveryFuture`] or
//!   a callback; [`error`]: why `send` refused a record.
//!
//! A sender's `append` never does I/O and holds a partition lock only to
//! encode one record. It reports whether the poller needs waking (a batch
//! opened or filled, `linger.ms` is 0, a flush is on); the poller sleeps
//! until the next [`Accumulator::next_linger_deadline`] or a wake, drains
//! ready batches per broker, and ends each batch with exactly one outcome.
//!
//! `rouse.wakeups=false` turns the sender's wakes off (records then wait for
//! the poller's poll to time out, `rouse.poll.timeout.ms`): the experiment
//! `cargo xtask demo-wakeup` runs both ways. The core's two sides, in one
//! thread:
//!
//! ```
//! use std::time::Instant;
//! use rouse_kafka::{Accumulator, BrokerId, DefaultPartitioner, OnDelivery, Partitions, ProducerConfig, Record};
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
//! let partition = rouse_kafka::partitioner::partition_for_key(b"user-42", 3);
//! assert_eq!((delivered.partition, delivered.offset), (partition, 41));
//! assert_eq!(accumulator.stats().delivered, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod accumulator;
mod backoff;
pub mod batch;
mod client;
pub mod config;
pub mod delivery;
pub mod error;
pub mod partitioner;
pub mod record;
pub mod stats;
mod sync;

pub use accumulator::{Accumulator, Appended, Drained, Flush, ProducerBatch};
pub use client::{BrokerLatency, Producer};
pub use config::{Acks, Compression, ConfigError, ProducerConfig, ProducerConfigBuilder};
pub use delivery::{
    DeliveryCallback, DeliveryError, DeliveryErrorKind, DeliveryFuture, DeliveryResult, OnDelivery,
    RecordMetadata,
};
pub use error::ProducerError;
/// A broker's node id, as Kafka's metadata names leaders.
pub use kafka_protocol::messages::BrokerId;
pub use partitioner::{DefaultPartitioner, Partitioner, Partitions};
pub use record::{Record, TopicPartition};
pub use stats::ProducerStats;

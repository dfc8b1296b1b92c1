//! A pure-Rust Kafka producer built the way kafka-python's is, minus its
//! wakeup bugs: application threads append records and wake one background
//! poller thread that owns every broker connection.
//!
//! ```
//! use std::time::Duration;
//! use rouse_kafka::{Producer, ProducerConfig, Record};
//! use rouse_kafka_mock::{ClusterConfig, MockCluster};
//!
//! // An embedded mock cluster stands in for your brokers here.
//! let cluster = MockCluster::start(ClusterConfig::new(1))?;
//! cluster.create_topic("orders", 3)?;
//!
//! let producer = Producer::new(ProducerConfig::from_pairs([
//!     ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
//!     ("linger.ms", "5"),
//! ])?)?;
//! // send() queues the record and wakes the poller; the future resolves
//! // when the broker acknowledges it.
//! let delivered = producer
//!     .send(Record::key_value("orders", "user-42", "paid"))?
//!     .wait()?;
//! assert_eq!(&*delivered.topic, "orders");
//! assert!(delivered.offset >= 0);
//!
//! // Or with a callback, run on the poller thread; flush waits for every
//! // outcome.
//! for i in 0..100 {
//!     producer.send_with_callback(Record::value("orders", format!("event-{i}")), |result| {
//!         assert!(result.is_ok(), "{result:?}");
//!     })?;
//! }
//! producer.flush(Duration::from_secs(10))?;
//! let stats = producer.stats();
//! assert_eq!((stats.delivered, stats.failed), (101, 0));
//! // Wakes that found the poller awake, or one already pending, cost no
//! // syscall.
//! assert!(stats.wake_syscalls <= stats.wakes_requested);
//! producer.close(Duration::from_secs(5))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```text
//!  app threads ── send(record) ──► accumulator ◄── drain ready ── poller thread ──► brokers
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
//! and timeouts). Configure it with [`ProducerConfig`] (Kafka's key/value
//! settings with Java's defaults and cross-checks, or a typed builder).
//! Every record gets exactly one outcome, a [`RecordMetadata`] or a
//! [`DeliveryError`], through a [`DeliveryFuture`] or a callback; `send`
//! refuses a record with a [`ProducerError`] that hands the record back.
//! Under faults the producer recovers or fails loudly
//! ([`Producer::fatal_error`]); docs/reliability.md in the repository says
//! how.
//!
//! Secured clusters: TLS through rustls and SASL PLAIN / SCRAM-SHA-256 /
//! SCRAM-SHA-512, with the Java client's keys (`security.protocol=SASL_SSL`,
//! `sasl.mechanism`, `sasl.username`, `sasl.password` or `sasl.jaas.config`,
//! `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`); see
//! [`SecurityProtocol`] and docs/security.md. A refused login or a failed
//! TLS handshake ends the producer with
//! [`ProducerError::Authentication`], naming the broker and the cause.
//!
//! `rouse.wakeups=false` turns the sender's wakes off (records then wait for
//! the poller's poll to time out, `rouse.poll.timeout.ms`): the experiment
//! `cargo xtask demo-wakeup` runs both ways.
//!
//! The client is built on an I/O-free core that is usable on its own:
//! [`batching`] (partitioning, record batches and the accumulator).
//!
//! [`Consumer`] reads with manual assignment: one background poller thread
//! keeps fetches in flight per leader, `poll` returns from memory the moment
//! records exist, and [`Consumer::wakeup`] from any thread makes a blocked
//! `poll` return [`ConsumerError::Wakeup`] at once (docs/consumer.md in the
//! repository).

#![forbid(unsafe_code)]

mod accumulator;
mod backoff;
mod batch;
pub mod batching;
mod client;
mod config;
mod consumer;
mod delivery;
mod error;
mod fast_map;
mod net;
mod partitioner;
mod record;
mod security;
mod stats;
mod sync;

pub use client::{BrokerLatency, Producer};
pub use config::{
    Acks, AutoOffsetReset, Compression, ConfigError, ConsumerConfig, ConsumerConfigBuilder,
    IsolationLevel, ProducerConfig, ProducerConfigBuilder,
};
pub use consumer::{
    Consumer, ConsumerError, ConsumerRebalanceListener, ConsumerRecord, ConsumerStats,
    PartitionStats, TimestampType,
};
pub use delivery::{
    DeliveryError, DeliveryErrorKind, DeliveryFuture, DeliveryResult, RecordMetadata,
};
pub use error::ProducerError;
pub use partitioner::{DefaultPartitioner, Partitioner, Partitions};
pub use record::{BrokerId, Record, TopicPartition};
pub use security::{SaslMechanism, Secret, SecurityProtocol};
pub use stats::ProducerStats;

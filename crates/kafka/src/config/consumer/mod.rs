//! Consumer settings, with the Java consumer's names and defaults, checked
//! by the same machinery as the producer's (`config::checks`,
//! [`ConfigError`]).
//!
//! Pitfalls, as in Java:
//!
//! * `enable.auto.commit` defaults to `true` but needs a `group.id`: without
//!   one it is quietly off, and setting it to `true` explicitly is an error.
//! * `auto.offset.reset=none` makes a partition without a valid position an
//!   error surfaced to `poll`, naming the partition, instead of a reset.
//! * Unknown keys are errors, including Java settings this consumer has no
//!   use for (deserializers, interceptors).
//! * `group.protocol=consumer` (KIP-848) is refused until it is supported;
//!   the group settings are in `group.rs`.
//!
//! The prefetch buffer's bound per partition takes librdkafka's name,
//! `queued.max.messages.kbytes` (Java has no such setting: it buffers one
//! fetch per partition). It applies per partition, as in librdkafka with
//! separate partition queues, so the default is 2048 KiB, not librdkafka's
//! 65536: a partition whose buffer holds that much is not fetched until
//! `poll` drains it (one fetch may overshoot it by up to
//! `max.partition.fetch.bytes`).

mod builder;
mod group;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;
use crate::security::{SecurityConfig, SecurityProtocol};
pub use builder::ConsumerConfigBuilder;
pub(crate) use group::{GroupBuilder, GroupConfig};

/// Every key [`ConsumerConfig::from_pairs`] accepts.
pub(crate) const KEYS: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "client.id",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "max.poll.records",
    "isolation.level",
    "check.crcs",
    "request.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "connections.max.idle.ms",
    "metadata.max.age.ms",
    "queued.max.messages.kbytes",
    // Consumer groups (group.rs):
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "group.instance.id",
    "partition.assignment.strategy",
    "group.protocol",
    "allow.auto.create.topics",
    "client.rack",
    // crate::security's keys, as the producer takes them:
    "security.protocol",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
];

/// Where a partition starts when it has no valid position (`auto.offset.reset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AutoOffsetReset {
    /// The log's first offset.
    Earliest,
    /// The log's end: only records produced from now on (Java's default).
    #[default]
    Latest,
    /// No reset: the partition's `poll` fails with an error naming it.
    None,
}

impl FromStr for AutoOffsetReset {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<AutoOffsetReset, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" => Ok(AutoOffsetReset::Earliest),
            "latest" => Ok(AutoOffsetReset::Latest),
            "none" => Ok(AutoOffsetReset::None),
            _ => Err(ConfigError::invalid(
                "auto.offset.reset",
                s,
                "one of earliest, latest, none",
            )),
        }
    }
}

impl fmt::Display for AutoOffsetReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AutoOffsetReset::Earliest => "earliest",
            AutoOffsetReset::Latest => "latest",
            AutoOffsetReset::None => "none",
        })
    }
}

/// Which records a fetch may return (`isolation.level`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Everything up to the high watermark, aborted transactions included
    /// (Java's default).
    #[default]
    ReadUncommitted,
    /// Up to the last stable offset, without aborted transactions.
    ReadCommitted,
}

impl IsolationLevel {
    /// The Fetch and ListOffsets requests' `isolation_level` field.
    pub fn wire_value(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

impl FromStr for IsolationLevel {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<IsolationLevel, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            _ => Err(ConfigError::invalid(
                "isolation.level",
                s,
                "read_uncommitted or read_committed",
            )),
        }
    }
}

impl fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsolationLevel::ReadUncommitted => "read_uncommitted",
            IsolationLevel::ReadCommitted => "read_committed",
        })
    }
}

/// A checked consumer configuration. Build one with
/// [`ConsumerConfig::builder`] or [`ConsumerConfig::from_pairs`].
///
/// ```
/// use std::time::Duration;
/// use rouse_kafka::{AutoOffsetReset, ConsumerConfig};
///
/// let typed = ConsumerConfig::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .group_id("billing")
///     .auto_offset_reset(AutoOffsetReset::Earliest)
///     .fetch_max_wait(Duration::from_millis(100))
///     .build()?;
/// let pairs = ConsumerConfig::from_pairs([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("group.id", "billing"),
///     ("auto.offset.reset", "earliest"),
///     ("fetch.max.wait.ms", "100"),
/// ])?;
/// assert_eq!(typed, pairs);
/// assert!(pairs.enable_auto_commit(), "on by default with a group.id");
/// # Ok::<(), rouse_kafka::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub(crate) bootstrap_servers: Vec<String>,
    pub(crate) group_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) auto_offset_reset: AutoOffsetReset,
    pub(crate) enable_auto_commit: bool,
    pub(crate) auto_commit_interval: Duration,
    pub(crate) fetch_min_bytes: usize,
    pub(crate) fetch_max_wait: Duration,
    pub(crate) fetch_max_bytes: usize,
    pub(crate) max_partition_fetch_bytes: usize,
    pub(crate) max_poll_records: usize,
    pub(crate) isolation_level: IsolationLevel,
    pub(crate) check_crcs: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) connections_max_idle: Option<Duration>,
    pub(crate) metadata_max_age: Duration,
    pub(crate) prefetch_bytes_per_partition: usize,
    /// The consumer-group settings (`group.rs`).
    pub(crate) group: GroupConfig,
    /// TLS and SASL, the producer's keys (crate::security); secrets print
    /// as `[redacted]`.
    pub(crate) security: SecurityConfig,
}

impl ConsumerConfig {
    /// Every key [`from_pairs`](Self::from_pairs) accepts.
    pub const KEYS: &'static [&'static str] = KEYS;

    /// A builder with nothing set yet.
    pub fn builder() -> ConsumerConfigBuilder {
        ConsumerConfigBuilder::default()
    }

    /// Parses `key = value` pairs with the Java consumer's names; a later
    /// pair for the same key wins. Errors name the key, the value and what
    /// the key accepts.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<ConsumerConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut builder = ConsumerConfig::builder();
        for (key, value) in pairs {
            builder = builder.set(key.as_ref(), value.as_ref())?;
        }
        builder.build()
    }

    /// `bootstrap.servers`: `host:port` addresses to fetch metadata from.
    pub fn bootstrap_servers(&self) -> &[String] {
        &self.bootstrap_servers
    }

    /// `group.id`: the group whose committed offsets `commit` and
    /// `committed` use; `None` when not set.
    pub fn group_id(&self) -> Option<&str> {
        self.group_id.as_deref()
    }

    /// `client.id`: sent with every request, shown in broker logs and quotas.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `auto.offset.reset`: see [`AutoOffsetReset`].
    pub fn auto_offset_reset(&self) -> AutoOffsetReset {
        self.auto_offset_reset
    }

    /// `enable.auto.commit`, after the no-`group.id` rule may have turned it
    /// off.
    pub fn enable_auto_commit(&self) -> bool {
        self.enable_auto_commit
    }

    /// `auto.commit.interval.ms`: how often positions are committed when
    /// auto-commit is on.
    pub fn auto_commit_interval(&self) -> Duration {
        self.auto_commit_interval
    }

    /// `fetch.min.bytes`: the broker holds a fetch until this many bytes
    /// are ready (or `fetch.max.wait.ms` passes).
    pub fn fetch_min_bytes(&self) -> usize {
        self.fetch_min_bytes
    }

    /// `fetch.max.wait.ms`: the longest a broker holds a fetch.
    pub fn fetch_max_wait(&self) -> Duration {
        self.fetch_max_wait
    }

    /// `fetch.max.bytes`: the most a fetch response carries (the first
    /// batch goes even if larger, so the consumer always makes progress).
    pub fn fetch_max_bytes(&self) -> usize {
        self.fetch_max_bytes
    }

    /// `max.partition.fetch.bytes`: the most a fetch carries per partition
    /// (same first-batch rule).
    pub fn max_partition_fetch_bytes(&self) -> usize {
        self.max_partition_fetch_bytes
    }

    /// `max.poll.records`: the most records one `poll` returns.
    pub fn max_poll_records(&self) -> usize {
        self.max_poll_records
    }

    /// `isolation.level`: see [`IsolationLevel`].
    pub fn isolation_level(&self) -> IsolationLevel {
        self.isolation_level
    }

    /// `check.crcs`: whether every fetched batch's CRC-32C is verified.
    pub fn check_crcs(&self) -> bool {
        self.check_crcs
    }

    /// `request.timeout.ms`: how long to wait for a broker's response
    /// (beyond `fetch.max.wait.ms` for a fetch).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// `retry.backoff.ms`: the first wait before a failed request is retried.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }

    /// `retry.backoff.max.ms`: the cap of the exponential retry backoff.
    pub fn retry_backoff_max(&self) -> Duration {
        self.retry_backoff_max
    }

    /// `reconnect.backoff.ms`: the first wait before dialling a broker again.
    pub fn reconnect_backoff(&self) -> Duration {
        self.reconnect_backoff
    }

    /// `reconnect.backoff.max.ms`: the cap of the reconnect backoff.
    pub fn reconnect_backoff_max(&self) -> Duration {
        self.reconnect_backoff_max
    }

    /// `connections.max.idle.ms` (default 9 minutes): a broker connection
    /// with nothing in flight for this long is closed; `None` (-1) keeps
    /// idle connections open.
    pub fn connections_max_idle(&self) -> Option<Duration> {
        self.connections_max_idle
    }

    /// `metadata.max.age.ms`: refresh metadata at least this often.
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }

    /// `queued.max.messages.kbytes` in bytes: the prefetch buffer's bound
    /// per partition (see the module docs).
    pub fn prefetch_bytes_per_partition(&self) -> usize {
        self.prefetch_bytes_per_partition
    }

    /// `security.protocol`: TLS and/or SASL on every broker connection
    /// (the producer's keys and rules; docs/security.md).
    pub fn security_protocol(&self) -> SecurityProtocol {
        self.security.protocol
    }
}

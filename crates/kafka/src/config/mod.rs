//! Producer settings, spelled the way Kafka spells them.
//!
//! Two ways in, one set of checks:
//!
//! * [`ProducerConfig::from_pairs`] takes `key = value` strings with the Java
//!   client's names (`bootstrap.servers`, `acks`, `linger.ms`, ...), e.g. from
//!   a properties file or command-line flags;
//! * [`ProducerConfig::builder`] takes typed values.
//!
//! Both end in [`ProducerConfigBuilder::build`], which fills in Java's
//! defaults and applies Java's cross-checks. A [`ProducerConfig`] therefore
//! always holds a consistent configuration; its fields are read through
//! accessors so it stays that way.
//!
//! Pitfalls, all as in Java:
//!
//! * `enable.idempotence` defaults to `true`, which needs `acks=all`,
//!   `retries > 0` and `max.in.flight.requests.per.connection <= 5`. If you
//!   *set* idempotence and one of those, the conflict is an error; if you
//!   only set the other (say `acks=1`), idempotence is quietly turned off.
//! * `delivery.timeout.ms` must be at least `linger.ms + request.timeout.ms`;
//!   if you did not set it, it is raised to that sum instead of failing.
//! * Unknown keys are errors, including Java settings this producer has no
//!   use for (serializers, interceptors): better a loud error than a setting
//!   silently ignored.

mod builder;
mod checks;
mod consumer;
mod error;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::backoff;
use crate::security::{SaslMechanism, SecurityConfig, SecurityProtocol};
pub use builder::ProducerConfigBuilder;
pub use consumer::{AutoOffsetReset, ConsumerConfig, ConsumerConfigBuilder, IsolationLevel};
pub use error::ConfigError;

/// `connections.max.idle.ms`'s default, the Java clients': 9 minutes.
pub(crate) const DEFAULT_CONNECTIONS_MAX_IDLE: Duration = Duration::from_secs(9 * 60);

/// Every key [`ProducerConfig::from_pairs`] accepts.
pub(crate) const KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "acks",
    "linger.ms",
    "batch.size",
    "buffer.memory",
    "max.block.ms",
    "request.timeout.ms",
    "delivery.timeout.ms",
    "retries",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "connections.max.idle.ms",
    "max.in.flight.requests.per.connection",
    "enable.idempotence",
    "compression.type",
    "metadata.max.age.ms",
    "max.request.size",
    "rouse.wakeups",
    "rouse.poll.timeout.ms",
    // crate::security's keys:
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

/// How many replicas must have a record before the broker acknowledges it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Acks {
    /// `acks=0`: the broker sends no response at all; fastest, records can be
    /// lost silently, and delivery reports carry no offset (`-1`).
    None,
    /// `acks=1`: the leader has written it.
    Leader,
    /// `acks=all` (or `-1`): every in-sync replica has it. Java's default.
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn wire_value(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

impl FromStr for Acks {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Acks, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            "all" | "-1" => Ok(Acks::All),
            _ => Err(ConfigError::invalid("acks", s, "one of 0, 1, all, -1")),
        }
    }
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        })
    }
}

/// How a record batch's records section is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression (Java's default).
    #[default]
    None,
    /// gzip (flate2).
    Gzip,
    /// Snappy, in the xerial framing the Java client writes.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The protocol crate's spelling.
    pub(crate) fn to_protocol(self) -> kafka_protocol::records::Compression {
        use kafka_protocol::records::Compression as C;
        match self {
            Compression::None => C::None,
            Compression::Gzip => C::Gzip,
            Compression::Snappy => C::Snappy,
            Compression::Lz4 => C::Lz4,
            Compression::Zstd => C::Zstd,
        }
    }

    /// The codec bits of a batch's `attributes`.
    pub(crate) fn attribute_bits(self) -> i16 {
        self.to_protocol() as i16
    }
}

impl FromStr for Compression {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Compression, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(ConfigError::invalid(
                "compression.type",
                s,
                "one of none, gzip, snappy, lz4, zstd",
            )),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        })
    }
}

/// A checked producer configuration. Build one with
/// [`ProducerConfig::builder`] or [`ProducerConfig::from_pairs`].
///
/// ```
/// use std::time::Duration;
/// use rouse_kafka::{Acks, Compression, ProducerConfig};
///
/// let typed = ProducerConfig::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .acks(Acks::All)
///     .linger(Duration::from_millis(10))
///     .compression(Compression::Lz4)
///     .build()?;
/// let pairs = ProducerConfig::from_pairs([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("linger.ms", "10"),
///     ("compression.type", "lz4"),
/// ])?;
/// assert_eq!(typed, pairs);
/// # Ok::<(), rouse_kafka::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    pub(crate) bootstrap_servers: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) acks: Acks,
    pub(crate) linger: Duration,
    pub(crate) batch_size: usize,
    pub(crate) buffer_memory: usize,
    pub(crate) max_block: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) delivery_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) enable_idempotence: bool,
    pub(crate) compression: Compression,
    pub(crate) metadata_max_age: Duration,
    pub(crate) max_request_size: usize,
    pub(crate) wakeups: bool,
    pub(crate) poll_timeout: Duration,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) connections_max_idle: Option<Duration>,
    pub(crate) idempotence_requested: bool,
    /// TLS and SASL (crate::security); secrets print as `[redacted]`.
    pub(crate) security: SecurityConfig,
}

impl ProducerConfig {
    /// Every key [`from_pairs`](Self::from_pairs) accepts.
    pub const KEYS: &'static [&'static str] = KEYS;

    /// `batch.size` when unset: 1 MiB, the largest batch a broker takes
    /// at its default `message.max.bytes` (1 MiB + 12). Java's default is
    /// 16 KiB; here batches start small and grow only under a backlog, so
    /// the larger ceiling costs no memory when records trickle and saves the
    /// broker thousands of small requests when they flood.
    pub const DEFAULT_BATCH_SIZE: usize = 1024 * 1024;

    /// `buffer.memory` when unset: 32 MiB, Java's default. In a flood a
    /// record waits about `buffer.memory / throughput` behind the queue;
    /// docs/performance.md measures smaller buffers.
    pub const DEFAULT_BUFFER_MEMORY: usize = 32 * 1024 * 1024;

    /// A builder with nothing set yet.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::default()
    }

    /// Parses `key = value` pairs with the Java client's names; a later pair
    /// for the same key wins. Errors name the key, the value and what the key
    /// accepts.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<ProducerConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut builder = ProducerConfig::builder();
        for (key, value) in pairs {
            builder = builder.set(key.as_ref(), value.as_ref())?;
        }
        builder.build()
    }

    /// `bootstrap.servers`: `host:port` addresses to fetch metadata from.
    pub fn bootstrap_servers(&self) -> &[String] {
        &self.bootstrap_servers
    }

    /// `client.id`: sent with every request, shown in broker logs and quotas.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `acks`: see [`Acks`].
    pub fn acks(&self) -> Acks {
        self.acks
    }

    /// `linger.ms`: how long a batch that is not full waits for more records.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// `batch.size`: bytes of records after which a batch counts as full.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// `buffer.memory`: bytes all unsent batches may hold together.
    pub fn buffer_memory(&self) -> usize {
        self.buffer_memory
    }

    /// `max.block.ms`: how long `send` may wait for buffer space.
    pub fn max_block(&self) -> Duration {
        self.max_block
    }

    /// `request.timeout.ms`: how long to wait for a broker's response.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// `delivery.timeout.ms`: upper bound from `send` to a record's outcome.
    pub fn delivery_timeout(&self) -> Duration {
        self.delivery_timeout
    }

    /// `retries`: how often a batch is resent after a retriable error.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// `retry.backoff.ms`: the first wait before resending a batch.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }

    /// `retry.backoff.max.ms`: the cap of the exponential retry backoff
    /// (never below `retry.backoff.ms`).
    pub fn retry_backoff_max(&self) -> Duration {
        self.retry_backoff_max
    }

    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight_requests_per_connection(&self) -> usize {
        self.max_in_flight
    }

    /// `enable.idempotence`, after Java's rules may have turned it off.
    pub fn enable_idempotence(&self) -> bool {
        self.enable_idempotence
    }

    /// `compression.type`.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// `metadata.max.age.ms`: refresh metadata at least this often.
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }

    /// `max.request.size`: the largest Produce request, and so the largest
    /// record, this producer sends.
    pub fn max_request_size(&self) -> usize {
        self.max_request_size
    }

    /// `rouse.wakeups` (default true): whether `send` wakes the poller. Off,
    /// a record waits until the poller's poll times out
    /// (`rouse.poll.timeout.ms`) — kafka-python's behaviour before its
    /// wakeup fix, for demonstrations and tests.
    pub fn wakeups(&self) -> bool {
        self.wakeups
    }

    /// `rouse.poll.timeout.ms` (default 1000 ms): the longest the poller
    /// sleeps in one poll when no timer is due sooner.
    pub fn poll_timeout(&self) -> Duration {
        self.poll_timeout
    }

    /// `reconnect.backoff.ms` (default 50 ms): the first wait before
    /// dialling a broker again after a failed connection.
    pub fn reconnect_backoff(&self) -> Duration {
        self.reconnect_backoff
    }

    /// `reconnect.backoff.max.ms` (default 1 s): the cap of the exponential
    /// reconnect backoff (never below `reconnect.backoff.ms`).
    pub fn reconnect_backoff_max(&self) -> Duration {
        self.reconnect_backoff_max
    }

    /// `connections.max.idle.ms` (default 9 minutes, as Java's): a broker
    /// connection with nothing in flight for this long is closed, and
    /// dialled again when a request needs it; `None` (-1) keeps idle
    /// connections open.
    pub fn connections_max_idle(&self) -> Option<Duration> {
        self.connections_max_idle
    }

    /// Whether `enable.idempotence=true` was set, rather than being the
    /// default: then a broker that gives no producer id is a fatal error.
    pub fn idempotence_requested(&self) -> bool {
        self.idempotence_requested
    }

    /// `security.protocol`: TLS and/or SASL on every broker connection.
    pub fn security_protocol(&self) -> SecurityProtocol {
        self.security.protocol
    }

    /// `sasl.mechanism`, when `security.protocol` uses SASL.
    pub fn sasl_mechanism(&self) -> Option<SaslMechanism> {
        self.security.sasl.as_ref().map(|s| s.mechanism)
    }

    /// The wait before attempt `attempt + 1` of a batch (attempt 1 is the
    /// first resend): `retry.backoff.ms * 2^(attempt - 1)`, capped at
    /// `retry.backoff.max.ms`, before jitter ([`Self::jittered_backoff`]
    /// adds it).
    pub fn backoff_for(&self, attempt: u32) -> Duration {
        backoff::exponential(self.retry_backoff, self.retry_backoff_max, attempt)
    }

    /// [`Self::backoff_for`] spread by ±20% as Java does, so producers that
    /// failed together do not retry in lockstep. `random` is any 64-bit
    /// random value.
    pub fn jittered_backoff(&self, attempt: u32, random: u64) -> Duration {
        backoff::jittered(self.backoff_for(attempt), random)
    }
}

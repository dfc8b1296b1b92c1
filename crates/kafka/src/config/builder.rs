//! [`ProducerConfigBuilder`]: typed setters, string parsing, and the checks
//! both share in [`build`](ProducerConfigBuilder::build).

use std::time::Duration;

use super::checks::{
    at_least, at_most, backoff_pair, check_servers, delivery_timeout, idempotence, idle_millis,
    int, millis, parse_bool, split_servers, within,
};
use super::{Acks, Compression, ConfigError, ProducerConfig, DEFAULT_CONNECTIONS_MAX_IDLE};
use crate::security::SecurityBuilder;

/// Collects settings; nothing is checked until [`build`](Self::build).
///
/// Every setter has the Kafka key in its docs; unset values take Java's
/// defaults, listed there too.
#[derive(Clone, Debug, Default)]
pub struct ProducerConfigBuilder {
    bootstrap_servers: Option<Vec<String>>,
    client_id: Option<String>,
    acks: Option<Acks>,
    linger: Option<Duration>,
    batch_size: Option<usize>,
    buffer_memory: Option<usize>,
    max_block: Option<Duration>,
    request_timeout: Option<Duration>,
    delivery_timeout: Option<Duration>,
    retries: Option<u32>,
    retry_backoff: Option<Duration>,
    retry_backoff_max: Option<Duration>,
    max_in_flight: Option<usize>,
    enable_idempotence: Option<bool>,
    compression: Option<Compression>,
    metadata_max_age: Option<Duration>,
    max_request_size: Option<usize>,
    wakeups: Option<bool>,
    poll_timeout: Option<Duration>,
    reconnect_backoff: Option<Duration>,
    reconnect_backoff_max: Option<Duration>,
    connections_max_idle: Option<Option<Duration>>,
    /// The `security.*`, `ssl.*` and `sasl.*` keys (crate::security).
    pub(crate) security: SecurityBuilder,
}

impl ProducerConfigBuilder {
    /// `bootstrap.servers` (required): `host:port` addresses.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bootstrap_servers = Some(servers.into_iter().map(Into::into).collect());
        self
    }

    /// `client.id` (default empty).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// `acks` (default [`Acks::All`]).
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = Some(acks);
        self
    }

    /// `linger.ms` (default 5 ms, Kafka 4.0's default).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = Some(linger);
        self
    }

    /// `batch.size` in bytes (default 1 MiB, [`DEFAULT_BATCH_SIZE`]): the
    /// most a batch grows to. Batches start at 16 KiB and double only while
    /// their partition has a backlog, so the default costs no memory where
    /// records trickle; see docs/performance.md for why it is not Java's
    /// 16 KiB.
    ///
    /// [`DEFAULT_BATCH_SIZE`]: crate::ProducerConfig::DEFAULT_BATCH_SIZE
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = Some(bytes);
        self
    }

    /// `buffer.memory` in bytes (default 32 MiB, [`DEFAULT_BUFFER_MEMORY`]):
    /// what all unsent batches may hold together before `send` blocks. In
    /// a flood a record waits about `buffer.memory / throughput`; see
    /// docs/performance.md.
    ///
    /// [`DEFAULT_BUFFER_MEMORY`]: crate::ProducerConfig::DEFAULT_BUFFER_MEMORY
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = Some(bytes);
        self
    }

    /// `max.block.ms` (default 60 s).
    pub fn max_block(mut self, wait: Duration) -> Self {
        self.max_block = Some(wait);
        self
    }

    /// `request.timeout.ms` (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// `delivery.timeout.ms` (default 120 s).
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = Some(timeout);
        self
    }

    /// `retries` (default 2147483647).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// `retry.backoff.ms` (default 100 ms).
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = Some(backoff);
        self
    }

    /// `retry.backoff.max.ms` (default 1000 ms).
    pub fn retry_backoff_max(mut self, backoff: Duration) -> Self {
        self.retry_backoff_max = Some(backoff);
        self
    }

    /// `max.in.flight.requests.per.connection` (default 5).
    pub fn max_in_flight_requests_per_connection(mut self, n: usize) -> Self {
        self.max_in_flight = Some(n);
        self
    }

    /// `enable.idempotence` (default true).
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.enable_idempotence = Some(on);
        self
    }

    /// `compression.type` (default [`Compression::None`]).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// `metadata.max.age.ms` (default 5 minutes).
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = Some(age);
        self
    }

    /// `max.request.size` in bytes (default 1 MiB).
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = Some(bytes);
        self
    }

    /// `rouse.wakeups` (default true): whether `send` wakes the poller; see
    /// [`ProducerConfig::wakeups`].
    pub fn wakeups(mut self, on: bool) -> Self {
        self.wakeups = Some(on);
        self
    }

    /// `rouse.poll.timeout.ms` (default 1000 ms, at least 1 ms): the
    /// poller's longest poll.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = Some(timeout);
        self
    }

    /// `reconnect.backoff.ms` (default 50 ms): the first wait before a
    /// broker is dialled again after a failed connection; doubles per
    /// failure up to `reconnect.backoff.max.ms`.
    pub fn reconnect_backoff(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff = Some(backoff);
        self
    }

    /// `reconnect.backoff.max.ms` (default 1000 ms): the cap of the
    /// reconnect backoff.
    pub fn reconnect_backoff_max(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff_max = Some(backoff);
        self
    }

    /// `connections.max.idle.ms` (default 9 minutes): close a broker
    /// connection after this long with nothing in flight; `None` (-1)
    /// keeps idle connections open.
    pub fn connections_max_idle(mut self, idle: Option<Duration>) -> Self {
        self.connections_max_idle = Some(idle);
        self
    }

    /// Sets one setting from its Kafka key and string value.
    pub fn set(self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let v = value.trim();
        Ok(match key.trim() {
            "bootstrap.servers" => self.bootstrap_servers(split_servers(v)),
            "client.id" => self.client_id(v),
            "acks" => self.acks(v.parse()?),
            "compression.type" => self.compression(v.parse()?),
            "enable.idempotence" => self.enable_idempotence(parse_bool("enable.idempotence", v)?),
            "linger.ms" => self.linger(millis("linger.ms", v, i64::MAX)?),
            "max.block.ms" => self.max_block(millis("max.block.ms", v, i64::MAX)?),
            "request.timeout.ms" => {
                self.request_timeout(millis("request.timeout.ms", v, i32::MAX.into())?)
            }
            "delivery.timeout.ms" => {
                self.delivery_timeout(millis("delivery.timeout.ms", v, i32::MAX.into())?)
            }
            "retry.backoff.ms" => self.retry_backoff(millis("retry.backoff.ms", v, i64::MAX)?),
            "retry.backoff.max.ms" => {
                self.retry_backoff_max(millis("retry.backoff.max.ms", v, i64::MAX)?)
            }
            "reconnect.backoff.ms" => {
                self.reconnect_backoff(millis("reconnect.backoff.ms", v, i64::MAX)?)
            }
            "reconnect.backoff.max.ms" => {
                self.reconnect_backoff_max(millis("reconnect.backoff.max.ms", v, i64::MAX)?)
            }
            "metadata.max.age.ms" => {
                self.metadata_max_age(millis("metadata.max.age.ms", v, i64::MAX)?)
            }
            "connections.max.idle.ms" => {
                self.connections_max_idle(idle_millis("connections.max.idle.ms", v)?)
            }
            "batch.size" => self.batch_size(int("batch.size", v, 0, i32::MAX.into())? as usize),
            "buffer.memory" => self.buffer_memory(int("buffer.memory", v, 0, i64::MAX)? as usize),
            "max.request.size" => {
                self.max_request_size(int("max.request.size", v, 0, i32::MAX.into())? as usize)
            }
            "rouse.wakeups" => self.wakeups(parse_bool("rouse.wakeups", v)?),
            "rouse.poll.timeout.ms" => {
                self.poll_timeout(millis("rouse.poll.timeout.ms", v, i32::MAX.into())?)
            }
            "retries" => self.retries(int("retries", v, 0, i32::MAX.into())? as u32),
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight_requests_per_connection(int(
                    "max.in.flight.requests.per.connection",
                    v,
                    1,
                    i32::MAX.into(),
                )? as usize)
            }
            other => {
                let mut this = self;
                if !this.security.set(other, v)? {
                    return Err(ConfigError::UnknownKey {
                        key: key.to_owned(),
                        client: "producer",
                        known: super::KEYS,
                    });
                }
                this
            }
        })
    }

    /// Fills in defaults, checks ranges and Java's cross-checks.
    pub fn build(self) -> Result<ProducerConfig, ConfigError> {
        let bootstrap_servers = self.bootstrap_servers.ok_or(ConfigError::Missing {
            key: "bootstrap.servers",
            expected: "a comma-separated list of host:port, e.g. 127.0.0.1:9092",
        })?;
        check_servers(&bootstrap_servers)?;

        let linger = self.linger.unwrap_or(Duration::from_millis(5));
        let request_timeout = self.request_timeout.unwrap_or(Duration::from_secs(30));
        within("request.timeout.ms", request_timeout, i32::MAX as u64)?;
        at_least(
            "request.timeout.ms",
            request_timeout,
            1,
            "a broker's answer cannot arrive in 0 ms",
        )?;
        if let Some(d) = self.delivery_timeout {
            within("delivery.timeout.ms", d, i32::MAX as u64)?;
        }
        let batch_size = self
            .batch_size
            .unwrap_or(ProducerConfig::DEFAULT_BATCH_SIZE);
        at_most("batch.size", batch_size, i32::MAX as usize)?;
        let max_request_size = self.max_request_size.unwrap_or(1024 * 1024);
        at_most("max.request.size", max_request_size, i32::MAX as usize)?;
        let buffer_memory = self
            .buffer_memory
            .unwrap_or(ProducerConfig::DEFAULT_BUFFER_MEMORY);
        for (key, bytes) in [
            ("max.request.size", max_request_size),
            ("buffer.memory", buffer_memory),
        ] {
            if bytes < MIN_REQUEST_BYTES {
                return Err(ConfigError::invalid(
                    key,
                    bytes.to_string(),
                    format!(
                        "at least {MIN_REQUEST_BYTES} bytes: smaller, not even an empty record fits"
                    ),
                ));
            }
        }
        let max_in_flight = self.max_in_flight.unwrap_or(5);
        if max_in_flight == 0 {
            return Err(ConfigError::invalid(
                "max.in.flight.requests.per.connection",
                "0",
                "an integer of at least 1",
            ));
        }
        let retries = self.retries.unwrap_or(i32::MAX as u32);
        if retries > i32::MAX as u32 {
            return Err(ConfigError::invalid(
                "retries",
                retries.to_string(),
                "an integer in 0..=2147483647",
            ));
        }
        let acks = self.acks.unwrap_or(Acks::All);
        let poll_timeout = self.poll_timeout.unwrap_or(Duration::from_secs(1));
        if poll_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "rouse.poll.timeout.ms",
                "0",
                "a number of milliseconds of at least 1 (0 would make the poller spin)",
            ));
        }

        let security = self.security.build()?;
        let enable_idempotence =
            idempotence(self.enable_idempotence, acks, retries, max_in_flight)?;
        let delivery_timeout = delivery_timeout(self.delivery_timeout, linger, request_timeout)?;

        let (retry_backoff, retry_backoff_max) = backoff_pair(
            ("retry.backoff.ms", self.retry_backoff, 100),
            ("retry.backoff.max.ms", self.retry_backoff_max, 1000),
        );
        let (reconnect_backoff, reconnect_backoff_max) = backoff_pair(
            ("reconnect.backoff.ms", self.reconnect_backoff, 50),
            ("reconnect.backoff.max.ms", self.reconnect_backoff_max, 1000),
        );

        Ok(ProducerConfig {
            bootstrap_servers,
            client_id: self.client_id.unwrap_or_default(),
            acks,
            linger,
            batch_size,
            buffer_memory,
            max_block: self.max_block.unwrap_or(Duration::from_secs(60)),
            request_timeout,
            delivery_timeout,
            retries,
            retry_backoff,
            retry_backoff_max,
            max_in_flight,
            enable_idempotence,
            compression: self.compression.unwrap_or_default(),
            metadata_max_age: self.metadata_max_age.unwrap_or(Duration::from_secs(300)),
            max_request_size,
            wakeups: self.wakeups.unwrap_or(true),
            poll_timeout,
            reconnect_backoff,
            reconnect_backoff_max,
            connections_max_idle: self
                .connections_max_idle
                .unwrap_or(Some(DEFAULT_CONNECTIONS_MAX_IDLE)),
            idempotence_requested: self.enable_idempotence == Some(true),
            security,
        })
    }
}

/// The smallest `max.request.size` and `buffer.memory` that can hold a
/// batch header and one empty record.
const MIN_REQUEST_BYTES: usize = crate::batch::RECORD_BATCH_OVERHEAD + 8;

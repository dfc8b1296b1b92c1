//! [`ConsumerConfigBuilder`]: typed setters, string parsing, and the checks
//! both share in [`build`](ConsumerConfigBuilder::build).

use std::time::Duration;

use super::super::checks::{
    at_least, backoff_pair, check_servers, idle_millis, int, millis, parse_bool, split_servers,
    within,
};
use super::{AutoOffsetReset, ConfigError, ConsumerConfig, GroupBuilder, IsolationLevel, KEYS};
use crate::config::DEFAULT_CONNECTIONS_MAX_IDLE;
use crate::security::SecurityBuilder;

/// Collects consumer settings; nothing is checked until [`build`](Self::build).
///
/// Every setter has the Kafka key in its docs; unset values take Java's
/// defaults, listed there too.
#[derive(Clone, Debug, Default)]
pub struct ConsumerConfigBuilder {
    bootstrap_servers: Option<Vec<String>>,
    group_id: Option<String>,
    client_id: Option<String>,
    auto_offset_reset: Option<AutoOffsetReset>,
    enable_auto_commit: Option<bool>,
    auto_commit_interval: Option<Duration>,
    fetch_min_bytes: Option<usize>,
    fetch_max_wait: Option<Duration>,
    fetch_max_bytes: Option<usize>,
    max_partition_fetch_bytes: Option<usize>,
    max_poll_records: Option<usize>,
    isolation_level: Option<IsolationLevel>,
    check_crcs: Option<bool>,
    request_timeout: Option<Duration>,
    retry_backoff: Option<Duration>,
    retry_backoff_max: Option<Duration>,
    reconnect_backoff: Option<Duration>,
    reconnect_backoff_max: Option<Duration>,
    connections_max_idle: Option<Option<Duration>>,
    metadata_max_age: Option<Duration>,
    prefetch_kbytes: Option<usize>,
    /// The `security.*`, `ssl.*` and `sasl.*` keys, as the producer takes
    /// them (crate::security).
    security: SecurityBuilder,
    /// The consumer-group keys (`group.rs`).
    group: GroupBuilder,
}

/// The largest byte count a Kafka request field (an `int32`) carries.
const MAX_I32: i64 = i32::MAX as i64;

impl ConsumerConfigBuilder {
    /// `bootstrap.servers` (required): `host:port` addresses.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bootstrap_servers = Some(servers.into_iter().map(Into::into).collect());
        self
    }

    /// `group.id` (default none): needed to commit and read committed offsets.
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// `client.id` (default empty).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// `auto.offset.reset` (default [`AutoOffsetReset::Latest`]).
    pub fn auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.auto_offset_reset = Some(reset);
        self
    }

    /// `enable.auto.commit` (default true with a `group.id`, else false).
    pub fn enable_auto_commit(mut self, on: bool) -> Self {
        self.enable_auto_commit = Some(on);
        self
    }

    /// `auto.commit.interval.ms` (default 5 s).
    pub fn auto_commit_interval(mut self, interval: Duration) -> Self {
        self.auto_commit_interval = Some(interval);
        self
    }

    /// `fetch.min.bytes` (default 1).
    pub fn fetch_min_bytes(mut self, bytes: usize) -> Self {
        self.fetch_min_bytes = Some(bytes);
        self
    }

    /// `fetch.max.wait.ms` (default 500 ms).
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch_max_wait = Some(wait);
        self
    }

    /// `fetch.max.bytes` (default 50 MiB).
    pub fn fetch_max_bytes(mut self, bytes: usize) -> Self {
        self.fetch_max_bytes = Some(bytes);
        self
    }

    /// `max.partition.fetch.bytes` (default 1 MiB).
    pub fn max_partition_fetch_bytes(mut self, bytes: usize) -> Self {
        self.max_partition_fetch_bytes = Some(bytes);
        self
    }

    /// `max.poll.records` (default 500, at least 1).
    pub fn max_poll_records(mut self, records: usize) -> Self {
        self.max_poll_records = Some(records);
        self
    }

    /// `isolation.level` (default [`IsolationLevel::ReadUncommitted`]).
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = Some(level);
        self
    }

    /// `check.crcs` (default true).
    pub fn check_crcs(mut self, on: bool) -> Self {
        self.check_crcs = Some(on);
        self
    }

    /// `request.timeout.ms` (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
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

    /// `reconnect.backoff.ms` (default 50 ms).
    pub fn reconnect_backoff(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff = Some(backoff);
        self
    }

    /// `reconnect.backoff.max.ms` (default 1000 ms).
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

    /// `metadata.max.age.ms` (default 5 minutes).
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = Some(age);
        self
    }

    /// `queued.max.messages.kbytes` (default 2048 KiB, at least 1): the
    /// prefetch buffer's bound per partition.
    pub fn queued_max_messages_kbytes(mut self, kbytes: usize) -> Self {
        self.prefetch_kbytes = Some(kbytes);
        self
    }

    /// `session.timeout.ms` (default 45 s).
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.group.session_timeout = Some(timeout);
        self
    }

    /// `heartbeat.interval.ms` (default 3 s; below `session.timeout.ms`).
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.group.heartbeat_interval = Some(interval);
        self
    }

    /// `max.poll.interval.ms` (default 5 minutes).
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.group.max_poll_interval = Some(interval);
        self
    }

    /// `group.instance.id` (default none): a static member (KIP-345).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group.group_instance_id = Some(id.into());
        self
    }

    /// `partition.assignment.strategy` (default `range,cooperative-sticky`):
    /// protocol names or Java class names, preferred first.
    ///
    /// # Errors
    ///
    /// A name no assignor has.
    pub fn partition_assignment_strategy(mut self, names: &str) -> Result<Self, ConfigError> {
        self.group.assignment_strategy = Some(super::group::parse_strategies(names)?);
        Ok(self)
    }

    /// Sets one setting from its Kafka key and string value.
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let v = value.trim();
        let bytes = |key: &'static str, min: i64| int(key, v, min, MAX_I32).map(|n| n as usize);
        let ms = |key: &'static str| millis(key, v, MAX_I32);
        Ok(match key.trim() {
            "bootstrap.servers" => self.bootstrap_servers(split_servers(v)),
            "group.id" => self.group_id(v),
            "client.id" => self.client_id(v),
            "auto.offset.reset" => self.auto_offset_reset(v.parse()?),
            "enable.auto.commit" => self.enable_auto_commit(parse_bool("enable.auto.commit", v)?),
            "auto.commit.interval.ms" => self.auto_commit_interval(ms("auto.commit.interval.ms")?),
            "fetch.min.bytes" => self.fetch_min_bytes(bytes("fetch.min.bytes", 0)?),
            "fetch.max.wait.ms" => self.fetch_max_wait(ms("fetch.max.wait.ms")?),
            "fetch.max.bytes" => self.fetch_max_bytes(bytes("fetch.max.bytes", 0)?),
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes(bytes("max.partition.fetch.bytes", 0)?)
            }
            "max.poll.records" => self.max_poll_records(bytes("max.poll.records", 1)?),
            "isolation.level" => self.isolation_level(v.parse()?),
            "check.crcs" => self.check_crcs(parse_bool("check.crcs", v)?),
            "request.timeout.ms" => self.request_timeout(ms("request.timeout.ms")?),
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
            "connections.max.idle.ms" => {
                self.connections_max_idle(idle_millis("connections.max.idle.ms", v)?)
            }
            "metadata.max.age.ms" => {
                self.metadata_max_age(millis("metadata.max.age.ms", v, i64::MAX)?)
            }
            "queued.max.messages.kbytes" => {
                self.queued_max_messages_kbytes(bytes("queued.max.messages.kbytes", 1)?)
            }
            other if self.group.set(other, v)? => self,
            other if self.security.set(other, v)? => self,
            _ => {
                return Err(ConfigError::UnknownKey {
                    key: key.to_owned(),
                    client: "consumer",
                    known: KEYS,
                })
            }
        })
    }

    /// Fills in defaults, checks ranges and Java's cross-checks.
    pub fn build(self) -> Result<ConsumerConfig, ConfigError> {
        let bootstrap_servers = self.bootstrap_servers.ok_or(ConfigError::Missing {
            key: "bootstrap.servers",
            expected: "a comma-separated list of host:port, e.g. 127.0.0.1:9092",
        })?;
        check_servers(&bootstrap_servers)?;
        let group_id = self.group_id.filter(|g| !g.is_empty());
        let enable_auto_commit = match (self.enable_auto_commit, &group_id) {
            (Some(true), None) => {
                return Err(ConfigError::Conflict {
                    keys: &["enable.auto.commit", "group.id"],
                    reason: "enable.auto.commit=true needs a group.id to commit to; set \
                             group.id or enable.auto.commit=false"
                        .to_owned(),
                })
            }
            (asked, group) => asked.unwrap_or(true) && group.is_some(),
        };

        let request_timeout = self.request_timeout.unwrap_or(Duration::from_secs(30));
        let fetch_max_wait = self.fetch_max_wait.unwrap_or(Duration::from_millis(500));
        let auto_commit_interval = self.auto_commit_interval.unwrap_or(Duration::from_secs(5));
        for (key, d) in [
            ("request.timeout.ms", request_timeout),
            ("fetch.max.wait.ms", fetch_max_wait),
            ("auto.commit.interval.ms", auto_commit_interval),
        ] {
            within(key, d, MAX_I32 as u64)?;
        }
        at_least(
            "request.timeout.ms",
            request_timeout,
            1,
            "a broker's answer cannot arrive in 0 ms",
        )?;
        if enable_auto_commit {
            at_least(
                "auto.commit.interval.ms",
                auto_commit_interval,
                1,
                "0 would commit continuously",
            )?;
        }

        let number = |key: &'static str, value: Option<usize>, default: usize, min: usize| {
            let n = value.unwrap_or(default);
            if n < min || n as u64 > MAX_I32 as u64 {
                return Err(ConfigError::invalid(
                    key,
                    n.to_string(),
                    format!("an integer in {min}..={MAX_I32}"),
                ));
            }
            Ok(n)
        };
        let fetch_min_bytes = number("fetch.min.bytes", self.fetch_min_bytes, 1, 0)?;
        let fetch_max_bytes = number("fetch.max.bytes", self.fetch_max_bytes, 50 << 20, 0)?;
        let max_partition_fetch_bytes = number(
            "max.partition.fetch.bytes",
            self.max_partition_fetch_bytes,
            1 << 20,
            0,
        )?;
        let max_poll_records = number("max.poll.records", self.max_poll_records, 500, 1)?;
        let prefetch_kbytes = number("queued.max.messages.kbytes", self.prefetch_kbytes, 2048, 1)?;

        let security = self.security.build()?;
        let group = self.group.build()?;
        let (retry_backoff, retry_backoff_max) = backoff_pair(
            ("retry.backoff.ms", self.retry_backoff, 100),
            ("retry.backoff.max.ms", self.retry_backoff_max, 1000),
        );
        let (reconnect_backoff, reconnect_backoff_max) = backoff_pair(
            ("reconnect.backoff.ms", self.reconnect_backoff, 50),
            ("reconnect.backoff.max.ms", self.reconnect_backoff_max, 1000),
        );

        Ok(ConsumerConfig {
            bootstrap_servers,
            group_id,
            client_id: self.client_id.unwrap_or_default(),
            auto_offset_reset: self.auto_offset_reset.unwrap_or_default(),
            enable_auto_commit,
            auto_commit_interval,
            fetch_min_bytes,
            fetch_max_wait,
            fetch_max_bytes,
            max_partition_fetch_bytes,
            max_poll_records,
            isolation_level: self.isolation_level.unwrap_or_default(),
            check_crcs: self.check_crcs.unwrap_or(true),
            request_timeout,
            retry_backoff,
            retry_backoff_max,
            reconnect_backoff,
            reconnect_backoff_max,
            connections_max_idle: self
                .connections_max_idle
                .unwrap_or(Some(DEFAULT_CONNECTIONS_MAX_IDLE)),
            metadata_max_age: self.metadata_max_age.unwrap_or(Duration::from_secs(300)),
            prefetch_bytes_per_partition: prefetch_kbytes * 1024,
            group,
            security,
        })
    }
}

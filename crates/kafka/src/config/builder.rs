//! [`ProducerConfigBuilder`]: typed setters, string parsing, and the checks
//! both share in [`build`](ProducerConfigBuilder::build).

use std::time::Duration;

use super::{Acks, Compression, ConfigError, ProducerConfig};

/// Java's `MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE`: the broker
/// remembers the last five batches per producer and partition.
const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

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

    /// `batch.size` in bytes (default 16384).
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = Some(bytes);
        self
    }

    /// `buffer.memory` in bytes (default 32 MiB).
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

    /// Sets one setting from its Kafka key and string value.
    pub fn set(self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let v = value.trim();
        Ok(match key.trim() {
            "bootstrap.servers" => self.bootstrap_servers(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            ),
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
            "metadata.max.age.ms" => {
                self.metadata_max_age(millis("metadata.max.age.ms", v, i64::MAX)?)
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
            _ => {
                return Err(ConfigError::UnknownKey {
                    key: key.to_owned(),
                })
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
        if let Some(d) = self.delivery_timeout {
            within("delivery.timeout.ms", d, i32::MAX as u64)?;
        }
        let batch_size = self.batch_size.unwrap_or(16 * 1024);
        at_most("batch.size", batch_size, i32::MAX as usize)?;
        let max_request_size = self.max_request_size.unwrap_or(1024 * 1024);
        at_most("max.request.size", max_request_size, i32::MAX as usize)?;
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

        let enable_idempotence =
            idempotence(self.enable_idempotence, acks, retries, max_in_flight)?;
        let delivery_timeout = delivery_timeout(self.delivery_timeout, linger, request_timeout)?;

        let retry_backoff = self.retry_backoff.unwrap_or(Duration::from_millis(100));
        let mut retry_backoff_max = self.retry_backoff_max.unwrap_or(Duration::from_secs(1));
        if retry_backoff_max < retry_backoff {
            // Java warns and uses retry.backoff.ms as the cap.
            tracing::warn!(
                ?retry_backoff,
                ?retry_backoff_max,
                "retry.backoff.max.ms is below retry.backoff.ms; using retry.backoff.ms as the cap"
            );
            retry_backoff_max = retry_backoff;
        }

        Ok(ProducerConfig {
            bootstrap_servers,
            client_id: self.client_id.unwrap_or_default(),
            acks,
            linger,
            batch_size,
            buffer_memory: self.buffer_memory.unwrap_or(32 * 1024 * 1024),
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
        })
    }
}

/// Java's `postProcessAndValidateIdempotenceConfigs`: a conflict is an error
/// if idempotence was asked for, and turns it off if it was only the default.
fn idempotence(
    asked: Option<bool>,
    acks: Acks,
    retries: u32,
    max_in_flight: usize,
) -> Result<bool, ConfigError> {
    if asked == Some(false) {
        return Ok(false);
    }
    let conflict = if acks != Acks::All {
        Some((
            &["enable.idempotence", "acks"][..],
            format!("the idempotent producer needs acks=all, got acks={acks}; set acks=all or enable.idempotence=false"),
        ))
    } else if retries == 0 {
        Some((
            &["enable.idempotence", "retries"][..],
            "the idempotent producer needs retries > 0; raise retries or set enable.idempotence=false".to_owned(),
        ))
    } else if max_in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
        Some((
            &["enable.idempotence", "max.in.flight.requests.per.connection"][..],
            format!(
                "the idempotent producer allows at most {MAX_IN_FLIGHT_FOR_IDEMPOTENCE} requests in flight per connection, got {max_in_flight}; lower it or set enable.idempotence=false"
            ),
        ))
    } else {
        None
    };
    match (conflict, asked) {
        (None, _) => Ok(true),
        (Some((keys, reason)), Some(true)) => Err(ConfigError::Conflict { keys, reason }),
        (Some((_, reason)), _) => {
            tracing::info!(%reason, "idempotence was not requested explicitly; disabling it");
            Ok(false)
        }
    }
}

/// Java: `delivery.timeout.ms >= linger.ms + request.timeout.ms`, an error if
/// it was set, raised to the sum if it was the default.
fn delivery_timeout(
    asked: Option<Duration>,
    linger: Duration,
    request_timeout: Duration,
) -> Result<Duration, ConfigError> {
    let floor = linger.saturating_add(request_timeout);
    match asked {
        Some(d) if d < floor => Err(ConfigError::Conflict {
            keys: &["delivery.timeout.ms", "linger.ms", "request.timeout.ms"],
            reason: format!(
                "delivery.timeout.ms ({} ms) must be at least linger.ms + request.timeout.ms ({} ms); raise it or lower the others",
                d.as_millis(),
                floor.as_millis()
            ),
        }),
        Some(d) => Ok(d),
        None => {
            let default = Duration::from_secs(120);
            if default < floor {
                tracing::warn!(?floor, "raising delivery.timeout.ms to linger.ms + request.timeout.ms");
            }
            Ok(default.max(floor))
        }
    }
}

fn check_servers(servers: &[String]) -> Result<(), ConfigError> {
    const EXPECTED: &str = "a comma-separated list of host:port, e.g. 127.0.0.1:9092 or [::1]:9092";
    if servers.is_empty() {
        return Err(ConfigError::invalid("bootstrap.servers", "", EXPECTED));
    }
    for server in servers {
        let ok = server.rsplit_once(':').is_some_and(|(host, port)| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            return Err(ConfigError::invalid(
                "bootstrap.servers",
                server.clone(),
                EXPECTED,
            ));
        }
    }
    Ok(())
}

fn parse_bool(key: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::invalid(key, v, "true or false")),
    }
}

fn int(key: &'static str, v: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    v.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ConfigError::invalid(key, v, format!("an integer in {min}..={max}")))
}

fn millis(key: &'static str, v: &str, max: i64) -> Result<Duration, ConfigError> {
    int(key, v, 0, max).map(|ms| Duration::from_millis(ms as u64))
}

fn within(key: &'static str, d: Duration, max_ms: u64) -> Result<(), ConfigError> {
    if d.as_millis() > u128::from(max_ms) {
        return Err(ConfigError::invalid(
            key,
            format!("{} ms", d.as_millis()),
            format!("at most {max_ms} ms"),
        ));
    }
    Ok(())
}

fn at_most(key: &'static str, n: usize, max: usize) -> Result<(), ConfigError> {
    if n > max {
        return Err(ConfigError::invalid(
            key,
            n.to_string(),
            format!("an integer in 0..={max}"),
        ));
    }
    Ok(())
}

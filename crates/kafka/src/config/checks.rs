//! The checks [`ProducerConfigBuilder::build`](super::ProducerConfigBuilder::build)
//! applies: value parsing and ranges, and Java's cross-checks.

use std::time::Duration;

use super::{Acks, ConfigError};

/// Java's `MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE`: the broker
/// remembers the last five batches per producer and partition.
const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

/// Java's `postProcessAndValidateIdempotenceConfigs`: a conflict is an error
/// if idempotence was asked for, and turns it off if it was only the default.
pub(super) fn idempotence(
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
pub(super) fn delivery_timeout(
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

pub(super) fn check_servers(servers: &[String]) -> Result<(), ConfigError> {
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

pub(super) fn parse_bool(key: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::invalid(key, v, "true or false")),
    }
}

pub(super) fn int(key: &'static str, v: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    v.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ConfigError::invalid(key, v, format!("an integer in {min}..={max}")))
}

/// `connections.max.idle.ms`: a time in ms (at least 1), or -1 for never.
pub(super) fn idle_millis(key: &'static str, v: &str) -> Result<Option<Duration>, ConfigError> {
    match v.parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(ms) if ms >= 1 => Ok(Some(Duration::from_millis(ms as u64))),
        _ => Err(ConfigError::invalid(
            key,
            v,
            "a time in ms of at least 1, or -1 to keep idle connections open",
        )),
    }
}

pub(super) fn millis(key: &'static str, v: &str, max: i64) -> Result<Duration, ConfigError> {
    int(key, v, 0, max).map(|ms| Duration::from_millis(ms as u64))
}

pub(super) fn within(key: &'static str, d: Duration, max_ms: u64) -> Result<(), ConfigError> {
    if d.as_millis() > u128::from(max_ms) {
        return Err(ConfigError::invalid(
            key,
            format!("{} ms", d.as_millis()),
            format!("at most {max_ms} ms"),
        ));
    }
    Ok(())
}

pub(super) fn at_most(key: &'static str, n: usize, max: usize) -> Result<(), ConfigError> {
    if n > max {
        return Err(ConfigError::invalid(
            key,
            n.to_string(),
            format!("an integer in 0..={max}"),
        ));
    }
    Ok(())
}

pub(super) fn at_least(
    key: &'static str,
    d: Duration,
    min_ms: u64,
    why: &str,
) -> Result<(), ConfigError> {
    if d < Duration::from_millis(min_ms) {
        return Err(ConfigError::invalid(
            key,
            format!("{} ms", d.as_millis()),
            format!("at least {min_ms} ms ({why})"),
        ));
    }
    Ok(())
}

/// A backoff and its cap, defaults in ms filled in. As Java does, a cap
/// below the backoff is raised to it with a warning.
pub(super) fn backoff_pair(
    (key, initial, initial_default): (&str, Option<Duration>, u64),
    (max_key, max, max_default): (&str, Option<Duration>, u64),
) -> (Duration, Duration) {
    let initial = initial.unwrap_or(Duration::from_millis(initial_default));
    let max = max.unwrap_or(Duration::from_millis(max_default));
    if max < initial {
        tracing::warn!(
            ?initial,
            ?max,
            "{max_key} is below {key}; using {key} as the cap"
        );
        return (initial, initial);
    }
    (initial, max)
}

/// `bootstrap.servers` as given: comma-separated, blanks dropped.
pub(super) fn split_servers(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

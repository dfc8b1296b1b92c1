//! The consumer-group settings (`subscribe`): Java's names, defaults and
//! cross-checks, each error naming its key.
//!
//! | key | default | check |
//! | --- | --- | --- |
//! | `session.timeout.ms` | 45 000 | > 0 |
//! | `heartbeat.interval.ms` | 3 000 | > 0 and < `session.timeout.ms` |
//! | `max.poll.interval.ms` | 300 000 | > 0 (also the rebalance timeout sent in JoinGroup) |
//! | `group.instance.id` | none | not empty (static membership, KIP-345) |
//! | `partition.assignment.strategy` | `range,cooperative-sticky` | known protocol or Java class names |
//! | `group.protocol` | `classic` | `consumer` (KIP-848) is refused: not supported yet |
//! | `allow.auto.create.topics` | true | a boolean |
//! | `client.rack` | empty | any text; sent in JoinGroup's subscription and in Fetch (KIP-392, KIP-881) |

use std::time::Duration;

use super::super::checks::{millis, parse_bool, within};
use super::{ConfigError, ConsumerConfig};
use crate::consumer::assignor::{assignor_by_name, DEFAULT_STRATEGY};

/// The keys this file takes.
#[cfg(test)]
pub(crate) const KEYS: &[&str] = &[
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "group.instance.id",
    "partition.assignment.strategy",
    "group.protocol",
    "allow.auto.create.topics",
    "client.rack",
];

/// The largest value a Kafka `int32` milliseconds field carries.
const MAX_MS: u64 = i32::MAX as u64;

/// The group settings as given; checked by [`GroupBuilder::build`].
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupBuilder {
    pub(crate) session_timeout: Option<Duration>,
    pub(crate) heartbeat_interval: Option<Duration>,
    pub(crate) max_poll_interval: Option<Duration>,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) assignment_strategy: Option<Vec<String>>,
    pub(crate) allow_auto_create_topics: Option<bool>,
    pub(crate) client_rack: Option<String>,
}

/// The checked group settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupConfig {
    pub(crate) session_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) group_instance_id: Option<String>,
    /// Protocol names, in the order of preference.
    pub(crate) assignment_strategy: Vec<String>,
    pub(crate) allow_auto_create_topics: bool,
    /// Empty: no rack.
    pub(crate) client_rack: String,
}

/// `partition.assignment.strategy`'s names (protocol or Java class names,
/// comma-separated) as protocol names, or an error naming the unknown one.
pub(crate) fn parse_strategies(value: &str) -> Result<Vec<String>, ConfigError> {
    let mut names = Vec::new();
    for given in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match assignor_by_name(given).map(|assignor| assignor.name()) {
            Some(name) if !names.iter().any(|n| n == name) => names.push(name.to_owned()),
            Some(_) => {}
            None => {
                return Err(ConfigError::invalid(
                    "partition.assignment.strategy",
                    given,
                    "a comma-separated list of range, roundrobin, cooperative-sticky \
                     (or their Java class names, e.g. org.apache.kafka.clients.consumer.RangeAssignor)",
                ))
            }
        }
    }
    if names.is_empty() {
        return Err(ConfigError::invalid(
            "partition.assignment.strategy",
            value,
            "at least one assignor, e.g. range,cooperative-sticky",
        ));
    }
    Ok(names)
}

impl GroupBuilder {
    /// Takes one of the group keys; `Ok(false)` when `key` is not one.
    pub(crate) fn set(&mut self, key: &str, v: &str) -> Result<bool, ConfigError> {
        let ms = |key: &'static str| millis(key, v, MAX_MS as i64);
        match key {
            "session.timeout.ms" => self.session_timeout = Some(ms("session.timeout.ms")?),
            "heartbeat.interval.ms" => self.heartbeat_interval = Some(ms("heartbeat.interval.ms")?),
            "max.poll.interval.ms" => self.max_poll_interval = Some(ms("max.poll.interval.ms")?),
            "group.instance.id" => self.group_instance_id = Some(v.to_owned()),
            "client.rack" => self.client_rack = Some(v.to_owned()),
            "partition.assignment.strategy" => {
                self.assignment_strategy = Some(parse_strategies(v)?)
            }
            "allow.auto.create.topics" => {
                self.allow_auto_create_topics = Some(parse_bool("allow.auto.create.topics", v)?)
            }
            "group.protocol" => match v.to_ascii_lowercase().as_str() {
                "classic" => {}
                "consumer" => {
                    return Err(ConfigError::invalid(
                        "group.protocol",
                        v,
                        "classic: the consumer group protocol (KIP-848) is not supported yet; \
                         remove the setting or set group.protocol=classic",
                    ))
                }
                _ => return Err(ConfigError::invalid("group.protocol", v, "classic")),
            },
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Java's defaults and cross-checks.
    pub(crate) fn build(self) -> Result<GroupConfig, ConfigError> {
        let session_timeout = self.session_timeout.unwrap_or(Duration::from_secs(45));
        let heartbeat_interval = self.heartbeat_interval.unwrap_or(Duration::from_secs(3));
        let max_poll_interval = self.max_poll_interval.unwrap_or(Duration::from_secs(300));
        for (key, d) in [
            ("session.timeout.ms", session_timeout),
            ("heartbeat.interval.ms", heartbeat_interval),
            ("max.poll.interval.ms", max_poll_interval),
        ] {
            within(key, d, MAX_MS)?;
            if d.is_zero() {
                return Err(ConfigError::invalid(
                    key,
                    "0",
                    format!("a positive number of milliseconds, up to {MAX_MS}"),
                ));
            }
        }
        if heartbeat_interval >= session_timeout {
            return Err(ConfigError::Conflict {
                keys: &["heartbeat.interval.ms", "session.timeout.ms"],
                reason: format!(
                    "heartbeat.interval.ms ({} ms) must be lower than session.timeout.ms ({} ms), \
                     usually a third of it",
                    heartbeat_interval.as_millis(),
                    session_timeout.as_millis()
                ),
            });
        }
        let group_instance_id = match self.group_instance_id {
            Some(id) if id.trim().is_empty() => {
                return Err(ConfigError::invalid(
                    "group.instance.id",
                    id,
                    "a non-empty id unique in the group, or no setting for a dynamic member",
                ))
            }
            other => other,
        };
        Ok(GroupConfig {
            session_timeout,
            heartbeat_interval,
            max_poll_interval,
            group_instance_id,
            assignment_strategy: self
                .assignment_strategy
                .unwrap_or_else(|| DEFAULT_STRATEGY.iter().map(|s| (*s).to_owned()).collect()),
            allow_auto_create_topics: self.allow_auto_create_topics.unwrap_or(true),
            client_rack: self.client_rack.unwrap_or_default(),
        })
    }
}

impl ConsumerConfig {
    /// `session.timeout.ms`: how long the coordinator waits for a
    /// heartbeat before it drops this member from the group.
    pub fn session_timeout(&self) -> Duration {
        self.group.session_timeout
    }

    /// `heartbeat.interval.ms`: how often the poller thread heartbeats.
    pub fn heartbeat_interval(&self) -> Duration {
        self.group.heartbeat_interval
    }

    /// `max.poll.interval.ms`: the longest the application may go between
    /// `poll` calls before the consumer leaves the group (also the
    /// rebalance timeout it joins with).
    pub fn max_poll_interval(&self) -> Duration {
        self.group.max_poll_interval
    }

    /// `group.instance.id`: set for a static member (KIP-345).
    pub fn group_instance_id(&self) -> Option<&str> {
        self.group.group_instance_id.as_deref()
    }

    /// `partition.assignment.strategy` as protocol names, preferred first.
    pub fn assignment_strategy(&self) -> &[String] {
        &self.group.assignment_strategy
    }

    /// `allow.auto.create.topics`: whether a subscribed topic that does
    /// not exist may be created by the broker (when it allows it).
    pub fn allow_auto_create_topics(&self) -> bool {
        self.group.allow_auto_create_topics
    }

    /// `client.rack` (Java's name; default none): the rack this consumer
    /// runs in. It goes in the group subscription (for rack-aware
    /// assignors, KIP-881) and in every Fetch, so a broker with a replica
    /// selector may serve the partition from a replica in the same rack
    /// (KIP-392). `None` when empty.
    pub fn client_rack(&self) -> Option<&str> {
        Some(self.group.client_rack.as_str()).filter(|r| !r.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<ConsumerConfig, ConfigError> {
        let base = [("bootstrap.servers", "127.0.0.1:9092"), ("group.id", "g")];
        ConsumerConfig::from_pairs(base.iter().chain(pairs).copied())
    }

    #[test]
    fn java_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.session_timeout(), Duration::from_secs(45));
        assert_eq!(c.heartbeat_interval(), Duration::from_secs(3));
        assert_eq!(c.max_poll_interval(), Duration::from_secs(300));
        assert_eq!(c.group_instance_id(), None);
        assert_eq!(c.assignment_strategy(), ["range", "cooperative-sticky"]);
        assert!(c.allow_auto_create_topics());
        assert_eq!(c.client_rack(), None);
        let racked = config(&[("client.rack", "use1-az2")]).unwrap();
        assert_eq!(racked.client_rack(), Some("use1-az2"));
        assert_eq!(config(&[("client.rack", "")]).unwrap().client_rack(), None);
    }

    #[test]
    fn class_names_and_protocol_names() {
        let c = config(&[(
            "partition.assignment.strategy",
            "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin",
        )])
        .unwrap();
        assert_eq!(
            c.assignment_strategy(),
            ["cooperative-sticky", "roundrobin"]
        );
        let e = config(&[("partition.assignment.strategy", "range,nope")]).unwrap_err();
        assert!(
            e.to_string().contains("partition.assignment.strategy")
                && e.to_string().contains("nope"),
            "{e}"
        );
    }

    #[test]
    fn heartbeat_must_be_below_the_session_timeout() {
        let e = config(&[
            ("session.timeout.ms", "3000"),
            ("heartbeat.interval.ms", "3000"),
        ])
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("heartbeat.interval.ms") && text.contains("session.timeout.ms"),
            "{text}"
        );
        assert!(config(&[("max.poll.interval.ms", "0")])
            .unwrap_err()
            .to_string()
            .contains("max.poll.interval.ms"));
    }

    #[test]
    fn the_consumer_protocol_is_refused_clearly() {
        let e = config(&[("group.protocol", "consumer")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("group.protocol") && e.contains("not supported yet"),
            "{e}"
        );
        assert!(config(&[("group.protocol", "CLASSIC")]).is_ok());
        let e = config(&[("group.instance.id", " ")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("group.instance.id"), "{e}");
    }
}

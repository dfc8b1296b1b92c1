//! The cluster's in-memory state, shared by every broker's loop thread and
//! the test thread.
//!
//! ```text
//!  ClusterState
//!  ├── brokers: id → Broker { host, port, up }
//!  ├── topics:  name → Topic
//!  │               └── partitions[i] → Partition { leader, leader_epoch, log }
//!  │                                                              └── PartitionLog
//!  ├── faults:  armed failures, delays, connection drops
//!  ├── offsets: group → (topic, partition) → committed offset
//!  ├── groups:  group → members, generation, waiting requests
//!  └── counters: (broker, api key) → requests received
//! ```
//!
//! The mock keeps one copy of each partition (replication factor 1 in
//! effect): moving a leader moves nothing, it only changes which broker
//! answers, so no acknowledged record is ever lost.

pub(crate) mod faults;
pub(crate) mod groups;
pub(crate) mod log;
pub(crate) mod offsets;
pub(crate) mod producer;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::ClusterConfig;
use crate::error::ClusterError;
use faults::Faults;
use groups::Groups;
use log::PartitionLog;
use offsets::GroupOffsets;

/// Longest legal topic name (Kafka's limit).
const MAX_TOPIC_NAME: usize = 249;

#[derive(Debug)]
pub(crate) struct Broker {
    pub(crate) host: String,
    pub(crate) port: i32,
    pub(crate) up: bool,
}

#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) log: PartitionLog,
}

#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) partitions: Vec<Partition>,
}

#[derive(Debug)]
pub(crate) struct ClusterState {
    pub(crate) config: ClusterConfig,
    pub(crate) brokers: BTreeMap<i32, Broker>,
    pub(crate) topics: BTreeMap<String, Topic>,
    pub(crate) faults: Faults,
    pub(crate) counters: BTreeMap<(i32, i16), u64>,
    pub(crate) offsets: GroupOffsets,
    pub(crate) groups: Groups,
    /// Every rack id a Fetch named (v11+, KIP-392), for the tests.
    pub(crate) fetch_racks: BTreeSet<String>,
    next_producer_id: i64,
    topics_created: usize,
}

impl ClusterState {
    pub(crate) fn new(config: ClusterConfig) -> Result<Self, ClusterError> {
        config.validate()?;
        let brokers = (1..=config.brokers() as i32)
            .map(|id| {
                let broker = Broker {
                    host: "127.0.0.1".to_owned(),
                    port: 0,
                    up: true,
                };
                (id, broker)
            })
            .collect();
        Ok(Self {
            config,
            brokers,
            topics: BTreeMap::new(),
            faults: Faults::default(),
            counters: BTreeMap::new(),
            offsets: GroupOffsets::default(),
            groups: Groups::default(),
            fetch_racks: BTreeSet::new(),
            next_producer_id: 1000,
            topics_created: 0,
        })
    }

    pub(crate) fn broker(&self, id: i32) -> Result<&Broker, ClusterError> {
        self.brokers.get(&id).ok_or(ClusterError::UnknownBroker(id))
    }

    pub(crate) fn broker_mut(&mut self, id: i32) -> Result<&mut Broker, ClusterError> {
        self.brokers
            .get_mut(&id)
            .ok_or(ClusterError::UnknownBroker(id))
    }

    pub(crate) fn is_up(&self, id: i32) -> bool {
        self.brokers.get(&id).is_some_and(|b| b.up)
    }

    /// Creates `name` with `partitions` partitions, leaders spread round
    /// robin over the running brokers from a starting point that moves with
    /// every topic (as Kafka's assignment does).
    pub(crate) fn create_topic(&mut self, name: &str, partitions: i32) -> Result<(), ClusterError> {
        validate_topic_name(name)?;
        if partitions < 1 {
            return Err(ClusterError::InvalidPartitionCount(partitions));
        }
        if self.topics.contains_key(name) {
            return Err(ClusterError::TopicExists(name.to_owned()));
        }
        let start = self.topics_created;
        self.topics_created += 1;
        let partitions = self.new_partitions(start, 0..partitions as usize);
        self.topics.insert(name.to_owned(), Topic { partitions });
        tracing::debug!(topic = name, "topic created");
        Ok(())
    }

    /// Deletes `name` with its records and every group's committed offsets
    /// of it (Kafka's DeleteTopics): Metadata then answers
    /// UNKNOWN_TOPIC_OR_PARTITION for it, unless auto-creation makes it
    /// again.
    pub(crate) fn delete_topic(&mut self, name: &str) -> Result<(), ClusterError> {
        self.topics
            .remove(name)
            .ok_or_else(|| ClusterError::UnknownTopic(name.to_owned()))?;
        self.offsets.forget_topic(name);
        tracing::info!(topic = name, "topic deleted");
        Ok(())
    }

    /// Grows `name` to `total` partitions (Kafka's CreatePartitions): the
    /// new ones are empty, their leaders spread as `create_topic` spreads
    /// them; the existing ones are untouched.
    pub(crate) fn create_partitions(&mut self, name: &str, total: i32) -> Result<(), ClusterError> {
        let current = self
            .topics
            .get(name)
            .ok_or_else(|| ClusterError::UnknownTopic(name.to_owned()))?
            .partitions
            .len();
        if usize::try_from(total).map_or(true, |t| t <= current) {
            return Err(ClusterError::PartitionsNotGrown {
                topic: name.to_owned(),
                current: current as i32,
                asked: total,
            });
        }
        let added = self.new_partitions(self.topics_created, current..total as usize);
        if let Some(topic) = self.topics.get_mut(name) {
            topic.partitions.extend(added);
        }
        tracing::info!(topic = name, total, "partitions created");
        Ok(())
    }

    /// Empty partitions `indexes`, led round robin over the running brokers
    /// (every broker when none runs) from `start`.
    fn new_partitions(&self, start: usize, indexes: std::ops::Range<usize>) -> Vec<Partition> {
        let mut candidates: Vec<i32> = self
            .brokers
            .iter()
            .filter(|(_, b)| b.up)
            .map(|(&id, _)| id)
            .collect();
        if candidates.is_empty() {
            candidates = self.brokers.keys().copied().collect();
        }
        indexes
            .map(|p| Partition {
                leader: candidates[(start + p) % candidates.len()],
                leader_epoch: 0,
                log: PartitionLog::default(),
            })
            .collect()
    }

    pub(crate) fn partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<&Partition, ClusterError> {
        let t = self
            .topics
            .get(topic)
            .ok_or_else(|| ClusterError::UnknownTopic(topic.to_owned()))?;
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.partitions.get(p))
            .ok_or_else(|| ClusterError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
            })
    }

    pub(crate) fn partition_mut(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<&mut Partition, ClusterError> {
        let t = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| ClusterError::UnknownTopic(topic.to_owned()))?;
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.partitions.get_mut(p))
            .ok_or_else(|| ClusterError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
            })
    }

    pub(crate) fn allocate_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    /// Forgets the idempotent-producer state of every partition `broker`
    /// leads; returns how many (partition, producer) entries went.
    pub(crate) fn forget_producers(&mut self, broker: i32) -> usize {
        self.topics
            .values_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .filter(|p| p.leader == broker)
            .map(|p| p.log.forget_producers())
            .sum()
    }

    /// The broker coordinating `group` (FindCoordinator's answer): one of
    /// the running brokers, chosen by the group's hash, so it moves when
    /// that broker stops; or the broker a fault moved the group to, while
    /// that one runs. `None` when no broker runs.
    pub(crate) fn coordinator(&self, group: &str) -> Option<i32> {
        if let Some(moved) = self.groups.moved_to(group).filter(|b| self.is_up(*b)) {
            return Some(moved);
        }
        let up: Vec<i32> = self
            .brokers
            .iter()
            .filter(|(_, b)| b.up)
            .map(|(&id, _)| id)
            .collect();
        let index = offsets::group_hash(group) as usize % up.len().max(1);
        up.get(index).copied()
    }

    /// The controller Metadata reports: the lowest running broker.
    pub(crate) fn controller(&self) -> i32 {
        self.brokers
            .iter()
            .find(|(_, b)| b.up)
            .map_or(-1, |(&id, _)| id)
    }
}

/// Kafka's topic name rules: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn validate_topic_name(name: &str) -> Result<(), ClusterError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are reserved")
    } else if name.len() > MAX_TOPIC_NAME {
        Some("it is longer than 249 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Some("only ASCII letters, digits, '.', '_' and '-' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ClusterError::InvalidTopicName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_only_grow() {
        let mut state = ClusterState::new(ClusterConfig::new(2)).unwrap();
        state.create_topic("a", 2).unwrap();
        state.create_partitions("a", 5).unwrap();
        assert_eq!(state.topics["a"].partitions.len(), 5);
        let e = state.create_partitions("a", 5).unwrap_err();
        assert!(e.to_string().contains("has 5 partitions"), "{e}");
        assert!(matches!(
            state.create_partitions("nope", 3),
            Err(ClusterError::UnknownTopic(_))
        ));
    }

    #[test]
    fn leaders_spread_over_brokers() {
        let mut state = ClusterState::new(ClusterConfig::new(3)).unwrap();
        state.create_topic("a", 4).unwrap();
        state.create_topic("b", 1).unwrap();
        let leaders: Vec<i32> = state.topics["a"]
            .partitions
            .iter()
            .map(|p| p.leader)
            .collect();
        assert_eq!(leaders, [1, 2, 3, 1]);
        assert_eq!(state.topics["b"].partitions[0].leader, 2);
    }

    #[test]
    fn rejects_bad_topics() {
        let mut state = ClusterState::new(ClusterConfig::default()).unwrap();
        assert!(matches!(
            state.create_topic("a b", 1),
            Err(ClusterError::InvalidTopicName { .. })
        ));
        assert!(matches!(
            state.create_topic("..", 1),
            Err(ClusterError::InvalidTopicName { .. })
        ));
        assert_eq!(
            state.create_topic("t", 0),
            Err(ClusterError::InvalidPartitionCount(0))
        );
        state.create_topic("t", 1).unwrap();
        assert_eq!(
            state.create_topic("t", 1),
            Err(ClusterError::TopicExists("t".into()))
        );
        assert!(matches!(
            state.partition("t", 1),
            Err(ClusterError::UnknownPartition { .. })
        ));
        assert!(matches!(
            state.partition("u", 0),
            Err(ClusterError::UnknownTopic(_))
        ));
    }

    #[test]
    fn config_is_validated() {
        assert_eq!(
            ClusterState::new(ClusterConfig::new(0)).err(),
            Some(ClusterError::BrokerCount(0))
        );
        assert_eq!(
            ClusterState::new(ClusterConfig::new(17)).err(),
            Some(ClusterError::BrokerCount(17))
        );
    }
}

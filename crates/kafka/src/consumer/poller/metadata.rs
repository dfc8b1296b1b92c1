//! Metadata for the assigned topics: leaders and their epochs (v7+) into
//! the poller's `Leader` map, refreshed when a verdict or a lost
//! connection says the leaders may have moved, when the assignment
//! changes, and every `metadata.max.age.ms`. An assigned partition that
//! metadata says does not exist stops with an error naming it.
//!
//! A subscribed consumer asks for its subscribed topics too (a pattern
//! subscription: every topic, matched here; a change of the matching set
//! rebalances), and a leader for its members' topics, whose partition
//! counts the assignor needs; once it has assigned, a change of those
//! counts (partitions added, a topic created) rebalances, as Java's.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use kafka_protocol::messages::{ApiKey, MetadataResponse};
use kafka_protocol::ResponseError;

use super::{ConsumerPoller, Link, Loop, Purpose};
use crate::consumer::error::PartitionError;
use crate::consumer::fetch::Leader;
use crate::consumer::shared::Subscription;
use crate::consumer::versions::ConsumerVersions;
use crate::net::{requests, Connections, Serve};
use crate::record::{BrokerId, TopicPartition};

impl ConsumerPoller {
    /// Sends Metadata for the assigned topics when it is due.
    pub(super) fn refresh_metadata(&mut self, el: &mut Loop, now: Instant) {
        let topics: BTreeSet<String> = {
            let mut state = self.shared.state.lock();
            if std::mem::take(&mut state.assignment_changed) {
                self.metadata_stale = true;
            }
            state
                .positions
                .assignment()
                .map(|tp| tp.topic.to_string())
                .chain(self.subscribed_topics())
                .chain(self.lead_topics())
                .collect()
        };
        let every_topic = matches!(self.subscription, Some(Subscription::Pattern(_)));
        let max_age = self.shared.config.metadata_max_age();
        let due = self.metadata_stale || self.metadata_at.map_or(true, |at| now >= at + max_age);
        let nothing = topics.is_empty() && !every_topic;
        if !due || nothing || self.metadata_in_flight || now < self.metadata_not_before {
            return;
        }
        let Some(key) = self.ready_conn(el, None) else {
            self.connect(el, None, now);
            return;
        };
        let Some(link) = el.source::<Link>(key) else {
            return;
        };
        let version = ConsumerVersions::of(&link.conn.versions).metadata;
        let topics: Vec<String> = topics.into_iter().collect();
        let mut body = requests::metadata(&topics);
        if every_topic {
            body.topics = None; // every topic, for the pattern
        }
        if version >= 4 {
            let create = self.shared.config.allow_auto_create_topics() && !every_topic;
            body.allow_auto_topic_creation = create;
        }
        match self.send_on(
            el,
            key,
            ApiKey::Metadata,
            version,
            &body,
            Purpose::Metadata,
            now,
            true,
        ) {
            Ok(()) => self.metadata_in_flight = true,
            Err(reason) => self.close(el, key, &reason, now),
        }
    }

    /// Leaders, epochs and brokers from a Metadata answer.
    pub(super) fn apply_metadata(&mut self, response: &MetadataResponse, now: Instant) {
        self.metadata_at = Some(now);
        self.metadata_stale = false;
        self.brokers = response
            .brokers
            .iter()
            .map(|b| (BrokerId(b.node_id.0), b.host.to_string(), b.port as u16))
            .collect();
        self.group_metadata(response, now);
        let mut leaders: HashMap<TopicPartition, Leader> = HashMap::new();
        let mut failed = false;
        let mut state = self.shared.state.lock();
        let assigned: Vec<TopicPartition> = state.positions.assignment().cloned().collect();
        // A partition the group assigned whose topic or partition is gone
        // is no error of the application's: the group's next rebalance
        // drops it (the leader sees the change above), as in Java.
        let group_managed = self.subscription.is_some();
        for tp in assigned {
            let topic = response
                .topics
                .iter()
                .find(|t| t.name.as_ref().is_some_and(|n| *n.0 == *tp.topic));
            let Some(topic) = topic else {
                self.metadata_stale = true; // asked before the assignment changed
                continue;
            };
            if topic.error_code == ResponseError::UnknownTopicOrPartition.code() && group_managed {
                tracing::warn!(partition = %tp, "an assigned partition's topic no longer exists; the group's next rebalance drops it");
                continue;
            }
            if topic.error_code == ResponseError::UnknownTopicOrPartition.code() {
                let error = PartitionError::UnknownPartition {
                    partition: tp.clone(),
                    partitions: None,
                };
                state.positions.fail(&tp, error);
                failed = true;
                continue;
            }
            if topic.error_code != 0 {
                self.metadata_stale = true; // LEADER_NOT_AVAILABLE while it is created
                continue;
            }
            match topic
                .partitions
                .iter()
                .find(|p| p.partition_index == tp.partition)
            {
                None if group_managed => {
                    tracing::warn!(partition = %tp, "an assigned partition no longer exists; the group's next rebalance drops it");
                }
                None => {
                    let error = PartitionError::UnknownPartition {
                        partition: tp.clone(),
                        partitions: Some(topic.partitions.len() as i32),
                    };
                    state.positions.fail(&tp, error);
                    failed = true;
                }
                Some(p) if p.leader_id.0 >= 0 => {
                    let leader = Leader {
                        broker: BrokerId(p.leader_id.0),
                        epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                    };
                    leaders.insert(tp, leader);
                }
                Some(_) => self.metadata_stale = true, // no leader right now
            }
        }
        drop(state);
        if failed {
            self.shared.notify();
        }
        tracing::debug!(
            brokers = self.brokers.len(),
            leaders = leaders.len(),
            "consumer metadata"
        );
        self.leaders = leaders;
    }

    /// Partition counts for a leader's assignor, and a pattern
    /// subscription's matching topics (a change rebalances, as Java's).
    fn group_metadata(&mut self, response: &MetadataResponse, now: Instant) {
        let known = response
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| Some((t.name.as_ref()?.0.to_string(), t)));
        let mut matching = BTreeSet::new();
        let mut changed = Vec::new();
        // A topic deleted since (and not created again by this Metadata):
        // its partitions are gone, and the assignment must drop them.
        let vanished = response
            .topics
            .iter()
            .filter(|t| t.error_code == ResponseError::UnknownTopicOrPartition.code())
            .filter_map(|t| Some(t.name.as_ref()?.0.to_string()));
        for name in vanished {
            self.partition_counts.remove(&name);
            if let Some(over) = &self.assigned_over {
                if let Some(then) = over
                    .counts
                    .get(&name)
                    .filter(|_| over.topics.contains(&name))
                {
                    changed.push((name, Some(*then), 0));
                }
            }
        }
        for (name, topic) in known {
            let count = topic.partitions.len() as i32;
            if let Some(over) = &self.assigned_over {
                if over.topics.contains(&name) && over.counts.get(&name) != Some(&count) {
                    changed.push((name.clone(), over.counts.get(&name).copied(), count));
                }
            }
            self.partition_counts.insert(name.clone(), count);
            if let Some(Subscription::Pattern(pattern)) = &self.subscription {
                if !topic.is_internal && pattern.is_match(&name) {
                    matching.insert(name);
                }
            }
        }
        // Java's leader compares the metadata it assigned over with the
        // latest (ConsumerCoordinator.rejoinNeededOrPending): new partitions,
        // or a topic that now exists, need a rebalance to be consumed; a
        // deleted topic's partitions need one to be dropped.
        if !changed.is_empty() {
            tracing::info!(changes = ?changed, "the group's topics changed since the leader assigned them (topic, partitions then, now): rebalancing");
            self.assigned_over = None;
            if let Some(member) = self.member.as_mut() {
                member.request_rejoin(now);
            }
        }
        if !matches!(self.subscription, Some(Subscription::Pattern(_))) {
            return;
        }
        if matching != self.pattern_topics {
            tracing::info!(topics = ?matching, "the subscription's pattern matches other topics now");
            self.pattern_topics = matching;
            if let Some(member) = self.member.as_mut() {
                member.request_rejoin(now);
            }
        }
    }
}

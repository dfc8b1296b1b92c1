//! Partition assignors of the classic consumer-group protocol.
//!
//! The group leader receives every member's [`Subscription`] from JoinGroup,
//! runs one [`Assignor`] over them, and hands each member its [`Assignment`]
//! through SyncGroup. Both travel as opaque bytes inside the group protocol,
//! so a group may mix Rouse, Java, librdkafka and kafka-python members only
//! if the bytes ([`codec`]) and the assignors' results match Java's:
//!
//! * [`range`]: per topic, contiguous ranges, the first members get one more;
//! * [`round_robin`]: all partitions sorted, dealt to members in turn;
//! * `cooperative-sticky`: balanced and sticky, and incremental (KIP-429): a
//!   partition that moves is first revoked, so partitions that stay are never
//!   revoked.
//!
//! docs/consumer-groups.md ("Assignors") describes the choices made.

mod codec;
mod codec_bounds;
#[cfg(test)]
mod codec_tests;
mod member_order;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod python_crosscheck;
mod range;
#[cfg(test)]
mod range_tests;
mod round_robin;
#[cfg(test)]
mod round_robin_tests;
mod sticky;
#[cfg(test)]
mod test_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::record::TopicPartition;

pub(crate) use codec::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription,
    ASSIGNMENT_VERSION, SUBSCRIPTION_VERSION,
};

/// How a member gives up partitions during a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RebalanceProtocol {
    /// Every member revokes all its partitions before joining (Java's EAGER).
    Eager,
    /// Members keep their partitions across a rebalance; only the ones that
    /// move are revoked, in a follow-up rebalance (KIP-429).
    Cooperative,
}

/// What one member sends in JoinGroup (Java's `ConsumerProtocolSubscription`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Subscription {
    /// The topics the member wants to consume.
    pub topics: Vec<Arc<str>>,
    /// The assignor's own data ([`Assignor::subscription_user_data`]).
    pub user_data: Option<Bytes>,
    /// The partitions the member owns now (version 1 and later).
    pub owned: Vec<TopicPartition>,
    /// The generation `owned` was assigned in; -1 when unknown (version 2
    /// and later, -1 when decoded from older versions).
    pub generation: i32,
    /// The member's `client.rack` (version 3 and later).
    pub rack: Option<String>,
}

/// One member of the group as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id` when it is a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// What it sent in JoinGroup.
    pub subscription: Subscription,
}

/// What the leader gives one member in SyncGroup
/// (Java's `ConsumerProtocolAssignment`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Assignment {
    /// The partitions the member consumes until the next rebalance.
    pub partitions: Vec<TopicPartition>,
    /// The assignor's own data for the member.
    pub user_data: Option<Bytes>,
}

/// Why an assignor could not assign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AssignError {
    /// Two members share one member id; the coordinator never does that, so
    /// the JoinGroup response given to the leader is broken.
    #[error("member id {member_id:?} appears twice among the group's members; the JoinGroup response is malformed, rejoin the group")]
    DuplicateMember {
        /// The repeated id.
        member_id: String,
    },
    /// The metadata gave a topic a negative partition count.
    #[error("topic {topic:?} has {count} partitions in the metadata; a count must be 0 or more, refresh the metadata and rebalance again")]
    NegativePartitionCount {
        /// The topic.
        topic: Arc<str>,
        /// The count given.
        count: i32,
    },
    /// The assignor reached a state its algorithm rules out (Java throws
    /// IllegalStateException there).
    #[error("the assignor failed: {reason}; this is a bug in rouse-kafka, please report it with the group's subscriptions")]
    Internal {
        /// What went wrong.
        reason: String,
    },
}

/// A partition assignment strategy (Java's `ConsumerPartitionAssignor`).
pub(crate) trait Assignor: Send + Sync + std::fmt::Debug {
    /// Java's protocol name: `range`, `roundrobin`, `cooperative-sticky`.
    fn name(&self) -> &'static str;

    /// Whether members using it keep their partitions across a rebalance.
    fn protocol(&self) -> RebalanceProtocol;

    /// The user data this member puts in its subscription, given the
    /// partitions it owns and the generation it got them in.
    fn subscription_user_data(&self, owned: &[TopicPartition], generation: i32) -> Option<Bytes>;

    /// Assigns the partitions of `partitions_per_topic` (topic to partition
    /// count; topics missing there are skipped, as Java does) to `members`.
    /// The result has an entry for every member, keyed by member id.
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<Arc<str>, i32>,
        members: &[Member],
    ) -> Result<BTreeMap<String, Assignment>, AssignError>;
}

/// Java's default `partition.assignment.strategy` since 3.0: range first,
/// so a group of older members keeps working, and cooperative-sticky so the
/// group can move to it by a rolling upgrade.
pub(crate) const DEFAULT_STRATEGY: &[&str] = &["range", "cooperative-sticky"];

/// The assignor with Java protocol name `name`, or with Java class name
/// `name` (`org.apache.kafka.clients.consumer.RangeAssignor`, ...), so a
/// configuration written for the Java client works unchanged.
pub(crate) fn assignor_by_name(name: &str) -> Option<Box<dyn Assignor>> {
    const JAVA_PACKAGE: &str = "org.apache.kafka.clients.consumer.";
    match name.trim() {
        "range" => Some(Box::new(range::RangeAssignor)),
        "roundrobin" => Some(Box::new(round_robin::RoundRobinAssignor)),
        "cooperative-sticky" => Some(Box::new(sticky::CooperativeStickyAssignor)),
        n => match n.strip_prefix(JAVA_PACKAGE)? {
            "RangeAssignor" => Some(Box::new(range::RangeAssignor)),
            "RoundRobinAssignor" => Some(Box::new(round_robin::RoundRobinAssignor)),
            "CooperativeStickyAssignor" => Some(Box::new(sticky::CooperativeStickyAssignor)),
            _ => None,
        },
    }
}

/// Checks what every assignor relies on: member ids are unique and partition
/// counts are not negative.
fn check_input(
    partitions_per_topic: &BTreeMap<Arc<str>, i32>,
    members: &[Member],
) -> Result<(), AssignError> {
    if let Some((topic, &count)) = partitions_per_topic.iter().find(|(_, &c)| c < 0) {
        return Err(AssignError::NegativePartitionCount {
            topic: topic.clone(),
            count,
        });
    }
    let unknown: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter())
        .filter(|t| !partitions_per_topic.contains_key(*t))
        .map(|t| &**t)
        .collect();
    if !unknown.is_empty() {
        // Java skips them too: a topic not yet created, or not yet in the
        // leader's metadata, is assigned in the next rebalance.
        tracing::debug!(topics = ?unknown, "assignor skips subscribed topics missing from the metadata");
    }
    let mut ids: Vec<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(AssignError::DuplicateMember {
            member_id: pair[0].to_owned(),
        });
    }
    Ok(())
}

/// The result map: member `i` of `members` gets `assigned[i]`, so every
/// member gets an answer in SyncGroup, an empty one when it gets nothing.
fn into_assignments(
    members: &[Member],
    assigned: Vec<Vec<TopicPartition>>,
) -> BTreeMap<String, Assignment> {
    members
        .iter()
        .zip(assigned)
        .map(|(m, partitions)| {
            let assignment = Assignment {
                partitions,
                user_data: None,
            };
            (m.member_id.clone(), assignment)
        })
        .collect()
}

//! Java's `RoundRobinAssignor` ("roundrobin"): every subscribed partition,
//! sorted by topic then partition, dealt in turn to the members in Java's
//! member order, skipping a member not subscribed to the partition's topic.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::member_order::{java_str_cmp, sorted_members};
use super::{
    check_input, into_assignments, AssignError, Assignment, Assignor, Member, RebalanceProtocol,
};
use crate::record::TopicPartition;

/// The `roundrobin` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    fn subscription_user_data(&self, _owned: &[TopicPartition], _generation: i32) -> Option<Bytes> {
        None
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<Arc<str>, i32>,
        members: &[Member],
    ) -> Result<BTreeMap<String, Assignment>, AssignError> {
        check_input(partitions_per_topic, members)?;
        let mut assigned: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
        let circle = sorted_members(members);
        // Subscribed topics known to the metadata, in Java's string order.
        let mut topics: Vec<(&Arc<str>, i32)> = partitions_per_topic
            .iter()
            .filter(|(t, _)| members.iter().any(|m| m.subscription.topics.contains(t)))
            .map(|(t, &n)| (t, n))
            .collect();
        topics.sort_by(|a, b| java_str_cmp(a.0, b.0));
        let mut next = 0;
        for (topic, count) in topics {
            for partition in 0..count {
                // A subscriber exists (the filter above), so this ends
                // within one turn of the circle.
                while !members[circle[next]].subscription.topics.contains(topic) {
                    next = (next + 1) % circle.len();
                }
                assigned[circle[next]].push(TopicPartition::new(topic.clone(), partition));
                next = (next + 1) % circle.len();
            }
        }
        Ok(into_assignments(members, assigned))
    }
}

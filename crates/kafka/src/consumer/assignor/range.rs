//! Java's `RangeAssignor` ("range"): each topic on its own, its partitions
//! cut into contiguous ranges over the members subscribed to it, in Java's
//! member order; the first `partitions % members` members get one more.
//!
//! Java 3.5 also places partitions on members of the same rack when both
//! sides know racks (KIP-881); the leader here gets partition counts only,
//! not partition racks, so it assigns as Java does without rack data.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::member_order::sorted_members;
use super::{
    check_input, into_assignments, AssignError, Assignment, Assignor, Member, RebalanceProtocol,
};
use crate::record::TopicPartition;

/// The `range` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
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
        let sorted = sorted_members(members);
        for (topic, &count) in partitions_per_topic {
            let subscribers: Vec<usize> = sorted
                .iter()
                .copied()
                .filter(|&m| members[m].subscription.topics.contains(topic))
                .collect();
            if subscribers.is_empty() {
                continue;
            }
            let per_member = count as usize / subscribers.len();
            let with_extra = count as usize % subscribers.len();
            let mut next = 0;
            for (i, &member) in subscribers.iter().enumerate() {
                let length = per_member + usize::from(i < with_extra);
                assigned[member].extend(
                    (next..next + length).map(|p| TopicPartition::new(topic.clone(), p as i32)),
                );
                next += length;
            }
        }
        Ok(into_assignments(members, assigned))
    }
}

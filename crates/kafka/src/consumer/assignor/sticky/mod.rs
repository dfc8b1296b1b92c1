//! Java's `CooperativeStickyAssignor` ("cooperative-sticky", KIP-429) on the
//! algorithm of Java's `AbstractStickyAssignor`:
//!
//! 1. [`owned`]: each member's owned partitions, claims in conflict settled
//!    by generation (the newest wins; two claims of one generation void the
//!    partition for both);
//! 2. a balanced assignment that keeps as many owned partitions as balance
//!    allows: [`constrained`] when every member subscribes to the same
//!    topics (quotas, then round-robin), [`general`] otherwise (fill the
//!    least loaded, then move partitions until balanced);
//! 3. the cooperative rule: a partition assigned to a member other than one
//!    that owns it is left out this round. Its owner revokes it, rejoins,
//!    and the next rebalance hands it over; partitions that stay with their
//!    owner are never revoked.
//!
//! Partition racks are not part of the leader's input, so the rack-aware
//! parts of Java's algorithm (which need both) never apply, as in Java when
//! racks are unknown. Where Java walks a `HashMap` of members, this walks
//! them in the order that map iterates in, so results match Java's; only
//! where Java takes the first of a `HashSet` of partitions (moving one back
//! while balancing) does this take the lowest, which can differ.

mod constrained;
mod general;
mod movements;
mod owned;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use super::member_order::{java_hash_map_order, java_str_cmp};
use super::{
    check_input, into_assignments, AssignError, Assignment, Assignor, Member, RebalanceProtocol,
};
use crate::record::TopicPartition;

/// Java's generation for "none known".
pub(super) const NO_GENERATION: i32 = -1;

/// The `cooperative-sticky` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CooperativeStickyAssignor;

/// The input every step shares: the members, ordered, and the topics they
/// may get.
pub(super) struct Input<'a> {
    pub members: &'a [Member],
    /// Member indexes in the order Java's `HashMap` of members iterates,
    /// used wherever Java iterates one.
    pub order: Vec<usize>,
    /// Member indexes in Java's member-id order, used wherever Java sorts.
    pub by_id: Vec<usize>,
    /// Topics some member subscribes to that the metadata knows.
    pub partitions_per_topic: BTreeMap<Arc<str>, i32>,
}

impl Input<'_> {
    /// Whether `partition` exists in the metadata.
    pub(super) fn exists(&self, tp: &TopicPartition) -> bool {
        self.partitions_per_topic
            .get(&tp.topic)
            .is_some_and(|&n| (0..n).contains(&tp.partition))
    }

    /// Every partition, topics in Java's string order, then by index.
    pub(super) fn all_partitions_by_topic(&self) -> Vec<TopicPartition> {
        let mut topics: Vec<(&Arc<str>, i32)> = self
            .partitions_per_topic
            .iter()
            .map(|(t, &n)| (t, n))
            .collect();
        topics.sort_by(|a, b| java_str_cmp(a.0, b.0));
        topics
            .into_iter()
            .flat_map(|(t, n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)))
            .collect()
    }
}

/// A balanced, sticky assignment before the cooperative rule is applied
/// (what the group converges to once the revocations are done).
pub(super) struct Balanced {
    /// Partitions per member, by index into the members.
    pub assigned: Vec<Vec<TopicPartition>>,
    /// For each claimed partition, the members that hold it until they
    /// revoke it.
    pub claimants: HashMap<TopicPartition, Vec<usize>>,
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    /// The generation as an int32, as Java writes it for members of older
    /// subscription versions that lack the generation field.
    fn subscription_user_data(&self, _owned: &[TopicPartition], generation: i32) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<Arc<str>, i32>,
        members: &[Member],
    ) -> Result<BTreeMap<String, Assignment>, AssignError> {
        let balanced = balanced_assignment(partitions_per_topic, members)?;
        Ok(into_assignments(members, cooperative(balanced)))
    }
}

/// Steps 1 and 2: the balanced, sticky assignment.
pub(super) fn balanced_assignment(
    partitions_per_topic: &BTreeMap<Arc<str>, i32>,
    members: &[Member],
) -> Result<Balanced, AssignError> {
    check_input(partitions_per_topic, members)?;
    let mut by_id: Vec<usize> = (0..members.len()).collect();
    by_id.sort_by(|&a, &b| java_str_cmp(&members[a].member_id, &members[b].member_id));
    let input = Input {
        members,
        order: java_hash_map_order(members),
        by_id,
        partitions_per_topic: partitions_per_topic
            .iter()
            .filter(|(t, _)| members.iter().any(|m| m.subscription.topics.contains(t)))
            .map(|(t, &n)| (t.clone(), n))
            .collect(),
    };
    if members.is_empty() {
        return Ok(Balanced {
            assigned: Vec::new(),
            claimants: HashMap::new(),
        });
    }
    let mut owned = owned::resolve(&input);
    let claimants = std::mem::take(&mut owned.claimants);
    let assigned = if owned.all_subscriptions_equal {
        constrained::assign(&input, &owned)?
    } else {
        general::assign(&input, owned)
    };
    Ok(Balanced {
        assigned,
        claimants,
    })
}

/// Step 3: leaves out of each member's assignment the partitions another
/// member holds and has yet to revoke. Java computes the same set from the
/// owned lists (`partitionsTransferringOwnership`); here the claims voided
/// by a newer generation do not count, and a partition two members claim in
/// one generation is left out for both until both revoked it.
fn cooperative(balanced: Balanced) -> Vec<Vec<TopicPartition>> {
    let Balanced {
        mut assigned,
        claimants,
    } = balanced;
    let mut left_out = 0;
    for (m, partitions) in assigned.iter_mut().enumerate() {
        partitions.retain(|tp| {
            let held_elsewhere = claimants
                .get(tp)
                .is_some_and(|holders| holders.iter().any(|&h| h != m));
            left_out += usize::from(held_elsewhere);
            !held_elsewhere
        });
    }
    if left_out > 0 {
        tracing::debug!(
            partitions = left_out,
            "cooperative-sticky leaves out partitions until their owners revoke them"
        );
    }
    assigned
}

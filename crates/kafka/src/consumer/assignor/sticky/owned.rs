//! Step 1 of the sticky assignor: who owns what now (Java's
//! `allSubscriptionsEqual` and `memberData`).
//!
//! Members send the partitions they own and the generation they got them
//! in. Two members may claim one partition after a missed rebalance: the
//! claim of the newest generation wins; two claims of that generation void
//! the partition for both (it is assigned afresh). Java settles conflicts in
//! `HashMap` order, which can let the outcome of three-way conflicts depend
//! on that order; here the newest generation always wins.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::{Input, NO_GENERATION};
use crate::consumer::assignor::Member;
use crate::record::TopicPartition;

/// Ownership as the sticky algorithm starts from it.
pub(super) struct Owned {
    /// Whether every member subscribes to the same set of topics.
    pub all_subscriptions_equal: bool,
    /// The newest generation any member reports.
    pub max_generation: i32,
    /// Each member's generation, when it sent one.
    pub generation: Vec<Option<i32>>,
    /// Each member's owned partitions that exist and that it won, sorted.
    pub current: Vec<Vec<TopicPartition>>,
    /// Partitions voided by two claims of one generation.
    pub voided: HashSet<TopicPartition>,
    /// For each claimed partition, the members whose claim stands (the
    /// newest generation's claimants): they hold it until they revoke it.
    pub claimants: HashMap<TopicPartition, Vec<usize>>,
}

/// Java's `CooperativeStickyAssignor.memberData` generation: the field of a
/// version 2+ subscription, else the int32 user data, else none; user data
/// too short to hold one reads as [`NO_GENERATION`].
pub(super) fn member_generation(m: &Member) -> Option<i32> {
    let s = &m.subscription;
    if s.generation >= 0 {
        return Some(s.generation);
    }
    let data = s.user_data.as_ref()?;
    Some(match data.get(..4) {
        Some(b) => i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => NO_GENERATION,
    })
}

pub(super) fn resolve(input: &Input<'_>) -> Owned {
    let members = input.members;
    let generation: Vec<Option<i32>> = members.iter().map(member_generation).collect();
    let effective = |i: usize| generation[i].unwrap_or(NO_GENERATION);
    let max_generation = (0..members.len())
        .map(effective)
        .max()
        .unwrap_or(NO_GENERATION);

    let topic_set =
        |m: &Member| -> BTreeSet<Arc<str>> { m.subscription.topics.iter().cloned().collect() };
    let first = members.first().map(topic_set);
    let all_subscriptions_equal = members.iter().all(|m| Some(topic_set(m)) == first);

    // Every claim, once per member.
    let mut claims: HashMap<TopicPartition, Vec<usize>> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        let unique: BTreeSet<&TopicPartition> = m.subscription.owned.iter().collect();
        for tp in unique {
            claims.entry(tp.clone()).or_default().push(i);
        }
    }
    let mut current: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
    let mut voided = HashSet::new();
    let mut claimants = HashMap::new();
    for (tp, who) in claims {
        let newest = who
            .iter()
            .map(|&i| effective(i))
            .max()
            .unwrap_or(NO_GENERATION);
        let winners: Vec<usize> = who
            .into_iter()
            .filter(|&i| effective(i) == newest)
            .collect();
        if input.exists(&tp) {
            match winners.as_slice() {
                [only] => current[*only].push(tp.clone()),
                _ => {
                    tracing::warn!(partition = %tp, generation = newest,
                        "members claim one partition in the same generation; it is assigned afresh");
                    voided.insert(tp.clone());
                }
            }
        }
        claimants.insert(tp, winners);
    }
    for partitions in &mut current {
        partitions.sort();
    }
    Owned {
        all_subscriptions_equal,
        max_generation,
        generation,
        current,
        voided,
        claimants,
    }
}

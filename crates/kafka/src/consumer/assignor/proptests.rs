//! Properties every assignor keeps, over random groups: each partition of a
//! subscribed topic goes to exactly one member subscribed to it; uniform
//! subscriptions are balanced within one; the sticky assignor moves no more
//! partitions than balance needs; the cooperative one never hands out a
//! partition in the round another member still owns it, and converges.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;

use super::range::RangeAssignor;
use super::round_robin::RoundRobinAssignor;
use super::sticky::{balanced_assignment, CooperativeStickyAssignor};
use super::{Assignment, Assignor, Member, Subscription};
use crate::record::TopicPartition;

const TOPICS: [&str; 4] = ["a", "b", "c", "d"];

#[derive(Debug, Clone)]
struct Group {
    partitions: BTreeMap<Arc<str>, i32>,
    members: Vec<Member>,
}

/// 1-6 members (some static) over up to 4 topics of 0-9 partitions;
/// `uniform` gives every member all topics. Each partition is owned by a
/// random member or nobody, at generation 5.
fn group(uniform: bool) -> impl Strategy<Value = Group> {
    let counts = proptest::collection::vec(0..10i32, 1..=4);
    let members = proptest::collection::vec(
        (
            "[a-z]{1,3}",
            any::<bool>(),
            proptest::collection::vec(any::<bool>(), 4),
        ),
        1..=6,
    );
    let owners = proptest::collection::vec(0..8usize, 40);
    (counts, members, owners).prop_map(move |(counts, raw, owners)| {
        let partitions: BTreeMap<Arc<str>, i32> = counts
            .iter()
            .enumerate()
            .map(|(i, &n)| (Arc::from(TOPICS[i]), n))
            .collect();
        let mut members: Vec<Member> = raw
            .into_iter()
            .enumerate()
            .map(|(i, (id, is_static, subscribed))| {
                let topics: Vec<Arc<str>> = partitions
                    .keys()
                    .enumerate()
                    .filter(|(t, _)| uniform || subscribed[*t])
                    .map(|(_, t)| t.clone())
                    .collect();
                Member {
                    member_id: format!("{id}-{i}"),
                    group_instance_id: is_static.then(|| format!("inst-{id}")),
                    subscription: Subscription {
                        topics,
                        generation: 5,
                        ..Subscription::default()
                    },
                }
            })
            .collect();
        let mut next = owners.into_iter().cycle();
        for (topic, &n) in &partitions {
            for p in 0..n {
                let owner = next.next().unwrap_or(0);
                if let Some(m) = members.get_mut(owner) {
                    m.subscription
                        .owned
                        .push(TopicPartition::new(topic.clone(), p));
                }
            }
        }
        Group {
            partitions,
            members,
        }
    })
}

fn subscribed_partitions(g: &Group) -> HashSet<TopicPartition> {
    g.partitions
        .iter()
        .filter(|(t, _)| g.members.iter().any(|m| m.subscription.topics.contains(t)))
        .flat_map(|(t, &n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect()
}

/// Each assigned partition to one member subscribed to it; with `complete`,
/// every subscribed partition assigned.
fn check_valid(
    g: &Group,
    result: &BTreeMap<String, Assignment>,
    complete: bool,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(result.len(), g.members.len());
    let mut seen = HashSet::new();
    for m in &g.members {
        for tp in &result[&m.member_id].partitions {
            prop_assert!(
                m.subscription.topics.contains(&tp.topic),
                "{} got {} unsubscribed",
                m.member_id,
                tp
            );
            prop_assert!(seen.insert(tp.clone()), "{} assigned twice", tp);
        }
    }
    let all = subscribed_partitions(g);
    prop_assert!(seen.is_subset(&all));
    if complete {
        prop_assert_eq!(seen.len(), all.len(), "partitions left unassigned");
    }
    Ok(())
}

fn spread(result: &BTreeMap<String, Assignment>) -> usize {
    let sizes = result.values().map(|a| a.partitions.len());
    sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0)
}

/// The cooperative rule: nothing another member owns is handed out.
fn check_cooperative(
    g: &Group,
    result: &BTreeMap<String, Assignment>,
) -> Result<(), TestCaseError> {
    let owner: HashMap<&TopicPartition, &str> = g
        .members
        .iter()
        .flat_map(|m| {
            m.subscription
                .owned
                .iter()
                .map(move |tp| (tp, m.member_id.as_str()))
        })
        .collect();
    for (id, a) in result {
        for tp in &a.partitions {
            if let Some(&o) = owner.get(tp) {
                prop_assert_eq!(
                    o,
                    id.as_str(),
                    "{} handed to {} while {} owns it",
                    tp,
                    id,
                    o
                );
            }
        }
    }
    Ok(())
}

/// The group after members take up `result`, one generation later.
fn next_round(g: &Group, result: &BTreeMap<String, Assignment>) -> Group {
    let mut next = g.clone();
    for m in &mut next.members {
        m.subscription.owned = result[&m.member_id].partitions.clone();
        m.subscription.generation += 1;
    }
    next
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_assignor_assigns_each_partition_once(g in group(false)) {
        for assignor in [&RangeAssignor as &dyn Assignor, &RoundRobinAssignor] {
            check_valid(&g, &assignor.assign(&g.partitions, &g.members).unwrap(), true)?;
        }
        let balanced = balanced_assignment(&g.partitions, &g.members).unwrap();
        let as_map: BTreeMap<String, Assignment> = g.members.iter().zip(balanced.assigned)
            .map(|(m, partitions)| (m.member_id.clone(), Assignment { partitions, user_data: None }))
            .collect();
        check_valid(&g, &as_map, true)?;
    }

    #[test]
    fn uniform_subscriptions_are_balanced_within_one(g in group(true)) {
        prop_assert!(spread(&RoundRobinAssignor.assign(&g.partitions, &g.members).unwrap()) <= 1);
        let range = RangeAssignor.assign(&g.partitions, &g.members).unwrap();
        for topic in g.partitions.keys() {
            let per: Vec<usize> = range.values()
                .map(|a| a.partitions.iter().filter(|tp| &tp.topic == topic).count()).collect();
            prop_assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1);
        }
        let balanced = balanced_assignment(&g.partitions, &g.members).unwrap();
        let sizes: Vec<usize> = balanced.assigned.iter().map(Vec::len).collect();
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
    }

    /// With uniform subscriptions, the sticky assignor takes from owners only
    /// what balance needs: the `total % n` members owning most keep `max`,
    /// the others `min`, and only the surplus moves.
    #[test]
    fn sticky_moves_no_more_than_balance_needs(g in group(true)) {
        let balanced = balanced_assignment(&g.partitions, &g.members).unwrap();
        let n = g.members.len();
        let total: usize = g.partitions.values().map(|&c| c as usize).sum();
        let (min, extra) = (total / n, total % n);
        let mut owned: Vec<usize> = g.members.iter().map(|m| m.subscription.owned.len()).collect();
        owned.sort_unstable_by(|a, b| b.cmp(a));
        let needed: usize = owned.iter().enumerate()
            .map(|(i, &o)| o.saturating_sub(min + usize::from(i < extra))).sum();
        let moved: usize = g.members.iter().zip(&balanced.assigned)
            .map(|(m, now)| m.subscription.owned.iter().filter(|tp| !now.contains(tp)).count())
            .sum();
        prop_assert_eq!(moved, needed);
    }

    /// Cooperative-sticky never hands out a partition another member still
    /// owns. Members take up each result and rejoin: within 4 rounds (Java's
    /// bound) a round revokes nothing, and that round's result is complete
    /// (and balanced when uniform). With uniform subscriptions the second
    /// round already revokes nothing: the first round revoked all it needed.
    #[test]
    fn cooperative_revokes_before_reassigning_and_converges(mixed in group(false), uniform in group(true)) {
        for (g, is_uniform) in [(mixed, false), (uniform, true)] {
            let mut round = g.clone();
            let mut result = CooperativeStickyAssignor.assign(&round.partitions, &round.members).unwrap();
            check_valid(&round, &result, false)?;
            check_cooperative(&round, &result)?;
            let mut rounds = 1;
            loop {
                let next = next_round(&round, &result);
                let again = CooperativeStickyAssignor.assign(&next.partitions, &next.members).unwrap();
                check_valid(&next, &again, false)?;
                check_cooperative(&next, &again)?;
                let revoked = next.members.iter().any(|m| {
                    m.subscription.owned.iter().any(|tp| !again[&m.member_id].partitions.contains(tp))
                });
                prop_assert!(!(is_uniform && revoked), "uniform group revoked in round {}", rounds + 1);
                round = next;
                result = again;
                rounds += 1;
                if !revoked {
                    break;
                }
                prop_assert!(rounds <= 4, "still revoking after 4 rounds");
            }
            check_valid(&round, &result, true)?;
            if is_uniform {
                prop_assert!(spread(&result) <= 1);
            }
        }
    }
}

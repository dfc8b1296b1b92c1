//! Step 2 when members subscribe to different topics (Java's
//! `GeneralAssignmentBuilder`):
//!
//! 1. members keep the owned partitions they still subscribe to;
//! 2. each partition left goes to the least loaded member subscribed to it
//!    (topics with the fewest possible members first);
//! 3. partitions move from a member to one with at least two fewer, back to
//!    their previous owner first, until no move improves the balance; the
//!    moves are undone if the result is not better balanced than before.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::movements::Movements;
use super::owned::Owned;
use super::{Input, NO_GENERATION};
use crate::consumer::assignor::member_order::java_str_cmp;
use crate::record::TopicPartition;

struct General<'a> {
    input: &'a Input<'a>,
    /// Topic to the members subscribed to it, in member-id order.
    potential: HashMap<Arc<str>, Vec<usize>>,
    /// Member to its subscribed topics the metadata knows.
    topics_of: Vec<HashSet<Arc<str>>>,
    current: Vec<Vec<TopicPartition>>,
    owner: HashMap<TopicPartition, usize>,
    /// Members taking part in balancing, by (partition count, id rank).
    sorted: BTreeSet<(usize, usize)>,
    rank: Vec<usize>,
    by_rank: Vec<usize>,
    movements: Movements,
}

pub(super) fn assign(input: &Input<'_>, owned: Owned) -> Vec<Vec<TopicPartition>> {
    let members = input.members;
    let mut potential: HashMap<Arc<str>, Vec<usize>> = input
        .partitions_per_topic
        .keys()
        .map(|t| (t.clone(), Vec::new()))
        .collect();
    let mut topics_of = vec![HashSet::new(); members.len()];
    for &m in &input.order {
        for topic in &members[m].subscription.topics {
            if let Some(subscribers) = potential.get_mut(topic) {
                if topics_of[m].insert(topic.clone()) {
                    subscribers.push(m);
                }
            }
        }
    }
    let mut rank = vec![0; members.len()];
    for (r, &m) in input.by_id.iter().enumerate() {
        rank[m] = r;
    }
    let mut g = General {
        input,
        potential,
        topics_of,
        current: owned.current,
        owner: HashMap::new(),
        sorted: BTreeSet::new(),
        rank,
        by_rank: input.by_id.clone(),
        movements: Movements::default(),
    };
    let previous = previous_owners(input, &owned.generation, owned.max_generation);

    // Keep owned partitions of topics still subscribed to.
    let mut revocation_required = false;
    for m in 0..members.len() {
        let before = g.current[m].len();
        let topics = &g.topics_of[m];
        g.current[m].retain(|tp| topics.contains(&tp.topic));
        revocation_required |= g.current[m].len() != before;
        for tp in &g.current[m] {
            g.owner.insert(tp.clone(), m);
        }
    }
    let mut all = g.sorted_all_partitions();
    let mut unassigned: Vec<TopicPartition> = all
        .iter()
        .filter(|tp| !g.owner.contains_key(*tp))
        .cloned()
        .collect();
    for m in 0..members.len() {
        g.put(m);
    }
    g.balance(&previous, &mut all, &mut unassigned, revocation_required);
    g.current
}

/// Partitions members of older generations owned, with the newest such
/// owner (Java's `prepopulateCurrentAssignments`): where balancing moves a
/// partition, it goes back there first.
fn previous_owners(
    input: &Input<'_>,
    generation: &[Option<i32>],
    max_generation: i32,
) -> HashMap<TopicPartition, (usize, i32)> {
    let mut previous: HashMap<TopicPartition, (usize, i32)> = HashMap::new();
    for &m in &input.order {
        let g = match generation[m] {
            Some(g) if g < max_generation => g,
            None if max_generation > NO_GENERATION => NO_GENERATION,
            _ => continue,
        };
        for tp in &input.members[m].subscription.owned {
            match previous.get(tp) {
                Some(&(_, known)) if known >= g => {}
                _ => {
                    previous.insert(tp.clone(), (m, g));
                }
            }
        }
    }
    previous
}

impl General<'_> {
    fn take(&mut self, m: usize) {
        self.sorted.remove(&(self.current[m].len(), self.rank[m]));
    }

    fn put(&mut self, m: usize) {
        self.sorted.insert((self.current[m].len(), self.rank[m]));
    }

    /// Topics by how few members may take them, then by name; each topic's
    /// partitions in order.
    fn sorted_all_partitions(&self) -> Vec<TopicPartition> {
        let mut topics: Vec<(&Arc<str>, i32)> = self
            .input
            .partitions_per_topic
            .iter()
            .map(|(t, &n)| (t, n))
            .collect();
        topics.sort_by(|a, b| {
            self.potential[a.0]
                .len()
                .cmp(&self.potential[b.0].len())
                .then_with(|| java_str_cmp(a.0, b.0))
        });
        topics
            .into_iter()
            .flat_map(|(t, n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)))
            .collect()
    }

    fn max_size(&self, m: usize) -> usize {
        self.topics_of[m]
            .iter()
            .map(|t| self.input.partitions_per_topic[t] as usize)
            .sum()
    }

    fn balance(
        &mut self,
        previous: &HashMap<TopicPartition, (usize, i32)>,
        all: &mut Vec<TopicPartition>,
        unassigned: &mut Vec<TopicPartition>,
        revocation_required: bool,
    ) {
        let initializing = self.sorted.last().map_or(true, |&(size, _)| size == 0);
        for tp in unassigned.iter() {
            self.assign_to_least_loaded(tp);
        }
        // Topics only one member may take cannot move.
        let fixed = |tp: &TopicPartition| self.potential[&tp.topic].len() < 2;
        all.retain(|tp| !fixed(tp));
        unassigned.retain(|tp| !fixed(tp));
        // Neither can members that hold all they may and only such topics.
        for m in 0..self.current.len() {
            if !self.can_participate(m) {
                self.take(m);
            }
        }
        let active: Vec<usize> = self.sorted.iter().map(|&(_, r)| self.by_rank[r]).collect();
        let before = self.current.clone();
        let before_owner = self.owner.clone();
        if !revocation_required {
            self.reassign_until_balanced(unassigned, previous);
        }
        let moved = self.reassign_until_balanced(all, previous);
        if !initializing
            && moved
            && self.score(&active, &self.current) >= self.score(&active, &before)
        {
            self.current = before;
            self.owner = before_owner;
        }
    }

    fn assign_to_least_loaded(&mut self, tp: &TopicPartition) {
        let found = self
            .sorted
            .iter()
            .map(|&(_, r)| self.by_rank[r])
            .find(|&m| self.topics_of[m].contains(&tp.topic));
        if let Some(m) = found {
            self.take(m);
            self.current[m].push(tp.clone());
            self.owner.insert(tp.clone(), m);
            self.put(m);
        }
    }

    fn can_participate(&self, m: usize) -> bool {
        self.current[m].len() < self.max_size(m)
            || self.current[m]
                .iter()
                .any(|tp| self.potential[&tp.topic].len() >= 2)
    }

    /// Sum over pairs of active members of the difference in partition
    /// counts: 0 when perfectly balanced.
    fn score(&self, active: &[usize], assignment: &[Vec<TopicPartition>]) -> usize {
        let mut sizes: Vec<usize> = active.iter().map(|&m| assignment[m].len()).collect();
        sizes.sort_unstable();
        let n = sizes.len();
        sizes.iter().enumerate().map(|(i, &s)| s * i).sum::<usize>()
            - sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| s * (n - 1 - i))
                .sum::<usize>()
    }
}

impl General<'_> {
    /// Java's `performReassignments`: passes over `partitions` while the
    /// assignment is unbalanced; whether anything moved. Every move takes a
    /// partition from a member to one with at least two fewer, so the sum of
    /// squared counts falls and the passes end; the bound on moves is a
    /// guard against a bug turning into a hang.
    fn reassign_until_balanced(
        &mut self,
        partitions: &[TopicPartition],
        previous: &HashMap<TopicPartition, (usize, i32)>,
    ) -> bool {
        let total: usize = self
            .input
            .partitions_per_topic
            .values()
            .map(|&n| n as usize)
            .sum();
        let mut budget = (total + 1) * (self.current.len() + 1) * 4;
        let mut moved = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                if budget == 0 {
                    tracing::warn!("cooperative-sticky stopped balancing after its move budget; the assignment is valid but may be unbalanced");
                    return moved;
                }
                let Some(&from) = self.owner.get(tp) else {
                    continue;
                };
                let load = self.current[from].len();
                if let Some(&(back, _)) = previous.get(tp) {
                    let active = self
                        .sorted
                        .contains(&(self.current[back].len(), self.rank[back]));
                    if active
                        && self.topics_of[back].contains(&tp.topic)
                        && load > self.current[back].len() + 1
                    {
                        self.reassign_to(tp, back);
                        budget -= 1;
                        moved = true;
                        modified = true;
                        continue;
                    }
                }
                let lighter = self.potential[&tp.topic].iter().any(|&other| {
                    self.sorted
                        .contains(&(self.current[other].len(), self.rank[other]))
                        && load > self.current[other].len() + 1
                });
                if lighter {
                    let to = self
                        .sorted
                        .iter()
                        .map(|&(_, r)| self.by_rank[r])
                        .find(|&m| self.topics_of[m].contains(&tp.topic));
                    if let Some(to) = to {
                        self.reassign_to(tp, to);
                        budget -= 1;
                        moved = true;
                        modified = true;
                    }
                }
            }
            if !modified {
                return moved;
            }
        }
    }

    /// Java's `isBalanced`: counts differ by at most one, or no member could
    /// take a partition it may have from a member with two more.
    fn is_balanced(&self) -> bool {
        let (Some(&(min, _)), Some(&(max, _))) = (self.sorted.first(), self.sorted.last()) else {
            return true;
        };
        if min + 1 >= max {
            return true;
        }
        for &(count, r) in &self.sorted {
            let m = self.by_rank[r];
            if count == self.max_size(m) {
                continue;
            }
            for topic in &self.topics_of[m] {
                for p in 0..self.input.partitions_per_topic[topic] {
                    let tp = TopicPartition::new(topic.clone(), p);
                    if let Some(&other) = self.owner.get(&tp) {
                        if other != m && count + 1 < self.current[other].len() {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    fn reassign_to(&mut self, tp: &TopicPartition, to: usize) {
        let Some(&from) = self.owner.get(tp) else {
            return;
        };
        let actual = self.movements.actual_partition_to_move(tp, from, to);
        let Some(&from) = self.owner.get(&actual) else {
            return;
        };
        self.take(from);
        self.take(to);
        self.movements.record(&actual, from, to);
        if let Some(i) = self.current[from].iter().position(|p| *p == actual) {
            self.current[from].remove(i);
        }
        self.current[to].push(actual.clone());
        self.owner.insert(actual, to);
        self.put(to);
        self.put(from);
    }
}

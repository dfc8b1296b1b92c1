//! Step 2 when every member subscribes to the same topics (Java's
//! `ConstrainedAssignmentBuilder`): each member gets `min` or `max` (= `min`
//! + 1) partitions, exactly `total % members` of them `max`.
//!
//! 1. Members keep their owned partitions up to their quota (lowest
//!    partition index first, as Java sorts them);
//! 2. the partitions left, sorted by topic and index, go round-robin to the
//!    members under `min` (in member-id order), then one each to members
//!    at `min` while fewer than `total % members` members have `max`.

use std::collections::{HashSet, VecDeque};

use super::owned::Owned;
use super::Input;
use crate::consumer::assignor::member_order::java_str_cmp;
use crate::consumer::assignor::AssignError;
use crate::record::TopicPartition;

struct Quotas {
    min: usize,
    max: usize,
    /// How many members end with `max` (0 when `min == max`).
    expected_at_max: usize,
    at_max: usize,
}

pub(super) fn assign(
    input: &Input<'_>,
    owned: &Owned,
) -> Result<Vec<Vec<TopicPartition>>, AssignError> {
    let members = input.members.len();
    let total: usize = input
        .partitions_per_topic
        .values()
        .map(|&n| n as usize)
        .sum();
    let mut q = Quotas {
        min: total / members,
        max: total.div_ceil(members),
        expected_at_max: total % members,
        at_max: 0,
    };
    let mut assigned: Vec<Vec<TopicPartition>> = vec![Vec::new(); members];
    let mut under_min: Vec<usize> = Vec::new();
    let mut at_min: VecDeque<usize> = VecDeque::new();
    let mut kept: HashSet<TopicPartition> = HashSet::new();

    for &m in &input.order {
        let mut mine: Vec<TopicPartition> = owned.current[m]
            .iter()
            .filter(|tp| !owned.voided.contains(*tp))
            .cloned()
            .collect();
        mine.sort_by(|a, b| {
            a.partition
                .cmp(&b.partition)
                .then_with(|| java_str_cmp(&a.topic, &b.topic))
        });
        let keep = if mine.len() < q.min {
            under_min.push(m);
            mine.len()
        } else if mine.len() >= q.max && q.at_max < q.expected_at_max {
            q.at_max += 1;
            if q.at_max == q.expected_at_max {
                at_min.clear();
            }
            q.max
        } else {
            if q.at_max < q.expected_at_max {
                at_min.push_back(m);
            }
            q.min
        };
        mine.truncate(keep);
        kept.extend(mine.iter().cloned());
        assigned[m] = mine;
    }

    let unassigned: Vec<TopicPartition> = input
        .all_partitions_by_topic()
        .into_iter()
        .filter(|tp| !kept.contains(tp))
        .collect();
    let by_id = |a: &usize, b: &usize| {
        java_str_cmp(&input.members[*a].member_id, &input.members[*b].member_id)
    };
    under_min.sort_by(by_id);
    at_min.make_contiguous().sort_by(by_id);

    round_robin(
        &unassigned,
        &mut assigned,
        &mut under_min,
        &mut at_min,
        &mut q,
    )?;
    verify(input, &assigned, &under_min, &q)?;
    Ok(assigned)
}

/// Java's `assignRoundRobin`: a cursor walks the members under `min`,
/// restarting at the front; once none is left, members at `min` take one
/// more each.
fn round_robin(
    unassigned: &[TopicPartition],
    assigned: &mut [Vec<TopicPartition>],
    under_min: &mut Vec<usize>,
    at_min: &mut VecDeque<usize>,
    q: &mut Quotas,
) -> Result<(), AssignError> {
    let mut cursor = 0;
    for tp in unassigned {
        let (member, from_under) = if cursor < under_min.len() {
            cursor += 1;
            (under_min[cursor - 1], true)
        } else if let Some(&first) = under_min.first() {
            cursor = 1;
            (first, true)
        } else if let Some(m) = at_min.pop_front() {
            (m, false)
        } else {
            return Err(AssignError::Internal {
                reason: format!("no member can take {tp} though the quotas say one can"),
            });
        };
        assigned[member].push(tp.clone());
        let count = assigned[member].len();
        if count == q.min && from_under {
            cursor -= 1;
            under_min.remove(cursor);
            at_min.push_back(member);
        } else if count == q.max {
            q.at_max += 1;
        }
    }
    Ok(())
}

/// Java's `verifyUnfilledMembers`: members still under `min` are a bug.
fn verify(
    input: &Input<'_>,
    assigned: &[Vec<TopicPartition>],
    under_min: &[usize],
    q: &Quotas,
) -> Result<(), AssignError> {
    if under_min.is_empty() {
        return Ok(());
    }
    if let Some(&m) = under_min.iter().find(|&&m| assigned[m].len() != q.min) {
        return Err(AssignError::Internal {
            reason: format!(
                "member {} got {} partitions, under its quota of {}",
                input.members[m].member_id,
                assigned[m].len(),
                q.min
            ),
        });
    }
    if q.at_max != q.expected_at_max {
        return Err(AssignError::Internal {
            reason: format!(
                "{} members reached {} partitions, {} expected",
                q.at_max, q.max, q.expected_at_max
            ),
        });
    }
    Ok(())
}

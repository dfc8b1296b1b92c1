//! Builders the assignor tests share.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Assignment, Member, Subscription};
use crate::record::TopicPartition;

/// A dynamic member subscribed to `topics`.
pub(super) fn member(id: &str, topics: &[&str]) -> Member {
    Member {
        member_id: id.to_owned(),
        group_instance_id: None,
        subscription: Subscription {
            topics: topics.iter().map(|t| Arc::from(*t)).collect(),
            generation: -1,
            ..Subscription::default()
        },
    }
}

/// A static member (`group.instance.id` = `instance`) subscribed to `topics`.
pub(super) fn static_member(id: &str, instance: &str, topics: &[&str]) -> Member {
    Member {
        group_instance_id: Some(instance.to_owned()),
        ..member(id, topics)
    }
}

/// Topic partition counts.
pub(super) fn topics(counts: &[(&str, i32)]) -> BTreeMap<Arc<str>, i32> {
    counts.iter().map(|(t, n)| (Arc::from(*t), *n)).collect()
}

/// `topic-partition` spellings per member, sorted, for comparing results.
pub(super) fn assigned(result: BTreeMap<String, Assignment>) -> BTreeMap<String, Vec<String>> {
    result
        .into_iter()
        .map(|(m, a)| {
            let mut ps: Vec<String> = a.partitions.iter().map(TopicPartition::to_string).collect();
            ps.sort_by(|a, b| natural(a).cmp(&natural(b)));
            (m, ps)
        })
        .collect()
}

/// `topic-12` sorts after `topic-2`.
fn natural(tp: &str) -> (&str, i64) {
    match tp.rsplit_once('-') {
        Some((t, p)) => (t, p.parse().unwrap_or(-1)),
        None => (tp, -1),
    }
}

/// `m` owning `owned` since `generation` (a version 2+ subscription).
pub(super) fn owning(mut m: Member, owned: &[(&str, i32)], generation: i32) -> Member {
    m.subscription.owned = owned
        .iter()
        .map(|(t, p)| TopicPartition::new(*t, *p))
        .collect();
    m.subscription.generation = generation;
    m
}

/// Expected results in the shape [`assigned`] returns.
pub(super) fn expect(rows: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    rows.iter()
        .map(|(m, ps)| (m.to_string(), ps.iter().map(|p| p.to_string()).collect()))
        .collect()
}

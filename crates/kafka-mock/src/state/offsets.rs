//! Committed offsets per consumer group, topic and partition: what
//! OffsetCommit stores and OffsetFetch reads back. Kept with the cluster,
//! not a broker, so they survive broker restarts and coordinator moves, as
//! Kafka's replicated `__consumer_offsets` does.

use std::collections::BTreeMap;

/// One committed position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) offset: i64,
    /// -1 when the client sent none.
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: Option<String>,
}

/// Every group's committed offsets.
#[derive(Debug, Default)]
pub(crate) struct GroupOffsets {
    by_group: BTreeMap<String, BTreeMap<(String, i32), Committed>>,
}

impl GroupOffsets {
    pub(crate) fn commit(&mut self, group: &str, topic: &str, partition: i32, c: Committed) {
        self.by_group
            .entry(group.to_owned())
            .or_default()
            .insert((topic.to_owned(), partition), c);
    }

    pub(crate) fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&Committed> {
        self.by_group
            .get(group)?
            .get(&(topic.to_owned(), partition))
    }

    /// Forgets every group's offsets of `topic` (it was deleted), as Kafka
    /// drops a deleted topic's committed offsets.
    pub(crate) fn forget_topic(&mut self, topic: &str) {
        for offsets in self.by_group.values_mut() {
            offsets.retain(|(t, _), _| t != topic);
        }
    }

    /// Every partition `group` has committed, by topic then partition.
    pub(crate) fn all(&self, group: &str) -> impl Iterator<Item = (&(String, i32), &Committed)> {
        self.by_group.get(group).into_iter().flatten()
    }
}

/// Java's `String.hashCode`, so a group's coordinator is stable across
/// runs (std's hasher is seeded per process).
pub(crate) fn group_hash(group: &str) -> u32 {
    group
        .encode_utf16()
        .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_kept_per_group_and_partition() {
        let mut offsets = GroupOffsets::default();
        let c = |offset| Committed {
            offset,
            leader_epoch: -1,
            metadata: None,
        };
        offsets.commit("g", "t", 0, c(5));
        offsets.commit("g", "t", 0, c(7));
        offsets.commit("g", "t", 1, c(1));
        offsets.commit("h", "t", 0, c(9));
        assert_eq!(offsets.get("g", "t", 0).map(|c| c.offset), Some(7));
        assert_eq!(offsets.get("h", "t", 0).map(|c| c.offset), Some(9));
        assert!(offsets.get("g", "u", 0).is_none());
        assert_eq!(offsets.all("g").count(), 2);
        assert_eq!(offsets.all("none").count(), 0);
    }

    #[test]
    fn group_hash_is_javas_string_hash() {
        // "hello".hashCode() in Java.
        assert_eq!(group_hash("hello") as i32, 99_162_322);
        assert_eq!(group_hash(""), 0);
    }
}

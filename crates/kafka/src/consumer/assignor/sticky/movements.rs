//! Partition movements made while balancing (Java's `PartitionMovements`):
//! when a partition of a topic must move from `a` to `b` and one of that
//! topic moved from `b` to `a` earlier in the same balancing, moving that
//! one back instead keeps both members closer to what they owned.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::record::TopicPartition;

/// A move from one member (by index) to another.
type Pair = (usize, usize);

#[derive(Default)]
pub(super) struct Movements {
    by_topic: HashMap<Arc<str>, HashMap<Pair, BTreeSet<TopicPartition>>>,
    moved: HashMap<TopicPartition, Pair>,
}

impl Movements {
    fn remove(&mut self, tp: &TopicPartition) -> Option<Pair> {
        let pair = self.moved.remove(tp)?;
        if let Some(pairs) = self.by_topic.get_mut(&tp.topic) {
            if let Some(set) = pairs.get_mut(&pair) {
                set.remove(tp);
                if set.is_empty() {
                    pairs.remove(&pair);
                }
            }
            if pairs.is_empty() {
                self.by_topic.remove(&tp.topic);
            }
        }
        Some(pair)
    }

    fn add(&mut self, tp: &TopicPartition, pair: Pair) {
        self.moved.insert(tp.clone(), pair);
        self.by_topic
            .entry(tp.topic.clone())
            .or_default()
            .entry(pair)
            .or_default()
            .insert(tp.clone());
    }

    /// Records `tp` moving from `from` to `to`; a partition that comes back
    /// to where it started has no movement left.
    pub(super) fn record(&mut self, tp: &TopicPartition, from: usize, to: usize) {
        match self.remove(tp) {
            Some((origin, _)) if origin == to => {}
            Some((origin, _)) => self.add(tp, (origin, to)),
            None => self.add(tp, (from, to)),
        }
    }

    /// The partition to move when `tp` should go from `from` to `to`: one of
    /// its topic that moved the opposite way, if any, else `tp` itself.
    /// (Java takes the first of a `HashSet`; this takes the lowest.)
    pub(super) fn actual_partition_to_move(
        &self,
        tp: &TopicPartition,
        from: usize,
        to: usize,
    ) -> TopicPartition {
        let Some(pairs) = self.by_topic.get(&tp.topic) else {
            return tp.clone();
        };
        let origin = self.moved.get(tp).map_or(from, |&(origin, _)| origin);
        pairs
            .get(&(to, origin))
            .and_then(|set| set.iter().next())
            .cloned()
            .unwrap_or_else(|| tp.clone())
    }
}

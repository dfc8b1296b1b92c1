//! [`ConsumerRebalanceListener`]: what the application runs when its
//! group hands it partitions or takes them away, on its own thread inside
//! [`Consumer::poll`], as Java's `ConsumerRebalanceListener` runs.

use super::client::Consumer;
use crate::record::TopicPartition;

/// Callbacks for a subscribed [`Consumer`]'s rebalances, called inside
/// [`poll`](Consumer::poll) (and `unsubscribe` / `close`) on the thread
/// that calls it. Every method has a default that does nothing, except
/// [`on_partitions_lost`](Self::on_partitions_lost), which calls
/// `on_partitions_revoked` as Java's does. `()` is the listener that does
/// nothing.
///
/// In `on_partitions_revoked` the partitions are still this member's:
/// committing their offsets there (`commit_offsets_sync`) is the moment
/// to save the work done on them (with `enable.auto.commit` the consumer
/// has committed their positions just before). Do not call `poll` from a
/// callback.
pub trait ConsumerRebalanceListener: Send {
    /// `partitions` are about to be taken away (eager: all of them before
    /// every rebalance; cooperative: only those that move). Not called
    /// with an empty list.
    fn on_partitions_revoked(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }

    /// `partitions` were added to this member's assignment (cooperative:
    /// only the new ones; possibly none).
    fn on_partitions_assigned(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }

    /// `partitions` were lost without a revocation (the member's
    /// generation ended, or `poll` was not called within
    /// `max.poll.interval.ms`): other members may own them already, so
    /// their offsets can no longer be committed.
    fn on_partitions_lost(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(consumer, partitions);
    }
}

/// No callbacks.
impl ConsumerRebalanceListener for () {}

//! [`ConsumerError`]: what the consumer's methods return when they cannot
//! do what was asked, each saying what to do about it.

use std::time::Duration;

use crate::record::TopicPartition;

/// Why a [`Consumer`](crate::Consumer) call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// [`Consumer::wakeup`](crate::Consumer::wakeup) was called: the
    /// blocked (or next) `poll` returns this at once. Nothing was lost;
    /// poll again to go on.
    #[error("poll was interrupted by wakeup(); poll again to go on")]
    Wakeup,
    /// The consumer was closed.
    #[error("the consumer is closed; create a new one")]
    Closed,
    /// A partition cannot be consumed (offset out of range with
    /// `auto.offset.reset=none`, a corrupt batch, a partition that does not
    /// exist, a broker's refusal). Records of other partitions are still
    /// handed out; this one stays stopped until the application seeks it.
    #[error("{message}")]
    Partition {
        /// The partition that stopped.
        partition: TopicPartition,
        /// What went wrong and what to do, naming the partition.
        message: String,
    },
    /// The call named a partition that is not assigned.
    #[error("{0} is not assigned to this consumer; assign it first")]
    NotAssigned(TopicPartition),
    /// `poll` was called with nothing assigned and no subscription.
    #[error("no partition is assigned to this consumer; call assign or subscribe first")]
    NoAssignment,
    /// `assign` and `subscribe` were mixed: a consumer either chooses its
    /// partitions or lets its group choose them.
    #[error("{0}")]
    SubscriptionConflict(&'static str),
    /// The pattern given to `subscribe_pattern` is not a regular expression.
    #[error("invalid topic pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex parser said.
        reason: String,
    },
    /// The application did not call `poll` within `max.poll.interval.ms`:
    /// the consumer left its group and its partitions went to other
    /// members. This `poll` rejoins the group; poll again to go on.
    #[error("poll was not called within max.poll.interval.ms ({max:?}): the consumer left its group and its partitions went to other members; polling again rejoins. Poll more often, lower max.poll.records, or raise max.poll.interval.ms")]
    PollIntervalExceeded {
        /// `max.poll.interval.ms`.
        max: Duration,
    },
    /// Committing or reading committed offsets needs a group.
    #[error(
        "group.id is not set; commits and committed offsets are kept per group, so set group.id"
    )]
    NoGroup,
    /// The group coordinator refused a commit or an offset lookup.
    #[error("the group coordinator refused {what} for {partition}: {message}")]
    Group {
        /// "the commit" or "the committed offset".
        what: &'static str,
        /// The partition refused.
        partition: TopicPartition,
        /// The broker's error, by name.
        message: String,
    },
    /// The call did not finish in time; what it asked for may still
    /// happen (a commit may yet be written).
    #[error("{what} did not finish within {waited:?}; check that the brokers are reachable (bootstrap.servers) or allow longer")]
    Timeout {
        /// What was waited for.
        what: &'static str,
        /// How long.
        waited: Duration,
    },
    /// The consumer cannot go on (TLS or authentication failed): fix the
    /// settings and create a new consumer.
    #[error("the consumer stopped: {0}")]
    Fatal(String),
    /// The poller thread or its event loop could not be started.
    #[error("could not start the consumer's poller thread: {0}")]
    Start(#[source] std::io::Error),
}

impl From<super::error::PartitionError> for ConsumerError {
    fn from(error: super::error::PartitionError) -> ConsumerError {
        ConsumerError::Partition {
            partition: error.partition().clone(),
            message: error.to_string(),
        }
    }
}

impl From<super::positions::NotAssigned> for ConsumerError {
    fn from(error: super::positions::NotAssigned) -> ConsumerError {
        ConsumerError::NotAssigned(error.0)
    }
}

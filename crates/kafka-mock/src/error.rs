//! Errors of the test-facing API (setup, fault injection, inspection).

/// A test asked the mock for something impossible. Each variant names what
/// was wrong; fix the argument (or create the topic first) and retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The broker count was outside `1..=16`.
    #[error("a mock cluster has 1 to 16 brokers, not {0}")]
    BrokerCount(usize),
    /// No broker has this id (ids run from 1 to the broker count).
    #[error("no broker with id {0}; ids run from 1 to the broker count")]
    UnknownBroker(i32),
    /// No topic has this name.
    #[error("no topic named {0:?}; create it first")]
    UnknownTopic(String),
    /// The topic exists but has no such partition.
    #[error("topic {topic:?} has no partition {partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The missing partition.
        partition: i32,
    },
    /// A topic with this name exists already.
    #[error("topic {0:?} exists already")]
    TopicExists(String),
    /// The name is not a legal Kafka topic name.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The rejected name.
        name: String,
        /// What makes it illegal.
        reason: &'static str,
    },
    /// A partition count below 1.
    #[error("a topic needs at least one partition, not {0}")]
    InvalidPartitionCount(i32),
    /// `create_partitions` asked for no more partitions than the topic has
    /// (Kafka's INVALID_PARTITIONS: partitions can only be added).
    #[error("topic {topic} has {current} partitions; create_partitions can only raise the count, not set it to {asked}")]
    PartitionsNotGrown {
        /// The topic.
        topic: String,
        /// Its partition count now.
        current: i32,
        /// The count asked for.
        asked: i32,
    },
    /// Group coordinator settings that contradict each other; the message
    /// names them.
    #[error("group coordinator settings: {0}")]
    InvalidGroupSettings(String),
    /// A TLS or SASL setting was wrong (a file unreadable, no users); the
    /// message names it and says what to do.
    #[error("mock cluster security setting: {0}")]
    Security(String),
    /// A socket, the event loop or its thread failed; the message says
    /// which call. Usually the machine is out of ports or file descriptors,
    /// or a restarted broker's port was taken by another process.
    #[error("mock cluster I/O failed: {0}")]
    Io(String),
}

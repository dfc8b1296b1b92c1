//! Why a partition cannot be consumed: the errors `poll` will surface, each
//! naming the partition.

use kafka_protocol::ResponseError;

use super::decode::CorruptBatch;
use crate::record::TopicPartition;

/// A partition's fetching stopped; it stays stopped until the application
/// seeks (or re-assigns), so the error is never skipped silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PartitionError {
    /// The fetch offset is outside the log and `auto.offset.reset=none`.
    #[error(
        "offset {offset} is out of range for {partition} and auto.offset.reset=none; seek to a \
         valid offset (or seek_to_beginning/end), or set auto.offset.reset=earliest|latest"
    )]
    OffsetOutOfRange {
        /// The partition.
        partition: TopicPartition,
        /// The offset that was out of range.
        offset: i64,
    },
    /// No position (no committed offset, no seek) and `auto.offset.reset=none`.
    #[error(
        "{partition} has no committed offset and auto.offset.reset=none; seek to an offset \
         first, or set auto.offset.reset=earliest|latest"
    )]
    NoOffset {
        /// The partition.
        partition: TopicPartition,
    },
    /// Metadata says the assigned partition does not exist.
    #[error(
        "{partition} does not exist ({}); assign an existing partition, or create the topic",
        match partitions {
            Some(n) => format!("the topic has {n} partition(s)"),
            None => "no such topic".to_owned(),
        }
    )]
    UnknownPartition {
        /// The partition.
        partition: TopicPartition,
        /// How many partitions the topic has, if it exists.
        partitions: Option<i32>,
    },
    /// A fetched batch could not be read.
    #[error(transparent)]
    Corrupt(#[from] CorruptBatch),
    /// The batch at the fetch offset is larger than `max.partition.fetch.bytes`
    /// and the broker (older than Kafka 0.10.1) sent only part of it.
    #[error(
        "the record batch at offset {offset} of {partition} is larger than \
         max.partition.fetch.bytes ({limit} bytes); raise max.partition.fetch.bytes"
    )]
    BatchTooLarge {
        /// The partition.
        partition: TopicPartition,
        /// The fetch offset.
        offset: i64,
        /// `max.partition.fetch.bytes`.
        limit: usize,
    },
    /// The broker refused the partition for good (authorization, an
    /// invalid request, an unknown error code).
    #[error("the broker refused {partition}: {message}")]
    Broker {
        /// The partition.
        partition: TopicPartition,
        /// The broker's error, by name.
        message: String,
    },
}

impl PartitionError {
    /// The partition the error is about.
    pub(crate) fn partition(&self) -> &TopicPartition {
        match self {
            PartitionError::OffsetOutOfRange { partition, .. }
            | PartitionError::NoOffset { partition }
            | PartitionError::BatchTooLarge { partition, .. }
            | PartitionError::UnknownPartition { partition, .. }
            | PartitionError::Broker { partition, .. } => partition,
            PartitionError::Corrupt(c) => &c.partition,
        }
    }

    /// A broker's refusal, by the error's name.
    pub(crate) fn broker(partition: &TopicPartition, code: i16) -> PartitionError {
        let message = match ResponseError::try_from_code(code) {
            Some(e) => format!("{e} (error code {code})"),
            None => format!("unknown error code {code}"),
        };
        PartitionError::Broker {
            partition: partition.clone(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_partition_and_what_to_do() {
        let tp = TopicPartition::new("orders", 2);
        let e = PartitionError::OffsetOutOfRange {
            partition: tp.clone(),
            offset: 42,
        };
        let msg = e.to_string();
        assert!(msg.contains("orders-2") && msg.contains("42") && msg.contains("seek"));
        assert_eq!(e.partition(), &tp);
        let e = PartitionError::broker(&tp, ResponseError::TopicAuthorizationFailed.code());
        assert!(e.to_string().contains("orders-2"), "{e}");
        assert!(PartitionError::broker(&tp, 9999)
            .to_string()
            .contains("9999"));
        let unknown = PartitionError::UnknownPartition {
            partition: tp.clone(),
            partitions: Some(2),
        };
        assert!(unknown.to_string().contains("orders-2") && unknown.to_string().contains("has 2"));
        let missing = PartitionError::UnknownPartition {
            partition: tp.clone(),
            partitions: None,
        };
        assert!(missing.to_string().contains("no such topic"), "{missing}");
        assert!(PartitionError::NoOffset { partition: tp }
            .to_string()
            .contains("auto.offset.reset=none"));
    }
}

//! [`ConsumerRecord`]: one record as the consumer hands it out.

use std::sync::Arc;

use bytes::Bytes;

use crate::record::TopicPartition;

/// What a record's timestamp means, from its batch's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// The producer's creation time (`CreateTime`, the default).
    CreateTime,
    /// The time the broker appended the batch (`LogAppendTime` topics); every
    /// record of a batch then carries the batch's append time.
    LogAppendTime,
}

/// One fetched record.
///
/// Key, value and header values are [`Bytes`]: for an uncompressed batch
/// they are slices of the fetched response itself (no copy); for a
/// compressed batch, slices of the batch's one decompressed buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset in its partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch; see [`timestamp_type`](Self::timestamp_type).
    pub timestamp: i64,
    /// Whether `timestamp` is the creation or the log-append time.
    pub timestamp_type: TimestampType,
    /// The key, or `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, or `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in the order they were written; keys may repeat. A key that
    /// is not UTF-8 is read lossily (as the Java client does).
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The leader epoch the batch was written under, if the broker stamped
    /// one.
    pub leader_epoch: Option<i32>,
}

impl ConsumerRecord {
    /// The record's topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: Arc::clone(&self.topic),
            partition: self.partition,
        }
    }

    /// Bytes of key, value and headers, as the prefetch buffer counts them.
    pub fn payload_len(&self) -> usize {
        let key = self.key.as_ref().map_or(0, Bytes::len);
        let value = self.value.as_ref().map_or(0, Bytes::len);
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len))
            .sum();
        key + value + headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partition_and_payload_len() {
        let record = ConsumerRecord {
            topic: "orders".into(),
            partition: 3,
            offset: 7,
            timestamp: 1,
            timestamp_type: TimestampType::CreateTime,
            key: Some(Bytes::from_static(b"ab")),
            value: None,
            headers: vec![("hh".into(), Some(Bytes::from_static(b"x")))],
            leader_epoch: None,
        };
        assert_eq!(record.topic_partition(), TopicPartition::new("orders", 3));
        assert_eq!(record.payload_len(), 2 + 2 + 1);
    }
}

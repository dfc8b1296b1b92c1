//! What an application sends: a [`Record`], and the [`TopicPartition`] it
//! lands in.
//!
//! A record owns its payload as [`Bytes`], so handing it to the producer
//! copies nothing, and a record given back inside an error (a full buffer, a
//! closed producer) can be sent again as it is.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// One record to produce.
///
/// `key` and `value` may each be `None` (Kafka's null, distinct from empty).
/// Without an explicit `partition` the producer's partitioner picks one: by
/// key hash when there is a key, sticky otherwise. Without a `timestamp` the
/// producer stamps the record with the wall clock when it is appended.
///
/// ```
/// use rouse_kafka::Record;
///
/// let record = Record::new("events")
///     .with_key("user-42")
///     .with_value("clicked")
///     .with_header("trace-id", "abc123")
///     .with_partition(3);
/// assert_eq!(record.partition, Some(3));
/// assert_eq!(record.key.as_deref(), Some(&b"user-42"[..]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The topic to produce to.
    pub topic: String,
    /// An explicit partition, bypassing the partitioner.
    pub partition: Option<i32>,
    /// The key, or `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, or `None` for a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in order; a header value may be null. Keys may repeat.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Creation time in milliseconds since the Unix epoch, or `None` for "now".
    pub timestamp: Option<i64>,
}

impl Record {
    /// A record for `topic` with a null key, a null value and no headers.
    pub fn new(topic: impl Into<String>) -> Record {
        Record {
            topic: topic.into(),
            ..Record::default()
        }
    }

    /// A record for `topic` carrying `value` and a null key.
    pub fn value(topic: impl Into<String>, value: impl Into<Bytes>) -> Record {
        Record::new(topic).with_value(value)
    }

    /// A record for `topic` carrying `key` and `value`.
    pub fn key_value(
        topic: impl Into<String>,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Record {
        Record::new(topic).with_key(key).with_value(value)
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Record {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn with_value(mut self, value: impl Into<Bytes>) -> Record {
        self.value = Some(value.into());
        self
    }

    /// Appends a header with a value.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Record {
        self.headers.push((key.into(), Some(value.into())));
        self
    }

    /// Appends a header with a null value.
    pub fn with_null_header(mut self, key: impl Into<String>) -> Record {
        self.headers.push((key.into(), None));
        self
    }

    /// Sends the record to this partition instead of asking the partitioner.
    pub fn with_partition(mut self, partition: i32) -> Record {
        self.partition = Some(partition);
        self
    }

    /// Sets the creation timestamp (milliseconds since the Unix epoch).
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Record {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Bytes of payload the application handed over: key, value and headers.
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

/// A partition of a topic: where a batch goes.
///
/// The topic name is shared (`Arc<str>`), so cloning one is a reference-count
/// bump, which matters because every batch and every delivery report holds one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: Arc<str>,
    /// The partition index, from 0.
    pub partition: i32,
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    /// Kafka's usual spelling, `topic-partition`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_fill_what_they_name() {
        let r = Record::key_value("t", "k", "v");
        assert_eq!(r.topic, "t");
        assert_eq!(r.key, Some(Bytes::from_static(b"k")));
        assert_eq!(r.value, Some(Bytes::from_static(b"v")));
        assert_eq!(r.partition, None);
        assert_eq!(r.timestamp, None);

        let r = Record::value("t", vec![1u8, 2]).with_timestamp(7);
        assert_eq!(r.key, None);
        assert_eq!(r.timestamp, Some(7));

        let r = Record::new("t").with_null_header("h").with_header("g", "x");
        assert_eq!(r.value, None);
        assert_eq!(
            r.headers,
            vec![
                ("h".to_string(), None),
                ("g".to_string(), Some(Bytes::from_static(b"x")))
            ]
        );
    }

    #[test]
    fn payload_len_counts_key_value_and_headers() {
        let r = Record::key_value("topic", "ab", "cde").with_header("hh", "i");
        assert_eq!(r.payload_len(), 2 + 3 + 2 + 1);
        assert_eq!(Record::new("t").payload_len(), 0);
    }

    #[test]
    fn topic_partition_displays_like_kafka() {
        assert_eq!(TopicPartition::new("orders", 4).to_string(), "orders-4");
    }
}

/// A broker's node id, as Kafka's metadata names leaders. Rouse's own type,
/// so that an upgrade of the protocol crate does not change this API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrokerId(pub i32);

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker {}", self.0)
    }
}

//! The records the mock keeps, as tests see them.

use bytes::Bytes;
use kafka_protocol::records::Record;

/// One record as stored in a partition's log.
///
/// Returned by [`ClusterHandle::records`](crate::ClusterHandle::records) for
/// assertions; the wire bytes a consumer fetches are kept separately and are
/// exactly what the producer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record's offset in its partition.
    pub offset: i64,
    /// The record's timestamp in milliseconds since the epoch, as the
    /// producer set it (create time).
    pub timestamp: i64,
    /// The key, `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// The headers in the order the producer sent them.
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl StoredRecord {
    /// Converts a decoded record; `offset` is its delta in the batch until
    /// [`StoredRecord::rebase`] adds the batch's base offset.
    pub(crate) fn from_decoded(record: Record, offset: i64) -> Self {
        Self {
            offset,
            timestamp: record.timestamp,
            key: record.key,
            value: record.value,
            headers: record
                .headers
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        }
    }

    /// Adds the batch's base offset once the log has assigned it.
    pub(crate) fn rebase(mut self, base_offset: i64) -> Self {
        self.offset += base_offset;
        self
    }
}

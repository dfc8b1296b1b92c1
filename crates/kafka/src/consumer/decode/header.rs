//! One v2 record batch's 61-byte header, read and checked.
//!
//! The layout is the one `crate::batch` writes (see its module docs);
//! attributes bits: 0-2 codec, 3 timestamp type, 4 transactional,
//! 5 control.

use bytes::Bytes;

use super::cursor::Cursor;
use crate::consumer::record::TimestampType;

/// Bytes of a batch header; the records follow.
pub(super) const HEADER_LEN: usize = 61;
/// Base offset and batch length: what precedes the length-counted part.
pub(super) const LOG_OVERHEAD: usize = 12;
const MAGIC_OFFSET: usize = 16;
/// The CRC covers the batch from the attributes to its end.
const CRC_FROM: usize = 21;

/// A batch header's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BatchHeader {
    pub(super) base_offset: i64,
    pub(super) leader_epoch: i32,
    pub(super) attributes: i16,
    pub(super) last_offset_delta: i32,
    pub(super) first_timestamp: i64,
    pub(super) max_timestamp: i64,
    pub(super) producer_id: i64,
    pub(super) record_count: i32,
}

impl BatchHeader {
    /// Codec bits of the attributes.
    pub(super) fn codec(&self) -> i16 {
        self.attributes & 0x7
    }

    pub(super) fn timestamp_type(&self) -> TimestampType {
        if self.attributes & (1 << 3) != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub(super) fn is_transactional(&self) -> bool {
        self.attributes & (1 << 4) != 0
    }

    pub(super) fn is_control(&self) -> bool {
        self.attributes & (1 << 5) != 0
    }

    /// The offset of the batch's last record (before compaction removed
    /// any): the next fetch starts after it even when records are missing.
    pub(super) fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }
}

/// What lies at the front of a fetched records buffer.
#[derive(Debug)]
pub(super) enum Front {
    /// A whole batch: its header and records section, and its total size.
    Batch {
        header: BatchHeader,
        records: Bytes,
        size: usize,
    },
    /// Fewer bytes than the next batch needs: a fetch cut short by its
    /// byte limit, not an error.
    Partial,
    /// A batch that cannot be read; the string says why. `base_offset` is
    /// the batch's own claim, for the error message.
    Corrupt { base_offset: i64, reason: String },
}

/// Reads the batch at the front of `data` (which must not be empty).
pub(super) fn front(data: &Bytes, check_crcs: bool) -> Front {
    if data.len() < LOG_OVERHEAD {
        return Front::Partial;
    }
    let base_offset = i64::from_be_bytes(data[..8].try_into().expect("8 bytes"));
    let length = i32::from_be_bytes(data[8..12].try_into().expect("4 bytes"));
    let corrupt = |reason: String| Front::Corrupt {
        base_offset,
        reason,
    };
    let Ok(length) = usize::try_from(length) else {
        return corrupt(format!("negative batch length {length}"));
    };
    let size = LOG_OVERHEAD + length;
    if data.len() < size {
        return Front::Partial;
    }
    let magic = data.get(MAGIC_OFFSET).copied();
    if magic != Some(2) {
        let magic = magic.map_or("none".to_owned(), |m| m.to_string());
        return corrupt(format!(
            "magic {magic}: only record batch format v2 (Kafka 0.11+) is supported; \
             upgrade the topic's message format"
        ));
    }
    if size < HEADER_LEN {
        return corrupt(format!(
            "batch of {size} bytes is shorter than the {HEADER_LEN}-byte header"
        ));
    }
    let batch = data.slice(..size);
    let mut c = Cursor::new(batch.slice(LOG_OVERHEAD..));
    let header = (|| -> Result<(BatchHeader, u32), String> {
        let leader_epoch = c.i32("leader epoch")?;
        let _magic = c.u8("magic")?;
        let crc = c.u32("crc")?;
        let attributes = c.i16("attributes")?;
        let last_offset_delta = c.i32("last offset delta")?;
        let first_timestamp = c.i64("first timestamp")?;
        let max_timestamp = c.i64("max timestamp")?;
        let producer_id = c.i64("producer id")?;
        let _producer_epoch = c.i16("producer epoch")?;
        let _base_sequence = c.i32("base sequence")?;
        let record_count = c.i32("record count")?;
        let header = BatchHeader {
            base_offset,
            leader_epoch,
            attributes,
            last_offset_delta,
            first_timestamp,
            max_timestamp,
            producer_id,
            record_count,
        };
        Ok((header, crc))
    })();
    let (header, crc) = match header {
        Ok(h) => h,
        Err(reason) => return corrupt(reason),
    };
    if check_crcs {
        let actual = crc32c::crc32c(&batch[CRC_FROM..]);
        if actual != crc {
            return corrupt(format!(
                "CRC-32C mismatch (stored {crc:#010x}, computed {actual:#010x}): the batch was \
                 damaged in transit or on disk"
            ));
        }
    }
    if header.last_offset_delta < 0 || header.record_count < 0 {
        return corrupt(format!(
            "last offset delta {} and record count {} must not be negative",
            header.last_offset_delta, header.record_count
        ));
    }
    Front::Batch {
        header,
        records: batch.slice(HEADER_LEN..),
        size,
    }
}

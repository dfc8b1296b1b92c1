//! Validating and decoding the RecordBatch v2 blobs a producer sends.
//!
//! ```text
//!  offset  size  field                       covered by CRC
//!  0       8     base_offset                 no  (the broker rewrites it)
//!  8       4     batch_length (= len - 12)   no
//!  12      4     partition_leader_epoch      no  (the broker rewrites it)
//!  16      1     magic (must be 2)           no
//!  17      4     crc (CRC-32C of 21..end)    -
//!  21      2     attributes                  yes
//!  23      4     last_offset_delta           yes
//!  27      8     first_timestamp             yes
//!  35      8     max_timestamp               yes
//!  43      8     producer_id                 yes
//!  51      2     producer_epoch              yes
//!  53      4     base_sequence               yes
//!  57      4     record_count                yes
//!  61      ...   records (maybe compressed)  yes
//! ```
//!
//! Because the base offset and leader epoch sit outside the checksum, the
//! mock stores the client's bytes as they came, with those two fields
//! patched, exactly as a real broker does; fetches return them verbatim.
//!
//! The record count is checked against the bytes before decoding: the
//! `kafka-protocol` decoder reserves room for `record_count` records up
//! front, so a forged count could otherwise exhaust memory. The records
//! themselves (header counts, lengths, decompressed size) are bounded in
//! [`records_check`] before the decoder sees them.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use kafka_protocol::ResponseError;

use crate::record::StoredRecord;
use records_check::checked_records;

mod records_check;

/// Size of the fixed RecordBatch v2 header.
pub(crate) const HEADER_SIZE: usize = 61;
/// Bytes before `batch_length` starts counting.
const LOG_OVERHEAD: usize = 12;
/// The smallest encoded record: length, attributes, timestamp delta, offset
/// delta, key length, value length and header count, one byte each.
const MIN_RECORD_SIZE: usize = 7;
/// Cap on records in one compressed batch, whose count cannot be bounded by
/// its compressed size. Far above what any producer batches (1 MiB batches of
/// empty records hold fewer than 150,000).
const MAX_COMPRESSED_RECORDS: usize = 200_000;

const ATTR_CONTROL: i16 = 1 << 5;

/// The fixed header of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub(crate) attributes: i16,
    pub(crate) last_offset_delta: i32,
    pub(crate) producer_id: i64,
    pub(crate) producer_epoch: i16,
    pub(crate) base_sequence: i32,
    pub(crate) record_count: i32,
}

impl BatchHeader {
    /// The sequence number of the batch's last record, wrapping as Kafka does
    /// (after `i32::MAX` comes 0).
    pub(crate) fn last_sequence(&self) -> i32 {
        let delta = self.record_count.saturating_sub(1);
        if self.base_sequence > i32::MAX - delta {
            delta - (i32::MAX - self.base_sequence) - 1
        } else {
            self.base_sequence + delta
        }
    }

    /// Whether an idempotent (or transactional) producer wrote the batch.
    pub(crate) fn is_idempotent(&self) -> bool {
        self.producer_id >= 0
    }
}

/// One validated batch: its header, its bytes and its decoded records, whose
/// offsets are still relative to the batch (deltas).
#[derive(Debug, Clone)]
pub(crate) struct ParsedBatch {
    pub(crate) header: BatchHeader,
    pub(crate) raw: Bytes,
    pub(crate) records: Vec<StoredRecord>,
}

impl ParsedBatch {
    /// The batch's bytes with its base offset and leader epoch rewritten for
    /// the log.
    pub(crate) fn rebased(&self, base_offset: i64, leader_epoch: i32) -> Bytes {
        let mut raw = BytesMut::from(&self.raw[..]);
        raw[0..8].copy_from_slice(&base_offset.to_be_bytes());
        raw[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
        raw.freeze()
    }
}

/// Why a produced record set was refused, and the Kafka error it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BatchError {
    #[error("corrupt record batch: {0}")]
    Corrupt(String),
    #[error("invalid record batch: {0}")]
    Invalid(String),
}

impl BatchError {
    pub(crate) fn code(&self) -> ResponseError {
        match self {
            Self::Corrupt(_) => ResponseError::CorruptMessage,
            Self::Invalid(_) => ResponseError::InvalidRecord,
        }
    }
}

/// Splits a produce request's record set into batches and validates each
/// (framing, magic, CRC-32C, record count and offset deltas).
pub(crate) fn parse_record_set(mut records: Bytes) -> Result<Vec<ParsedBatch>, BatchError> {
    if records.is_empty() {
        return Err(BatchError::Invalid("record set is empty".into()));
    }
    let mut batches = Vec::new();
    while !records.is_empty() {
        if records.len() < LOG_OVERHEAD {
            return Err(BatchError::Corrupt(format!(
                "{} trailing bytes",
                records.len()
            )));
        }
        let batch_length = i32::from_be_bytes([records[8], records[9], records[10], records[11]]);
        let total = usize::try_from(batch_length)
            .ok()
            .and_then(|len| len.checked_add(LOG_OVERHEAD))
            .filter(|&total| total >= HEADER_SIZE && total <= records.len())
            .ok_or_else(|| {
                BatchError::Corrupt(format!(
                    "batch length {batch_length} does not fit the {} bytes left",
                    records.len()
                ))
            })?;
        batches.push(parse_batch(records.split_to(total))?);
    }
    Ok(batches)
}

fn parse_batch(raw: Bytes) -> Result<ParsedBatch, BatchError> {
    let header = read_header(&raw)?;
    let count = usize::try_from(header.record_count).map_err(|_| {
        BatchError::Corrupt(format!("negative record count {}", header.record_count))
    })?;
    let compressed = header.attributes & 0x7 != Compression::None as i16;
    let limit = if compressed {
        MAX_COMPRESSED_RECORDS
    } else {
        (raw.len() - HEADER_SIZE) / MIN_RECORD_SIZE
    };
    if count > limit {
        return Err(BatchError::Corrupt(format!(
            "record count {count} cannot fit the batch's {} bytes",
            raw.len()
        )));
    }
    if count == 0 {
        return Err(BatchError::Invalid("batch holds no records".into()));
    }
    if header.attributes & ATTR_CONTROL != 0 {
        return Err(BatchError::Invalid(
            "producers may not send control batches".into(),
        ));
    }
    if i64::from(header.last_offset_delta) != count as i64 - 1 {
        return Err(BatchError::Invalid(format!(
            "last offset delta {} does not match {count} records",
            header.last_offset_delta
        )));
    }
    let base_offset = i64::from_be_bytes(raw[0..8].try_into().expect("header checked"));
    // The CRC is checked before the closure runs; the closure's checks keep
    // forged header counts and decompression bombs away from the decoder.
    let decompress =
        |records: &mut Bytes, compression| Ok(checked_records(records, compression, count)?);
    let set =
        RecordBatchDecoder::decode_with_custom_compression(&mut raw.clone(), Some(decompress))
            .map_err(|e| BatchError::Corrupt(format!("{e:#}")))?;
    let mut records = Vec::with_capacity(set.records.len());
    for (expected, record) in set.records.into_iter().enumerate() {
        let delta = record.offset - base_offset;
        if delta != expected as i64 {
            return Err(BatchError::Invalid(format!(
                "record {expected} has offset delta {delta}; producers number records 0, 1, 2..."
            )));
        }
        records.push(StoredRecord::from_decoded(record, delta));
    }
    Ok(ParsedBatch {
        header,
        raw,
        records,
    })
}

fn read_header(raw: &Bytes) -> Result<BatchHeader, BatchError> {
    let mut buf = &raw[..];
    buf.advance(16); // base offset, batch length, leader epoch
    let magic = buf.get_i8();
    if magic != 2 {
        return Err(BatchError::Corrupt(format!(
            "magic byte {magic}; only RecordBatch v2 (magic 2) is accepted"
        )));
    }
    buf.advance(4); // crc, checked by the decoder
    Ok(BatchHeader {
        attributes: buf.get_i16(),
        last_offset_delta: {
            let delta = buf.get_i32();
            buf.advance(16); // first and max timestamps
            delta
        },
        producer_id: buf.get_i64(),
        producer_epoch: buf.get_i16(),
        base_sequence: buf.get_i32(),
        record_count: buf.get_i32(),
    })
}

#[cfg(test)]
mod tests;

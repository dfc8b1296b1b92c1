//! An incremental Kafka record batch (format v2, "magic 2") builder.
//!
//! Records are encoded the moment they are appended, into one buffer that
//! starts with room for the 61-byte header; [`BatchBuilder::finish`] fills the
//! header in place and, uncompressed, freezes that same buffer: one
//! allocation per batch and no copy. The protocol crate's
//! `RecordBatchEncoder` instead wants every record as a struct (headers in an
//! `IndexMap`) and walks them several times; see `cargo xtask bench batch`.
//!
//! ```text
//!  offset  size  field                 notes
//!  0       8     base offset           0; the broker assigns offsets
//!  8       4     batch length          bytes after this field
//!  12      4     partition leader epoch -1 from a producer
//!  16      1     magic                 2
//!  17      4     CRC-32C               over bytes 21..end
//!  21      2     attributes            bits 0-2 codec; 3 timestamp type (0)
//!  23      4     last offset delta     record count - 1
//!  27      8     first timestamp       the first record's timestamp
//!  35      8     max timestamp
//!  43      8     producer id           -1 unless idempotent
//!  51      2     producer epoch        -1 unless idempotent
//!  53      4     base sequence         -1 unless idempotent
//!  57      4     record count
//!  61      ...   records               compressed as one block if codec != none
//!
//!  record: varint length | i8 attributes (0) | varlong timestamp delta |
//!          varint offset delta | varint key length (-1 = null) | key |
//!          varint value length | value | varint header count |
//!          per header: varint key length | key | varint value length | value
//! ```
//!
//! Timestamp deltas are relative to the *first* record, as the Java client
//! writes them (a later, earlier-stamped record gets a negative delta). The
//! protocol crate's encoder uses the smallest timestamp instead, so the two
//! agree byte for byte exactly when timestamps do not decrease, the normal
//! case for a producer; both decode to the same records either way.
//!
//! Sizing: [`append`](BatchBuilder::append) refuses a record that would take
//! the batch past `batch.size` ([`AppendError::Full`]), except into an empty
//! batch, which takes any record up to `max.request.size`
//! ([`AppendError::TooLarge`] beyond). With compression the limit applies to
//! the uncompressed records, so a compressed batch ends smaller.

mod compress;
mod stamp;
mod varint;

#[cfg(test)]
mod tests;

use bytes::{BufMut, Bytes, BytesMut};

use crate::config::Compression;
use crate::record::Record;
pub use stamp::{restamp, ProducerIdentity, Stamp};
use varint::{varint_len, varlong_len, SliceWriter};

/// Bytes of a record batch header, before any record.
pub const RECORD_BATCH_OVERHEAD: usize = 61;

const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const MAGIC: u8 = 2;

/// Why [`BatchBuilder::append`] refused a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The batch has no room left under `batch.size`: close it and start a
    /// new one for this record.
    #[error("the batch is full; start a new batch for this record")]
    Full,
    /// The record alone, in a batch of its own, exceeds `max.request.size`.
    #[error("the record needs {size} bytes in a batch of its own, more than max.request.size ({limit}); shrink the record or raise max.request.size")]
    TooLarge {
        /// Bytes the batch would take.
        size: usize,
        /// `max.request.size`.
        limit: usize,
    },
}

/// Why [`BatchBuilder::finish`] failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// There was no record to encode; Kafka has no empty batches.
    #[error("a record batch needs at least one record")]
    Empty,
    /// The codec failed; the message names it. Try another `compression.type`.
    #[error("{0}; try another compression.type")]
    Compression(String),
    /// An earlier encode of this batch failed; the batch can only be failed.
    #[error("the batch failed to encode before; it cannot be sent")]
    Lost,
    /// The batch was encoded with another producer stamp; a retry must send
    /// the bytes as they are (a bug in the caller).
    #[error("the batch was already encoded with another producer id, epoch or sequence")]
    AlreadyStamped,
    /// Restamping needs an encoded batch (a bug in the caller).
    #[error("the batch has not been encoded yet")]
    NotEncoded,
}

/// Bytes one record takes inside a batch (length prefix included) when it is
/// the first record of a batch: deltas are zero. Add
/// [`RECORD_BATCH_OVERHEAD`] for a batch of its own.
pub fn record_size_in_first_position(record: &Record) -> usize {
    let body = record_body_len(
        0,
        0,
        record.key.as_deref(),
        record.value.as_deref(),
        &record.headers,
    );
    varint_len(body as i32) + body
}

/// Bytes one record may take anywhere in a batch: its first-position size
/// plus the widest timestamp and offset deltas (varints of up to 10 and 5
/// bytes where the first record's take 1) and a length prefix one byte
/// longer. What a batch must have room for before it takes the record.
pub(crate) fn record_size_upper_bound(record: &Record) -> usize {
    record_size_in_first_position(record) + 9 + 4 + 1
}

fn bytes_field_len(field: Option<&[u8]>) -> usize {
    match field {
        Some(b) => varint_len(b.len() as i32) + b.len(),
        None => 1,
    }
}

fn record_body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(String, Option<Bytes>)],
) -> usize {
    let mut len = 1 // attributes
        + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + bytes_field_len(key)
        + bytes_field_len(value)
        + varint_len(headers.len() as i32);
    for (k, v) in headers {
        len += bytes_field_len(Some(k.as_bytes())) + bytes_field_len(v.as_deref());
    }
    len
}

fn put_bytes_field(w: &mut SliceWriter<'_>, field: Option<&[u8]>) {
    match field {
        Some(b) => {
            w.varint(b.len() as i32);
            w.bytes(b);
        }
        None => w.varint(-1),
    }
}

/// Builds one record batch, record by record. See the module docs.
#[derive(Debug)]
pub struct BatchBuilder {
    /// Header placeholder followed by the encoded records.
    buf: BytesMut,
    count: i32,
    first_timestamp: i64,
    max_timestamp: i64,
    batch_size: usize,
    max_request_size: usize,
}

impl BatchBuilder {
    /// An empty batch that counts as full at `batch_size` bytes and takes no
    /// single record larger than `max_request_size` (both capped at
    /// `i32::MAX`, the largest length Kafka can frame).
    pub fn new(batch_size: usize, max_request_size: usize) -> BatchBuilder {
        BatchBuilder::with_capacity(batch_size, max_request_size, batch_size)
    }

    /// Like [`new`](Self::new), allocating `capacity` bytes up front.
    pub fn with_capacity(
        batch_size: usize,
        max_request_size: usize,
        capacity: usize,
    ) -> BatchBuilder {
        let mut buf = BytesMut::with_capacity(capacity.max(RECORD_BATCH_OVERHEAD));
        buf.put_bytes(0, RECORD_BATCH_OVERHEAD);
        BatchBuilder {
            buf,
            count: 0,
            first_timestamp: 0,
            max_timestamp: i64::MIN,
            batch_size: batch_size.min(i32::MAX as usize),
            max_request_size: max_request_size.min(i32::MAX as usize),
        }
    }

    /// Appends `record` with this timestamp (its own, or the send time).
    /// The record's topic and partition are the caller's business.
    pub fn append(&mut self, record: &Record, timestamp: i64) -> Result<(), AppendError> {
        self.append_parts(
            timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        )
    }

    /// [`append`](Self::append) from the parts of a record.
    pub fn append_parts(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(String, Option<Bytes>)],
    ) -> Result<(), AppendError> {
        let first = self.count == 0;
        let timestamp_delta = if first {
            0
        } else {
            timestamp.wrapping_sub(self.first_timestamp)
        };
        let body = record_body_len(timestamp_delta, self.count, key, value, headers);
        let size = varint_len(body.min(i32::MAX as usize) as i32) + body;
        let after = self.buf.len() + size;
        if first {
            if after > self.max_request_size {
                return Err(AppendError::TooLarge {
                    size: after,
                    limit: self.max_request_size,
                });
            }
            self.first_timestamp = timestamp;
        } else if after > self.batch_size {
            return Err(AppendError::Full);
        }

        // Size the space once, then store fields without capacity checks.
        let start = self.buf.len();
        self.buf.resize(after, 0);
        let mut w = SliceWriter::new(&mut self.buf[start..]);
        w.varint(body as i32);
        w.u8(0); // record attributes: unused
        w.varlong(timestamp_delta);
        w.varint(self.count);
        put_bytes_field(&mut w, key);
        put_bytes_field(&mut w, value);
        w.varint(headers.len() as i32);
        for (k, v) in headers {
            put_bytes_field(&mut w, Some(k.as_bytes()));
            put_bytes_field(&mut w, v.as_deref());
        }
        debug_assert_eq!(w.written(), size, "record size prediction");
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp);
        Ok(())
    }

    /// Makes room for `total` bytes in all (header included) without
    /// waiting for an append to grow the buffer, so the memory follows the
    /// caller's `buffer.memory` reservation rather than the allocator's
    /// doubling.
    pub fn reserve_total(&mut self, total: usize) {
        if let Some(more) = total.checked_sub(self.buf.len()) {
            self.buf.reserve(more);
        }
    }

    /// The size at which the batch counts as full (`batch.size`).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Records appended so far.
    pub fn record_count(&self) -> usize {
        self.count as usize
    }

    /// Whether no record has been appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the batch takes uncompressed, header included.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Whether the batch has reached `batch.size` (no record at all fits).
    pub fn is_full(&self) -> bool {
        // The smallest record is 7 bytes (length, attributes, two deltas,
        // null key, null value, no headers); anything closer than that is full.
        self.count > 0 && self.buf.len() + 7 > self.batch_size
    }

    /// The first record's timestamp, if there is a record.
    pub fn first_timestamp(&self) -> Option<i64> {
        (self.count > 0).then_some(self.first_timestamp)
    }

    /// Encodes the header and compresses the records: the bytes to put in a
    /// Produce request, stamped for an idempotent producer (`None`: Kafka's
    /// "no producer" values). Keep them: a retry must resend the identical
    /// batch (same producer id, epoch and sequence) for the broker to spot a
    /// duplicate.
    pub fn finish(
        self,
        stamp: Option<Stamp>,
        compression: Compression,
    ) -> Result<Bytes, BatchError> {
        let (producer_id, producer_epoch, base_sequence) = stamp::header_fields(stamp);
        if self.count == 0 {
            return Err(BatchError::Empty);
        }
        let mut batch = self.buf;
        if compression != Compression::None {
            let records = batch.split_off(RECORD_BATCH_OVERHEAD);
            compress::compress_into(compression, &mut batch, records)
                .map_err(BatchError::Compression)?;
        }
        let batch_length = (batch.len() - 12) as i32;
        let mut header = &mut batch[..RECORD_BATCH_OVERHEAD];
        header.put_i64(0); // base offset
        header.put_i32(batch_length);
        header.put_i32(-1); // partition leader epoch
        header.put_u8(MAGIC);
        header.put_u32(0); // CRC, below
        header.put_i16(compression.attribute_bits());
        header.put_i32(self.count - 1); // last offset delta
        header.put_i64(self.first_timestamp);
        header.put_i64(self.max_timestamp);
        header.put_i64(producer_id);
        header.put_i16(producer_epoch);
        header.put_i32(base_sequence);
        header.put_i32(self.count);
        let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
        batch[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
        Ok(batch.freeze())
    }
}

//! Decompressing a batch's records and bounding every count in them before
//! `kafka-protocol` decodes them.
//!
//! The crate's record decoder reserves room for a record's header count
//! (`IndexMap::with_capacity`) straight from the wire, so one record that
//! claims `i32::MAX` headers makes it ask for tens of gigabytes and abort
//! the whole process, CRC or not. The mock promises that malformed input
//! fails its request, never the process, so this walk reads each record's
//! lengths the way the crate does and refuses any count or length that the
//! bytes left could not hold. Only then are the bytes handed back to the
//! crate, which decodes them with its allocations bounded by the input.
//!
//! Compressed records are decompressed here, with the codecs the crate
//! encodes with but into a bounded buffer (`rouse-codec`): the header
//! counts hide inside the decompressed bytes, and the decompressed size is
//! itself bounded by [`MAX_DECOMPRESSED_BATCH`] while it is produced.

use bytes::{Buf, Bytes};
use kafka_protocol::records::Compression;

use crate::frame::DEFAULT_MAX_FRAME_SIZE;

/// The most bytes one batch's records may decompress to: the mock's default
/// largest request. A producer then cannot make the mock hold or decode more
/// through compression than it could send uncompressed in one request.
/// (Kafka's own limit, `message.max.bytes`, is about 1 MiB, so real
/// producers stay far below it.)
pub(crate) const MAX_DECOMPRESSED_BATCH: usize = DEFAULT_MAX_FRAME_SIZE;

/// The smallest encoded header: key length 0 and value length -1 (null),
/// one varint byte each.
const MIN_HEADER_SIZE: usize = 2;

/// Why a batch's records were refused; the caller reports it as a corrupt
/// batch (`CORRUPT_MESSAGE`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RecordsError(String);

/// The decompressor handed to `RecordBatchDecoder::decode_with_custom_compression`:
/// returns the batch's `record_count` records uncompressed once every count
/// and length in them fits the bytes.
pub(crate) fn checked_records(
    records: &mut Bytes,
    compression: Compression,
    record_count: usize,
) -> Result<Bytes, RecordsError> {
    let body = decompress(records, compression)?;
    debug_assert!(body.len() <= MAX_DECOMPRESSED_BATCH || compression == Compression::None);
    check_records(&body, record_count)?;
    Ok(body)
}

/// Decompresses with the codecs `kafka-protocol` encodes with (through
/// `rouse-codec`, which streams into a buffer that stops at the cap, so a
/// bomb costs at most [`MAX_DECOMPRESSED_BATCH`] bytes, never more).
fn decompress(records: &mut Bytes, compression: Compression) -> Result<Bytes, RecordsError> {
    let input = std::mem::take(records);
    rouse_codec::decompress(compression, input, MAX_DECOMPRESSED_BATCH)
        .map_err(|e| RecordsError(format!("{e}; send smaller batches")))
}

/// Walks `count` records (RecordBatch v2 record layout) and checks each
/// length and the header count against the bytes left.
fn check_records(mut buf: &[u8], count: usize) -> Result<(), RecordsError> {
    for index in 0..count {
        let fail = |what: String| RecordsError(format!("record {index}: {what}"));
        let size = take_varint(&mut buf).map_err(fail)?;
        let size = usize::try_from(size)
            .ok()
            .filter(|&size| size <= buf.len())
            .ok_or_else(|| {
                fail(format!(
                    "length {size} does not fit the {} bytes left",
                    buf.len()
                ))
            })?;
        let (record, rest) = buf.split_at(size);
        buf = rest;
        check_record(record).map_err(fail)?;
    }
    Ok(())
}

/// One record's body: attributes, timestamp delta, offset delta, key,
/// value, then the headers.
fn check_record(mut buf: &[u8]) -> Result<(), String> {
    skip(&mut buf, 1, "attributes")?;
    take_uvarint(&mut buf, 10)?; // timestamp delta
    take_uvarint(&mut buf, 5)?; // offset delta
    skip_nullable(&mut buf, "key")?;
    skip_nullable(&mut buf, "value")?;
    let headers = take_varint(&mut buf)?;
    let fits = usize::try_from(headers).is_ok_and(|n| {
        n.checked_mul(MIN_HEADER_SIZE)
            .is_some_and(|b| b <= buf.len())
    });
    if !fits {
        return Err(format!(
            "header count {headers} cannot fit the record's {} remaining bytes \
             (each header takes at least {MIN_HEADER_SIZE})",
            buf.len()
        ));
    }
    for _ in 0..headers {
        let key_len = take_varint(&mut buf)?;
        let key_len = usize::try_from(key_len)
            .map_err(|_| format!("header key length {key_len} is negative"))?;
        skip(&mut buf, key_len, "header key")?;
        skip_nullable(&mut buf, "header value")?;
    }
    Ok(())
}

/// Skips a length-prefixed field whose length may be -1 (null).
fn skip_nullable(buf: &mut &[u8], what: &str) -> Result<(), String> {
    match take_varint(buf)? {
        -1 => Ok(()),
        len if len < -1 => Err(format!("{what} length {len} is negative")),
        len => skip(buf, len as usize, what),
    }
}

fn skip(buf: &mut &[u8], len: usize, what: &str) -> Result<(), String> {
    if len > buf.len() {
        return Err(format!(
            "{what} length {len} overruns the {} bytes left",
            buf.len()
        ));
    }
    buf.advance(len);
    Ok(())
}

/// A zigzag varint read as `kafka-protocol`'s `VarInt` reads it.
fn take_varint(buf: &mut &[u8]) -> Result<i32, String> {
    let zigzag = take_uvarint(buf, 5)? as u32;
    Ok(((zigzag >> 1) as i32) ^ -((zigzag & 1) as i32))
}

/// An unsigned varint read as `kafka-protocol` reads it: at most
/// `max_bytes` bytes, extra high bits dropped.
fn take_uvarint(buf: &mut &[u8], max_bytes: u32) -> Result<u64, String> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let b = buf
            .try_get_u8()
            .map_err(|_| "record ends inside a varint".to_owned())?;
        value |= u64::from(b & 0x7F) << (i * 7);
        if b < 0x80 {
            break;
        }
    }
    Ok(value)
}

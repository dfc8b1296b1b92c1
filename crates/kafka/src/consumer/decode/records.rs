//! A batch's records section: decompressed (through kafka-protocol's
//! codecs, the ones the producer compresses with) and read record by record
//! into [`ConsumerRecord`]s whose fields are slices of one buffer.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::compression::{Decompressor, Gzip, Lz4, Snappy, Zstd};

use super::cursor::Cursor;
use super::header::BatchHeader;
use crate::consumer::record::{ConsumerRecord, TimestampType};

/// The smallest record: length, attributes, two deltas, null key, null
/// value, no headers. Bounds how many records a buffer can hold, so a
/// corrupt count cannot make us reserve memory for billions.
const MIN_RECORD_LEN: usize = 7;

/// The records section uncompressed: itself when the codec is none (no
/// copy), else one new buffer.
pub(super) fn decompress(codec: i16, records: Bytes) -> Result<Bytes, String> {
    let mut input = records;
    let take = |out: &mut Bytes| Ok(std::mem::take(out));
    let result = match codec {
        0 => return Ok(input),
        1 => <Gzip as Decompressor<Bytes>>::decompress(&mut input, take),
        2 => {
            snappy_within_bounds(&input)?;
            <Snappy as Decompressor<Bytes>>::decompress(&mut input, take)
        }
        3 => <Lz4 as Decompressor<Bytes>>::decompress(&mut input, take),
        4 => <Zstd as Decompressor<Bytes>>::decompress(&mut input, take),
        other => return Err(format!("unknown compression codec {other}")),
    };
    let name = ["none", "gzip", "snappy", "lz4", "zstd"][codec as usize];
    result.map_err(|e| format!("{name} decompression failed: {e:#}"))
}

/// The xerial framing Java's snappy writes (kafka-protocol checks the same
/// 16 bytes before falling back to raw snappy).
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";

/// Snappy states each block's uncompressed length up front and the codec
/// allocates it at once, so five corrupt bytes could ask for 4 GiB. No
/// snappy block expands more than about 21x (a 3-byte copy of 64 bytes),
/// so a claim beyond 32x its block is corrupt and refused before any
/// allocation.
fn snappy_within_bounds(data: &[u8]) -> Result<(), String> {
    let check = |block: &[u8]| -> Result<(), String> {
        let mut claimed = 0u64;
        for (i, byte) in block.iter().take(5).enumerate() {
            claimed |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                break;
            }
        }
        let bound = 32 * block.len() as u64 + 64;
        if claimed > bound {
            return Err(format!(
                "snappy block of {} bytes claims {claimed} uncompressed bytes, more than any \
                 snappy block can expand to",
                block.len()
            ));
        }
        Ok(())
    };
    let Some(mut rest) = data.strip_prefix(&XERIAL_HEADER[..]) else {
        return check(data);
    };
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let block = rest.get(4..4 + len).unwrap_or(&rest[4..]);
        check(block)?;
        rest = &rest[(4 + len).min(rest.len())..];
    }
    Ok(())
}

/// Where the records of one batch go, and which of them to keep.
pub(super) struct RecordSink<'a> {
    pub(super) topic: &'a Arc<str>,
    pub(super) partition: i32,
    /// Records below this offset are dropped (the fetch asked for later).
    pub(super) from_offset: i64,
    pub(super) out: &'a mut Vec<ConsumerRecord>,
}

/// Reads the `header.record_count` records of `records` (uncompressed),
/// keeping those at or after `sink.from_offset`. Exact: a record whose
/// fields do not fill its length, or bytes left over, are errors.
pub(super) fn read_records(
    header: &BatchHeader,
    records: Bytes,
    sink: &mut RecordSink<'_>,
) -> Result<(), String> {
    let mut c = Cursor::new(records);
    let count = header.record_count as usize;
    sink.out
        .reserve(count.min(c.remaining() / MIN_RECORD_LEN + 1));
    let timestamp_type = header.timestamp_type();
    let leader_epoch = (header.leader_epoch >= 0).then_some(header.leader_epoch);
    for index in 0..count {
        let len = c.varint("record length")?;
        let len = usize::try_from(len).map_err(|_| format!("record {index} has length {len}"))?;
        let outer = c.enter(len, "record")?;
        let _attributes = c.u8("record attributes")?;
        let timestamp_delta = c.varlong("timestamp delta")?;
        let offset_delta = c.varint("offset delta")?;
        let key = c.nullable("key")?;
        let value = c.nullable("value")?;
        let header_count = c.varint("header count")?;
        let header_count = usize::try_from(header_count)
            .map_err(|_| format!("record {index} has {header_count} headers"))?;
        let mut headers = Vec::with_capacity(header_count.min(c.remaining() / 2));
        for _ in 0..header_count {
            let name = c.string("header key")?;
            let value = c.nullable("header value")?;
            headers.push((name, value));
        }
        c.leave(outer, "record")?;
        let offset = header.base_offset.saturating_add(i64::from(offset_delta));
        if offset < sink.from_offset {
            continue;
        }
        let timestamp = match timestamp_type {
            TimestampType::LogAppendTime => header.max_timestamp,
            TimestampType::CreateTime => header.first_timestamp.wrapping_add(timestamp_delta),
        };
        sink.out.push(ConsumerRecord {
            topic: Arc::clone(sink.topic),
            partition: sink.partition,
            offset,
            timestamp,
            timestamp_type,
            key,
            value,
            headers,
            leader_epoch,
        });
    }
    if c.remaining() != 0 {
        return Err(format!(
            "{} bytes follow the batch's {count} records",
            c.remaining()
        ));
    }
    Ok(())
}

/// The marker a control batch carries: its first record's key is
/// `version: i16, type: i16` (0 abort, 1 commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ControlMarker {
    Abort,
    Commit,
    /// Another control type (a future one); skipped like the others.
    Other,
}

/// Reads the marker of a control batch whose records section is `records`
/// (uncompressed).
pub(super) fn control_marker(
    header: &BatchHeader,
    records: Bytes,
) -> Result<ControlMarker, String> {
    let mut out = Vec::new();
    let topic: Arc<str> = Arc::from("");
    let mut sink = RecordSink {
        topic: &topic,
        partition: 0,
        from_offset: i64::MIN,
        out: &mut out,
    };
    read_records(header, records, &mut sink)?;
    let key = out
        .first()
        .and_then(|r| r.key.clone())
        .ok_or("a control batch without a control record key")?;
    let mut c = Cursor::new(key);
    let _version = c.i16("control record version")?;
    Ok(match c.i16("control record type")? {
        0 => ControlMarker::Abort,
        1 => ControlMarker::Commit,
        _ => ControlMarker::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snappy_claims_beyond_any_expansion_are_refused_before_allocating() {
        // Raw snappy claiming 0xffff_ffff bytes from a 6-byte block.
        let raw = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        let err = decompress(2, Bytes::copy_from_slice(&raw)).unwrap_err();
        assert!(err.contains("claims 4294967295"), "{err}");
        // The same inside xerial framing.
        let mut framed = XERIAL_HEADER.to_vec();
        framed.extend_from_slice(&6u32.to_be_bytes());
        framed.extend_from_slice(&raw);
        assert!(decompress(2, Bytes::from(framed)).is_err());
    }

    #[test]
    fn unknown_codec_is_an_error() {
        assert_eq!(
            decompress(5, Bytes::new()).unwrap_err(),
            "unknown compression codec 5"
        );
    }
}

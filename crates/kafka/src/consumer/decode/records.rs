//! A batch's records section: decompressed (through kafka-protocol's
//! codecs, the ones the producer compresses with) and read record by record
//! into [`ConsumerRecord`]s whose fields are slices of one buffer.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::Compression;

use super::cursor::Cursor;
use super::header::BatchHeader;
use crate::consumer::record::{ConsumerRecord, TimestampType};

/// The smallest record: length, attributes, two deltas, null key, null
/// value, no headers. Bounds how many records a buffer can hold, so a
/// corrupt count cannot make us reserve memory for billions.
const MIN_RECORD_LEN: usize = 7;

/// The most bytes one batch's records may decompress to. No producer
/// writes a batch near this (Kafka's `message.max.bytes` caps a batch at
/// about 1 MiB compressed, producers' batches are a few MiB at most
/// uncompressed); past it a batch is corrupt or hostile, and failing its
/// partition beats exhausting the process's memory.
pub(super) const MAX_DECOMPRESSED_BATCH: usize = 100 << 20;

/// The records section uncompressed: itself when the codec is none (no
/// copy), else one new buffer of at most [`MAX_DECOMPRESSED_BATCH`] bytes.
pub(super) fn decompress(codec: i16, records: Bytes) -> Result<Bytes, String> {
    let compression = match codec {
        0 => return Ok(records),
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        other => return Err(format!("unknown compression codec {other}")),
    };
    rouse_codec::decompress(compression, records, MAX_DECOMPRESSED_BATCH).map_err(|e| e.to_string())
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
    }

    #[test]
    fn a_zstd_bomb_is_refused_at_the_bound() {
        use kafka_protocol::compression::{Compressor, Zstd};
        let mut bomb = bytes::BytesMut::new();
        Zstd::compress(&mut bomb, |b| {
            b.resize(MAX_DECOMPRESSED_BATCH + 1, 0);
            Ok(())
        })
        .unwrap();
        let err = decompress(4, bomb.freeze()).unwrap_err();
        assert!(err.contains("expand past 104857600 bytes"), "{err}");
    }

    #[test]
    fn unknown_codec_is_an_error() {
        assert_eq!(
            decompress(5, Bytes::new()).unwrap_err(),
            "unknown compression codec 5"
        );
    }
}

//! Decompressing a Kafka record batch's records with a bound on the output.
//!
//! `kafka-protocol`'s decompressors write the whole output into one growing
//! buffer, so a few kilobytes of gzip, lz4 or zstd that expand to gigabytes
//! (a corrupt batch, or a hostile peer) exhaust memory before any size
//! check can run; its snappy decompressor allocates whatever each block
//! declares. [`decompress`] stops as soon as the output would pass `limit`
//! and says so, so the caller can fail the batch instead of the process.
//! The output is byte for byte what `kafka-protocol` produces: the same
//! codec crates, the same framing (gzip with one member, lz4 frames, zstd
//! frames, snappy raw or in Java's xerial framing).
//!
//! ```
//! use bytes::Bytes;
//! use kafka_protocol::compression::{Compressor, Gzip};
//! use kafka_protocol::records::Compression;
//! use rouse_codec::{decompress, DecompressError};
//!
//! // 1 MiB of zeros compresses to about a kilobyte.
//! let mut packed = bytes::BytesMut::new();
//! Gzip::compress(&mut packed, |out| {
//!     out.extend_from_slice(&vec![0u8; 1 << 20]);
//!     Ok(())
//! })
//! .unwrap();
//! let packed = packed.freeze();
//!
//! let records = decompress(Compression::Gzip, packed.clone(), 1 << 20).unwrap();
//! assert_eq!(records.len(), 1 << 20);
//! let refused = decompress(Compression::Gzip, packed, 64 * 1024).unwrap_err();
//! assert!(matches!(refused, DecompressError::TooLarge { limit: 65536, .. }));
//! ```
#![forbid(unsafe_code)]

mod capped;
mod snappy;

use std::io::{self, Write};

use bytes::{Buf, Bytes};
use kafka_protocol::compression::{Decompressor, Snappy};
use kafka_protocol::records::Compression;

use capped::Capped;

/// Why a batch's records could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    /// The records expand past the caller's bound: a corrupt or hostile
    /// batch (no producer writes one that large).
    #[error(
        "{codec} records expand past {limit} bytes, the most one batch may hold; \
         the batch is corrupt or was not written by a Kafka producer"
    )]
    TooLarge {
        /// The batch's codec.
        codec: &'static str,
        /// The bound that was reached.
        limit: usize,
    },
    /// The codec refused the bytes.
    #[error("{codec} records do not decompress: {reason}")]
    Corrupt {
        /// The batch's codec.
        codec: &'static str,
        /// What the codec said.
        reason: String,
    },
}

/// The codec's name as Kafka's `compression.type` spells it.
pub fn codec_name(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// `records` decompressed with `compression`, at most `limit` bytes of
/// output; uncompressed records come back as they are (no copy), whatever
/// their size. Memory used stays within `limit` plus the codec's window.
pub fn decompress(
    compression: Compression,
    records: Bytes,
    limit: usize,
) -> Result<Bytes, DecompressError> {
    let codec = codec_name(compression);
    let corrupt = |e: &dyn std::fmt::Display| DecompressError::Corrupt {
        codec,
        reason: format!("{e:#}"),
    };
    let mut out = Capped::new(limit);
    let result: io::Result<()> = match compression {
        Compression::None => return Ok(records),
        Compression::Snappy => {
            snappy::check_declared(&records, limit)?;
            let mut input = records;
            return <Snappy as Decompressor<Bytes>>::decompress(&mut input, |b| {
                Ok(std::mem::take(b))
            })
            .map_err(|e| corrupt(&e));
        }
        Compression::Gzip => {
            let mut decoder = flate2::write::GzDecoder::new(&mut out);
            decoder
                .write_all(&records)
                .and_then(|()| decoder.try_finish())
        }
        Compression::Lz4 => lz4::Decoder::new(records.reader())
            .and_then(|mut decoder| io::copy(&mut decoder, &mut out).map(drop)),
        Compression::Zstd => zstd::stream::copy_decode(records.reader(), &mut out),
    };
    match result {
        _ if out.overflowed() => Err(DecompressError::TooLarge { codec, limit }),
        Err(e) => Err(corrupt(&e)),
        Ok(()) => Ok(out.into_bytes()),
    }
}

#[cfg(test)]
mod tests;

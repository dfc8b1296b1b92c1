//! Snappy's declared lengths, checked before its codec allocates them.
//!
//! Every raw snappy block opens with its uncompressed length (a varint of
//! up to five bytes), and the codec zero-fills that many bytes before it
//! reads the block: five corrupt bytes can ask for 4 GiB. Java's producer
//! frames blocks in "xerial" framing (16-byte magic, then per block a 4-byte
//! big-endian length and the raw block); others send one raw block.

use crate::DecompressError;

/// The xerial framing's magic (kafka-protocol checks the same 16 bytes
/// before falling back to one raw block).
const XERIAL_MAGIC: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";

/// No snappy block expands more than about 21x (a 3-byte copy of 64
/// bytes), so a block claiming more than this many times its size (plus a
/// little for tiny blocks) is corrupt.
const MAX_EXPANSION: u64 = 32;

/// Refuses `data` when a block claims more than snappy can expand it to,
/// or when the blocks together claim more than `limit`. Framing too short
/// to read is left to the codec to refuse.
pub(crate) fn check_declared(data: &[u8], limit: usize) -> Result<(), DecompressError> {
    let mut declared = 0u64;
    let mut add_block = |block: &[u8]| -> Result<(), DecompressError> {
        let claimed = declared_len(block);
        if claimed > MAX_EXPANSION * block.len() as u64 + 64 {
            return Err(DecompressError::Corrupt {
                codec: "snappy",
                reason: format!(
                    "a block of {} bytes claims {claimed} uncompressed bytes, more than any \
                     snappy block expands to",
                    block.len()
                ),
            });
        }
        declared += claimed;
        if declared > limit as u64 {
            return Err(DecompressError::TooLarge {
                codec: "snappy",
                limit,
            });
        }
        Ok(())
    };
    let Some(mut rest) = data.strip_prefix(&XERIAL_MAGIC[..]) else {
        return add_block(data);
    };
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let block = rest.get(4..4 + len).unwrap_or(&rest[4..]);
        add_block(block)?;
        rest = &rest[(4 + len).min(rest.len())..];
    }
    Ok(())
}

/// A raw block's declared uncompressed length: its leading little-endian
/// varint (at most five bytes; a truncated one is left to the codec).
fn declared_len(block: &[u8]) -> u64 {
    let mut claimed = 0u64;
    for (i, byte) in block.iter().take(5).enumerate() {
        claimed |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            break;
        }
    }
    claimed
}

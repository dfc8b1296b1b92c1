//! A structural pre-check of request bodies, run before `kafka-protocol`
//! decodes them.
//!
//! The crate's decoders trust array length prefixes: they call
//! `Vec::with_capacity(n)` with `n` straight from the wire, so four random
//! bytes can ask for hundreds of gigabytes, and a failed allocation aborts the
//! whole process rather than returning an error. That is fatal for a mock
//! whose promise is "malformed input closes one connection".
//!
//! [`check`] walks the body with the request's schema (the same fields and
//! version conditions as the generated decoders, see [`schema`]) and rejects
//! any array that announces more elements than the remaining bytes could
//! hold, given the smallest possible encoding of one element. What passes
//! can make the crate allocate at most a small multiple of the frame size.
//!
//! ```text
//!  body bytes ──► walk(schema, version) ──► ok ──► Decodable::decode
//!                        │
//!                        └─ count × min_size > remaining ──► ShapeError
//! ```
//!
//! Pitfall: the walker must mirror the crate exactly (same nullability
//! markers, same unsigned varint reading), or the two would read different
//! lengths from the same bytes; the tests encode requests of every version
//! with the crate and check that the walker consumes exactly their bytes.

pub(crate) mod schema;

use bytes::Buf;
use schema::{Field, Kind, Struct};

/// Why a request body was rejected before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShapeError {
    #[error("request body ends early (needed {needed} more bytes)")]
    Truncated { needed: usize },
    #[error("array announces {count} elements but only {remaining} bytes remain")]
    ArrayTooLong { count: usize, remaining: usize },
    #[error("negative length {0} in a length prefix")]
    NegativeLength(i64),
}

/// Checks a request body (after the request header) for `schema` at
/// `version`.
pub(crate) fn check(schema: &Struct, version: i16, mut body: &[u8]) -> Result<(), ShapeError> {
    walk_struct(schema, version, &mut body)
}

fn walk_struct(schema: &Struct, version: i16, buf: &mut &[u8]) -> Result<(), ShapeError> {
    let flexible = version >= schema.flexible_from;
    for field in schema.fields.iter().filter(|f| f.present_in(version)) {
        walk_field(field, flexible, version, buf)?;
    }
    if flexible {
        skip_tagged_fields(buf)?;
    }
    Ok(())
}

fn walk_field(
    field: &Field,
    flexible: bool,
    version: i16,
    buf: &mut &[u8],
) -> Result<(), ShapeError> {
    match field.kind {
        Kind::Int8 | Kind::Bool => skip(buf, 1),
        Kind::Int16 => skip(buf, 2),
        Kind::Int32 => skip(buf, 4),
        Kind::Int64 => skip(buf, 8),
        Kind::Uuid => skip(buf, 16),
        Kind::String => skip_string(buf, flexible),
        Kind::Bytes => {
            let len = if flexible {
                compact_len(buf)?
            } else {
                i64::from(take_i32(buf)?)
            };
            skip_nullable(buf, len)
        }
        Kind::ArrayInt32 => {
            let count = array_count(buf, flexible)?;
            bound(count, 4, buf)?;
            skip(buf, count * 4)
        }
        Kind::ArrayString => {
            let count = array_count(buf, flexible)?;
            // A compact string needs one length byte, a classic one two.
            bound(count, if flexible { 1 } else { 2 }, buf)?;
            (0..count).try_for_each(|_| skip_string(buf, flexible))
        }
        Kind::Array(element) => {
            let count = array_count(buf, flexible)?;
            bound(count, element.min_size(version), buf)?;
            for _ in 0..count {
                walk_struct(element, version, buf)?;
            }
            Ok(())
        }
    }
}

/// Reads an array's element count; a null array counts as empty.
fn array_count(buf: &mut &[u8], flexible: bool) -> Result<usize, ShapeError> {
    let count = if flexible {
        compact_len(buf)?
    } else {
        i64::from(take_i32(buf)?)
    };
    match count {
        -1 => Ok(0),
        n if n < -1 => Err(ShapeError::NegativeLength(n)),
        n => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

fn bound(count: usize, min_size: usize, buf: &[u8]) -> Result<(), ShapeError> {
    if count.saturating_mul(min_size.max(1)) > buf.len() {
        return Err(ShapeError::ArrayTooLong {
            count,
            remaining: buf.len(),
        });
    }
    Ok(())
}

/// Skips a (possibly nullable) `STRING` or `COMPACT_STRING`.
fn skip_string(buf: &mut &[u8], flexible: bool) -> Result<(), ShapeError> {
    let len = if flexible {
        compact_len(buf)?
    } else {
        i64::from(take_i16(buf)?)
    };
    skip_nullable(buf, len)
}

fn skip_nullable(buf: &mut &[u8], len: i64) -> Result<(), ShapeError> {
    match len {
        -1 => Ok(()),
        n if n < -1 => Err(ShapeError::NegativeLength(n)),
        n => skip(buf, usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

fn skip_tagged_fields(buf: &mut &[u8]) -> Result<(), ShapeError> {
    let count = take_uvarint(buf)?;
    for _ in 0..count {
        take_uvarint(buf)?;
        let size = take_uvarint(buf)?;
        skip(buf, size as usize)?;
    }
    Ok(())
}

/// A compact length: unsigned varint `n`, meaning `n - 1` (so 0 is null).
fn compact_len(buf: &mut &[u8]) -> Result<i64, ShapeError> {
    Ok(i64::from(take_uvarint(buf)?) - 1)
}

/// Reads an unsigned varint exactly as `kafka-protocol` does: at most five
/// bytes, extra high bits silently dropped.
fn take_uvarint(buf: &mut &[u8]) -> Result<u32, ShapeError> {
    let mut value = 0u32;
    for i in 0..5 {
        let b = u32::from(take_u8(buf)?);
        value |= (b & 0x7F) << (i * 7);
        if b < 0x80 {
            break;
        }
    }
    Ok(value)
}

fn skip(buf: &mut &[u8], n: usize) -> Result<(), ShapeError> {
    if buf.len() < n {
        return Err(ShapeError::Truncated {
            needed: n - buf.len(),
        });
    }
    buf.advance(n);
    Ok(())
}

fn take_u8(buf: &mut &[u8]) -> Result<u8, ShapeError> {
    buf.try_get_u8()
        .map_err(|_| ShapeError::Truncated { needed: 1 })
}

fn take_i16(buf: &mut &[u8]) -> Result<i16, ShapeError> {
    buf.try_get_i16().map_err(|_| ShapeError::Truncated {
        needed: 2 - buf.len(),
    })
}

fn take_i32(buf: &mut &[u8]) -> Result<i32, ShapeError> {
    buf.try_get_i32().map_err(|_| ShapeError::Truncated {
        needed: 4 - buf.len(),
    })
}

#[cfg(test)]
mod tests;

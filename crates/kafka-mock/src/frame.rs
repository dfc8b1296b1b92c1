//! Kafka's length-prefixed framing, decoded incrementally.
//!
//! Every Kafka request and response travels as one frame:
//!
//! ```text
//! +----------------+---------------------------------+
//! | length: i32 BE |  payload (`length` bytes)       |
//! +----------------+---------------------------------+
//!   4 bytes           header + body of one message
//! ```
//!
//! [`FrameDecoder::decode`] takes bytes as they arrive from a socket, in any
//! split, and hands back whole payloads (without the prefix). It never
//! allocates on the word of the peer beyond `max_frame_size`: a negative
//! length, or one above the limit, is an error the caller should answer by
//! closing the connection, since the stream can no longer be resynchronised.

use bytes::{Buf, Bytes, BytesMut};

/// Kafka's default `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// Size of the big-endian length prefix in front of every frame.
pub const LENGTH_PREFIX: usize = 4;

/// How much the decoder reserves ahead for a frame it has only begun to see;
/// bounded so a peer announcing a huge frame cannot make us allocate it
/// before it has sent the bytes.
const MAX_RESERVE_AHEAD: usize = 1024 * 1024;

/// Why a stream of frames cannot be decoded any further.
///
/// Both variants mean the peer broke the protocol (or the limit is too small
/// for it): close the connection; raise the limit with
/// [`FrameDecoder::new`] if the peer is legitimate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix was negative.
    #[error("frame length prefix is negative ({0}); the stream is corrupt, close the connection")]
    NegativeLength(i32),
    /// The length prefix exceeded the configured maximum.
    #[error(
        "frame of {len} bytes exceeds the maximum of {max} bytes; close the connection \
         or raise the limit"
    )]
    TooLarge {
        /// Length announced by the prefix.
        len: usize,
        /// The decoder's limit.
        max: usize,
    },
}

/// Splits a byte stream into Kafka frames.
///
/// ```
/// use bytes::BytesMut;
/// use rouse_kafka_mock::frame::FrameDecoder;
///
/// let mut decoder = FrameDecoder::default();
/// let mut buf = BytesMut::from(&[0, 0, 0, 3, b'a', b'b'][..]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None); // one byte short
/// buf.extend_from_slice(b"c");
/// assert_eq!(&decoder.decode(&mut buf).unwrap().unwrap()[..], b"abc");
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_frame_size: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameDecoder {
    /// A decoder that rejects frames whose payload exceeds `max_frame_size`
    /// bytes.
    pub fn new(max_frame_size: usize) -> Self {
        Self { max_frame_size }
    }

    /// The largest payload this decoder accepts.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Removes one whole frame from the front of `buf` and returns its
    /// payload, or returns `Ok(None)` (leaving `buf` untouched) when more
    /// bytes are needed. Call it in a loop until it returns `Ok(None)`.
    ///
    /// # Errors
    ///
    /// [`FrameError`] when the prefix is negative or too large; `buf` is then
    /// left as it was and the connection should be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = buf.get(..LENGTH_PREFIX) else {
            return Ok(None);
        };
        let raw = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let len = usize::try_from(raw).map_err(|_| FrameError::NegativeLength(raw))?;
        if len > self.max_frame_size {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_frame_size,
            });
        }
        let total = LENGTH_PREFIX + len;
        if buf.len() < total {
            buf.reserve((total - buf.len()).min(MAX_RESERVE_AHEAD));
            return Ok(None);
        }
        buf.advance(LENGTH_PREFIX);
        Ok(Some(buf.split_to(len).freeze()))
    }
}

/// Prefixes `payload` with its length, ready to write to a socket.
///
/// # Errors
///
/// [`FrameError::TooLarge`] when `payload` does not fit an `i32` length
/// (2 GiB); no Kafka message may be that big, so split or shrink it.
pub fn encode_frame(payload: &[u8]) -> Result<Bytes, FrameError> {
    let len = i32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        len: payload.len(),
        max: i32::MAX as usize,
    })?;
    let mut out = BytesMut::with_capacity(LENGTH_PREFIX + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_negative_and_oversized_lengths() {
        let mut decoder = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(FrameError::NegativeLength(-1))
        );
        let mut buf = BytesMut::from(&17i32.to_be_bytes()[..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(FrameError::TooLarge { len: 17, max: 16 })
        );
        assert_eq!(buf.len(), 4, "a failed decode leaves the buffer alone");
    }

    #[test]
    fn empty_frame_is_a_frame() {
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0, 9][..]);
        assert_eq!(decoder.decode(&mut buf), Ok(Some(Bytes::new())));
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn huge_announced_frame_does_not_reserve_it_all() {
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::from(&(DEFAULT_MAX_FRAME_SIZE as i32).to_be_bytes()[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.capacity() <= LENGTH_PREFIX + MAX_RESERVE_AHEAD + 64);
    }

    proptest! {
        #[test]
        fn frames_split_anywhere_reassemble_exactly(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in proptest::collection::vec(1usize..64, 1..40),
        ) {
            let stream: Vec<u8> = payloads.iter().flat_map(|p| encode_frame(p).unwrap().to_vec()).collect();
            let mut decoder = FrameDecoder::new(1024);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut pos = 0;
            let mut cut = cuts.iter().cycle();
            while pos < stream.len() {
                let end = (pos + cut.next().copied().unwrap_or(1)).min(stream.len());
                buf.extend_from_slice(&stream[pos..end]);
                pos = end;
                while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                    got.push(frame.to_vec());
                }
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(got, payloads);
        }

        #[test]
        fn random_bytes_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
        ) {
            let mut decoder = FrameDecoder::new(4096);
            let mut buf = BytesMut::new();
            'outer: for chunk in chunks {
                buf.extend_from_slice(&chunk);
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Some(frame)) => prop_assert!(frame.len() <= 4096),
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        }
    }
}

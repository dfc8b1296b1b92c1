//! Request frames out, response frames in, through `kafka-protocol`.
//!
//! A frame is a 4-byte big-endian length, a header, then the body. Requests
//! are encoded whole into one buffer; responses are decoded against the
//! API and version their request was sent with, which only the connection's
//! in-flight queue knows (Kafka answers in request order).

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// The largest response frame accepted (a bound against a corrupt prefix).
pub(crate) const MAX_RESPONSE: usize = 256 * 1024 * 1024;

/// Why a frame could not be built or read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("could not encode {api:?} v{version}: {detail}")]
    Encode {
        api: ApiKey,
        version: i16,
        detail: String,
    },
    #[error("could not decode the {api:?} v{version} response: {detail}")]
    Decode {
        api: ApiKey,
        version: i16,
        detail: String,
    },
    #[error("response frame of {0} bytes is over the {MAX_RESPONSE}-byte limit")]
    TooLarge(usize),
    #[error("response for correlation id {got} arrived where {want} was expected")]
    OutOfOrder { got: i32, want: i32 },
}

/// Encodes `body` as a whole request frame, length prefix included.
pub(crate) fn request<R: Request>(
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &R,
) -> Result<Bytes, WireError> {
    let api = ApiKey::try_from(R::KEY).unwrap_or(ApiKey::ApiVersions);
    let encode_error = |detail: String| WireError::Encode {
        api,
        version,
        detail,
    };
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&[0; 4]);
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_owned())))
        .encode(&mut buf, api.request_header_version(version))
        .map_err(|e| encode_error(e.to_string()))?;
    body.encode(&mut buf, version)
        .map_err(|e| encode_error(e.to_string()))?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| encode_error("over 2 GiB".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Takes one whole frame's payload off the front of `buf`, if there is one.
pub(crate) fn take_frame(buf: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let len = usize::try_from(len).map_err(|_| WireError::TooLarge(usize::MAX))?;
    if len > MAX_RESPONSE {
        return Err(WireError::TooLarge(len));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// The correlation id at the front of a response payload (every response
/// header starts with it, whatever its version).
pub(crate) fn correlation_id(payload: &Bytes) -> Option<i32> {
    payload
        .get(..4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes a response payload (header and body) of `api` at `version`.
pub(crate) fn response<R: Decodable + HeaderVersion>(
    api: ApiKey,
    version: i16,
    mut payload: Bytes,
) -> Result<R, WireError> {
    let decode_error = |detail: String| WireError::Decode {
        api,
        version,
        detail,
    };
    ResponseHeader::decode(&mut payload, R::header_version(version))
        .map_err(|e| decode_error(e.to_string()))?;
    R::decode(&mut payload, version).map_err(|e| decode_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiVersionsRequest;

    #[test]
    fn frames_round_trip_and_split_at_whole_frames() {
        let frame = request(3, 7, "t", &ApiVersionsRequest::default()).unwrap();
        let mut buf = BytesMut::from(&frame[..frame.len() - 1]);
        assert!(take_frame(&mut buf).unwrap().is_none(), "one byte short");
        buf.extend_from_slice(&frame[frame.len() - 1..]);
        let payload = take_frame(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty());
        // A request header also starts with api key and version; skip them.
        assert_eq!(
            i16::from_be_bytes([payload[0], payload[1]]),
            ApiKey::ApiVersions as i16
        );
    }

    #[test]
    fn corrupt_length_prefixes_are_errors_not_allocations() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0][..]);
        assert!(matches!(take_frame(&mut buf), Err(WireError::TooLarge(_))));
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(take_frame(&mut buf).is_err());
    }

    proptest::proptest! {
        /// Whatever a broker (or a corrupt stream) sends, framing and
        /// decoding return a value or an error: never a panic, never an
        /// allocation sized by a bogus length prefix.
        #[test]
        fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(payload)) = take_frame(&mut buf) {
                let _ = correlation_id(&payload);
                for version in [0, 3, 9] {
                    let _ = response::<kafka_protocol::messages::ProduceResponse>(ApiKey::Produce, version, payload.clone());
                    let _ = response::<kafka_protocol::messages::MetadataResponse>(ApiKey::Metadata, version, payload.clone());
                    let _ = response::<kafka_protocol::messages::ApiVersionsResponse>(ApiKey::ApiVersions, version, payload.clone());
                }
            }
        }

        /// A well-formed frame split anywhere comes out whole, once.
        #[test]
        fn frames_survive_any_split(split in 0usize..64, id in proptest::prelude::any::<i32>()) {
            let frame = request(3, id, "split", &ApiVersionsRequest::default()).unwrap();
            let at = split.min(frame.len());
            let mut buf = BytesMut::from(&frame[..at]);
            let early = take_frame(&mut buf).unwrap();
            buf.extend_from_slice(&frame[at..]);
            let whole = early.or_else(|| take_frame(&mut buf).unwrap());
            proptest::prop_assert_eq!(whole.map(|p| p.len()), Some(frame.len() - 4));
            proptest::prop_assert!(buf.is_empty());
        }
    }
}

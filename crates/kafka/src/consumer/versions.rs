//! The versions of the consumer's APIs, negotiated with a broker's
//! ApiVersions answer as the producer's are (`client::requests::negotiate`).
//!
//! | API         | versions | floor because              | ceiling because             |
//! |-------------|----------|----------------------------|-----------------------------|
//! | Fetch       | 4–12     | v4: isolation level, aborted transactions | v13+ name topics by id only |
//! | ListOffsets | 1–7      | v1: one offset per partition | v8+ is tiered storage       |

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiKey;

const FETCH: (i16, i16) = (4, 12);
const LIST_OFFSETS: (i16, i16) = (1, 7);

/// The versions a consumer uses with one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConsumerVersions {
    pub(crate) fetch: i16,
    pub(crate) list_offsets: i16,
}

/// The highest version of each consumer API both sides support, or an
/// error naming the API the broker lacks.
pub(crate) fn negotiate(offered: &[ApiVersion]) -> Result<ConsumerVersions, String> {
    let pick = |api: ApiKey, (min, max): (i16, i16)| {
        let theirs = offered.iter().find(|v| v.api_key == api as i16);
        match theirs {
            Some(v) if v.max_version >= min && v.min_version <= max => Ok(v.max_version.min(max)),
            _ => Err(format!(
                "the broker does not support {api:?} in versions {min}..={max} (it offers {}); \
                 the consumer needs Kafka 0.11 or later",
                theirs.map_or("nothing".into(), |v| format!(
                    "{}..={}",
                    v.min_version, v.max_version
                ))
            )),
        }
    };
    Ok(ConsumerVersions {
        fetch: pick(ApiKey::Fetch, FETCH)?,
        list_offsets: pick(ApiKey::ListOffsets, LIST_OFFSETS)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(api: ApiKey, min: i16, max: i16) -> ApiVersion {
        ApiVersion::default()
            .with_api_key(api as i16)
            .with_min_version(min)
            .with_max_version(max)
    }

    #[test]
    fn picks_the_highest_common_version() {
        let v = negotiate(&[
            offer(ApiKey::Fetch, 0, 17),
            offer(ApiKey::ListOffsets, 0, 5),
        ])
        .unwrap();
        assert_eq!(
            v,
            ConsumerVersions {
                fetch: 12,
                list_offsets: 5
            }
        );
    }

    #[test]
    fn a_broker_without_a_usable_version_is_named() {
        let err =
            negotiate(&[offer(ApiKey::Fetch, 0, 3), offer(ApiKey::ListOffsets, 0, 7)]).unwrap_err();
        assert!(err.contains("Fetch") && err.contains("0..=3"), "{err}");
        let err = negotiate(&[offer(ApiKey::Fetch, 4, 12)]).unwrap_err();
        assert!(
            err.contains("ListOffsets") && err.contains("nothing"),
            "{err}"
        );
    }
}

//! Which APIs the mock serves, and at which versions.
//!
//! | API            | key | versions | flexible from | why the ceiling                  |
//! |----------------|-----|----------|---------------|----------------------------------|
//! | Produce        | 0   | 3–9      | 9             | v10+ add leader hints, v13 ids   |
//! | Fetch          | 1   | 4–12     | 12            | v13+ address topics by id only   |
//! | ListOffsets    | 2   | 1–7      | 6             | v8+ is tiered storage            |
//! | Metadata       | 3   | 0–12     | 9             | v13 only adds a top-level error  |
//! | OffsetCommit   | 8   | 2–8      | 8             | v9+ is the new group protocol    |
//! | OffsetFetch    | 9   | 1–7      | 6             | v8+ asks for several groups      |
//! | FindCoordinator| 10  | 0–4      | 3             | v5+ add transactions v2, shares  |
//! | JoinGroup      | 11  | 0–9      | 6             | all                              |
//! | Heartbeat      | 12  | 0–4      | 4             | all                              |
//! | LeaveGroup     | 13  | 0–5      | 4             | all                              |
//! | SyncGroup      | 14  | 0–5      | 4             | all                              |
//! | DescribeGroups | 15  | 0–5      | 5             | v6 only adds an error message    |
//! | ListGroups     | 16  | 0–4      | 3             | v5 filters by KIP-848 group type |
//! | ApiVersions    | 18  | 0–4      | 3             | all; v4 equals v3                |
//! | CreateTopics   | 19  | 2–7      | 5             | all                              |
//! | InitProducerId | 22  | 0–4      | 2             | v5+ are transactions v2          |
//! | SaslHandshake  | 17  | 0–1      | never         | all (served on SASL listeners)   |
//! | SaslAuthenticate | 36 | 0–2     | 2             | all (served on SASL listeners)   |
//!
//! Clients take, per API, the highest version both sides support. These
//! ranges were checked end to end (produce 1,000 records, idempotent and
//! compressed, then consume them) with kafka-python 2.0.2, 2.3.3 and 3.0.12
//! and librdkafka 2.16 (through a throwaway socket shim). The Java client
//! 3.x and 4.x should negotiate inside them as well; that is untested. The floors are those of the `kafka-protocol` crate (Kafka 4.0's
//! own floors); a request below them, or above what the crate knows, cannot
//! be decoded and closes its connection. A request inside the crate's range
//! but outside the table is answered with `UNSUPPORTED_VERSION`.
//!
//! Versions beyond the table are left out on purpose: they need topic ids
//! (Fetch 13+, Produce 13), tiered storage or transactions v2.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

/// One API the mock serves and the versions it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedApi {
    /// The API.
    pub key: ApiKey,
    /// Lowest version served.
    pub min: i16,
    /// Highest version served.
    pub max: i16,
}

impl SupportedApi {
    /// The range as the `kafka-protocol` crate spells it.
    pub fn range(&self) -> VersionRange {
        VersionRange {
            min: self.min,
            max: self.max,
        }
    }

    /// Whether `version` is served.
    pub fn contains(&self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

/// Every API the mock serves, in API-key order (the SASL ones last); the ApiVersions response
/// lists exactly these.
pub const SUPPORTED_APIS: &[SupportedApi] = &[
    api(ApiKey::Produce, 3, 9),
    api(ApiKey::Fetch, 4, 12),
    api(ApiKey::ListOffsets, 1, 7),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::OffsetCommit, 2, 8),
    api(ApiKey::OffsetFetch, 1, 7),
    api(ApiKey::FindCoordinator, 0, 4),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 5),
    api(ApiKey::ListGroups, 0, 4),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::InitProducerId, 0, 4),
    api(ApiKey::SaslHandshake, 0, 1),
    api(ApiKey::SaslAuthenticate, 0, 2),
];

const fn api(key: ApiKey, min: i16, max: i16) -> SupportedApi {
    SupportedApi { key, min, max }
}

/// The versions the mock serves for `key`, or `None` when it does not serve
/// the API at all.
pub fn supported(key: ApiKey) -> Option<SupportedApi> {
    SUPPORTED_APIS.iter().copied().find(|api| api.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_ranges_lie_inside_what_the_crate_can_encode() {
        for api in SUPPORTED_APIS {
            let crate_range = api.key.valid_versions();
            assert_eq!(
                api.range().intersect(&crate_range),
                api.range(),
                "{:?}",
                api.key
            );
        }
    }

    #[test]
    fn lookup() {
        assert_eq!(supported(ApiKey::Fetch).map(|a| a.max), Some(12));
        assert!(supported(ApiKey::DeleteGroups).is_none());
        assert!(supported(ApiKey::Produce).unwrap().contains(9));
        assert!(!supported(ApiKey::Produce).unwrap().contains(10));
    }
}

//! The versions a connection speaks, negotiated from the broker's
//! ApiVersions answer: a table for any [`ApiKey`], filled with the highest
//! version both sides support of each API the client [`Want`]s, plus the
//! layer's own (SaslHandshake, SaslAuthenticate).
//!
//! ```text
//!   client's wants (Produce 3..=9 required, ...) ─┐
//!   layer's wants (SASL, optional) ───────────────┼─► negotiate(offered) ─► VersionTable
//!   broker's ApiVersions answer (offered) ────────┘        │
//!                                     a required API missing: Unsupported (names it)
//! ```

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::ResponseError;

/// The ApiVersions version tried first; brokers that do not know it answer
/// UNSUPPORTED_VERSION at v0, and the request is repeated at v0.
pub(crate) const API_VERSIONS: i16 = 3;

/// The layer's own wants. SaslHandshake v1 (KIP-152): the exchange then
/// goes in SaslAuthenticate requests, v1 of which brings the session
/// lifetime (KIP-368). Optional: only a SASL connection needs them, and it
/// says so itself when they are missing.
const LAYER: &[Want] = &[
    Want::optional(ApiKey::SaslHandshake, 1, 1),
    Want::optional(ApiKey::SaslAuthenticate, 0, 2),
];

/// One API a client speaks, in versions `min..=max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    api: ApiKey,
    min: i16,
    max: i16,
    /// A broker without a usable version cannot serve the client.
    required: bool,
}

impl Want {
    /// An API the client cannot work without.
    pub(crate) const fn required(api: ApiKey, min: i16, max: i16) -> Want {
        Want {
            api,
            min,
            max,
            required: true,
        }
    }

    /// The lowest version the client speaks.
    pub(crate) const fn min(&self) -> i16 {
        self.min
    }

    /// An API the client uses when the broker has it.
    pub(crate) const fn optional(api: ApiKey, min: i16, max: i16) -> Want {
        Want {
            api,
            min,
            max,
            required: false,
        }
    }
}

/// Why a broker cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("broker does not support {api:?} in versions {min}..={max} (it offers {offered})")]
pub(crate) struct Unsupported {
    api: ApiKey,
    min: i16,
    max: i16,
    offered: String,
}

/// The versions agreed with one broker, by API. Small (a client wants a
/// handful of APIs), so a linear scan beats hashing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VersionTable {
    agreed: Vec<(ApiKey, i16)>,
}

impl VersionTable {
    /// The highest version of each wanted API both sides support; an API
    /// the broker lacks is left out, or, if `required`, refuses the broker.
    pub(crate) fn negotiate(
        offered: &[ApiVersion],
        wants: &[Want],
    ) -> Result<VersionTable, Unsupported> {
        let mut agreed = Vec::with_capacity(wants.len() + LAYER.len());
        for want in wants.iter().chain(LAYER) {
            let theirs = offered.iter().find(|v| v.api_key == want.api as i16);
            match theirs {
                Some(v) if v.max_version >= want.min && v.min_version <= want.max => {
                    agreed.push((want.api, v.max_version.min(want.max)));
                }
                _ if !want.required => {}
                _ => {
                    return Err(Unsupported {
                        api: want.api,
                        min: want.min,
                        max: want.max,
                        offered: theirs.map_or("nothing".into(), |v| {
                            format!("{}..={}", v.min_version, v.max_version)
                        }),
                    })
                }
            }
        }
        Ok(VersionTable { agreed })
    }

    /// The version agreed for `api`; `None` if the broker lacks it (or it
    /// was not wanted). A required API is always there.
    pub(crate) fn get(&self, api: ApiKey) -> Option<i16> {
        self.agreed.iter().find(|(a, _)| *a == api).map(|(_, v)| *v)
    }
}

/// What an ApiVersions answer means for a connection.
#[derive(Debug)]
pub(crate) enum Negotiated {
    /// Use these versions.
    Versions(VersionTable),
    /// An older broker answered at v0: ask again at v0.
    AskAtV0,
}

/// The versions to use with the broker that sent `response` to a request
/// at `version`; `Err` says why the broker cannot be used.
pub(crate) fn api_versions(
    response: &ApiVersionsResponse,
    version: i16,
    wants: &[Want],
) -> Result<Negotiated, String> {
    if response.error_code == ResponseError::UnsupportedVersion.code() && version > 0 {
        return Ok(Negotiated::AskAtV0);
    }
    if response.error_code != 0 {
        return Err(format!(
            "ApiVersions failed with error code {}",
            response.error_code
        ));
    }
    VersionTable::negotiate(&response.api_keys, wants)
        .map(Negotiated::Versions)
        .map_err(|e| e.to_string())
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

    const WANTS: &[Want] = &[
        Want::required(ApiKey::Fetch, 4, 12),
        Want::optional(ApiKey::OffsetCommit, 2, 8),
    ];

    #[test]
    fn the_table_holds_the_highest_common_version_of_each_api_offered() {
        let table = VersionTable::negotiate(
            &[
                offer(ApiKey::Fetch, 0, 17),
                offer(ApiKey::OffsetCommit, 0, 5),
                offer(ApiKey::SaslHandshake, 0, 1),
                offer(ApiKey::Produce, 0, 11),
            ],
            WANTS,
        )
        .unwrap();
        assert_eq!(table.get(ApiKey::Fetch), Some(12));
        assert_eq!(table.get(ApiKey::OffsetCommit), Some(5));
        assert_eq!(table.get(ApiKey::SaslHandshake), Some(1), "the layer's own");
        assert_eq!(table.get(ApiKey::SaslAuthenticate), None, "not offered");
        assert_eq!(table.get(ApiKey::Produce), None, "offered, not wanted");
    }

    #[test]
    fn an_optional_api_out_of_range_is_left_out_and_a_required_one_refuses() {
        let table = VersionTable::negotiate(
            &[
                offer(ApiKey::Fetch, 4, 4),
                offer(ApiKey::OffsetCommit, 9, 9),
            ],
            WANTS,
        )
        .unwrap();
        assert_eq!(table.get(ApiKey::OffsetCommit), None);
        let error = VersionTable::negotiate(&[offer(ApiKey::Fetch, 13, 17)], WANTS)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Fetch") && error.contains("13..=17"),
            "{error}"
        );
    }

    #[test]
    fn an_old_broker_is_asked_again_at_v0() {
        let refused = ApiVersionsResponse::default()
            .with_error_code(ResponseError::UnsupportedVersion.code());
        assert!(matches!(
            api_versions(&refused, API_VERSIONS, WANTS),
            Ok(Negotiated::AskAtV0)
        ));
        assert!(api_versions(&refused, 0, WANTS).is_err());
    }
}

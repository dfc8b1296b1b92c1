//! The versions of the consumer's APIs, negotiated with a broker's
//! ApiVersions answer into the connection layer's table
//! (`net::VersionTable`), as the producer's are.
//!
//! | API         | versions | floor because              | ceiling because             |
//! |-------------|----------|----------------------------|-----------------------------|
//! | Fetch       | 4–12     | v4: isolation level, aborted transactions | v13+ name topics by id only |
//! | ListOffsets | 1–7      | v1: one offset per partition | v8+ is tiered storage       |
//! | OffsetCommit | 2–8     | kafka-protocol's floor     | v9+ is the new group protocol |
//! | OffsetFetch | 1–7      | kafka-protocol's floor     | v8+ asks for several groups |
//! | FindCoordinator | 0–4  | all                        | v5+ transactions v2, shares |
//! | Metadata    | 1–12     | as the producer            | as the producer             |
//! | JoinGroup   | 4–9      | v4: member id first (KIP-394) | kafka-protocol's ceiling |
//! | SyncGroup   | 3–5      | v3: group.instance.id      | kafka-protocol's ceiling    |
//! | Heartbeat   | 3–4      | v3: group.instance.id      | kafka-protocol's ceiling    |
//! | LeaveGroup  | 0–5      | all                        | kafka-protocol's ceiling    |
//!
//! The group APIs are optional: a broker without them serves a consumer
//! without a `group.id`.

use kafka_protocol::messages::ApiKey;

use crate::net::{VersionTable, Want};

/// The consumer's APIs, as the connection layer negotiates them on each
/// connection (`NetSettings::wants`).
pub(crate) const WANTS: &[Want] = &[
    Want::required(ApiKey::Fetch, 4, 12),
    Want::required(ApiKey::ListOffsets, 1, 7),
    Want::optional(ApiKey::OffsetCommit, 2, 8),
    Want::optional(ApiKey::OffsetFetch, 1, 7),
    Want::optional(ApiKey::FindCoordinator, 0, 4),
    // Leaders and their epochs (v7+) for the assigned topics.
    Want::required(ApiKey::Metadata, 1, 12),
    // Group membership (subscribe): JoinGroup from v4, where a new member
    // must ask for its id first (KIP-394); SyncGroup and Heartbeat from v3
    // (group.instance.id, KIP-345).
    Want::optional(ApiKey::JoinGroup, 4, 9),
    Want::optional(ApiKey::SyncGroup, 3, 5),
    Want::optional(ApiKey::Heartbeat, 3, 4),
    Want::optional(ApiKey::LeaveGroup, 0, 5),
];

/// The versions a consumer uses with one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConsumerVersions {
    pub(crate) fetch: i16,
    pub(crate) list_offsets: i16,
    /// `None` when the broker has no usable version (no commits then).
    pub(crate) offset_commit: Option<i16>,
    pub(crate) offset_fetch: Option<i16>,
    pub(crate) find_coordinator: Option<i16>,
    pub(crate) metadata: i16,
    /// The group membership APIs (`None`: the broker cannot serve
    /// `subscribe`).
    pub(crate) join_group: Option<i16>,
    pub(crate) sync_group: Option<i16>,
    pub(crate) heartbeat: Option<i16>,
    pub(crate) leave_group: Option<i16>,
}

impl ConsumerVersions {
    /// The consumer's view of a connection's table negotiated with
    /// [`WANTS`] (whose required APIs it always holds; a table without
    /// them, not yet negotiated, reads as their floor).
    pub(crate) fn of(table: &VersionTable) -> ConsumerVersions {
        ConsumerVersions {
            fetch: table.get(ApiKey::Fetch).unwrap_or(WANTS[0].min()),
            list_offsets: table.get(ApiKey::ListOffsets).unwrap_or(WANTS[1].min()),
            offset_commit: table.get(ApiKey::OffsetCommit),
            offset_fetch: table.get(ApiKey::OffsetFetch),
            find_coordinator: table.get(ApiKey::FindCoordinator),
            metadata: table.get(ApiKey::Metadata).unwrap_or(WANTS[5].min()),
            join_group: table.get(ApiKey::JoinGroup),
            sync_group: table.get(ApiKey::SyncGroup),
            heartbeat: table.get(ApiKey::Heartbeat),
            leave_group: table.get(ApiKey::LeaveGroup),
        }
    }
}

/// The highest version of each consumer API both sides support, or an
/// error naming the API the broker lacks.
#[cfg(test)] // the poller negotiates through net's table; the test driver calls this
pub(crate) fn negotiate(
    offered: &[kafka_protocol::messages::api_versions_response::ApiVersion],
) -> Result<ConsumerVersions, String> {
    VersionTable::negotiate(offered, WANTS)
        .map(|table| ConsumerVersions::of(&table))
        .map_err(|e| format!("{e}; the consumer needs Kafka 0.11 or later"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;

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
            offer(ApiKey::OffsetCommit, 2, 9),
            offer(ApiKey::OffsetFetch, 0, 9),
            offer(ApiKey::FindCoordinator, 0, 6),
            offer(ApiKey::Metadata, 0, 13),
        ])
        .unwrap();
        let want = ConsumerVersions {
            fetch: 12,
            list_offsets: 5,
            offset_commit: Some(8),
            offset_fetch: Some(7),
            find_coordinator: Some(4),
            metadata: 12,
            join_group: None,
            sync_group: None,
            heartbeat: None,
            leave_group: None,
        };
        assert_eq!(v, want);
        let without_groups = negotiate(&[
            offer(ApiKey::Fetch, 4, 12),
            offer(ApiKey::ListOffsets, 1, 7),
            offer(ApiKey::Metadata, 1, 12),
        ])
        .unwrap();
        assert_eq!(without_groups.offset_commit, None);
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

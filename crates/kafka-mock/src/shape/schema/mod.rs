//! Request schemas of every served API, for the full version range the
//! `kafka-protocol` crate decodes (so out-of-range versions can still be
//! decoded safely and answered with `UNSUPPORTED_VERSION`).
//!
//! Transcribed from the crate's generated `decode` functions (and Kafka's
//! JSON message specs). Tagged fields are skipped by size: none of the
//! served requests carries an array inside a tagged field.
//!
//! The dispatcher refuses to decode a request whose API has no schema here,
//! and a test checks every entry of [`crate::versions::SUPPORTED_APIS`] has
//! one, so serving a new API without describing its shape fails loudly.

mod cluster;
mod group;
mod produce_fetch;
mod sasl;

use kafka_protocol::messages::ApiKey;

/// The wire type of one field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Int8,
    Bool,
    Int16,
    Int32,
    Int64,
    Uuid,
    /// `STRING`, `COMPACT_STRING` or their nullable forms.
    String,
    /// `BYTES`, `COMPACT_BYTES`, `RECORDS` or their nullable forms.
    Bytes,
    /// An array of `INT32`.
    ArrayInt32,
    /// An array of strings (`[]string`, e.g. DescribeGroups' group ids).
    ArrayString,
    /// An array of structs.
    Array(&'static Struct),
}

/// One field and the versions that carry it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) kind: Kind,
    pub(crate) since: i16,
    pub(crate) until: i16,
}

impl Field {
    pub(crate) fn present_in(&self, version: i16) -> bool {
        (self.since..=self.until).contains(&version)
    }
}

/// A struct: its fields in wire order and the first flexible version.
#[derive(Debug)]
pub(crate) struct Struct {
    pub(crate) flexible_from: i16,
    pub(crate) fields: &'static [Field],
}

impl Struct {
    /// The fewest bytes one instance can occupy at `version`: used to bound
    /// how many elements an array can truthfully announce.
    pub(crate) fn min_size(&self, version: i16) -> usize {
        let flexible = version >= self.flexible_from;
        let fields: usize = self
            .fields
            .iter()
            .filter(|f| f.present_in(version))
            .map(|f| match f.kind {
                Kind::Int8 | Kind::Bool => 1,
                Kind::Int16 => 2,
                Kind::Int32 => 4,
                Kind::Int64 => 8,
                Kind::Uuid => 16,
                // A compact length is one varint byte; classic ones are fixed.
                Kind::String if flexible => 1,
                Kind::String => 2,
                Kind::Bytes | Kind::ArrayInt32 | Kind::ArrayString | Kind::Array(_) if flexible => {
                    1
                }
                Kind::Bytes | Kind::ArrayInt32 | Kind::ArrayString | Kind::Array(_) => 4,
            })
            .sum();
        fields + usize::from(flexible)
    }
}

const ALL: i16 = i16::MAX;

const fn f(kind: Kind, since: i16, until: i16) -> Field {
    Field { kind, since, until }
}

/// The schema of `key`'s request body, for the APIs the mock serves;
/// `None` for any other API.
pub(crate) fn request_schema(key: ApiKey) -> Option<&'static Struct> {
    Some(match key {
        ApiKey::ApiVersions => &cluster::API_VERSIONS,
        ApiKey::Metadata => &cluster::METADATA,
        ApiKey::CreateTopics => &cluster::CREATE_TOPICS,
        ApiKey::Produce => &produce_fetch::PRODUCE,
        ApiKey::Fetch => &produce_fetch::FETCH,
        ApiKey::ListOffsets => &produce_fetch::LIST_OFFSETS,
        ApiKey::InitProducerId => &produce_fetch::INIT_PRODUCER_ID,
        ApiKey::FindCoordinator => &group::FIND_COORDINATOR,
        ApiKey::OffsetCommit => &group::OFFSET_COMMIT,
        ApiKey::OffsetFetch => &group::OFFSET_FETCH,
        ApiKey::JoinGroup => &group::JOIN_GROUP,
        ApiKey::SyncGroup => &group::SYNC_GROUP,
        ApiKey::Heartbeat => &group::HEARTBEAT,
        ApiKey::LeaveGroup => &group::LEAVE_GROUP,
        ApiKey::DescribeGroups => &group::DESCRIBE_GROUPS,
        ApiKey::ListGroups => &group::LIST_GROUPS,
        ApiKey::SaslHandshake => &sasl::SASL_HANDSHAKE,
        ApiKey::SaslAuthenticate => &sasl::SASL_AUTHENTICATE,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::SUPPORTED_APIS;

    #[test]
    fn every_served_api_has_a_schema() {
        let missing: Vec<ApiKey> = SUPPORTED_APIS
            .iter()
            .map(|api| api.key)
            .filter(|key| request_schema(*key).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "served APIs without a request schema: {missing:?}"
        );
    }
}

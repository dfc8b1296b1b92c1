//! Request schemas of the served APIs, for the full version range the
//! `kafka-protocol` crate decodes (so out-of-range versions can still be
//! decoded safely and answered with `UNSUPPORTED_VERSION`).
//!
//! Transcribed from the crate's generated `decode` functions (and Kafka's
//! JSON message specs). Tagged fields are skipped by size: none of the
//! served requests carries an array inside a tagged field.

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
                Kind::Bytes | Kind::ArrayInt32 | Kind::Array(_) if flexible => 1,
                Kind::Bytes | Kind::ArrayInt32 | Kind::Array(_) => 4,
            })
            .sum();
        fields + usize::from(flexible)
    }
}

const ALL: i16 = i16::MAX;

const fn f(kind: Kind, since: i16, until: i16) -> Field {
    Field { kind, since, until }
}

/// The schema of `key`'s request body, for the APIs the mock serves.
pub(crate) fn request_schema(key: ApiKey) -> Option<&'static Struct> {
    Some(match key {
        ApiKey::ApiVersions => &API_VERSIONS,
        ApiKey::Metadata => &METADATA,
        ApiKey::Produce => &PRODUCE,
        ApiKey::Fetch => &FETCH,
        ApiKey::ListOffsets => &LIST_OFFSETS,
        ApiKey::InitProducerId => &INIT_PRODUCER_ID,
        ApiKey::CreateTopics => &CREATE_TOPICS,
        _ => return None,
    })
}

static API_VERSIONS: Struct = Struct {
    flexible_from: 3,
    fields: &[f(Kind::String, 3, ALL), f(Kind::String, 3, ALL)],
};

static METADATA: Struct = Struct {
    flexible_from: 9,
    fields: &[
        f(Kind::Array(&METADATA_TOPIC), 0, ALL),
        f(Kind::Bool, 4, ALL), // allow_auto_topic_creation
        f(Kind::Bool, 8, 10),  // include_cluster_authorized_operations
        f(Kind::Bool, 8, ALL), // include_topic_authorized_operations
    ],
};
static METADATA_TOPIC: Struct = Struct {
    flexible_from: 9,
    fields: &[f(Kind::Uuid, 10, ALL), f(Kind::String, 0, ALL)],
};

static PRODUCE: Struct = Struct {
    flexible_from: 9,
    fields: &[
        f(Kind::String, 0, ALL), // transactional_id
        f(Kind::Int16, 0, ALL),  // acks
        f(Kind::Int32, 0, ALL),  // timeout_ms
        f(Kind::Array(&PRODUCE_TOPIC), 0, ALL),
    ],
};
static PRODUCE_TOPIC: Struct = Struct {
    flexible_from: 9,
    fields: &[
        f(Kind::String, 0, 12),
        f(Kind::Uuid, 13, ALL),
        f(Kind::Array(&PRODUCE_PARTITION), 0, ALL),
    ],
};
static PRODUCE_PARTITION: Struct = Struct {
    flexible_from: 9,
    fields: &[f(Kind::Int32, 0, ALL), f(Kind::Bytes, 0, ALL)],
};

static FETCH: Struct = Struct {
    flexible_from: 12,
    fields: &[
        f(Kind::Int32, 0, 14),  // replica_id
        f(Kind::Int32, 0, ALL), // max_wait_ms
        f(Kind::Int32, 0, ALL), // min_bytes
        f(Kind::Int32, 3, ALL), // max_bytes
        f(Kind::Int8, 4, ALL),  // isolation_level
        f(Kind::Int32, 7, ALL), // session_id
        f(Kind::Int32, 7, ALL), // session_epoch
        f(Kind::Array(&FETCH_TOPIC), 0, ALL),
        f(Kind::Array(&FETCH_FORGOTTEN), 7, ALL),
        f(Kind::String, 11, ALL), // rack_id
    ],
};
static FETCH_TOPIC: Struct = Struct {
    flexible_from: 12,
    fields: &[
        f(Kind::String, 0, 12),
        f(Kind::Uuid, 13, ALL),
        f(Kind::Array(&FETCH_PARTITION), 0, ALL),
    ],
};
static FETCH_PARTITION: Struct = Struct {
    flexible_from: 12,
    fields: &[
        f(Kind::Int32, 0, ALL),  // partition
        f(Kind::Int32, 9, ALL),  // current_leader_epoch
        f(Kind::Int64, 0, ALL),  // fetch_offset
        f(Kind::Int32, 12, ALL), // last_fetched_epoch
        f(Kind::Int64, 5, ALL),  // log_start_offset
        f(Kind::Int32, 0, ALL),  // partition_max_bytes
    ],
};
static FETCH_FORGOTTEN: Struct = Struct {
    flexible_from: 12,
    fields: &[
        f(Kind::String, 7, 12),
        f(Kind::Uuid, 13, ALL),
        f(Kind::ArrayInt32, 7, ALL),
    ],
};

static LIST_OFFSETS: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::Int32, 0, ALL), // replica_id
        f(Kind::Int8, 2, ALL),  // isolation_level
        f(Kind::Array(&LIST_OFFSETS_TOPIC), 0, ALL),
        f(Kind::Int32, 10, ALL), // timeout_ms
    ],
};
static LIST_OFFSETS_TOPIC: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::String, 0, ALL),
        f(Kind::Array(&LIST_OFFSETS_PARTITION), 0, ALL),
    ],
};
static LIST_OFFSETS_PARTITION: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::Int32, 0, ALL), // partition_index
        f(Kind::Int32, 4, ALL), // current_leader_epoch
        f(Kind::Int64, 0, ALL), // timestamp
    ],
};

static INIT_PRODUCER_ID: Struct = Struct {
    flexible_from: 2,
    fields: &[
        f(Kind::String, 0, ALL), // transactional_id
        f(Kind::Int32, 0, ALL),  // transaction_timeout_ms
        f(Kind::Int64, 3, ALL),  // producer_id
        f(Kind::Int16, 3, ALL),  // producer_epoch
    ],
};

static CREATE_TOPICS: Struct = Struct {
    flexible_from: 5,
    fields: &[
        f(Kind::Array(&CREATABLE_TOPIC), 0, ALL),
        f(Kind::Int32, 0, ALL), // timeout_ms
        f(Kind::Bool, 1, ALL),  // validate_only
    ],
};
static CREATABLE_TOPIC: Struct = Struct {
    flexible_from: 5,
    fields: &[
        f(Kind::String, 0, ALL), // name
        f(Kind::Int32, 0, ALL),  // num_partitions
        f(Kind::Int16, 0, ALL),  // replication_factor
        f(Kind::Array(&CREATABLE_ASSIGNMENT), 0, ALL),
        f(Kind::Array(&CREATABLE_CONFIG), 0, ALL),
    ],
};
static CREATABLE_ASSIGNMENT: Struct = Struct {
    flexible_from: 5,
    fields: &[f(Kind::Int32, 0, ALL), f(Kind::ArrayInt32, 0, ALL)],
};
static CREATABLE_CONFIG: Struct = Struct {
    flexible_from: 5,
    fields: &[f(Kind::String, 0, ALL), f(Kind::String, 0, ALL)],
};

//! Schemas of the cluster-level requests: ApiVersions, Metadata and
//! CreateTopics.

use super::{f, Kind, Struct, ALL};

pub(super) static API_VERSIONS: Struct = Struct {
    flexible_from: 3,
    fields: &[f(Kind::String, 3, ALL), f(Kind::String, 3, ALL)],
};

pub(super) static METADATA: Struct = Struct {
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

pub(super) static CREATE_TOPICS: Struct = Struct {
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

//! Schemas of the group coordinator's requests: FindCoordinator,
//! OffsetCommit, OffsetFetch, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! DescribeGroups and ListGroups.
//!
//! Each `since`/`until` pair is the version condition of the crate's
//! generated decoder for that field; nullable strings and arrays need no
//! marker of their own (the walker treats length -1 as null everywhere).

use super::{f, Kind, Struct, ALL};

pub(super) static FIND_COORDINATOR: Struct = Struct {
    flexible_from: 3,
    fields: &[
        f(Kind::String, 0, 3),        // key
        f(Kind::Int8, 1, ALL),        // key_type
        f(Kind::ArrayString, 4, ALL), // coordinator_keys
    ],
};

pub(super) static OFFSET_COMMIT: Struct = Struct {
    flexible_from: 8,
    fields: &[
        f(Kind::String, 0, ALL), // group_id
        f(Kind::Int32, 0, ALL),  // generation_id_or_member_epoch
        f(Kind::String, 0, ALL), // member_id
        f(Kind::String, 7, ALL), // group_instance_id
        f(Kind::Int64, 0, 4),    // retention_time_ms
        f(Kind::Array(&OFFSET_COMMIT_TOPIC), 0, ALL),
    ],
};
static OFFSET_COMMIT_TOPIC: Struct = Struct {
    flexible_from: 8,
    fields: &[
        f(Kind::String, 0, ALL), // name
        f(Kind::Array(&OFFSET_COMMIT_PARTITION), 0, ALL),
    ],
};
static OFFSET_COMMIT_PARTITION: Struct = Struct {
    flexible_from: 8,
    fields: &[
        f(Kind::Int32, 0, ALL),  // partition_index
        f(Kind::Int64, 0, ALL),  // committed_offset
        f(Kind::Int32, 6, ALL),  // committed_leader_epoch
        f(Kind::String, 0, ALL), // committed_metadata
    ],
};

pub(super) static OFFSET_FETCH: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::String, 0, 7), // group_id
        f(Kind::Array(&OFFSET_FETCH_TOPIC), 0, 7),
        f(Kind::Array(&OFFSET_FETCH_GROUP), 8, ALL),
        f(Kind::Bool, 7, ALL), // require_stable
    ],
};
static OFFSET_FETCH_TOPIC: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::String, 0, 7),     // name
        f(Kind::ArrayInt32, 0, 7), // partition_indexes
    ],
};
static OFFSET_FETCH_GROUP: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::String, 8, ALL), // group_id
        f(Kind::String, 9, ALL), // member_id
        f(Kind::Int32, 9, ALL),  // member_epoch
        f(Kind::Array(&OFFSET_FETCH_GROUP_TOPIC), 8, ALL),
    ],
};
static OFFSET_FETCH_GROUP_TOPIC: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::String, 8, ALL),     // name
        f(Kind::ArrayInt32, 8, ALL), // partition_indexes
    ],
};

pub(super) static JOIN_GROUP: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::String, 0, ALL), // group_id
        f(Kind::Int32, 0, ALL),  // session_timeout_ms
        f(Kind::Int32, 1, ALL),  // rebalance_timeout_ms
        f(Kind::String, 0, ALL), // member_id
        f(Kind::String, 5, ALL), // group_instance_id
        f(Kind::String, 0, ALL), // protocol_type
        f(Kind::Array(&JOIN_GROUP_PROTOCOL), 0, ALL),
        f(Kind::String, 8, ALL), // reason
    ],
};
static JOIN_GROUP_PROTOCOL: Struct = Struct {
    flexible_from: 6,
    fields: &[
        f(Kind::String, 0, ALL), // name
        f(Kind::Bytes, 0, ALL),  // metadata
    ],
};

pub(super) static SYNC_GROUP: Struct = Struct {
    flexible_from: 4,
    fields: &[
        f(Kind::String, 0, ALL), // group_id
        f(Kind::Int32, 0, ALL),  // generation_id
        f(Kind::String, 0, ALL), // member_id
        f(Kind::String, 3, ALL), // group_instance_id
        f(Kind::String, 5, ALL), // protocol_type
        f(Kind::String, 5, ALL), // protocol_name
        f(Kind::Array(&SYNC_GROUP_ASSIGNMENT), 0, ALL),
    ],
};
static SYNC_GROUP_ASSIGNMENT: Struct = Struct {
    flexible_from: 4,
    fields: &[
        f(Kind::String, 0, ALL), // member_id
        f(Kind::Bytes, 0, ALL),  // assignment
    ],
};

pub(super) static HEARTBEAT: Struct = Struct {
    flexible_from: 4,
    fields: &[
        f(Kind::String, 0, ALL), // group_id
        f(Kind::Int32, 0, ALL),  // generation_id
        f(Kind::String, 0, ALL), // member_id
        f(Kind::String, 3, ALL), // group_instance_id
    ],
};

pub(super) static LEAVE_GROUP: Struct = Struct {
    flexible_from: 4,
    fields: &[
        f(Kind::String, 0, ALL), // group_id
        f(Kind::String, 0, 2),   // member_id
        f(Kind::Array(&LEAVE_GROUP_MEMBER), 3, ALL),
    ],
};
static LEAVE_GROUP_MEMBER: Struct = Struct {
    flexible_from: 4,
    fields: &[
        f(Kind::String, 3, ALL), // member_id
        f(Kind::String, 3, ALL), // group_instance_id
        f(Kind::String, 5, ALL), // reason
    ],
};

pub(super) static DESCRIBE_GROUPS: Struct = Struct {
    flexible_from: 5,
    fields: &[
        f(Kind::ArrayString, 0, ALL), // groups
        f(Kind::Bool, 3, ALL),        // include_authorized_operations
    ],
};

pub(super) static LIST_GROUPS: Struct = Struct {
    flexible_from: 3,
    fields: &[
        f(Kind::ArrayString, 4, ALL), // states_filter
        f(Kind::ArrayString, 5, ALL), // types_filter
    ],
};

//! Schemas of the data-path requests: Produce, Fetch, ListOffsets and
//! InitProducerId.

use super::{f, Kind, Struct, ALL};

pub(super) static PRODUCE: Struct = Struct {
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

pub(super) static FETCH: Struct = Struct {
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

pub(super) static LIST_OFFSETS: Struct = Struct {
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

pub(super) static INIT_PRODUCER_ID: Struct = Struct {
    flexible_from: 2,
    fields: &[
        f(Kind::String, 0, ALL), // transactional_id
        f(Kind::Int32, 0, ALL),  // transaction_timeout_ms
        f(Kind::Int64, 3, ALL),  // producer_id
        f(Kind::Int16, 3, ALL),  // producer_epoch
    ],
};

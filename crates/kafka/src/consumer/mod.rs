//! The consumer's I/O-free core: what a consumer poller will drive.
//!
//! * [`ConsumerRecord`]: a record as `poll` hands it out;
//! * `decode`: record batches of a Fetch response into records (every
//!   codec, CRC, control batches, aborted transactions, compaction gaps);
//! * `positions`: per-partition state (assignment, position, pause, resets,
//!   the prefetch buffer `poll` drains);
//! * `fetch`, `list_offsets`: requests built from that state and verdicts
//!   on the answers; `group`: FindCoordinator, OffsetCommit and OffsetFetch
//!   for a group's committed offsets; `versions`: which versions to speak.
//!
//! docs/consumer.md in the repository describes the design and what the
//! poller will wire up.

pub(crate) mod assignor;
mod auto_commit;
mod client;
mod commit;
mod consumer_error;
mod decode;
mod error;
mod fetch;
mod group;
mod list_offsets;
mod listener;
mod membership;
#[cfg(test)]
mod mock_tests;
mod poller;
mod positions;
#[cfg(test)]
mod python_tests;
mod record;
mod shared;
mod stats;
mod subscribe;
#[cfg(test)]
mod tansu_tests;
#[cfg(test)]
mod test_batches;
#[cfg(test)]
mod test_driver;
mod versions;

pub use client::Consumer;
pub use consumer_error::ConsumerError;
pub use listener::ConsumerRebalanceListener;
pub use record::{ConsumerRecord, TimestampType};
pub use stats::{ConsumerStats, PartitionStats};

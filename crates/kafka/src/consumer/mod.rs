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

// Until the consumer poller (issue 16's next step) calls this core, only tests do.
#![cfg_attr(not(test), allow(dead_code))]

mod decode;
mod error;
mod fetch;
mod group;
mod list_offsets;
#[cfg(test)]
mod mock_tests;
mod positions;
#[cfg(test)]
mod python_tests;
mod record;
#[cfg(test)]
mod tansu_tests;
#[cfg(test)]
mod test_batches;
#[cfg(test)]
mod test_driver;
mod versions;

pub use record::{ConsumerRecord, TimestampType};

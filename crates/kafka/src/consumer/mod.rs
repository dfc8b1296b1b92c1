//! The consumer's I/O-free core: what a consumer poller will drive.
//!
//! * [`ConsumerRecord`]: a record as `poll` hands it out;
//! * `decode`: record batches of a Fetch response into records (every
//!   codec, CRC, control batches, aborted transactions, compaction gaps);
//!
//! docs/consumer.md in the repository describes the design and what the
//! poller will wire up.

// The consumer poller (the next step, issue 16) is what calls this core;
// until it exists only the tests do.
#![cfg_attr(not(test), allow(dead_code))]

mod decode;
mod record;

pub use record::{ConsumerRecord, TimestampType};

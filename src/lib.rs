//! Rouse: wake a thread blocked in a poller at once.
//!
//! This facade re-exports every crate of the workspace, so the examples in
//! `examples/` run from the repository root; each crate is usable on its
//! own.

#![forbid(unsafe_code)]

pub use rouse_kafka as kafka;
pub use rouse_kafka_mock as kafka_mock;
pub use rouse_reactor as reactor;
pub use rouse_timer as timer;
pub use rouse_waker as waker;

//! Rouse: wake a thread blocked in a poller at once.
//!
//! This facade re-exports the workspace's crates so the examples in
//! `examples/` run from the repository root; each crate is usable on its own.

pub use rouse_reactor as reactor;
pub use rouse_timer as timer;
pub use rouse_waker as waker;

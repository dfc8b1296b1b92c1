//! Atomics used by the wake protocol: `std`'s normally, `loom`'s under
//! `--cfg loom` so the model tests in `loom_tests.rs` explore every
//! interleaving of the real code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

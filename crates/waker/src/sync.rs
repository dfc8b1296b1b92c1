//! Atomics used by the wake protocol: `std`'s normally, `loom`'s under
//! `--cfg loom` so the model tests in `tests/loom.rs` explore every
//! interleaving of the real code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicU8, Ordering};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

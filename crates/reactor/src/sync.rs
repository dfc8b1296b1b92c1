//! The atomics, lock and thread calls the loop shares with other threads,
//! behind one name so that loom can check the code that uses them: std's and
//! parking_lot's normally, loom's under `--cfg loom` (the models in
//! `loom_tests.rs` then run the production code of `lifecycle.rs` and
//! `watchdog.rs`).
//!
//! Under loom there is no clock: a timed park waits until unparked, so a
//! model deadlocks exactly where an unpark would be missed (in production
//! that would cost up to one timeout of delay, not a hang).

#[cfg(not(loom))]
pub(crate) use parking_lot::Mutex;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64};
#[cfg(not(loom))]
pub(crate) use std::thread::{self, park_timeout};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64};
#[cfg(loom)]
pub(crate) use loom::thread;
#[cfg(loom)]
pub(crate) use shim::{park_timeout, Mutex};

#[cfg(loom)]
mod shim {
    use std::time::Duration;

    /// loom's park: no clock, so it waits for an unpark.
    pub(crate) fn park_timeout(_timeout: Duration) {
        loom::thread::park();
    }

    /// loom's mutex with parking_lot's `lock()` (no poisoning).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().expect("no poisoning in models")
        }
    }
}

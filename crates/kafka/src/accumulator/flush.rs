//! [`Flush`]: waiting until every batch that existed when a flush began
//! has ended.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Accumulator;

/// A flush in progress; see [`Accumulator::begin_flush`].
#[derive(Debug)]
pub struct Flush<'a> {
    pub(super) accumulator: &'a Accumulator,
    /// Batches with a smaller id existed when the flush began.
    pub(super) upto: u64,
}

impl Flush<'_> {
    /// Blocks until every batch opened before the flush began has ended, or
    /// `timeout` passes (`None`: no limit). Returns whether they all ended.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let shared = &self.accumulator.shared;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut incomplete = shared.incomplete.lock();
        loop {
            if incomplete.first().map_or(true, |&id| id >= self.upto) {
                return true;
            }
            match deadline {
                Some(deadline) => {
                    if shared
                        .batch_ended
                        .wait_until(&mut incomplete, deadline)
                        .timed_out()
                    {
                        return incomplete.first().map_or(true, |&id| id >= self.upto);
                    }
                }
                None => shared.batch_ended.wait(&mut incomplete),
            }
        }
    }
}

impl Drop for Flush<'_> {
    fn drop(&mut self) {
        self.accumulator.flushes.fetch_sub(1, Ordering::SeqCst);
    }
}

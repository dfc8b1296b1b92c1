//! Counters the producer keeps, read as a [`ProducerStats`] snapshot.
//!
//! All are relaxed atomics bumped on paths that already take a lock or do
//! real work, so keeping them costs nothing measurable. A snapshot is not
//! atomic across fields: under load, `queued_records` and `delivered` may be
//! read a few records apart.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rouse_waker::WakerStats;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) records_appended: AtomicU64,
    pub(crate) batches_created: AtomicU64,
    pub(crate) queued_records: AtomicU64,
    pub(crate) queued_bytes: AtomicU64,
    pub(crate) in_flight_batches: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) produce_requests: AtomicU64,
}

/// A snapshot of the producer's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducerStats {
    /// Records accepted by `send` since the start.
    pub records_sent: u64,
    /// Records waiting in the accumulator (not yet handed to the poller).
    pub queued_records: u64,
    /// Uncompressed bytes of the batches waiting in the accumulator.
    pub queued_bytes: u64,
    /// `buffer.memory` bytes held by unfinished batches.
    pub buffer_used: u64,
    /// Batches handed to the poller and not yet finished.
    pub in_flight_batches: u64,
    /// Records acknowledged.
    pub delivered: u64,
    /// Records that ended with an error.
    pub failed: u64,
    /// Batches put back for another attempt.
    pub retries: u64,
    /// Batches opened.
    pub batches: u64,
    /// Produce requests sent (each carries at most one batch per
    /// partition; retries count again). What the broker pays for per
    /// request, so fewer, larger requests cost it less per record.
    pub produce_requests: u64,
    /// Wakes of the poller requested by senders (from the poller's waker).
    pub wakes_requested: u64,
    /// Wake syscalls those requests cost; the rest were coalesced.
    pub wake_syscalls: u64,
}

impl ProducerStats {
    /// Mean records per batch, or 0 before the first batch.
    pub fn mean_batch_records(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.records_sent as f64 / self.batches as f64
        }
    }

    /// Adds the poller waker's counters (the accumulator does not own it).
    pub fn with_waker(mut self, waker: WakerStats) -> ProducerStats {
        self.wakes_requested = waker.wakes_requested;
        self.wake_syscalls = waker.wake_syscalls;
        self
    }
}

impl Counters {
    pub(crate) fn snapshot(&self, buffer_used: usize) -> ProducerStats {
        ProducerStats {
            records_sent: self.records_appended.load(Relaxed),
            queued_records: self.queued_records.load(Relaxed),
            queued_bytes: self.queued_bytes.load(Relaxed),
            buffer_used: buffer_used as u64,
            in_flight_batches: self.in_flight_batches.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            failed: self.failed.load(Relaxed),
            retries: self.retries.load(Relaxed),
            batches: self.batches_created.load(Relaxed),
            produce_requests: self.produce_requests.load(Relaxed),
            wakes_requested: 0,
            wake_syscalls: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_batch_and_waker_fields() {
        let s = ProducerStats::default();
        assert_eq!(s.mean_batch_records(), 0.0);
        let s = ProducerStats {
            records_sent: 10,
            batches: 4,
            ..s
        };
        assert_eq!(s.mean_batch_records(), 2.5);
        let w = WakerStats {
            wakes_requested: 9,
            wake_syscalls: 2,
            ..WakerStats::default()
        };
        let s = s.with_waker(w);
        assert_eq!((s.wakes_requested, s.wake_syscalls), (9, 2));
    }
}

//! [`ConsumerStats`]: a snapshot of the consumer's counters.

use rouse_waker::WakerStats;

/// What [`Consumer::stats`](crate::Consumer::stats) returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Records fetched into the buffers since the start.
    pub records_fetched: u64,
    /// Their keys', values' and headers' bytes.
    pub bytes_fetched: u64,
    /// Fetch requests sent.
    pub fetch_requests: u64,
    /// Bytes of records buffered now, waiting for `poll`.
    pub buffered_bytes: usize,
    /// The poller's waker: wakes asked for and the syscalls they cost.
    pub waker: WakerStats,
}

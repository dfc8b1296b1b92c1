//! Counters a waker keeps: cheap relaxed atomics, read as a snapshot.

use crate::sync::{AtomicU64, Ordering};

/// A snapshot of a waker's counters, from [`Waker::stats`](crate::Waker::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WakerStats {
    /// Calls to `wake()`, from threads and signal handlers.
    pub wakes_requested: u64,
    /// `write(2)` calls those wakes made; the rest were coalesced.
    pub wake_syscalls: u64,
    /// `read(2)` drains the poller made in `reset()`.
    pub drains: u64,
    /// Signals caught by a [`SignalWakeup`](crate::SignalWakeup) of this waker.
    pub signals: u64,
}

impl WakerStats {
    /// Wakes that needed no syscall: `wakes_requested - wake_syscalls`.
    pub fn coalesced(&self) -> u64 {
        self.wakes_requested.saturating_sub(self.wake_syscalls)
    }
}

#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) wakes_requested: AtomicU64,
    pub(crate) wake_syscalls: AtomicU64,
    pub(crate) drains: AtomicU64,
    pub(crate) signals: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            wakes_requested: AtomicU64::new(0),
            wake_syscalls: AtomicU64::new(0),
            drains: AtomicU64::new(0),
            signals: AtomicU64::new(0),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WakerStats {
        WakerStats {
            wakes_requested: self.wakes_requested.load(Ordering::Relaxed),
            wake_syscalls: self.wake_syscalls.load(Ordering::Relaxed),
            drains: self.drains.load(Ordering::Relaxed),
            signals: self.signals.load(Ordering::Relaxed),
        }
    }
}

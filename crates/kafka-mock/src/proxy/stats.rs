//! What a proxy did: counters and the log of faults fired.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a proxy's counters, from [`FaultProxy::stats`](super::FaultProxy::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted to be forwarded (refused ones not included;
    /// those whose upstream was unreachable are, and are also counted in
    /// [`upstream_failed`](Self::upstream_failed)).
    pub accepted: u64,
    /// Connections accepted and closed at once during a
    /// [`Refusal::AcceptAndClose`](super::Refusal::AcceptAndClose) spell.
    /// Attempts refused by a closed port never reach the proxy and are not
    /// counted.
    pub refused: u64,
    /// Live connections closed by a cut (scheduled, random, an outage or
    /// [`FaultProxy::cut_all`](super::FaultProxy::cut_all)).
    pub cut: u64,
    /// Accepted connections closed because the upstream could not be
    /// reached.
    pub upstream_failed: u64,
    /// Bytes written to upstreams.
    pub bytes_to_upstream: u64,
    /// Bytes written back to clients.
    pub bytes_to_client: u64,
    /// Chunks held back by a non-zero delay.
    pub chunks_delayed: u64,
    /// Chunks written in more than one piece.
    pub chunks_split: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) cut: AtomicU64,
    pub(crate) upstream_failed: AtomicU64,
    pub(crate) bytes_to_upstream: AtomicU64,
    pub(crate) bytes_to_client: AtomicU64,
    pub(crate) chunks_delayed: AtomicU64,
    pub(crate) chunks_split: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ProxyStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            accepted: get(&self.accepted),
            refused: get(&self.refused),
            cut: get(&self.cut),
            upstream_failed: get(&self.upstream_failed),
            bytes_to_upstream: get(&self.bytes_to_upstream),
            bytes_to_client: get(&self.bytes_to_client),
            chunks_delayed: get(&self.chunks_delayed),
            chunks_split: get(&self.chunks_split),
        }
    }
}

/// What happened in one logged fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultEventKind {
    /// Live connections were cut (the count is in [`FaultEvent::connections`]).
    Cut,
    /// New connections are refused from now, for this long.
    RefusalStarted(Duration),
    /// The refusal spell is over: new connections are accepted again
    /// (with [`Refusal::ClosePort`](super::Refusal::ClosePort), the ports
    /// are bound again).
    RefusalEnded,
}

/// One entry of [`FaultProxy::events`](super::FaultProxy::events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultEvent {
    /// When it happened, from the proxy's start
    /// ([`FaultProxy::started_at`](super::FaultProxy::started_at)).
    pub at: Duration,
    /// The timeline offset it was planned for, or `None` when a test asked
    /// for it (or, for [`FaultEventKind::RefusalEnded`], always `None`).
    pub planned: Option<Duration>,
    /// What happened.
    pub kind: FaultEventKind,
    /// For a cut, how many live connections it closed; otherwise 0.
    pub connections: usize,
}

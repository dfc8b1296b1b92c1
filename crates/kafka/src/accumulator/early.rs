//! Which lingering batches go before `linger.ms` runs out.
//!
//! A flush or a close sends every batch at once. A sender blocked on
//! `buffer.memory` sends only the oldest lingering batches whose reserved
//! bytes cover what the blocked senders wait for ([`BufferPool::shortfall`]:
//! beyond the bytes free and those already in flight). Sending every
//! lingering batch instead, as Java's producer does, frees no memory sooner
//! (only a response frees it, and what is in flight answers first), yet with
//! a small `buffer.memory` senders block all the time, so every batch went
//! out small: fewer records a second and more requests for the broker.
//!
//! [`BufferPool::shortfall`]: super::pool::BufferPool::shortfall

use std::sync::atomic::Ordering;

use super::{Accumulator, PartitionQueue, Queue};

/// Front batches with an id up to this one count as ready whatever their
/// linger; `None` lets every batch linger.
pub(super) type EarlyUpTo = Option<u64>;

/// Whether `q`'s front batch goes early under `early`.
pub(super) fn goes_early(q: &PartitionQueue, early: EarlyUpTo) -> bool {
    early.is_some_and(|upto| q.batches.front().is_some_and(|b| b.id <= upto))
}

impl Accumulator {
    /// Which front batches of `queues` go before their linger runs out now.
    ///
    /// The drain and [`next_linger_deadline`](Self::next_linger_deadline)
    /// both ask, so the poller's timer agrees with what a drain takes.
    pub(super) fn early(&self, queues: &[Queue]) -> EarlyUpTo {
        if self.is_closed() || self.flushes.load(Ordering::SeqCst) > 0 {
            return Some(u64::MAX);
        }
        let need = self.shared.pool.shortfall();
        if need == 0 {
            return None;
        }
        // The front batches a drain could take, oldest first (ids follow
        // creation). A front that is ready anyway (full, or queued behind
        // others) counts towards `need` as well: it goes out regardless.
        // Muted partitions and retries backing off cannot go now.
        let mut fronts: Vec<(u64, usize)> = queues
            .iter()
            .filter_map(|q| {
                let q = q.lock();
                let front = q.batches.front().filter(|_| !q.muted)?;
                front
                    .retry_at
                    .is_none()
                    .then(|| (front.id, front.reserved()))
            })
            .collect();
        fronts.sort_unstable();
        let mut covered = 0;
        for (id, reserved) in fronts {
            covered += reserved;
            if covered >= need {
                return Some(id);
            }
        }
        // Even all of them fall short: every front goes.
        Some(u64::MAX)
    }
}

//! The idempotent producer's sequence numbers, per partition: which stamp
//! each batch goes out with, and when a partition must move to a new
//! producer identity.
//!
//! A broker writes a batch from producer P only if its first sequence
//! follows the last one it wrote for P in that partition; a retry with the
//! same stamp is recognised as a duplicate. So a partition's sequence
//! stream must never have a hole, and a batch whose fate is unknown (sent,
//! no answer) must only ever be resent with its original stamp.
//!
//! ```text
//!   per partition:  identity (the one its sequences belong to), next,
//!                   unknown = stamped batches without an outcome, broken
//!
//!   send ─► a batch in `unknown`: resend, same stamp (always allowed)
//!        └► any other: stamp (identity, next) — only if not broken, and
//!           only under the producer's current identity; a partition on an
//!           old identity adopts the current one (next = 0) once `unknown`
//!           is empty, so no unknown batch is ever restamped; and until a
//!           batch under the identity is acknowledged, one at a time
//!
//!   ack ─────────────────────────► leaves `unknown`
//!   OUT_OF_ORDER_SEQUENCE, earliest unknown ─► not written, hole: broken
//!   OUT_OF_ORDER_SEQUENCE, behind an unknown ─► resend as it is (pipelined)
//!   UNKNOWN_PRODUCER_ID ─────────► not written, broker lost us: broken
//!   failed or expired, stamped ──► its range may be a hole: broken
//! ```
//!
//! Why one at a time at first: a broker that has no state for a producer id
//! accepts its first batch at *any* sequence (Kafka does, so producers whose
//! state expired can go on). If the first batch under an identity failed
//! (say NOT_ENOUGH_REPLICAS) while the second was pipelined behind it, the
//! broker would write the second first. Once one batch is acknowledged the
//! broker holds the stream's position, and pipelining is safe.
//!
//! A broken partition whose unknown batches are all resolved asks for a new
//! producer identity ([`Sequences::needs_new_identity`]); until then it
//! sends nothing new. Batches it holds that were never written are
//! restamped in creation order under the new identity, so none is
//! duplicated or reordered.

use std::collections::{BTreeSet, HashMap};

use crate::batch::{ProducerIdentity, Stamp};
use crate::record::TopicPartition;

/// One partition's sequence stream.
#[derive(Debug)]
struct PartitionSequence {
    identity: ProducerIdentity,
    next: i32,
    /// Ids (creation order) of batches stamped under `identity` whose fate
    /// is unknown: on the wire, or back in the queue after a lost answer.
    unknown: BTreeSet<u64>,
    /// The stream has a hole (or may have): nothing new goes under
    /// `identity`.
    broken: bool,
    /// A batch under `identity` was acknowledged: the broker knows the
    /// stream's position, so batches may be pipelined.
    confirmed: bool,
}

impl PartitionSequence {
    fn new(identity: ProducerIdentity) -> PartitionSequence {
        PartitionSequence {
            identity,
            next: 0,
            unknown: BTreeSet::new(),
            broken: false,
            confirmed: false,
        }
    }

    /// Whether a new batch may join those in flight.
    fn may_pipeline(&self) -> bool {
        self.confirmed || self.unknown.is_empty()
    }
}

/// What to send a batch with; see [`Sequences::stamp_for_send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendStamp {
    /// A retry of a batch whose fate is unknown: resend its bytes as they are.
    Resend,
    /// Encode (or restamp, for a batch known not written) with this stamp.
    New(Stamp),
}

/// Where an OUT_OF_ORDER_SEQUENCE_NUMBER answer leaves a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutOfOrder {
    /// An earlier batch of the partition is unresolved: this one was
    /// pipelined behind it and goes again, unchanged, once it has.
    BehindUnknown,
    /// Nothing earlier is unresolved, so the hole is real: the batch was not
    /// written and the partition needs a new identity.
    Gap,
}

/// Every partition's sequence stream; owned by the poller thread.
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    partitions: HashMap<TopicPartition, PartitionSequence>,
}

impl Sequences {
    /// Whether the front batch of `tp` (`id`, stamped `stamp` if it was
    /// sent before) may be sent now, under the producer's `current` identity.
    pub(crate) fn may_send(
        &self,
        tp: &TopicPartition,
        id: u64,
        stamp: Option<Stamp>,
        current: ProducerIdentity,
    ) -> bool {
        let Some(p) = self.partitions.get(tp) else {
            return true; // first batch: adopts `current`
        };
        if stamp.is_some_and(|s| s.identity == p.identity) && p.unknown.contains(&id) {
            return true;
        }
        if p.identity == current {
            !p.broken && p.may_pipeline()
        } else {
            p.unknown.is_empty()
        }
    }

    /// Whether a batch of `tp` is in flight (sent, its outcome not yet
    /// known). A batch still growing waits for it rather than going out
    /// beside it: records arriving in the meantime join the batch, and the
    /// next request carries them all instead of each burst going as a small
    /// request of its own (the same reasoning as Nagle's algorithm). A
    /// complete batch (full, or with a backlog behind it) is pipelined.
    pub(crate) fn in_flight(&self, tp: &TopicPartition) -> bool {
        self.partitions
            .get(tp)
            .is_some_and(|p| !p.unknown.is_empty())
    }

    /// The stamp for a batch leaving now; call only after
    /// [`may_send`](Self::may_send) allowed it. A batch getting a new stamp
    /// counts as unknown until its outcome is reported.
    pub(crate) fn stamp_for_send(
        &mut self,
        tp: &TopicPartition,
        id: u64,
        stamp: Option<Stamp>,
        records: usize,
        current: ProducerIdentity,
    ) -> SendStamp {
        let p = self
            .partitions
            .entry(tp.clone())
            .or_insert_with(|| PartitionSequence::new(current));
        if stamp.is_some_and(|s| s.identity == p.identity) && p.unknown.contains(&id) {
            return SendStamp::Resend;
        }
        if p.identity != current {
            debug_assert!(p.unknown.is_empty(), "an unknown batch is never restamped");
            *p = PartitionSequence::new(current);
        }
        debug_assert!(!p.broken, "a broken partition sends nothing new");
        debug_assert!(p.may_pipeline(), "nothing pipelined before an ack");
        let stamp = Stamp {
            identity: p.identity,
            base_sequence: p.next,
        };
        p.next = next_sequence(p.next, records);
        p.unknown.insert(id);
        SendStamp::New(stamp)
    }

    /// The broker wrote the batch (or had written it: a duplicate).
    pub(crate) fn acked(&mut self, tp: &TopicPartition, id: u64) {
        if let Some(p) = self.partitions.get_mut(tp) {
            if p.unknown.remove(&id) {
                p.confirmed = true;
            }
        }
    }

    /// The broker answered OUT_OF_ORDER_SEQUENCE_NUMBER; see [`OutOfOrder`].
    pub(crate) fn out_of_order(&mut self, tp: &TopicPartition, id: u64) -> OutOfOrder {
        let Some(p) = self.partitions.get_mut(tp) else {
            return OutOfOrder::Gap;
        };
        if p.unknown.first().is_some_and(|first| *first < id) {
            return OutOfOrder::BehindUnknown;
        }
        p.unknown.remove(&id);
        p.broken = true;
        OutOfOrder::Gap
    }

    /// The batch was not written and the partition needs a new identity
    /// (UNKNOWN_PRODUCER_ID: the broker lost this producer's state).
    pub(crate) fn not_written(&mut self, tp: &TopicPartition, id: u64) {
        if let Some(p) = self.partitions.get_mut(tp) {
            p.unknown.remove(&id);
            p.broken = true;
        }
    }

    /// The batch ended without an acknowledgement (failed, expired,
    /// aborted). If it had a sequence range, the stream may have a hole.
    pub(crate) fn ended_unacked(&mut self, tp: &TopicPartition, id: u64) {
        if let Some(p) = self.partitions.get_mut(tp) {
            if p.unknown.remove(&id) {
                p.broken = true;
            }
        }
    }

    /// Whether a partition on `current` is broken and has nothing left in
    /// doubt: only a new producer identity lets it send again.
    pub(crate) fn needs_new_identity(&self, current: ProducerIdentity) -> bool {
        self.partitions
            .values()
            .any(|p| p.identity == current && p.broken && p.unknown.is_empty())
    }

    /// Partitions waiting for a new identity (for logs and tests).
    pub(crate) fn broken(&self) -> Vec<&TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, p)| p.broken)
            .map(|(tp, _)| tp)
            .collect()
    }
}

/// Kafka's sequence arithmetic: after `i32::MAX` comes 0.
fn next_sequence(sequence: i32, records: usize) -> i32 {
    let records = i32::try_from(records).unwrap_or(i32::MAX);
    if sequence > i32::MAX - records {
        records - (i32::MAX - sequence) - 1
    } else {
        sequence + records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ProducerIdentity = ProducerIdentity { id: 1, epoch: 0 };
    const B: ProducerIdentity = ProducerIdentity { id: 2, epoch: 0 };

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    /// Sends batch `id` of `records` records as the poller would.
    fn send(
        s: &mut Sequences,
        id: u64,
        stamp: Option<Stamp>,
        records: usize,
        current: ProducerIdentity,
    ) -> Option<SendStamp> {
        s.may_send(&tp(), id, stamp, current)
            .then(|| s.stamp_for_send(&tp(), id, stamp, records, current))
    }

    fn new_stamp(identity: ProducerIdentity, base_sequence: i32) -> Option<SendStamp> {
        Some(SendStamp::New(Stamp {
            identity,
            base_sequence,
        }))
    }

    #[test]
    fn sequences_advance_by_record_count_and_retries_keep_their_stamp() {
        let mut s = Sequences::default();
        assert_eq!(send(&mut s, 1, None, 3, A), new_stamp(A, 0));
        assert_eq!(
            send(&mut s, 2, None, 2, A),
            None,
            "one at a time until the broker has acknowledged the stream"
        );
        let first = Stamp {
            identity: A,
            base_sequence: 0,
        };
        assert_eq!(send(&mut s, 1, Some(first), 3, A), Some(SendStamp::Resend));
        s.acked(&tp(), 1);
        assert_eq!(send(&mut s, 2, None, 2, A), new_stamp(A, 3));
        assert_eq!(send(&mut s, 3, None, 1, A), new_stamp(A, 5), "pipelined");
        s.acked(&tp(), 2);
        s.acked(&tp(), 3);
        assert_eq!(send(&mut s, 4, None, 1, A), new_stamp(A, 6));
    }

    #[test]
    fn a_batch_expired_in_doubt_breaks_the_partition_until_a_new_identity() {
        let mut s = Sequences::default();
        send(&mut s, 1, None, 10, A);
        s.ended_unacked(&tp(), 1);
        assert_eq!(
            send(&mut s, 2, None, 1, A),
            None,
            "no new batch after a hole"
        );
        assert!(s.needs_new_identity(A));
        assert_eq!(
            send(&mut s, 2, None, 1, B),
            new_stamp(B, 0),
            "adopts B at 0"
        );
        assert!(!s.needs_new_identity(B));
        assert!(s.broken().is_empty());
    }

    #[test]
    fn a_partition_keeps_its_old_identity_while_a_batch_is_in_doubt() {
        let mut s = Sequences::default();
        send(&mut s, 1, None, 1, A);
        let stamped = Stamp {
            identity: A,
            base_sequence: 0,
        };
        // The producer moved to B (another partition broke), but batch 1
        // may have been written under A: it is resent under A, and nothing
        // new goes until it is resolved.
        assert_eq!(send(&mut s, 2, None, 1, B), None);
        assert_eq!(
            send(&mut s, 1, Some(stamped), 1, B),
            Some(SendStamp::Resend)
        );
        s.acked(&tp(), 1);
        assert_eq!(send(&mut s, 2, None, 1, B), new_stamp(B, 0));
    }

    /// A stream the broker has acknowledged once (batch 0, one record).
    fn confirmed(s: &mut Sequences, identity: ProducerIdentity) {
        assert_eq!(send(s, 0, None, 1, identity), new_stamp(identity, 0));
        s.acked(&tp(), 0);
    }

    #[test]
    fn the_first_batch_under_an_identity_goes_alone() {
        let mut s = Sequences::default();
        confirmed(&mut s, A);
        send(&mut s, 1, None, 1, A);
        s.ended_unacked(&tp(), 1);
        // Renewed: a broker without state for B takes B's first batch at
        // any sequence, so the second must not overtake a failed first.
        assert_eq!(send(&mut s, 2, None, 1, B), new_stamp(B, 0));
        assert_eq!(send(&mut s, 3, None, 1, B), None);
        s.acked(&tp(), 2);
        assert_eq!(send(&mut s, 3, None, 1, B), new_stamp(B, 1));
        assert_eq!(send(&mut s, 4, None, 1, B), new_stamp(B, 2));
    }

    #[test]
    fn out_of_order_behind_an_unknown_batch_is_a_pipelined_retry() {
        let mut s = Sequences::default();
        confirmed(&mut s, A);
        send(&mut s, 1, None, 1, A);
        send(&mut s, 2, None, 1, A);
        assert_eq!(s.out_of_order(&tp(), 2), OutOfOrder::BehindUnknown);
        assert!(!s.needs_new_identity(A));
        // The earlier one turns out never written: now the hole is real.
        assert_eq!(s.out_of_order(&tp(), 1), OutOfOrder::Gap);
        assert_eq!(s.out_of_order(&tp(), 2), OutOfOrder::Gap);
        assert!(s.needs_new_identity(A));
        // Both are known unwritten: restamped in order under B.
        let old = |seq| {
            Some(Stamp {
                identity: A,
                base_sequence: seq,
            })
        };
        assert_eq!(send(&mut s, 1, old(1), 1, B), new_stamp(B, 0));
        assert_eq!(send(&mut s, 2, old(2), 1, B), None, "after an ack");
        s.acked(&tp(), 1);
        assert_eq!(send(&mut s, 2, old(2), 1, B), new_stamp(B, 1));
    }

    #[test]
    fn a_broken_partition_waits_for_its_unknown_batches_before_renewing() {
        let mut s = Sequences::default();
        confirmed(&mut s, A);
        send(&mut s, 1, None, 1, A);
        send(&mut s, 2, None, 1, A);
        s.not_written(&tp(), 2);
        assert!(!s.needs_new_identity(A), "batch 1 is still in doubt");
        s.acked(&tp(), 1);
        assert!(s.needs_new_identity(A));
    }

    #[test]
    fn an_unstamped_batch_that_fails_leaves_the_stream_whole() {
        let mut s = Sequences::default();
        send(&mut s, 1, None, 1, A);
        s.acked(&tp(), 1);
        s.ended_unacked(&tp(), 7);
        assert!(!s.needs_new_identity(A));
        assert_eq!(send(&mut s, 8, None, 1, A), new_stamp(A, 1));
    }

    #[test]
    fn sequences_wrap_to_zero_after_i32_max() {
        assert_eq!(next_sequence(i32::MAX - 2, 2), i32::MAX);
        assert_eq!(next_sequence(i32::MAX - 1, 2), 0);
        assert_eq!(next_sequence(i32::MAX, 5), 4);
        assert_eq!(next_sequence(0, 5), 5);
    }
}

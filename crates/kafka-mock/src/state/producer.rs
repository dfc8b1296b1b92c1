//! Idempotent-producer bookkeeping for one partition.
//!
//! Kafka remembers, per producer id and partition, the producer's epoch and
//! the sequence ranges of its last five batches. A batch is then exactly one
//! of:
//!
//! ```text
//!   epoch < known           -> INVALID_PRODUCER_EPOCH
//!   epoch > known, seq != 0 -> OUT_OF_ORDER_SEQUENCE_NUMBER
//!   same range as a recent  -> duplicate: acknowledged with the first
//!                              write's offset, not stored again
//!   first seq = last + 1    -> appended
//!   anything else           -> OUT_OF_ORDER_SEQUENCE_NUMBER (a gap)
//! ```
//!
//! A producer the partition has never seen may start at any sequence, as in
//! Kafka since KIP-360 (its state may have been cleaned up). With
//! [`ClusterConfig::with_strict_unknown_producer`] it must start at 0 and
//! anything else is refused with `UNKNOWN_PRODUCER_ID`, as brokers did
//! before.
//!
//! [`ClusterConfig::with_strict_unknown_producer`]: crate::ClusterConfig::with_strict_unknown_producer

use std::collections::VecDeque;

use kafka_protocol::ResponseError;

/// How many batches per producer and partition are kept for duplicate
/// detection (Kafka's `max.in.flight.requests.per.connection` bound).
pub(crate) const REMEMBERED_BATCHES: usize = 5;

/// What a partition remembers about one producer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProducerEntry {
    epoch: i16,
    recent: VecDeque<BatchMeta>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

/// The verdict on one incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqCheck {
    Append,
    Duplicate { base_offset: i64 },
    Reject(ResponseError),
}

/// How the partition treats a producer id it has no state for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum UnknownProducer {
    /// It may start at any sequence (Kafka since KIP-360).
    #[default]
    Accept,
    /// It must start at sequence 0, or gets `UNKNOWN_PRODUCER_ID`.
    RequireSequenceZero,
}

/// Judges a batch from a producer whose entry is `entry` (`None` if unseen).
pub(crate) fn check(
    entry: Option<&ProducerEntry>,
    unknown: UnknownProducer,
    epoch: i16,
    first_seq: i32,
    last_seq: i32,
) -> SeqCheck {
    let Some(entry) = entry else {
        return match unknown {
            UnknownProducer::RequireSequenceZero if first_seq != 0 => {
                SeqCheck::Reject(ResponseError::UnknownProducerId)
            }
            _ => SeqCheck::Append,
        };
    };
    if epoch < entry.epoch {
        return SeqCheck::Reject(ResponseError::InvalidProducerEpoch);
    }
    if epoch > entry.epoch {
        return if first_seq == 0 {
            SeqCheck::Append
        } else {
            SeqCheck::Reject(ResponseError::OutOfOrderSequenceNumber)
        };
    }
    if let Some(dup) = entry
        .recent
        .iter()
        .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
    {
        return SeqCheck::Duplicate {
            base_offset: dup.base_offset,
        };
    }
    match entry.recent.back() {
        Some(last) if first_seq == next_sequence(last.last_seq) => SeqCheck::Append,
        None => SeqCheck::Append,
        Some(_) => SeqCheck::Reject(ResponseError::OutOfOrderSequenceNumber),
    }
}

impl ProducerEntry {
    /// Records an appended batch (after [`check`] said `Append`).
    pub(crate) fn record(&mut self, epoch: i16, first_seq: i32, last_seq: i32, base_offset: i64) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.recent.clear();
        }
        if self.recent.len() == REMEMBERED_BATCHES {
            self.recent.pop_front();
        }
        self.recent.push_back(BatchMeta {
            first_seq,
            last_seq,
            base_offset,
        });
    }
}

fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_with(batches: &[(i32, i32, i64)]) -> ProducerEntry {
        let mut entry = ProducerEntry::default();
        for &(first, last, offset) in batches {
            entry.record(0, first, last, offset);
        }
        entry
    }

    #[test]
    fn unseen_producer_may_start_anywhere() {
        assert_eq!(
            check(None, UnknownProducer::Accept, 0, 17, 20),
            SeqCheck::Append
        );
    }

    #[test]
    fn strict_mode_wants_an_unseen_producer_at_zero() {
        let strict = UnknownProducer::RequireSequenceZero;
        assert_eq!(
            check(None, strict, 0, 17, 20),
            SeqCheck::Reject(ResponseError::UnknownProducerId)
        );
        assert_eq!(check(None, strict, 3, 0, 4), SeqCheck::Append);
        let entry = entry_with(&[(0, 4, 100)]);
        assert_eq!(check(Some(&entry), strict, 0, 5, 6), SeqCheck::Append);
    }

    #[test]
    fn in_order_duplicate_and_gap() {
        let entry = entry_with(&[(0, 4, 100), (5, 9, 105)]);
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 0, 10, 12),
            SeqCheck::Append
        );
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 0, 0, 4),
            SeqCheck::Duplicate { base_offset: 100 }
        );
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 0, 11, 12),
            SeqCheck::Reject(ResponseError::OutOfOrderSequenceNumber)
        );
    }

    #[test]
    fn only_five_batches_are_remembered() {
        let batches: Vec<_> = (0..6).map(|i| (i, i, i64::from(i))).collect();
        let entry = entry_with(&batches);
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 0, 0, 0),
            SeqCheck::Reject(ResponseError::OutOfOrderSequenceNumber)
        );
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 0, 1, 1),
            SeqCheck::Duplicate { base_offset: 1 }
        );
    }

    #[test]
    fn epochs_fence_and_reset() {
        let mut entry = entry_with(&[(0, 4, 0)]);
        entry.record(3, 0, 0, 5);
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 2, 1, 1),
            SeqCheck::Reject(ResponseError::InvalidProducerEpoch)
        );
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 4, 0, 3),
            SeqCheck::Append
        );
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 4, 7, 9),
            SeqCheck::Reject(ResponseError::OutOfOrderSequenceNumber)
        );
    }

    #[test]
    fn sequence_wraps_after_max() {
        let entry = entry_with(&[(i32::MAX - 1, i32::MAX, 0)]);
        assert_eq!(
            check(Some(&entry), UnknownProducer::Accept, 0, 0, 3),
            SeqCheck::Append
        );
    }
}

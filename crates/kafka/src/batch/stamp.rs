//! The idempotent producer's fields of a batch header: who wrote it
//! ([`ProducerIdentity`]) and where it stands in that writer's sequence of
//! the partition ([`Stamp`]).
//!
//! A batch without a stamp carries Kafka's "none" values (id -1, epoch -1,
//! sequence -1). Those sentinels exist only on the wire: in memory a batch
//! is stamped (`Some(Stamp)`) or not (`None`).
//!
//! A broker recognises a retry as a duplicate only by the identical stamp,
//! so a stamp is written once; [`restamp`] rewrites it for the one case
//! that needs it — a batch known *not* to be written, moved to a new
//! producer identity — and recomputes the CRC.

use bytes::{Bytes, BytesMut};

use super::{ATTRIBUTES_OFFSET, CRC_OFFSET};

/// Producer id and epoch as a broker's InitProducerId handed them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProducerIdentity {
    /// The producer id (never negative).
    pub id: i64,
    /// The epoch of that id (never negative).
    pub epoch: i16,
}

impl std::fmt::Display for ProducerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "producer id {} epoch {}", self.id, self.epoch)
    }
}

/// A batch's place in its producer's sequence of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Who wrote the batch.
    pub identity: ProducerIdentity,
    /// The sequence number of its first record.
    pub base_sequence: i32,
}

/// Header offset of the producer id; epoch and base sequence follow it.
const PRODUCER_ID_OFFSET: usize = 43;
const PRODUCER_EPOCH_OFFSET: usize = 51;
const BASE_SEQUENCE_OFFSET: usize = 53;
const STAMP_END: usize = 57;

/// The three header fields for `stamp` (Kafka's -1s for `None`).
pub(super) fn header_fields(stamp: Option<Stamp>) -> (i64, i16, i32) {
    match stamp {
        Some(s) => (s.identity.id, s.identity.epoch, s.base_sequence),
        None => (-1, -1, -1),
    }
}

/// A copy of the encoded batch `bytes` carrying `stamp` instead of the
/// stamp it was encoded with, CRC recomputed. `bytes` must be a whole batch
/// as [`BatchBuilder::finish`](super::BatchBuilder::finish) made it.
pub fn restamp(bytes: &Bytes, stamp: Stamp) -> Bytes {
    debug_assert!(bytes.len() >= super::RECORD_BATCH_OVERHEAD, "a whole batch");
    let mut batch = BytesMut::from(&bytes[..]);
    let (id, epoch, sequence) = header_fields(Some(stamp));
    batch[PRODUCER_ID_OFFSET..PRODUCER_EPOCH_OFFSET].copy_from_slice(&id.to_be_bytes());
    batch[PRODUCER_EPOCH_OFFSET..BASE_SEQUENCE_OFFSET].copy_from_slice(&epoch.to_be_bytes());
    batch[BASE_SEQUENCE_OFFSET..STAMP_END].copy_from_slice(&sequence.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
    batch.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchBuilder;
    use crate::config::Compression;
    use crate::record::Record;

    fn stamp(id: i64, epoch: i16, base_sequence: i32) -> Stamp {
        Stamp {
            identity: ProducerIdentity { id, epoch },
            base_sequence,
        }
    }

    fn encoded(with: Option<Stamp>, codec: Compression) -> Bytes {
        let mut b = BatchBuilder::new(16 * 1024, 1 << 20);
        for i in 0..3 {
            b.append(&Record::key_value("t", format!("k{i}"), "v"), 1_000 + i)
                .unwrap();
        }
        b.finish(with, codec).unwrap()
    }

    #[test]
    fn a_restamped_batch_equals_one_encoded_with_that_stamp() {
        for codec in [Compression::None, Compression::Lz4, Compression::Gzip] {
            let first = encoded(Some(stamp(7, 0, 40)), codec);
            let moved = restamp(&first, stamp(9, 3, 0));
            assert_eq!(moved, encoded(Some(stamp(9, 3, 0)), codec), "{codec:?}");
            assert_ne!(moved, first);
        }
    }

    #[test]
    fn restamping_an_unstamped_batch_fills_the_fields() {
        let none = encoded(None, Compression::None);
        assert_eq!(
            restamp(&none, stamp(1, 2, 3)),
            encoded(Some(stamp(1, 2, 3)), Compression::None)
        );
    }
}

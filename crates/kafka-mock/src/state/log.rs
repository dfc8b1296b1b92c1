//! One partition's log: stored batches, offsets and producer state.
//!
//! ```text
//!   log_start                                   high_watermark (= next offset)
//!      │                                               │
//!      ▼                                               ▼
//!      ┌─────────────┬────────┬──────────────────────┐
//!      │ batch 0..=4 │ 5..=5  │ 6..=11               │  batches: Vec<StoredBatch>
//!      └─────────────┴────────┴──────────────────────┘
//!        raw bytes (base offset patched) + decoded records
//! ```
//!
//! The mock has no replication, so the high watermark is the log end offset
//! and the last stable offset is the high watermark. Nothing is ever
//! deleted: `log_start` stays 0.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;

use super::producer::{self, ProducerEntry, SeqCheck, UnknownProducer};
use crate::batch::ParsedBatch;
use crate::record::StoredRecord;

#[derive(Debug)]
struct StoredBatch {
    last_offset: i64,
    raw: Bytes,
    records: Vec<StoredRecord>,
}

/// A partition's records and idempotence state.
#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    batches: Vec<StoredBatch>,
    log_start: i64,
    next_offset: i64,
    producers: HashMap<i64, ProducerEntry>,
}

impl PartitionLog {
    /// The first offset still in the log.
    pub(crate) fn log_start(&self) -> i64 {
        self.log_start
    }

    /// The offset the next record will get.
    pub(crate) fn high_watermark(&self) -> i64 {
        self.next_offset
    }

    /// Appends a produce request's batches for this partition, all or
    /// nothing, and returns the base offset of the first one (for a
    /// duplicate, the offset it was first written at).
    pub(crate) fn append(
        &mut self,
        batches: Vec<ParsedBatch>,
        leader_epoch: i32,
        unknown: UnknownProducer,
    ) -> Result<i64, ResponseError> {
        // Judge every batch against a scratch copy of the producer state so a
        // rejection half-way leaves the log untouched.
        let mut scratch: HashMap<i64, Option<ProducerEntry>> = HashMap::new();
        let mut plan = Vec::with_capacity(batches.len());
        let mut next = self.next_offset;
        for batch in &batches {
            let header = &batch.header;
            let count = i64::from(header.record_count);
            if !header.is_idempotent() {
                plan.push(None);
                next += count;
                continue;
            }
            let entry = scratch
                .entry(header.producer_id)
                .or_insert_with(|| self.producers.get(&header.producer_id).cloned());
            let (first, last) = (header.base_sequence, header.last_sequence());
            match producer::check(entry.as_ref(), unknown, header.producer_epoch, first, last) {
                SeqCheck::Append => {
                    entry.get_or_insert_with(Default::default).record(
                        header.producer_epoch,
                        first,
                        last,
                        next,
                    );
                    plan.push(None);
                    next += count;
                }
                SeqCheck::Duplicate { base_offset } => plan.push(Some(base_offset)),
                SeqCheck::Reject(error) => return Err(error),
            }
        }
        for (id, entry) in scratch {
            if let Some(entry) = entry {
                self.producers.insert(id, entry);
            }
        }
        let mut first_offset = None;
        for (batch, duplicate_of) in batches.into_iter().zip(plan) {
            let base = match duplicate_of {
                Some(offset) => offset,
                None => self.push(batch, leader_epoch),
            };
            first_offset.get_or_insert(base);
        }
        Ok(first_offset.unwrap_or(self.next_offset))
    }

    /// Forgets every producer's id, epoch and recent sequences (the records
    /// stay); returns how many producers were known.
    pub(crate) fn forget_producers(&mut self) -> usize {
        let known = self.producers.len();
        self.producers.clear();
        known
    }

    fn push(&mut self, batch: ParsedBatch, leader_epoch: i32) -> i64 {
        let base_offset = self.next_offset;
        let raw = batch.rebased(base_offset, leader_epoch);
        let records: Vec<_> = batch
            .records
            .into_iter()
            .map(|r| r.rebase(base_offset))
            .collect();
        let last_offset = base_offset + records.len() as i64 - 1;
        self.batches.push(StoredBatch {
            last_offset,
            raw,
            records,
        });
        self.next_offset = last_offset + 1;
        base_offset
    }

    /// The stored batches from the one holding `offset` on, as consumers
    /// fetch them: whole batches, at most `max_bytes` of them, except that
    /// the first batch is returned even if larger when `allow_oversized`
    /// (KIP-74, so a big batch cannot stall a consumer).
    pub(crate) fn read(&self, offset: i64, max_bytes: usize, allow_oversized: bool) -> Bytes {
        let start = self.batches.partition_point(|b| b.last_offset < offset);
        let mut out = BytesMut::new();
        for batch in &self.batches[start..] {
            let fits = out.len() + batch.raw.len() <= max_bytes;
            let oversized_first = out.is_empty() && allow_oversized;
            if !(fits || oversized_first) {
                break;
            }
            out.extend_from_slice(&batch.raw);
        }
        out.freeze()
    }

    /// The first record at or after `timestamp`: `(offset, timestamp)`.
    pub(crate) fn offset_for_timestamp(&self, timestamp: i64) -> Option<(i64, i64)> {
        self.records()
            .find(|r| r.timestamp >= timestamp)
            .map(|r| (r.offset, r.timestamp))
    }

    /// The record with the largest timestamp (the earliest such): `(offset,
    /// timestamp)`.
    pub(crate) fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.records()
            .fold(None, |best: Option<&StoredRecord>, r| match best {
                Some(b) if b.timestamp >= r.timestamp => Some(b),
                _ => Some(r),
            })
            .map(|r| (r.offset, r.timestamp))
    }

    /// Every stored record in offset order.
    pub(crate) fn records(&self) -> impl Iterator<Item = &StoredRecord> {
        self.batches
            .iter()
            .flat_map(|b| b.records.iter())
            .filter(|r| r.offset >= self.log_start)
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::Compression;

    use super::*;
    use crate::batch::parse_record_set;
    use crate::testkit::{batch, Idempotence};

    fn parsed(values: &[&str], idempotence: Option<Idempotence>) -> Vec<ParsedBatch> {
        parse_record_set(batch(values, idempotence, Compression::None)).unwrap()
    }

    fn pid(base_sequence: i32) -> Option<Idempotence> {
        Some(Idempotence {
            producer_id: 1,
            epoch: 0,
            base_sequence,
        })
    }

    #[test]
    fn offsets_are_assigned_consecutively() {
        let mut log = PartitionLog::default();
        assert_eq!(
            log.append(parsed(&["a", "b"], None), 0, UnknownProducer::Accept),
            Ok(0)
        );
        assert_eq!(
            log.append(parsed(&["c"], None), 0, UnknownProducer::Accept),
            Ok(2)
        );
        assert_eq!(log.high_watermark(), 3);
        let offsets: Vec<i64> = log.records().map(|r| r.offset).collect();
        assert_eq!(offsets, [0, 1, 2]);
        assert_eq!(
            log.read(2, usize::MAX, false).len(),
            parsed(&["c"], None)[0].raw.len()
        );
        assert!(log.read(3, usize::MAX, true).is_empty());
    }

    #[test]
    fn a_refused_batch_leaves_the_whole_request_unapplied() {
        let mut log = PartitionLog::default();
        let mut request = parsed(&["a"], pid(0));
        request.extend(parsed(&["b"], pid(5))); // a gap after the first batch
        assert_eq!(
            log.append(request, 0, UnknownProducer::Accept),
            Err(ResponseError::OutOfOrderSequenceNumber)
        );
        assert_eq!(log.high_watermark(), 0);
        // The producer state was not advanced either: sequence 0 still fits.
        assert_eq!(
            log.append(parsed(&["a"], pid(0)), 0, UnknownProducer::Accept),
            Ok(0)
        );
        assert_eq!(
            log.append(parsed(&["b"], pid(1)), 0, UnknownProducer::Accept),
            Ok(1)
        );
    }

    #[test]
    fn forgetting_producers_keeps_records_and_applies_the_unknown_rule() {
        let mut log = PartitionLog::default();
        assert_eq!(
            log.append(parsed(&["a"], pid(0)), 0, UnknownProducer::Accept),
            Ok(0)
        );
        assert_eq!(log.forget_producers(), 1);
        assert_eq!(log.high_watermark(), 1, "records stay");
        assert_eq!(
            log.append(
                parsed(&["b"], pid(1)),
                0,
                UnknownProducer::RequireSequenceZero
            ),
            Err(ResponseError::UnknownProducerId)
        );
        assert_eq!(
            log.append(parsed(&["a"], pid(0)), 0, UnknownProducer::Accept),
            Ok(1),
            "no longer known as a duplicate: stored again"
        );
    }

    #[test]
    fn read_respects_max_bytes_unless_first_and_allowed() {
        let mut log = PartitionLog::default();
        log.append(parsed(&["a"], None), 0, UnknownProducer::Accept)
            .unwrap();
        log.append(parsed(&["b"], None), 0, UnknownProducer::Accept)
            .unwrap();
        let one = log.read(0, usize::MAX, false).len() / 2;
        assert_eq!(log.read(0, one, false).len(), one);
        assert_eq!(log.read(0, one + 1, false).len(), one);
        assert!(log.read(0, 1, false).is_empty());
        assert_eq!(log.read(0, 1, true).len(), one);
    }
}

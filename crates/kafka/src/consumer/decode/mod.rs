//! Record batch decoding: the reverse of `crate::batch`, over the `records`
//! bytes of one partition of a Fetch response.
//!
//! Hand-written over [`Bytes`] rather than kafka-protocol's
//! `RecordBatchDecoder`, which cannot serve a consumer: it keeps headers in
//! a map (Kafka allows a key twice), refuses non-UTF-8 header keys, always
//! checks the CRC, does not expose the batch's last offset delta (so a
//! compacted batch's end is unknown), and cannot tell a batch cut short by
//! the fetch's byte limit from a corrupt one. The codecs are
//! kafka-protocol's (the ones `crate::batch` compresses with).
//!
//! For one partition's data this yields, in offset order:
//!
//! * the records at or after the fetch offset (records before it, in the
//!   first batch, are dropped);
//! * control batches skipped; with `read_committed`, the batches of
//!   aborted transactions skipped (the response's aborted-transaction list
//!   names producer id and first offset; the abort marker ends it);
//! * the next offset to fetch: the last offset of the last whole batch + 1,
//!   which steps over compaction's gaps;
//! * whether a partial batch ended the data (the fetch's byte limit, not
//!   an error);
//! * a corrupt batch as an error naming the partition and offset, after
//!   the records that precede it, with the next offset left at that batch
//!   so nothing is skipped silently.

mod cursor;
mod header;
mod records;

#[cfg(test)]
mod speed_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::consumer::record::ConsumerRecord;
use crate::record::TopicPartition;
use header::Front;
use records::{ControlMarker, RecordSink};

/// A batch the consumer cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "corrupt record batch in {partition} at offset {offset}: {reason}; the consumer stops \
     before it (seek past offset {offset} to skip the batch, or check.crcs=false if only \
     the CRC is wrong)"
)]
pub(crate) struct CorruptBatch {
    /// The partition.
    pub(crate) partition: TopicPartition,
    /// The batch's base offset (as the batch states it).
    pub(crate) offset: i64,
    /// What was wrong.
    pub(crate) reason: String,
}

/// One aborted transaction from a Fetch response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AbortedTxn {
    /// The first offset the transaction wrote in this partition.
    pub(crate) first_offset: i64,
    /// The transactional producer.
    pub(crate) producer_id: i64,
}

/// How to read one partition's fetched data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeOptions {
    /// `check.crcs`.
    pub(crate) check_crcs: bool,
    /// `isolation.level=read_committed`.
    pub(crate) read_committed: bool,
}

/// What one partition's data held.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Records at or after the fetch offset, in offset order.
    pub(crate) records: Vec<ConsumerRecord>,
    /// Where the next fetch starts: after the last whole batch read, or the
    /// fetch offset when there was none.
    pub(crate) next_offset: i64,
    /// A partial batch ended the data (cut by the fetch's byte limit).
    pub(crate) partial: bool,
    /// Whole batches read (skipped ones included).
    pub(crate) batches: usize,
    /// The batch decoding stopped at, if one was corrupt.
    pub(crate) corrupt: Option<CorruptBatch>,
}

/// Decodes `data`, the records of `partition` fetched from `fetch_offset`.
pub(crate) fn decode_partition(
    partition: &TopicPartition,
    fetch_offset: i64,
    data: Bytes,
    aborted: &[AbortedTxn],
    options: DecodeOptions,
) -> Decoded {
    let mut out = Decoded {
        next_offset: fetch_offset,
        ..Decoded::default()
    };
    let mut transactions = AbortedTransactions::new(aborted);
    let topic: &Arc<str> = &partition.topic;
    let mut rest = data;
    while !rest.is_empty() {
        let (header, records, size) = match header::front(&rest, options.check_crcs) {
            Front::Partial => {
                out.partial = true;
                break;
            }
            Front::Corrupt {
                base_offset,
                reason,
            } => {
                out.corrupt = Some(corrupt(partition, base_offset, reason));
                break;
            }
            Front::Batch {
                header,
                records,
                size,
            } => (header, records, size),
        };
        let _ = rest.split_to(size);
        let base_offset = header.base_offset;
        let last_offset = header.last_offset();
        if last_offset < out.next_offset {
            // Wholly before the fetch offset (or a repeat): nothing to read.
            continue;
        }
        let before = out.records.len();
        let kept = (|| -> Result<(), String> {
            if options.read_committed && header.is_transactional() {
                transactions.begin_up_to(last_offset);
                if header.is_control() {
                    let records = records::decompress(header.codec(), records)?;
                    if records::control_marker(&header, records)? == ControlMarker::Abort {
                        transactions.end(header.producer_id);
                    }
                    return Ok(());
                }
                if transactions.is_aborted(header.producer_id) {
                    return Ok(());
                }
            }
            if header.is_control() {
                return Ok(());
            }
            // Straight into the output; a batch that fails part-way is
            // truncated away below.
            let mut sink = RecordSink {
                topic,
                partition: partition.partition,
                from_offset: out.next_offset,
                out: &mut out.records,
            };
            let records = records::decompress(header.codec(), records)?;
            records::read_records(&header, records, &mut sink)
        })();
        match kept {
            Ok(()) => {
                out.next_offset = last_offset.saturating_add(1);
                out.batches += 1;
            }
            Err(reason) => {
                out.records.truncate(before);
                out.corrupt = Some(corrupt(partition, base_offset, reason));
                break;
            }
        }
    }
    out
}

fn corrupt(partition: &TopicPartition, offset: i64, reason: String) -> CorruptBatch {
    tracing::warn!(%partition, offset, %reason, "corrupt record batch");
    CorruptBatch {
        partition: partition.clone(),
        offset,
        reason,
    }
}

/// Java's rule for `read_committed`: an aborted transaction becomes active
/// once a batch reaches its first offset, and a producer's batches are
/// dropped while one of its transactions is active; its abort marker ends
/// it.
struct AbortedTransactions {
    /// Not yet reached, by first offset.
    pending: BTreeSet<AbortedTxn>,
    /// Producers with an aborted transaction open at this point.
    active: HashSet<i64>,
}

impl AbortedTransactions {
    fn new(aborted: &[AbortedTxn]) -> AbortedTransactions {
        AbortedTransactions {
            pending: aborted.iter().copied().collect(),
            active: HashSet::new(),
        }
    }

    fn begin_up_to(&mut self, last_offset: i64) {
        while let Some(first) = self.pending.first().copied() {
            if first.first_offset > last_offset {
                break;
            }
            self.pending.pop_first();
            self.active.insert(first.producer_id);
        }
    }

    fn is_aborted(&self, producer_id: i64) -> bool {
        self.active.contains(&producer_id)
    }

    fn end(&mut self, producer_id: i64) {
        self.active.remove(&producer_id);
    }
}

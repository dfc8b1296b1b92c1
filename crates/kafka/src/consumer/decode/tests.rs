//! The decoder against the producer's own batch encoder (every codec), and
//! hand-patched batches for what a producer does not write: offsets, leader
//! epochs, log-append time, transactions, control markers, compaction.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    self as kp, RecordBatchEncoder, RecordEncodeOptions, TimestampType as KpTimestamp,
};
use proptest::prelude::*;

use super::*;
use crate::config::Compression;
use crate::consumer::record::TimestampType;
use crate::consumer::test_batches::*;
use crate::record::Record;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

const PLAIN: DecodeOptions = DecodeOptions {
    check_crcs: true,
    read_committed: false,
};

fn tp() -> TopicPartition {
    TopicPartition::new("t", 3)
}

fn offsets(d: &Decoded) -> Vec<i64> {
    d.records.iter().map(|r| r.offset).collect()
}

#[test]
fn every_codec_round_trips_the_producers_batches() {
    let sent = records(20);
    for codec in CODECS {
        let data = at(100, &produced(&sent, codec));
        let d = decode_partition(&tp(), 100, data, &[], PLAIN);
        assert!(
            d.corrupt.is_none() && !d.partial,
            "{codec}: {:?}",
            d.corrupt
        );
        assert_eq!(d.next_offset, 120, "{codec}");
        assert_eq!(d.batches, 1);
        assert_eq!(offsets(&d), (100..120).collect::<Vec<_>>());
        for (i, (got, want)) in d.records.iter().zip(&sent).enumerate() {
            assert_eq!(&*got.topic, "t");
            assert_eq!(got.partition, 3);
            assert_eq!(got.key, want.key, "{codec}");
            assert_eq!(got.value, want.value, "{codec}");
            assert_eq!(got.headers, want.headers, "repeated keys kept in order");
            assert_eq!(got.timestamp, 1_700_000_000_000 + i as i64);
            assert_eq!(got.timestamp_type, TimestampType::CreateTime);
            assert_eq!(got.leader_epoch, None, "a producer's batch has epoch -1");
        }
    }
}

#[test]
fn uncompressed_values_are_slices_of_the_fetched_bytes() {
    let data = produced(&records(3), Compression::None);
    let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
    let d = decode_partition(&tp(), 0, data.clone(), &[], PLAIN);
    for r in &d.records {
        let value = r.value.as_ref().unwrap();
        assert!(range.contains(&(value.as_ptr() as usize)), "no copy");
    }
}

#[test]
fn records_before_the_fetch_offset_are_dropped() {
    let data = at(100, &produced(&records(10), Compression::Lz4));
    let d = decode_partition(&tp(), 104, data.clone(), &[], PLAIN);
    assert_eq!(offsets(&d), (104..110).collect::<Vec<_>>());
    assert_eq!(d.next_offset, 110);
    // A batch wholly before the fetch offset is passed over.
    let two = concat(&[data, at(110, &produced(&records(2), Compression::None))]);
    let d = decode_partition(&tp(), 111, two, &[], PLAIN);
    assert_eq!(offsets(&d), [111]);
    assert_eq!((d.next_offset, d.batches), (112, 1));
}

#[test]
fn a_partial_batch_at_the_end_is_not_an_error() {
    let first = at(0, &produced(&records(3), Compression::None));
    let second = at(3, &produced(&records(3), Compression::Gzip));
    let whole = concat(&[first.clone(), second]);
    for cut in [
        first.len() + 1,
        first.len() + 11,
        first.len() + 12,
        whole.len() - 1,
    ] {
        let d = decode_partition(&tp(), 0, whole.slice(..cut), &[], PLAIN);
        assert!(d.partial, "cut at {cut}");
        assert!(d.corrupt.is_none(), "cut at {cut}: {:?}", d.corrupt);
        assert_eq!((offsets(&d), d.next_offset), (vec![0, 1, 2], 3));
    }
    let d = decode_partition(&tp(), 0, first.slice(..30), &[], PLAIN);
    assert!(d.partial && d.records.is_empty());
    assert_eq!(
        d.next_offset, 0,
        "nothing read: fetch the same offset again"
    );
}

#[test]
fn compaction_gaps_move_the_next_offset_past_the_batch() {
    // Offsets 10, 12, 15 survive of a batch that ended at 19.
    let kept: Vec<kp::Record> = [10i64, 12, 15]
        .iter()
        .map(|&offset| kp::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 4,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KpTimestamp::Creation,
            offset,
            // The encoder batches records whose offset - sequence agree.
            sequence: (offset - 10) as i32,
            timestamp: 1000 + offset,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: None,
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: kp::Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, kept.iter(), &options).unwrap();
    let batch = patch(
        &buf.freeze(),
        Patch {
            base_offset: 10,
            last_offset_delta: Some(9),
            ..Patch::default()
        },
    );
    let d = decode_partition(&tp(), 11, batch, &[], PLAIN);
    assert_eq!(offsets(&d), [12, 15]);
    assert_eq!(d.next_offset, 20, "last offset + 1, not the record count");
    assert_eq!(d.records[0].leader_epoch, Some(4));
    assert_eq!(d.records[1].timestamp, 1015);
}

#[test]
fn a_corrupt_batch_is_an_error_naming_partition_and_offset_after_the_good_ones() {
    let good = at(0, &produced(&records(2), Compression::None));
    let bad = at(2, &produced(&records(2), Compression::None));
    let mut damaged = BytesMut::from(&bad[..]);
    let value_end = damaged
        .windows(7)
        .position(|w| w == b"value-1")
        .expect("the value is stored plainly")
        + 6;
    damaged[value_end] ^= 0x55;
    let data = concat(&[good, damaged.freeze()]);
    let d = decode_partition(&tp(), 0, data.clone(), &[], PLAIN);
    assert_eq!(offsets(&d), [0, 1], "the records before it are kept");
    assert_eq!(d.next_offset, 2, "the position stays at the corrupt batch");
    let err = d.corrupt.expect("corrupt");
    assert_eq!((err.partition.clone(), err.offset), (tp(), 2));
    let message = err.to_string();
    assert!(message.contains("t-3") && message.contains("offset 2") && message.contains("CRC"));
    // Without check.crcs the damaged byte (inside a value) goes through.
    let lenient = DecodeOptions {
        check_crcs: false,
        ..PLAIN
    };
    let d = decode_partition(&tp(), 0, data, &[], lenient);
    assert!(d.corrupt.is_none());
    assert_eq!(d.next_offset, 4);
    assert_eq!(d.records[3].value.as_deref(), Some(&b"value-d"[..]));
}

#[test]
fn a_batch_broken_part_way_delivers_none_of_its_records() {
    let good = at(0, &produced(&records(2), Compression::None));
    let bad = at(2, &produced(&records(3), Compression::None));
    // Cut the batch's last record short: its first two records read
    // fine, then the batch is corrupt (the CRC is not checked here).
    let mut damaged = BytesMut::from(&bad[..]);
    let length = i32::from_be_bytes(damaged[8..12].try_into().unwrap()) - 1;
    damaged[8..12].copy_from_slice(&length.to_be_bytes());
    damaged.truncate(damaged.len() - 1);
    let data = concat(&[good, damaged.freeze()]);
    let lenient = DecodeOptions {
        check_crcs: false,
        ..PLAIN
    };
    let d = decode_partition(&tp(), 0, data, &[], lenient);
    assert_eq!(offsets(&d), [0, 1], "none of the broken batch");
    assert_eq!(d.next_offset, 2);
    assert_eq!(d.corrupt.map(|c| c.offset), Some(2));
}

#[test]
fn old_message_formats_are_refused_by_name() {
    let mut v1 = BytesMut::from(&produced(&records(1), Compression::None)[..]);
    v1[16] = 1;
    let d = decode_partition(&tp(), 0, v1.freeze(), &[], PLAIN);
    assert!(d.corrupt.unwrap().reason.contains("magic 1"));
}

#[test]
fn log_append_time_gives_every_record_the_batch_time() {
    let batch = patch(
        &produced(&records(3), Compression::Snappy),
        Patch {
            extra_attributes: 1 << 3,
            leader_epoch: Some(7),
            ..Patch::default()
        },
    );
    let d = decode_partition(&tp(), 0, batch, &[], PLAIN);
    for r in &d.records {
        assert_eq!(r.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(r.timestamp, 1_700_000_000_002, "the batch's max timestamp");
        assert_eq!(r.leader_epoch, Some(7));
    }
}

#[test]
fn control_batches_are_skipped_and_aborted_transactions_filtered() {
    let data = concat(&[
        txn(0, 2, 7),                                     // 0-1 aborted
        at(2, &produced(&records(1), Compression::None)), // 2 plain
        txn(3, 2, 8),                                     // 3-4 committed
        marker(5, 7, 0),                                  // abort 7
        marker(6, 8, 1),                                  // commit 8
        txn(7, 2, 7),                                     // 7-8 a new txn of 7
    ]);
    let aborted = [AbortedTxn {
        first_offset: 0,
        producer_id: 7,
    }];
    let committed = DecodeOptions {
        read_committed: true,
        ..PLAIN
    };
    let d = decode_partition(&tp(), 0, data.clone(), &aborted, committed);
    assert!(d.corrupt.is_none(), "{:?}", d.corrupt);
    assert_eq!(offsets(&d), [2, 3, 4, 7, 8]);
    assert_eq!((d.next_offset, d.batches), (9, 6));
    let d = decode_partition(&tp(), 0, data, &aborted, PLAIN);
    assert_eq!(offsets(&d), [0, 1, 2, 3, 4, 7, 8], "read_uncommitted");
    assert_eq!(d.next_offset, 9);
}

#[test]
fn an_aborted_transaction_starting_mid_fetch_drops_only_its_batches() {
    let data = concat(&[txn(0, 2, 9), txn(2, 2, 9), marker(4, 9, 0)]);
    let aborted = [AbortedTxn {
        first_offset: 2,
        producer_id: 9,
    }];
    let committed = DecodeOptions {
        read_committed: true,
        ..PLAIN
    };
    let d = decode_partition(&tp(), 0, data, &aborted, committed);
    assert_eq!(offsets(&d), [0, 1]);
    assert_eq!(d.next_offset, 5);
}

fn arb_record() -> impl Strategy<Value = Record> {
    let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64));
    (
        bytes(),
        bytes(),
        proptest::collection::vec(("[a-z\u{e9}]{0,6}", bytes()), 0..4),
    )
        .prop_map(|(key, value, headers)| Record {
            topic: "t".into(),
            partition: None,
            key: key.map(Bytes::from),
            value: value.map(Bytes::from),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k, v.map(Bytes::from)))
                .collect(),
            timestamp: None,
        })
}

fn arb_codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(CODECS.to_vec())
}

/// Records as kafka-protocol's own encoder takes them: header keys unique
/// (it keeps them in a map), offsets from `base`, one batch.
fn to_protocol(records: &[Record], base: i64) -> Vec<kp::Record> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut headers = IndexMap::new();
            for (k, v) in &r.headers {
                headers.insert(StrBytes::from_string(k.clone()), v.clone());
            }
            kp::Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 2,
                producer_id: 5,
                producer_epoch: 0,
                timestamp_type: KpTimestamp::Creation,
                offset: base + i as i64,
                sequence: i as i32,
                timestamp: 1_000 + (i as i64 * 7) % 5,
                key: r.key.clone(),
                value: r.value.clone(),
                headers,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn what_kafka_protocol_encodes_decodes_to_the_same_records(
        records in proptest::collection::vec(arb_record(), 1..12),
        codec in arb_codec(),
        base in 0i64..1_000_000,
    ) {
        let sent = to_protocol(&records, base);
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: codec.to_protocol() };
        RecordBatchEncoder::encode(&mut buf, sent.iter(), &options).unwrap();
        let d = decode_partition(&tp(), base, buf.freeze(), &[], PLAIN);
        prop_assert!(d.corrupt.is_none(), "{:?}", d.corrupt);
        prop_assert_eq!(d.next_offset, base + records.len() as i64);
        prop_assert_eq!(d.records.len(), sent.len());
        for (got, want) in d.records.iter().zip(&sent) {
            prop_assert_eq!(got.offset, want.offset);
            prop_assert_eq!(got.timestamp, want.timestamp, "deltas from the smallest timestamp");
            prop_assert_eq!(got.leader_epoch, Some(2));
            prop_assert_eq!(&got.key, &want.key);
            prop_assert_eq!(&got.value, &want.value);
            let headers: Vec<(String, Option<Bytes>)> = want
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            prop_assert_eq!(&got.headers, &headers);
        }
    }

    #[test]
    fn what_the_producer_encodes_decodes_to_the_same_records(
        batches in proptest::collection::vec(
            (proptest::collection::vec(arb_record(), 1..12), arb_codec()), 1..4),
        base in 0i64..1_000_000,
    ) {
        let mut offset = base;
        let mut parts = Vec::new();
        let mut sent = Vec::new();
        for (records, codec) in &batches {
            parts.push(at(offset, &produced(records, *codec)));
            offset += records.len() as i64;
            sent.extend(records.iter().cloned());
        }
        let d = decode_partition(&tp(), base, concat(&parts), &[], PLAIN);
        prop_assert!(d.corrupt.is_none(), "{:?}", d.corrupt);
        prop_assert!(!d.partial);
        prop_assert_eq!(d.next_offset, offset);
        prop_assert_eq!(d.records.len(), sent.len());
        for (i, (got, want)) in d.records.iter().zip(&sent).enumerate() {
            prop_assert_eq!(got.offset, base + i as i64);
            prop_assert_eq!(&got.key, &want.key);
            prop_assert_eq!(&got.value, &want.value);
            prop_assert_eq!(&got.headers, &want.headers);
        }
    }

    #[test]
    fn random_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        check_crcs in any::<bool>(),
        read_committed in any::<bool>(),
        fetch_offset in -2i64..100,
    ) {
        let options = DecodeOptions { check_crcs, read_committed };
        let aborted = [AbortedTxn { first_offset: 0, producer_id: 0 }];
        let d = decode_partition(&tp(), fetch_offset, Bytes::from(data), &aborted, options);
        prop_assert!(d.next_offset >= fetch_offset);
    }

    #[test]
    fn a_random_header_over_real_records_never_panics(
        header in proptest::collection::vec(any::<u8>(), 61),
        codec in arb_codec(),
        records in proptest::collection::vec(arb_record(), 1..5),
    ) {
        // Keep the length and magic plausible so decoding gets past them.
        let batch = produced(&records, codec);
        let mut b = BytesMut::from(&batch[..]);
        b[..61].copy_from_slice(&header);
        let length = (batch.len() - 12) as i32;
        b[8..12].copy_from_slice(&length.to_be_bytes());
        b[16] = 2;
        let lenient = DecodeOptions { check_crcs: false, read_committed: true };
        let _ = decode_partition(&tp(), 0, b.freeze(), &[], lenient);
    }

    #[test]
    fn any_truncation_yields_a_prefix_and_never_an_error(
        batches in proptest::collection::vec(
            (proptest::collection::vec(arb_record(), 1..6), arb_codec()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut offset = 0;
        let mut parts = Vec::new();
        let mut ends = vec![0usize];
        for (records, codec) in &batches {
            parts.push(at(offset, &produced(records, *codec)));
            offset += records.len() as i64;
            ends.push(ends.last().unwrap() + parts.last().unwrap().len());
        }
        let whole = concat(&parts);
        let cut = cut.index(whole.len() + 1);
        let d = decode_partition(&tp(), 0, whole.slice(..cut), &[], PLAIN);
        prop_assert!(d.corrupt.is_none(), "{:?}", d.corrupt);
        let whole_batches = ends.iter().filter(|&&end| end <= cut).count() - 1;
        prop_assert_eq!(d.batches, whole_batches);
        prop_assert_eq!(d.partial, !ends.contains(&cut));
        let expected: i64 = batches[..whole_batches].iter().map(|(r, _)| r.len() as i64).sum();
        prop_assert_eq!(d.next_offset, expected);
        prop_assert_eq!(offsets(&d), (0..expected).collect::<Vec<_>>());
    }
}

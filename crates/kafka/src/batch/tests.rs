//! The builder against kafka-protocol's encoder (same bytes) and decoder
//! (same records back), for every codec.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    self as kp, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;

use super::*;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Producer identity and base sequence of a batch under test.
#[derive(Clone, Copy, Debug)]
struct Ident {
    id: i64,
    epoch: i16,
    base_sequence: i32,
}

const PLAIN: Ident = Ident {
    id: -1,
    epoch: -1,
    base_sequence: -1,
};

impl Ident {
    fn stamp(self) -> Option<Stamp> {
        (self.id >= 0).then_some(Stamp {
            identity: ProducerIdentity {
                id: self.id,
                epoch: self.epoch,
            },
            base_sequence: self.base_sequence,
        })
    }
}

const IDEMPOTENT: Ident = Ident {
    id: 4242,
    epoch: 3,
    base_sequence: 100,
};

fn sample_records() -> Vec<(Record, i64)> {
    vec![
        (Record::key_value("t", "k1", "hello"), 1_700_000_000_000),
        (Record::value("t", "no key"), 1_700_000_000_001),
        (Record::new("t").with_key("tombstone"), 1_700_000_000_001),
        (
            Record::key_value("t", "k2", vec![0xffu8; 300])
                .with_header("trace", "abc")
                .with_null_header("empty"),
            1_700_000_000_500,
        ),
        (Record::new("t"), 1_700_000_100_000),
        (Record::key_value("t", "", ""), 1_700_000_100_000),
    ]
}

fn build(records: &[(Record, i64)], ident: Ident, codec: Compression) -> Bytes {
    let mut b = BatchBuilder::new(1 << 20, 1 << 20);
    for (r, ts) in records {
        b.append(r, *ts).unwrap();
    }
    b.finish(ident.stamp(), codec).unwrap()
}

/// The same records as the protocol crate wants them.
fn to_protocol(records: &[(Record, i64)], ident: Ident) -> Vec<kp::Record> {
    records
        .iter()
        .enumerate()
        .map(|(i, (r, ts))| kp::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: ident.id,
            producer_epoch: ident.epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // offset - sequence must stay constant for one batch; base -1
            // (not idempotent) then gives sequence i - 1.
            sequence: ident.base_sequence.wrapping_add(i as i32),
            timestamp: *ts,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone()))
                .collect::<IndexMap<_, _>>(),
        })
        .collect()
}

fn crate_encode(records: &[(Record, i64)], ident: Ident, codec: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: codec.to_protocol(),
    };
    RecordBatchEncoder::encode(&mut buf, &to_protocol(records, ident), &options).unwrap();
    buf.freeze()
}

fn assert_decodes_to(
    mut bytes: Bytes,
    records: &[(Record, i64)],
    ident: Ident,
    codec: Compression,
) {
    let sets = RecordBatchDecoder::decode_all(&mut bytes).unwrap();
    assert_eq!(sets.len(), 1, "one batch");
    assert_eq!(sets[0].compression, codec.to_protocol());
    assert_eq!(sets[0].records, to_protocol(records, ident));
}

#[test]
fn uncompressed_bytes_equal_the_crate_encoder() {
    for ident in [PLAIN, IDEMPOTENT] {
        let ours = build(&sample_records(), ident, Compression::None);
        let theirs = crate_encode(&sample_records(), ident, Compression::None);
        assert_eq!(ours, theirs, "{ident:?}");
    }
}

#[test]
fn compressed_bytes_equal_the_crate_encoder() {
    for codec in CODECS {
        let ours = build(&sample_records(), IDEMPOTENT, codec);
        let theirs = crate_encode(&sample_records(), IDEMPOTENT, codec);
        assert_eq!(ours, theirs, "{codec}");
    }
}

#[test]
fn every_codec_round_trips_through_the_crate_decoder() {
    for codec in CODECS {
        for ident in [PLAIN, IDEMPOTENT] {
            let bytes = build(&sample_records(), ident, codec);
            assert_decodes_to(bytes, &sample_records(), ident, codec);
        }
    }
}

#[test]
fn header_fields_are_where_kafka_expects_them() {
    let bytes = build(&sample_records(), IDEMPOTENT, Compression::Lz4);
    let be_i32 = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let be_i64 = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(be_i64(0), 0, "base offset");
    assert_eq!(be_i32(8) as usize, bytes.len() - 12, "batch length");
    assert_eq!(be_i32(12), -1, "partition leader epoch");
    assert_eq!(bytes[16], 2, "magic");
    assert_eq!(
        u32::from_be_bytes(bytes[17..21].try_into().unwrap()),
        crc32c::crc32c(&bytes[21..])
    );
    assert_eq!(
        i16::from_be_bytes([bytes[21], bytes[22]]),
        3,
        "attributes: lz4"
    );
    assert_eq!(be_i32(23), 5, "last offset delta");
    assert_eq!(be_i64(27), 1_700_000_000_000, "first timestamp");
    assert_eq!(be_i64(35), 1_700_000_100_000, "max timestamp");
    assert_eq!(be_i64(43), 4242, "producer id");
    assert_eq!(
        i16::from_be_bytes([bytes[51], bytes[52]]),
        3,
        "producer epoch"
    );
    assert_eq!(be_i32(53), 100, "base sequence");
    assert_eq!(be_i32(57), 6, "record count");
}

#[test]
fn decreasing_timestamps_still_round_trip() {
    let records = vec![
        (Record::value("t", "a"), 5_000),
        (Record::value("t", "b"), 1_000),
        (Record::value("t", "c"), 9_000),
    ];
    let bytes = build(&records, PLAIN, Compression::None);
    assert_eq!(
        i64::from_be_bytes(bytes[27..35].try_into().unwrap()),
        5_000,
        "Java's base: the first"
    );
    assert_eq!(i64::from_be_bytes(bytes[35..43].try_into().unwrap()), 9_000);
    let mut bytes = bytes;
    let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
    let stamps: Vec<i64> = set.records.iter().map(|r| r.timestamp).collect();
    assert_eq!(stamps, [5_000, 1_000, 9_000]);
}

#[test]
fn batch_size_closes_the_batch_but_an_empty_batch_takes_a_big_record() {
    let small = Record::value("t", vec![1u8; 10]);
    let big = Record::value("t", vec![2u8; 500]);
    let mut b = BatchBuilder::new(100, 1000);
    b.append(&small, 1).unwrap();
    assert_eq!(b.append(&big, 1), Err(AppendError::Full));
    assert_eq!(
        b.record_count(),
        1,
        "a refused record leaves the batch as it was"
    );
    let mut filled = 1;
    while b.append(&small, 1).is_ok() {
        filled += 1;
    }
    assert!(b.size_in_bytes() <= 100 && filled > 1);
    assert!(b.is_full() || b.size_in_bytes() + record_size_in_first_position(&small) > 100);

    let mut alone = BatchBuilder::new(100, 1000);
    alone.append(&big, 1).unwrap();
    assert_eq!(
        alone.size_in_bytes(),
        RECORD_BATCH_OVERHEAD + record_size_in_first_position(&big)
    );
    assert!(alone.is_full());

    let huge = Record::value("t", vec![3u8; 2000]);
    match BatchBuilder::new(100, 1000).append(&huge, 1) {
        Err(AppendError::TooLarge { size, limit: 1000 }) => assert!(size > 2000),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let msg = AppendError::TooLarge { size: 5, limit: 4 }.to_string();
    assert!(msg.contains("max.request.size"), "{msg}");
}

#[test]
fn an_empty_batch_cannot_be_finished() {
    let b = BatchBuilder::new(100, 100);
    assert!(b.is_empty() && !b.is_full());
    assert_eq!(b.first_timestamp(), None);
    assert_eq!(b.finish(None, Compression::None), Err(BatchError::Empty));
}

#[test]
fn size_prediction_matches_what_is_written() {
    for (r, _) in sample_records() {
        let mut b = BatchBuilder::new(1 << 20, 1 << 20);
        b.append(&r, 0).unwrap();
        assert_eq!(
            b.size_in_bytes(),
            RECORD_BATCH_OVERHEAD + record_size_in_first_position(&r)
        );
    }
}

fn arb_bytes() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200).prop_map(Bytes::from))
}

fn arb_record() -> impl Strategy<Value = (Record, i64)> {
    (
        arb_bytes(),
        arb_bytes(),
        proptest::collection::vec(arb_bytes(), 0..4),
        0i64..1_000_000,
    )
        .prop_map(|(key, value, header_values, ts)| {
            let headers = header_values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("h{i}"), v))
                .collect();
            let record = Record {
                topic: "t".into(),
                partition: None,
                key,
                value,
                headers,
                timestamp: None,
            };
            (record, ts)
        })
}

fn arb_codec() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Gzip),
        Just(Compression::Snappy),
        Just(Compression::Lz4),
        Just(Compression::Zstd),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_records_round_trip(
        records in proptest::collection::vec(arb_record(), 1..40),
        codec in arb_codec(),
        idempotent in any::<bool>(),
        base_sequence in any::<i32>(),
    ) {
        let ident = if idempotent { Ident { id: 77, epoch: 1, base_sequence } } else { PLAIN };
        let bytes = build(&records, ident, codec);
        assert_decodes_to(bytes, &records, ident, codec);
    }

    #[test]
    fn sorted_timestamps_give_the_crate_encoders_bytes(
        mut records in proptest::collection::vec(arb_record(), 1..40),
        codec in arb_codec(),
    ) {
        records.sort_by_key(|(_, ts)| *ts);
        prop_assert_eq!(build(&records, IDEMPOTENT, codec), crate_encode(&records, IDEMPOTENT, codec));
    }
}

use super::*;
use crate::testkit::{batch, Idempotence};

#[test]
fn valid_batches_parse_with_records_and_sequences() {
    let pid = Idempotence {
        producer_id: 7,
        epoch: 1,
        base_sequence: 10,
    };
    let mut set = BytesMut::new();
    set.extend_from_slice(&batch(&["a", "b", "c"], Some(pid), Compression::None));
    set.extend_from_slice(&batch(&["d"], None, Compression::Gzip));
    let batches = parse_record_set(set.freeze()).unwrap();
    assert_eq!(batches.len(), 2);
    let first = &batches[0];
    assert_eq!(first.header.record_count, 3);
    assert_eq!(
        (first.header.base_sequence, first.header.last_sequence()),
        (10, 12)
    );
    assert!(first.header.is_idempotent());
    assert_eq!(first.records[2].offset, 2);
    assert_eq!(first.records[2].value.as_deref(), Some(&b"c"[..]));
    assert_eq!(
        first.records[0].headers,
        vec![("h".to_owned(), Some(Bytes::from_static(b"v")))]
    );
    assert!(!batches[1].header.is_idempotent());
    assert_eq!(batches[1].records[0].value.as_deref(), Some(&b"d"[..]));
}

#[test]
fn flipped_bit_fails_the_crc() {
    let mut raw = BytesMut::from(&batch(&["a"], None, Compression::None)[..]);
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    let err = parse_record_set(raw.freeze()).unwrap_err();
    assert_eq!(err.code(), ResponseError::CorruptMessage);
    assert!(err.to_string().contains("Cyclic redundancy check"), "{err}");
}

#[test]
fn framing_errors_are_corrupt() {
    let good = batch(&["a"], None, Compression::None);
    // Truncated batch.
    let err = parse_record_set(good.slice(..good.len() - 1)).unwrap_err();
    assert_eq!(err.code(), ResponseError::CorruptMessage);
    // Wrong magic.
    let mut raw = BytesMut::from(&good[..]);
    raw[16] = 1;
    assert!(parse_record_set(raw.freeze())
        .unwrap_err()
        .to_string()
        .contains("magic"));
    // Forged record count far beyond the bytes.
    let mut raw = BytesMut::from(&good[..]);
    raw[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    assert_eq!(
        parse_record_set(raw.freeze()).unwrap_err().code(),
        ResponseError::CorruptMessage
    );
    // Empty set.
    assert_eq!(
        parse_record_set(Bytes::new()).unwrap_err().code(),
        ResponseError::InvalidRecord
    );
}

#[test]
fn sequence_wraps() {
    let header = BatchHeader {
        attributes: 0,
        last_offset_delta: 2,
        producer_id: 1,
        producer_epoch: 0,
        base_sequence: i32::MAX - 1,
        record_count: 3,
    };
    assert_eq!(header.last_sequence(), 0);
}

#[test]
fn rebase_patches_offset_and_epoch_but_keeps_the_crc_valid() {
    let parsed = parse_record_set(batch(&["a", "b"], None, Compression::None)).unwrap();
    let rebased = parsed[0].rebased(1234, 9);
    let again = parse_record_set(rebased.clone()).unwrap();
    assert_eq!(i64::from_be_bytes(rebased[..8].try_into().unwrap()), 1234);
    assert_eq!(i32::from_be_bytes(rebased[12..16].try_into().unwrap()), 9);
    assert_eq!(again[0].records.len(), 2);
}

mod fuzz {
    use super::*;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    use proptest::prelude::*;

    /// A batch with a valid CRC around an arbitrary (garbage) payload, so
    /// the decompressors and record decoder see hostile input.
    fn garbage_batch(compression: Compression, count: usize, payload: &[u8]) -> Bytes {
        let records: Vec<Record> = (0..count as i64)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i,
                sequence: i as i32 - 1,
                timestamp: 0,
                key: None,
                value: None,
                headers: IndexMap::new(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        let payload = payload.to_vec();
        RecordBatchEncoder::encode_with_custom_compression(
            &mut buf,
            &records,
            &options,
            Some(
                move |_: &mut BytesMut, out: &mut BytesMut, _: Compression| {
                    out.extend_from_slice(&payload);
                    Ok(())
                },
            ),
        )
        .unwrap();
        buf.freeze()
    }

    /// `raw` compressed with kafka-protocol's own codec for `compression`.
    fn compress(compression: Compression, raw: &[u8]) -> Vec<u8> {
        use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};
        let mut out = BytesMut::new();
        let fill = |buf: &mut BytesMut| {
            buf.extend_from_slice(raw);
            Ok(())
        };
        match compression {
            Compression::None => out.extend_from_slice(raw),
            Compression::Gzip => Gzip::compress(&mut out, fill).unwrap(),
            Compression::Snappy => Snappy::compress(&mut out, fill).unwrap(),
            Compression::Lz4 => Lz4::compress(&mut out, fill).unwrap(),
            Compression::Zstd => Zstd::compress(&mut out, fill).unwrap(),
        }
        out.to_vec()
    }

    proptest! {
        #[test]
        fn hostile_payloads_with_valid_crc_never_panic(
            compression in prop::sample::select(vec![
                Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd,
            ]),
            count in 1usize..20,
            payload in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let raw = garbage_batch(compression, count, &payload);
            let _ = parse_record_set(raw);
        }
    }

    /// One record with no key or value whose header count is `i32::MAX`,
    /// encoded as the crate reads it (zigzag varints).
    const FORGED_HEADER_COUNT_RECORD: [u8; 11] = [
        0x14, // record length 10
        0x00, // attributes
        0x00, // timestamp delta 0
        0x00, // offset delta 0
        0x01, // key length -1 (null)
        0x01, // value length -1 (null)
        0xfe, 0xff, 0xff, 0xff, 0x0f, // header count i32::MAX
    ];

    #[test]
    fn forged_header_count_is_corrupt_not_an_abort() {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let payload = compress(compression, &FORGED_HEADER_COUNT_RECORD);
            let err = parse_record_set(garbage_batch(compression, 1, &payload)).unwrap_err();
            assert_eq!(err.code(), ResponseError::CorruptMessage, "{compression:?}");
            assert!(err.to_string().contains("header count"), "{err}");
        }
    }

    #[test]
    fn garbage_batch_has_a_valid_crc() {
        let err = parse_record_set(garbage_batch(Compression::None, 1, &[0xff; 8])).unwrap_err();
        assert!(!err.to_string().contains("Cyclic"), "{err}");
    }
}

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
    use crate::record::StoredRecord;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::protocol::StrBytes;
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

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    type Header = (String, Option<Vec<u8>>);
    type Fields = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<Header>);

    /// Keys, values and headers as producers send them, empty and null
    /// included (an empty key with a null value is the 2-byte minimum).
    fn arb_fields() -> impl Strategy<Value = Fields> {
        let bytes = || prop::option::of(prop::collection::vec(any::<u8>(), 0..40));
        let header = ("[a-z]{0,6}", bytes());
        (bytes(), bytes(), prop::collection::vec(header, 0..6))
    }

    fn to_records(fields: &[Fields]) -> Vec<Record> {
        fields
            .iter()
            .enumerate()
            .map(|(i, (key, value, headers))| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder starts a new batch when sequences are not
                // consecutive; with no producer id they run from -1.
                sequence: i as i32 - 1,
                timestamp: 1_700_000_000_000 + i as i64,
                key: key.clone().map(Bytes::from),
                value: value.clone().map(Bytes::from),
                headers: headers
                    .iter()
                    .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone().map(Bytes::from)))
                    .collect(),
            })
            .collect()
    }

    /// The uncompressed records section (after the 61-byte header).
    fn records_section(fields: &[Fields]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, &to_records(fields), &options).unwrap();
        let batch = parse_record_set(buf.clone().freeze()).unwrap();
        assert_eq!(batch.len(), 1, "all records in one batch");
        buf[HEADER_SIZE..].to_vec()
    }

    /// What the mock keeps of `raw`, per kafka-protocol's own decoder.
    fn crate_decoded(raw: &Bytes) -> Vec<StoredRecord> {
        let set = RecordBatchDecoder::decode(&mut raw.clone()).unwrap();
        let records = set.records.into_iter().enumerate();
        records
            .map(|(i, r)| StoredRecord::from_decoded(r, i as i64))
            .collect()
    }

    proptest! {
        #[test]
        fn well_formed_records_decode_as_the_crate_decodes_them(
            compression in prop::sample::select(CODECS.to_vec()),
            fields in prop::collection::vec(arb_fields(), 1..8),
        ) {
            let payload = compress(compression, &records_section(&fields));
            let raw = garbage_batch(compression, fields.len(), &payload);
            let parsed = parse_record_set(raw.clone()).unwrap();
            prop_assert_eq!(&parsed[0].records, &crate_decoded(&raw));
        }

        /// Well-formed records with a byte overwritten or a forged varint
        /// (a huge header count, key or value length) spliced in, CRC
        /// valid: refused or decoded exactly as the crate does, never an
        /// abort.
        #[test]
        fn damaged_records_with_valid_crc_never_abort(
            compression in prop::sample::select(CODECS.to_vec()),
            fields in prop::collection::vec(arb_fields(), 1..5),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            forged in prop::option::of(any::<i32>()),
        ) {
            let mut section = records_section(&fields);
            let at = at.index(section.len());
            match forged {
                None => section[at] = byte,
                Some(n) => {
                    let mut zigzag = ((n << 1) ^ (n >> 31)) as u32;
                    let mut varint = Vec::new();
                    while zigzag >= 0x80 {
                        varint.push(zigzag as u8 | 0x80);
                        zigzag >>= 7;
                    }
                    varint.push(zigzag as u8);
                    section.splice(at..at, varint);
                }
            }
            let raw = garbage_batch(compression, fields.len(), &compress(compression, &section));
            if let Ok(parsed) = parse_record_set(raw.clone()) {
                prop_assert_eq!(&parsed[0].records, &crate_decoded(&raw));
            }
        }
    }

    #[test]
    fn forged_header_count_is_corrupt_not_an_abort() {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let payload = compress(compression, &FORGED_HEADER_COUNT_RECORD);
            let err = parse_record_set(garbage_batch(compression, 1, &payload)).unwrap_err();
            assert_eq!(err.code(), ResponseError::CorruptMessage, "{compression:?}");
            assert!(err.to_string().contains("header count"), "{err}");
        }
    }

    /// Through the mock's Produce handler: the forged batch gets
    /// CORRUPT_MESSAGE, nothing is stored, and the broker keeps serving.
    #[test]
    fn produce_with_forged_header_count_gets_corrupt_message() {
        use crate::testkit::{produce_request, Client};
        use crate::{ClusterConfig, ClusterHandle};
        let cluster = ClusterHandle::new(ClusterConfig::new(1)).unwrap();
        cluster.create_topic("t", 1).unwrap();
        let leader = cluster.leaders("t").unwrap()[0];
        let mut client = Client::new(&cluster);
        let forged = garbage_batch(Compression::None, 1, &FORGED_HEADER_COUNT_RECORD);
        let good = batch(&["ok"], None, Compression::None);
        let mut codes = Vec::new();
        for records in [forged, good] {
            let response = client.call(leader, 9, &produce_request("t", 0, records, -1));
            codes.push(response.responses[0].partition_responses[0].error_code);
        }
        assert_eq!(codes, [ResponseError::CorruptMessage.code(), 0]);
        let stored = cluster.records("t", 0).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].value.as_deref(), Some(&b"ok"[..]));
    }

    /// A few hundred compressed bytes that would decompress past the cap
    /// are refused, naming the limit.
    #[test]
    fn decompression_bomb_is_corrupt() {
        use super::super::records_check::MAX_DECOMPRESSED_BATCH;
        let zeros = vec![0u8; MAX_DECOMPRESSED_BATCH + 1];
        let payload = compress(Compression::Zstd, &zeros);
        assert!(payload.len() < 64 * 1024, "{} bytes", payload.len());
        let err = parse_record_set(garbage_batch(Compression::Zstd, 1, &payload)).unwrap_err();
        assert_eq!(err.code(), ResponseError::CorruptMessage);
        assert!(err.to_string().contains("expand past"), "{err}");
    }

    #[test]
    fn snappy_block_claiming_4_gib_is_corrupt() {
        let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        xerial.extend_from_slice(&5u32.to_be_bytes());
        xerial.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let raw = [0xff, 0xff, 0xff, 0xff, 0x0f];
        for payload in [&xerial[..], &raw[..]] {
            let err = parse_record_set(garbage_batch(Compression::Snappy, 1, payload)).unwrap_err();
            assert_eq!(err.code(), ResponseError::CorruptMessage);
            assert!(err.to_string().contains("claims 4294967295"), "{err}");
        }
    }

    #[test]
    fn garbage_batch_has_a_valid_crc() {
        let err = parse_record_set(garbage_batch(Compression::None, 1, &[0xff; 8])).unwrap_err();
        assert!(!err.to_string().contains("Cyclic"), "{err}");
    }
}

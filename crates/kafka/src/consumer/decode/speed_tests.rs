//! Decoding speed against kafka-protocol's `RecordBatchDecoder`, on 4 MB
//! of the producer's 16 KiB batches (100 B and 1 KiB values, uncompressed
//! and lz4). A measurement, not a timed test: it asserts only that both
//! decode every record. Run it in release:
//! `cargo test --release -p rouse-kafka --lib decode_speed -- --ignored --nocapture`
#![allow(clippy::print_stdout)]
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::RecordBatchDecoder;

use super::*;
use crate::batch::BatchBuilder;
use crate::config::Compression;

/// About 4 MB of batches at consecutive offsets, and their record count.
fn data(codec: Compression, value: usize) -> (Bytes, usize) {
    let mut out = BytesMut::new();
    let mut n = 0;
    let mut offset = 0i64;
    while out.len() < 4 << 20 {
        let mut b = BatchBuilder::new(16 * 1024, 1 << 20);
        let mut count = 0;
        loop {
            let r = crate::record::Record::key_value("t", format!("key-{n}"), vec![b'x'; value]);
            if b.append(&r, 1_700_000_000_000 + n as i64).is_err() {
                break;
            }
            n += 1;
            count += 1;
        }
        let batch = b.finish(None, codec).unwrap();
        let mut batch = BytesMut::from(&batch[..]);
        batch[0..8].copy_from_slice(&offset.to_be_bytes());
        let crc = crc32c::crc32c(&batch[21..]);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        offset += count;
        out.extend_from_slice(&batch);
    }
    (out.freeze(), n)
}

#[test]
#[ignore = "a measurement; run in release with --nocapture"]
fn decode_speed_against_kafka_protocol() {
    let tp = TopicPartition::new("t", 0);
    let opts = DecodeOptions {
        check_crcs: true,
        read_committed: false,
    };
    for value in [100usize, 1024] {
        for codec in [Compression::None, Compression::Lz4] {
            let (d, n) = data(codec, value);
            // One round in a debug build (`cargo xtask ci` runs ignored tests too):
            // the figures then mean nothing, the decode checks still run.
            let rounds = if cfg!(debug_assertions) { 1 } else { 30 };
            for _ in 0..3 {
                let out = decode_partition(&tp, 0, d.clone(), &[], opts);
                assert_eq!(out.records.len(), n);
            }
            let t = Instant::now();
            for _ in 0..rounds {
                let out = decode_partition(&tp, 0, d.clone(), &[], opts);
                assert_eq!(out.records.len(), n);
            }
            let ours = t.elapsed().as_nanos() as f64 / (rounds * n) as f64;
            let t = Instant::now();
            for _ in 0..rounds {
                let mut b = d.clone();
                let sets = RecordBatchDecoder::decode_all(&mut b).unwrap();
                assert_eq!(sets.iter().map(|s| s.records.len()).sum::<usize>(), n);
            }
            let theirs = t.elapsed().as_nanos() as f64 / (rounds * n) as f64;
            println!("value {value} B {codec}: {n} records, {:.1} MB; rouse {ours:.1} ns/record, kafka-protocol {theirs:.1} ns/record", d.len() as f64 / 1e6);
        }
    }
}

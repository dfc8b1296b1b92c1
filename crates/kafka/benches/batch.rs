//! `cargo xtask bench batch`: encoding a record batch, rouse's incremental
//! builder against kafka-protocol's `RecordBatchEncoder`, ns per record.
//!
//! Records carry a 16-byte key and a 100-byte value and fill one 16 KiB
//! batch (Java's default `batch.size`), stamped with rising timestamps.
//! Peers run in interleaved rounds and the median round is reported, so a
//! slow phase of a shared machine hurts every peer alike.
//!
//! * rouse: `BatchBuilder::append` per record, then `finish`.
//! * crate, encode only: `RecordBatchEncoder::encode` over prebuilt
//!   `kafka_protocol::records::Record`s (the best case for the crate).
//! * crate, from records: building those structs from the application's
//!   records first, which a producer using the crate has to do.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{self as kp, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use rouse_kafka::batching::BatchBuilder;
use rouse_kafka::{Compression, Record};

const BATCH_SIZE: usize = 16 * 1024;
const ROUNDS: usize = 7;
/// Batches encoded per peer per round.
const BATCHES_PER_ROUND: usize = 400;

fn records() -> Vec<(Record, i64)> {
    let mut out = Vec::new();
    let mut probe = BatchBuilder::new(BATCH_SIZE, BATCH_SIZE);
    for i in 0.. {
        let record = Record::key_value(
            "bench",
            Bytes::from(format!("key-{i:012}")),
            Bytes::from(vec![b'v'; 100]),
        );
        let ts = 1_700_000_000_000 + i as i64;
        if probe.append(&record, ts).is_err() {
            break;
        }
        out.push((record, ts));
    }
    out
}

fn to_protocol(records: &[(Record, i64)]) -> Vec<kp::Record> {
    records
        .iter()
        .enumerate()
        .map(|(i, (r, ts))| kp::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: *ts,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: IndexMap::new(),
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Peer {
    Rouse,
    CrateEncodeOnly,
    CrateFromRecords,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Rouse => "rouse BatchBuilder",
            Peer::CrateEncodeOnly => "kafka-protocol encoder, prebuilt records",
            Peer::CrateFromRecords => "kafka-protocol encoder, incl. building records",
        }
    }
}

/// Encodes `BATCHES_PER_ROUND` batches; returns ns per record.
fn run(peer: Peer, codec: Compression, records: &[(Record, i64)], prebuilt: &[kp::Record]) -> f64 {
    let options = RecordEncodeOptions {
        version: 2,
        compression: match codec {
            Compression::None => kp::Compression::None,
            Compression::Gzip => kp::Compression::Gzip,
            Compression::Snappy => kp::Compression::Snappy,
            Compression::Lz4 => kp::Compression::Lz4,
            Compression::Zstd => kp::Compression::Zstd,
        },
    };
    let start = Instant::now();
    for _ in 0..BATCHES_PER_ROUND {
        let bytes = match peer {
            Peer::Rouse => {
                let mut b = BatchBuilder::new(BATCH_SIZE, BATCH_SIZE);
                for (r, ts) in records {
                    b.append(r, *ts).unwrap();
                }
                b.finish(None, codec).unwrap()
            }
            Peer::CrateEncodeOnly => {
                let mut buf = BytesMut::with_capacity(BATCH_SIZE);
                RecordBatchEncoder::encode(&mut buf, prebuilt, &options).unwrap();
                buf.freeze()
            }
            Peer::CrateFromRecords => {
                let built = to_protocol(records);
                let mut buf = BytesMut::with_capacity(BATCH_SIZE);
                RecordBatchEncoder::encode(&mut buf, &built, &options).unwrap();
                buf.freeze()
            }
        };
        black_box(bytes);
    }
    start.elapsed().as_nanos() as f64 / (BATCHES_PER_ROUND * records.len()) as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn main() {
    let records = records();
    let prebuilt = to_protocol(&records);
    // The two encoders must agree before their speed means anything.
    for codec in [Compression::None, Compression::Lz4] {
        let mut b = BatchBuilder::new(BATCH_SIZE, BATCH_SIZE);
        for (r, ts) in &records {
            b.append(r, *ts).unwrap();
        }
        let ours = b.finish(None, codec).unwrap();
        let mut theirs = BytesMut::new();
        let kp_codec = if codec == Compression::None {
            kp::Compression::None
        } else {
            kp::Compression::Lz4
        };
        RecordBatchEncoder::encode(
            &mut theirs,
            &prebuilt,
            &RecordEncodeOptions {
                version: 2,
                compression: kp_codec,
            },
        )
        .unwrap();
        assert_eq!(ours, theirs.freeze(), "the encoders disagree for {codec}");
    }

    let peers = [Peer::Rouse, Peer::CrateEncodeOnly, Peer::CrateFromRecords];
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut md = String::new();
    md.push_str("## Record batch encoding\n\n");
    md.push_str("Command: `cargo xtask bench batch` (release build, peers interleaved, median of rounds).\n");
    md.push_str(&format!("Machine: {cores} cores, {}.\n\n", cpu_model()));
    md.push_str(&format!(
        "One {BATCH_SIZE}-byte batch of {} records (16-byte key, 100-byte value), {BATCHES_PER_ROUND} batches x {ROUNDS} rounds per peer.\n\n",
        records.len()
    ));
    md.push_str("| compression | encoder | ns per record | vs crate, prebuilt records |\n|---|---|---:|---:|\n");
    let mut results = Vec::new();
    for codec in [Compression::None, Compression::Lz4] {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); peers.len()];
        run(Peer::Rouse, codec, &records, &prebuilt); // warm up caches and allocator
        for _ in 0..ROUNDS {
            for (i, &peer) in peers.iter().enumerate() {
                samples[i].push(run(peer, codec, &records, &prebuilt));
            }
        }
        let medians: Vec<f64> = samples.into_iter().map(median).collect();
        for (peer, ns) in peers.iter().zip(&medians) {
            md.push_str(&format!(
                "| {codec} | {} | {ns:.1} | {:.2}x |\n",
                peer.name(),
                ns / medians[1]
            ));
        }
        results.push(medians);
    }
    let (plain, lz4) = (&results[0], &results[1]);
    md.push_str(&format!(
        "\nUncompressed, the builder takes {:.1} ns per record against {:.1} ns for the crate's encoder handed ready-made \
         record structs ({:.2}x), and {:.1} ns for the crate on the path a producer really has, building those structs \
         (key/value clones, a header map) from the application's records first: the builder is {:.1}x faster there. Both \
         write the same bytes and share the CRC-32C and the 16 KiB allocation, which bound how far apart they can be. \
         With LZ4 both call the crate's codec (LZ4 frame at level 4, the high-compression path), which costs {:.0} ns per \
         record and swamps the encoding; a faster LZ4 level would matter far more than the encoder.\n",
        plain[0],
        plain[1],
        plain[0] / plain[1],
        plain[2],
        plain[2] / plain[0],
        lz4[0] - plain[0],
    ));
    println!("{md}");
    if let Ok(path) = std::env::var("ROUSE_BENCH_MD") {
        std::fs::write(&path, &md).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
}

//! The consumer core against tansu, a real Kafka-compatible broker, over a
//! socket: batches the producer wrote with every codec, stored and served
//! by the broker, are decoded back exactly once and in order, half by one
//! consumer that commits and the rest by a second of the same group.
//!
//! Needs ROUSE_TANSU (the tansu binary); `cargo xtask ci` sets it. Ignored
//! in a plain `cargo test`; with `--include-ignored` and no ROUSE_TANSU it
//! fails saying so.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use rouse_kafka_mock::tansu::Tansu;

use super::group::GroupVerdict;
use super::test_driver::{by_partition, Driver, Transport};
use crate::client::Producer;
use crate::config::{Compression, ConsumerConfig, ProducerConfig};
use crate::record::Record;

const TOPIC: &str = "rouse-consumer-core";
const PARTITIONS: i32 = 3;
const PER_CODEC: usize = 60;

/// One blocking connection to the broker (tansu is a single broker, so
/// every broker id maps to it). Bounded by a read timeout.
fn socket(address: &str) -> Transport {
    let mut stream = TcpStream::connect(address).expect("tansu accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    Box::new(move |_broker, frame: Bytes| {
        stream
            .write_all(&(frame.len() as i32).to_be_bytes())
            .and_then(|()| stream.write_all(&frame))
            .expect("request written");
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("response length");
        let mut payload = vec![0u8; i32::from_be_bytes(len) as usize];
        stream.read_exact(&mut payload).expect("response");
        Bytes::from(payload)
    })
}

#[test]
#[ignore = "needs ROUSE_TANSU (the tansu binary); cargo xtask ci sets it"]
fn batches_of_every_codec_come_back_from_a_real_broker() {
    let binary = std::env::var_os("ROUSE_TANSU")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("ROUSE_TANSU is not set: point it at the tansu binary, or run `cargo xtask ci`")
        });
    let tansu = Tansu::start(&binary, &[(TOPIC, PARTITIONS as u32)]).expect("tansu starts");
    let bootstrap = tansu.bootstrap();

    let mut sent: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let config = ProducerConfig::from_pairs([
            ("bootstrap.servers", bootstrap.as_str()),
            ("compression.type", &codec.to_string()),
            ("linger.ms", "20"),
        ])
        .expect("config");
        let producer = Producer::new(config).expect("producer");
        for i in 0..PER_CODEC {
            let partition = (i % PARTITIONS as usize) as i32;
            let value = format!("{codec}-{i}");
            let record = Record::key_value(TOPIC, format!("k{i}"), value.clone())
                .with_header("codec", codec.to_string())
                .with_partition(partition);
            producer.send(record).expect("queued");
            sent.entry(partition).or_default().push(value);
        }
        producer.flush(Duration::from_secs(30)).expect("flushed");
        producer.close(Duration::from_secs(10)).expect("closed");
    }

    let config = ConsumerConfig::from_pairs([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", "rouse-consumer-core"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
        ("max.partition.fetch.bytes", "700"),
        ("max.poll.records", "25"),
    ])
    .expect("config");
    let want = 5 * PER_CODEC;
    // Half, committed; then a second consumer of the group takes the rest.
    let mut first = Driver::new(socket(&bootstrap), 0, TOPIC, config.clone());
    let mut got = first.consume(want / 2, 400);
    let verdicts = first.commit();
    assert!(
        verdicts.iter().all(|v| *v == GroupVerdict::Done(())),
        "{verdicts:?}"
    );
    let mut driver = Driver::new(socket(&bootstrap), 0, TOPIC, config);
    got.extend(driver.consume(want - got.len(), 400));
    assert_eq!(got.len(), want, "every record, none twice");
    let got_by_partition = by_partition(&got);
    for (partition, values) in &sent {
        let fetched = &got_by_partition[partition];
        let offsets: Vec<i64> = fetched.iter().map(|(o, _)| *o).collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "in offset order");
        let fetched: Vec<&String> = fetched.iter().map(|(_, v)| v).collect();
        assert_eq!(
            fetched,
            values.iter().collect::<Vec<_>>(),
            "partition {partition}"
        );
    }
    for r in &got {
        let codec = std::str::from_utf8(r.headers[0].1.as_deref().unwrap()).unwrap();
        assert!(String::from_utf8_lossy(r.value.as_deref().unwrap()).starts_with(codec));
    }
    assert_eq!(driver.turn(), Ok(vec![]), "nothing more");
}

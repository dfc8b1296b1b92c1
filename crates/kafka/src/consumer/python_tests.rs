//! Batches written by kafka-python (an independent encoder) with every
//! codec it has (gzip always; snappy, lz4, zstd when its optional
//! libraries are installed) are decoded by the consumer core to the same
//! records, headers included.
//!
//! Needs ROUSE_PYTHON (a python with kafka-python); `cargo xtask ci` sets
//! it. Ignored in a plain `cargo test`; with `--include-ignored` and no
//! ROUSE_PYTHON it fails saying so.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rouse_kafka_mock::{ClusterConfig, MockCluster};

use super::test_driver::{by_partition, Driver, Transport};
use crate::config::ConsumerConfig;

const TOPIC: &str = "python-codecs";
const PER_CODEC: usize = 40;

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_pythons_batches_decode_to_the_same_records() {
    let python = std::env::var_os("ROUSE_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        panic!("ROUSE_PYTHON is not set: point it at a python with kafka-python, or run `cargo xtask ci`")
    });
    let cluster = MockCluster::start(ClusterConfig::new(2)).expect("starts");
    cluster.create_topic(TOPIC, 3).expect("topic");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/produce_codecs.py"
    );
    let output = Command::new(python)
        .args([
            script,
            &cluster.bootstrap_servers(),
            TOPIC,
            &PER_CODEC.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("kafka-python runs");
    assert!(output.status.success(), "kafka-python failed to produce");
    let mut sent: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    let mut codecs = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let partition = v["partition"].as_i64().expect("partition") as i32;
        let offset = v["offset"].as_i64().expect("offset");
        sent.entry(partition)
            .or_default()
            .push((offset, v["value"].as_str().expect("value").to_owned()));
        let codec = v["codec"].as_str().expect("codec").to_owned();
        if !codecs.contains(&codec) {
            codecs.push(codec);
        }
    }
    assert!(codecs.len() >= 2, "none and gzip at least: {codecs:?}");
    for values in sent.values_mut() {
        values.sort();
    }

    let transport: Transport = super::mock_tests::transport(cluster.handle());
    let config = ConsumerConfig::from_pairs([
        ("bootstrap.servers", "127.0.0.1:9092"),
        ("auto.offset.reset", "earliest"),
        ("max.partition.fetch.bytes", "2000"),
    ])
    .expect("config");
    let mut driver = Driver::new(transport, 1, TOPIC, config);
    let want = codecs.len() * PER_CODEC;
    let got = driver.consume(want, 200);
    assert_eq!(got.len(), want);
    assert_eq!(by_partition(&got), sent, "same records, in offset order");
    for r in &got {
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap()).into_owned();
        let codec = value.rsplit_once('-').expect("codec-i").0.to_owned();
        let headers: Vec<(&str, Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        assert_eq!(
            headers,
            [
                ("codec", Some(codec.as_bytes())),
                ("codec", Some(&b"again"[..])),
                ("empty", Some(&b""[..]))
            ],
            "repeated header keys and empty values survive"
        );
    }
}

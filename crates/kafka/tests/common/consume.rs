//! What the consumer's interop and fault tests share: records produced with
//! each codec by rouse's producer or by kafka-python (each acknowledgment's
//! partition, offset and value noted), a consumer from settings, a bounded
//! drain, and the [`Tally`] that judges what a consumer handed out against
//! what was produced: lost, duplicated, reordered, wrong.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rouse_kafka::{
    Consumer, ConsumerConfig, ConsumerError, ConsumerRecord, Producer, ProducerConfig, Record,
    TopicPartition,
};

use super::tansu::env_path;

/// The codecs both producers write; every one must be decoded.
pub(crate) const CODECS: [&str; 4] = ["gzip", "snappy", "lz4", "zstd"];

/// partition → (offset, value) of every acknowledged record, by offset.
pub(crate) type Produced = BTreeMap<i32, Vec<(i64, String)>>;

/// Adds one acknowledgment.
pub(crate) fn note(produced: &mut Produced, partition: i32, offset: i64, value: String) {
    produced.entry(partition).or_default().push((offset, value));
}

/// Sorts every partition's records by offset (acknowledgments of different
/// batches may come in any order).
pub(crate) fn sorted(mut produced: Produced) -> Produced {
    for records in produced.values_mut() {
        records.sort();
    }
    produced
}

/// `per_codec` records with each of [`CODECS`] from rouse's producer (a
/// producer per codec), record `i` to partition `i % partitions`, values
/// `{tag}-{codec}-{i}`; waits (bounded) for every acknowledgment.
pub(crate) fn produce_rouse(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    per_codec: usize,
    tag: &str,
) -> Produced {
    let mut produced = Produced::new();
    for codec in CODECS {
        let config = ProducerConfig::from_pairs([
            ("bootstrap.servers", bootstrap),
            ("compression.type", codec),
            ("linger.ms", "5"),
            ("max.block.ms", "20000"),
        ])
        .expect("producer config");
        let producer = Producer::new(config).expect("producer");
        let futures: Vec<_> = (0..per_codec)
            .map(|i| {
                let value = format!("{tag}-{codec}-{i}");
                let partition = (i % partitions as usize) as i32;
                let record = Record::key_value(topic, format!("k{i}"), value.clone())
                    .with_partition(partition);
                (value, producer.send(record).expect("send accepted"))
            })
            .collect();
        for (value, future) in futures {
            let meta = future
                .wait_timeout(Duration::from_secs(60))
                .expect("an outcome within 60 s")
                .unwrap_or_else(|e| panic!("{value} failed: {e}"));
            note(&mut produced, meta.partition, meta.offset, value);
        }
        producer.close(Duration::from_secs(10)).expect("close");
    }
    sorted(produced)
}

/// `per_codec` records with each of [`CODECS`] from kafka-python (needs
/// ROUSE_PYTHON with kafka-python and its codec libraries), record `i` to
/// partition `i % partitions`, values `{tag}-{codec}-{i}`.
pub(crate) fn produce_python(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    per_codec: usize,
    tag: &str,
) -> Produced {
    let python = env_path("ROUSE_PYTHON", "a python with kafka-python");
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/produce_load.py"
        ))
        .args([bootstrap, topic, &partitions.to_string()])
        .args([&per_codec.to_string(), tag])
        .args(CODECS)
        .stderr(Stdio::inherit())
        .output()
        .expect("kafka-python runs");
    assert!(
        output.status.success(),
        "kafka-python did not produce every record to {topic}"
    );
    let mut produced = Produced::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut fields = line.split(' ');
        let (Some(p), Some(o), Some(v)) = (fields.next(), fields.next(), fields.next()) else {
            panic!("not `partition offset value`: {line:?}");
        };
        note(
            &mut produced,
            p.parse().expect("partition"),
            o.parse().expect("offset"),
            v.to_owned(),
        );
    }
    assert_eq!(
        produced.values().map(Vec::len).sum::<usize>(),
        per_codec * CODECS.len(),
        "kafka-python acknowledged every record"
    );
    sorted(produced)
}

/// A consumer of `bootstrap` reading from the earliest offset, with short
/// waits; `extra` adds or overrides settings.
pub(crate) fn consumer(bootstrap: &str, extra: &[(&str, &str)]) -> Consumer {
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap),
        ("client.id", "consumer-interop"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
        ("request.timeout.ms", "5000"),
        ("retry.backoff.ms", "20"),
    ];
    pairs.extend_from_slice(extra);
    Consumer::new(ConsumerConfig::from_pairs(pairs).expect("valid config")).expect("starts")
}

/// Partitions 0..n of `topic`.
pub(crate) fn partitions(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// Polls until `want` records came or `within` passed; a `poll` error
/// fails the test (none is expected where this is used).
pub(crate) fn drain(consumer: &Consumer, want: usize, within: Duration) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + within;
    let mut got = Vec::with_capacity(want);
    while got.len() < want && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Ok(records) => got.extend(records),
            Err(ConsumerError::Wakeup) => {}
            Err(e) => panic!("poll failed after {} records: {e}", got.len()),
        }
    }
    got
}

/// What a consumer handed out, judged against what was produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Records produced (acknowledged).
    pub(crate) produced: usize,
    /// Records handed out.
    pub(crate) delivered: usize,
    /// Produced, never handed out.
    pub(crate) lost: usize,
    /// Handed out more than once.
    pub(crate) duplicated: usize,
    /// Handed out after a later offset of the same partition.
    pub(crate) reordered: usize,
    /// Handed out at an offset nothing was produced at, or with another
    /// value than the one produced there.
    pub(crate) wrong: usize,
}

impl Tally {
    /// Judges `delivered` (in the order `poll` handed them out) against
    /// `produced`.
    pub(crate) fn new(produced: &Produced, delivered: &[ConsumerRecord]) -> Tally {
        let want: HashMap<(i32, i64), &str> = produced
            .iter()
            .flat_map(|(p, records)| records.iter().map(move |(o, v)| ((*p, *o), v.as_str())))
            .collect();
        let mut tally = Tally {
            produced: want.len(),
            delivered: delivered.len(),
            ..Tally::default()
        };
        let mut seen: HashMap<(i32, i64), usize> = HashMap::new();
        let mut last: HashMap<i32, i64> = HashMap::new();
        for r in delivered {
            let at = (r.partition, r.offset);
            let copies = seen.entry(at).or_default();
            *copies += 1;
            if *copies > 1 {
                tally.duplicated += 1;
                continue;
            }
            if last.get(&r.partition).is_some_and(|l| *l > r.offset) {
                tally.reordered += 1;
            }
            let newest = last.entry(r.partition).or_insert(r.offset);
            *newest = (*newest).max(r.offset);
            let value = r.value.as_deref().unwrap_or_default();
            if want.get(&at).map(|v| v.as_bytes()) != Some(value) {
                tally.wrong += 1;
            }
        }
        tally.lost = want.keys().filter(|at| !seen.contains_key(at)).count();
        tally
    }

    /// Panics unless every produced record was handed out once, in order
    /// per partition, as produced.
    pub(crate) fn assert_clean(&self, what: &str) {
        assert_eq!(
            (self.lost, self.duplicated, self.reordered, self.wrong),
            (0, 0, 0, 0),
            "{what}: {self}"
        );
        assert_eq!(self.delivered, self.produced, "{what}: {self}");
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "produced {} delivered {} lost {} duplicated {} reordered {} wrong {}",
            self.produced, self.delivered, self.lost, self.duplicated, self.reordered, self.wrong
        )
    }
}

//! Conformance with an independent client: kafka-python's KafkaProducer and
//! KafkaConsumer against a 3-broker `MockCluster`, unchanged.
//!
//! These need a python with kafka-python (tests/python/requirements.txt):
//! `cargo xtask ci` installs one under target/ and passes it in
//! ROUSE_PYTHON. Run alone, they are ignored; run with `--include-ignored`
//! and no ROUSE_PYTHON, they fail saying so.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use rouse_kafka_mock::{ClusterConfig, MockCluster};

const RECORDS: usize = 1000;
const TOPIC: &str = "conformance";
const PARTITIONS: i32 = 6;
/// The script's own timeouts end it well before this.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

fn python() -> PathBuf {
    match std::env::var_os("ROUSE_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "ROUSE_PYTHON is not set: point it at a python with kafka-python \
             (crates/kafka-mock/tests/python/requirements.txt), or run `cargo xtask ci`"
        ),
    }
}

fn script(bootstrap: &str, pause_at: Option<usize>) -> Child {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/produce_consume.py"
    );
    let mut command = Command::new(python());
    command.args([path, bootstrap, TOPIC, &RECORDS.to_string()]);
    if let Some(n) = pause_at {
        command.args(["--pause-at", &n.to_string()]);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the python from ROUSE_PYTHON runs")
}

/// Reads the script's stdout lines on a thread, so every wait is bounded.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn finish(mut child: Child, lines: &mpsc::Receiver<String>) -> serde_like::Summary {
    let summary = lines.recv_timeout(SCRIPT_LIMIT);
    // It exits right after its summary; kill it only if it hangs.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("script status").is_none() && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let status = child.wait().expect("script exits");
    let summary = summary.unwrap_or_else(|_| panic!("no summary from the script ({status})"));
    assert!(status.success(), "kafka-python found a mismatch: {summary}");
    serde_like::Summary::parse(&summary)
}

fn assert_mock_stored_each_record_once(cluster: &MockCluster) {
    let mut values = Vec::new();
    for partition in 0..PARTITIONS {
        for record in cluster
            .handle()
            .records(TOPIC, partition)
            .expect("partition")
        {
            values.push(record.value.expect("every record has a value"));
        }
    }
    assert_eq!(values.len(), RECORDS, "the mock stored each record once");
    values.sort();
    values.dedup();
    assert_eq!(values.len(), RECORDS, "no record stored twice");
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_produces_and_consumes_1000_keyed_records() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let mut child = script(&cluster.bootstrap_servers(), None);
    let out = lines(&mut child);
    let summary = finish(child, &out);
    assert_eq!((summary.sent, summary.received), (RECORDS, RECORDS));
    assert_eq!(
        summary.partitions, PARTITIONS as usize,
        "keys spread over every partition"
    );
    assert_mock_stored_each_record_once(&cluster);
    assert!(cluster.handle().request_count(None, ApiKey::Produce) > 0);
    assert!(cluster.handle().request_count(None, ApiKey::Fetch) > 0);
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_rides_out_a_stopped_and_restarted_broker() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let mut child = script(&cluster.bootstrap_servers(), Some(RECORDS * 3 / 10));
    let out = lines(&mut child);
    let paused = out.recv_timeout(SCRIPT_LIMIT).expect("the script pauses");
    assert_eq!(paused, "PAUSED");
    // Broker 2 goes away while the second part is being sent, then comes back.
    cluster.stop_broker(2).expect("stops");
    let produced_before_stop = cluster.handle().request_count(Some(2), ApiKey::Produce);
    let stdin = child.stdin.as_mut().expect("piped");
    stdin
        .write_all(b"go\n")
        .and_then(|()| stdin.flush())
        .expect("script reads");
    std::thread::sleep(Duration::from_millis(800));
    cluster.restart_broker(2).expect("restarts");
    let summary = finish(child, &out);
    assert_eq!((summary.sent, summary.received), (RECORDS, RECORDS));
    assert_mock_stored_each_record_once(&cluster);
    assert!(
        cluster.handle().request_count(Some(2), ApiKey::Produce) > produced_before_stop,
        "records for broker 2's partitions went there once it came back"
    );
}

/// The script's one-line JSON summary, read without a JSON dependency.
mod serde_like {
    /// What the script reports.
    pub(super) struct Summary {
        pub(super) sent: usize,
        pub(super) received: usize,
        pub(super) partitions: usize,
    }

    impl Summary {
        pub(super) fn parse(line: &str) -> Summary {
            let field = |name: &str| -> usize {
                let at = line
                    .find(&format!("\"{name}\": "))
                    .unwrap_or_else(|| panic!("{name} in {line}"));
                let rest = &line[at + name.len() + 4..];
                let end = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                rest[..end]
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} in {line}"))
            };
            Summary {
                sent: field("sent"),
                received: field("received"),
                partitions: field("partitions"),
            }
        }
    }
}

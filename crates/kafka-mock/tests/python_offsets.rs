//! kafka-python commits a group's offsets through the mock's
//! FindCoordinator / OffsetCommit / OffsetFetch and reads them back
//! (tests/python/commit_offsets.py), against a 3-broker `MockCluster`.
//!
//! Needs a python with kafka-python (tests/python/requirements.txt):
//! `cargo xtask ci` passes one in ROUSE_PYTHON. Run alone, ignored; with
//! `--include-ignored` and no ROUSE_PYTHON, it fails saying so.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use rouse_kafka_mock::{ClusterConfig, MockCluster};

const TOPIC: &str = "offsets";
const PARTITIONS: i32 = 3;
const GROUP: &str = "rouse-python-group";
/// The script's own timeouts end it well before this.
const SCRIPT_LIMIT: Duration = Duration::from_secs(90);

fn python() -> PathBuf {
    match std::env::var_os("ROUSE_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "ROUSE_PYTHON is not set: point it at a python with kafka-python \
             (crates/kafka-mock/tests/python/requirements.txt), or run `cargo xtask ci`"
        ),
    }
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_commits_offsets_and_reads_them_back() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/commit_offsets.py"
    );
    let mut child = Command::new(python())
        .args([
            script,
            &cluster.bootstrap_servers(),
            TOPIC,
            &PARTITIONS.to_string(),
            GROUP,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the python from ROUSE_PYTHON runs");
    // Wait on a thread so a hung script fails the test instead of hanging it.
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        let out = std::io::read_to_string(stdout).unwrap_or_default();
        let _ = tx.send(out);
    });
    let out = rx.recv_timeout(SCRIPT_LIMIT);
    let _ = child.kill();
    let status = child.wait().expect("script exits");
    let out = out.unwrap_or_else(|_| panic!("the script did not finish in {SCRIPT_LIMIT:?}"));
    assert!(status.success(), "kafka-python found a mismatch: {out}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(summary["ok"], true, "{summary}");

    let handle = cluster.handle();
    for p in 0..PARTITIONS {
        assert_eq!(
            handle.committed(GROUP, TOPIC, p),
            Some(i64::from(p) + 3),
            "the mock stored partition {p}'s commit"
        );
        assert_eq!(handle.committed(&format!("{GROUP}-other"), TOPIC, p), None);
    }
    let coordinator = handle.coordinator(GROUP).expect("a broker runs");
    assert!(handle.request_count(None, ApiKey::FindCoordinator) > 0);
    assert!(handle.request_count(Some(coordinator), ApiKey::OffsetCommit) > 0);
    assert!(handle.request_count(Some(coordinator), ApiKey::OffsetFetch) > 0);
}

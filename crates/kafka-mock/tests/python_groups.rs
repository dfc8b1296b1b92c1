//! Three kafka-python consumers share a group over a 12-partition topic
//! (tests/python/group_members.py): every partition owned by exactly one
//! member, a member leaving rebalances the rest, a commit from the stale
//! generation is refused with ILLEGAL_GENERATION. Against the mock, and
//! against tansu (a real broker) to show the mock behaves as one does.
//!
//! Needs ROUSE_PYTHON (a python with kafka-python) and, for the tansu
//! test, ROUSE_TANSU; `cargo xtask ci` sets both. Ignored unless asked.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use rouse_kafka_mock::tansu::Tansu;
use rouse_kafka_mock::{ClusterConfig, MockCluster};

const TOPIC: &str = "shared";
const PARTITIONS: i32 = 12;
const GROUP: &str = "rouse-python-members";
/// The script's own bounds (60 s per step) end it before this.
const SCRIPT_LIMIT: Duration = Duration::from_secs(200);

fn env_path(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => panic!("{var} is not set: `cargo xtask ci` sets it (see this file's header)"),
    }
}

/// Runs the script against `bootstrap`; its JSON summary.
fn run_script(bootstrap: &str) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/group_members.py");
    let mut child = Command::new(env_path("ROUSE_PYTHON"))
        .args([script, bootstrap, TOPIC, &PARTITIONS.to_string(), GROUP])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the python from ROUSE_PYTHON runs");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        let _ = tx.send(std::io::read_to_string(stdout).unwrap_or_default());
    });
    let out = rx.recv_timeout(SCRIPT_LIMIT);
    let _ = child.kill();
    let status = child.wait().expect("script exits");
    let out = out.unwrap_or_else(|_| panic!("the script did not finish in {SCRIPT_LIMIT:?}"));
    let summary: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("one JSON line expected ({e}): {out}"));
    assert!(
        status.success() && summary["ok"] == true,
        "kafka-python: {summary}"
    );
    summary
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_members_share_rebalance_and_fence_stale_commits_on_the_mock() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let summary = run_script(&cluster.bootstrap_servers());
    assert_eq!(summary["stale_commit_error"], 22, "{summary}");
    let handle = cluster.handle();
    let coordinator = handle.coordinator(GROUP).expect("a broker runs");
    assert!(handle.request_count(Some(coordinator), ApiKey::JoinGroup) >= 4);
    assert!(handle.request_count(Some(coordinator), ApiKey::SyncGroup) >= 5);
    assert!(handle.request_count(Some(coordinator), ApiKey::LeaveGroup) >= 1);
    // The current generation's commit was stored, the stale one was not
    // (both name partition 0 at offset 1; only one could have).
    assert_eq!(handle.committed(GROUP, TOPIC, 0), Some(1));
    // Everyone closed: the group is empty, its generation past the two
    // rebalances the script saw.
    let group = handle.group(GROUP);
    assert_eq!(group.state, "Empty", "{group:?}");
    assert!(group.generation >= 3, "{group:?}");
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn kafka_python_members_do_the_same_on_tansu() {
    let tansu = Tansu::start(&env_path("ROUSE_TANSU"), &[(TOPIC, PARTITIONS as u32)])
        .expect("tansu starts");
    let summary = run_script(&tansu.bootstrap());
    assert_eq!(summary["stale_commit_error"], 22, "{summary}");
}

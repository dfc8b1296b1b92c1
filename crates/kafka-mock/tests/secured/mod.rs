//! Runs an independent client's script (tests/python/) against a mock
//! cluster's secured listeners: kafka-python (`secured.py`) or
//! confluent-kafka, that is librdkafka (`secured_confluent.py`). Both take
//! the same arguments and print one JSON line.
//!
//! They need ROUSE_PYTHON (a python with tests/python/requirements.txt
//! installed): `cargo xtask ci` sets it. The tests using this are ignored
//! by a plain `cargo test`; run with `--include-ignored` and no
//! ROUSE_PYTHON, they fail saying so.
#![allow(dead_code)] // each test file uses part of it
#![allow(clippy::print_stdout)] // each run's JSON line goes to the test log

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rouse_kafka_mock::{CertFiles, MockCluster, SaslConfig, SaslMechanism};

pub(crate) const RECORDS: usize = 200;
/// The scripts' own timeouts end them well before this.
pub(crate) const SCRIPT_LIMIT: Duration = Duration::from_secs(90);
pub(crate) const USER: &str = "alice";
pub(crate) const PASSWORD: &str = "alice-secret";

/// Which independent client runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Library {
    #[default]
    KafkaPython,
    /// confluent-kafka: librdkafka with its own OpenSSL and SASL.
    Librdkafka,
}

impl Library {
    fn script(self) -> &'static str {
        match self {
            Library::KafkaPython => concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/secured.py"),
            Library::Librdkafka => concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/secured_confluent.py"
            ),
        }
    }
}

pub(crate) fn python() -> PathBuf {
    match std::env::var_os("ROUSE_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "ROUSE_PYTHON is not set: point it at a python with kafka-python and \
             confluent-kafka (crates/kafka-mock/tests/python/requirements.txt), \
             or run `cargo xtask ci`"
        ),
    }
}

/// What the script is told.
#[derive(Default)]
pub(crate) struct Client<'a> {
    pub(crate) library: Library,
    pub(crate) protocol: &'a str,
    pub(crate) mechanism: Option<SaslMechanism>,
    pub(crate) password: &'a str,
    pub(crate) ca: Option<&'a Path>,
    pub(crate) identity: Option<(&'a Path, &'a Path)>,
    pub(crate) expect_refusal: bool,
    /// Spread the records over this long (librdkafka's script only).
    pub(crate) spread: Option<Duration>,
    /// How many records (RECORDS when 0).
    pub(crate) records: usize,
}

/// Runs the script against `cluster` on a topic of its own; returns its
/// JSON line and whether it exited 0.
pub(crate) fn run(cluster: &MockCluster, topic: &str, client: &Client<'_>) -> (String, bool) {
    cluster.create_topic(topic, 3).expect("topic");
    let records = if client.records == 0 {
        RECORDS
    } else {
        client.records
    };
    let mut command = Command::new(python());
    command.args([
        client.library.script(),
        &cluster.bootstrap_servers(),
        topic,
        &records.to_string(),
    ]);
    command.args(["--protocol", client.protocol]);
    if let Some(mechanism) = client.mechanism {
        command.args(["--mechanism", mechanism.name(), "--user", USER]);
        command.args(["--password", client.password]);
    }
    if let Some(ca) = client.ca {
        command.arg("--cafile").arg(ca);
    }
    if let Some((cert, key)) = client.identity {
        command
            .arg("--certfile")
            .arg(cert)
            .arg("--keyfile")
            .arg(key);
    }
    if client.expect_refusal {
        command.arg("--expect-refusal");
    }
    if let Some(spread) = client.spread {
        command.args(["--spread-ms", &spread.as_millis().to_string()]);
    }
    let output_file = temp_dir(&format!("{topic}-out")).join("stdout");
    let stdout = std::fs::File::create(&output_file).expect("output file");
    let mut child = command
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the python from ROUSE_PYTHON runs");
    let deadline = Instant::now() + SCRIPT_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("script status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the script did not finish within {SCRIPT_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let line = std::fs::read_to_string(&output_file).expect("script output");
    println!("{:?} {topic}: {}", client.library, line.trim());
    (line.trim().to_owned(), status.success())
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("rouse-mock-secured-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub(crate) fn cert_files(cluster: &MockCluster, name: &str) -> CertFiles {
    let certs = cluster.generated_certs().expect("generated certificates");
    certs
        .write_to(&temp_dir(name))
        .expect("certificates written")
}

pub(crate) fn sasl() -> SaslConfig {
    SaslConfig::new()
        .with_user(USER, PASSWORD)
        .with_user("bob", "bob-secret")
}

pub(crate) fn assert_round_trip(line: &str, ok: bool) {
    assert_round_trip_of(line, ok, RECORDS);
}

pub(crate) fn assert_round_trip_of(line: &str, ok: bool, records: usize) {
    assert!(ok, "the client did not get its records back: {line}");
    assert!(
        line.contains(&format!("\"sent\": {records}, \"received\": {records}")),
        "{line}"
    );
}

/// The seconds a refusal took, from the script's JSON line.
pub(crate) fn refusal_seconds(line: &str) -> f64 {
    let after = line
        .split("\"seconds\": ")
        .nth(1)
        .unwrap_or_else(|| panic!("no seconds in {line}"));
    let number: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().expect("seconds")
}

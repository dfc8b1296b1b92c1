//! An independent client against the mock's secured listeners: kafka-python
//! (its SASL and SCRAM code, Python's OpenSSL) logs in with PLAIN,
//! SCRAM-SHA-256 and SCRAM-SHA-512 over SASL_PLAINTEXT and SASL_SSL,
//! connects over SSL trusting the generated CA and with mutual TLS,
//! produces and reads back; wrong passwords, missing client certificates
//! and an untrusted CA are refused.
//!
//! Like conformance.rs these need ROUSE_PYTHON (a python with kafka-python):
//! `cargo xtask ci` sets it. Run alone, they are ignored; run with
//! `--include-ignored` and no ROUSE_PYTHON, they fail saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rouse_kafka_mock::{
    CertFiles, ClusterConfig, MockCluster, SaslConfig, SaslMechanism, TlsConfig,
};

const RECORDS: usize = 200;
/// The script's own timeouts end it well before this.
const SCRIPT_LIMIT: Duration = Duration::from_secs(90);
const USER: &str = "alice";
const PASSWORD: &str = "alice-secret";

fn python() -> PathBuf {
    match std::env::var_os("ROUSE_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "ROUSE_PYTHON is not set: point it at a python with kafka-python \
             (crates/kafka-mock/tests/python/requirements.txt), or run `cargo xtask ci`"
        ),
    }
}

/// What the script is told.
#[derive(Default)]
struct Client<'a> {
    protocol: &'a str,
    mechanism: Option<SaslMechanism>,
    password: &'a str,
    ca: Option<&'a Path>,
    identity: Option<(&'a Path, &'a Path)>,
    expect_refusal: bool,
}

/// Runs the script against `cluster` on a topic of its own; returns its
/// JSON line and whether it exited 0.
fn run(cluster: &MockCluster, topic: &str, client: &Client<'_>) -> (String, bool) {
    cluster.create_topic(topic, 3).expect("topic");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/secured.py");
    let mut command = Command::new(python());
    command.args([
        script,
        &cluster.bootstrap_servers(),
        topic,
        &RECORDS.to_string(),
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
    (line.trim().to_owned(), status.success())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("rouse-mock-secured-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn cert_files(cluster: &MockCluster, name: &str) -> CertFiles {
    let certs = cluster.generated_certs().expect("generated certificates");
    certs
        .write_to(&temp_dir(name))
        .expect("certificates written")
}

fn sasl() -> SaslConfig {
    SaslConfig::new()
        .with_user(USER, PASSWORD)
        .with_user("bob", "bob-secret")
}

fn assert_round_trip(line: &str, ok: bool) {
    assert!(ok, "kafka-python did not get its records back: {line}");
    assert!(
        line.contains(&format!("\"sent\": {RECORDS}, \"received\": {RECORDS}")),
        "{line}"
    );
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_logs_in_with_every_mechanism_over_sasl_plaintext() {
    let cluster = MockCluster::start(ClusterConfig::new(2).with_sasl(sasl())).expect("starts");
    assert_eq!(cluster.security_protocol(), "SASL_PLAINTEXT");
    for mechanism in SaslMechanism::ALL {
        let topic = format!("plain-{}", mechanism.name().to_lowercase());
        let client = Client {
            protocol: "SASL_PLAINTEXT",
            mechanism: Some(mechanism),
            password: PASSWORD,
            ..Client::default()
        };
        let (line, ok) = run(&cluster, &topic, &client);
        assert_round_trip(&line, ok);
    }
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_logs_in_with_every_mechanism_over_sasl_ssl() {
    let config = ClusterConfig::new(2)
        .with_tls(TlsConfig::generated())
        .with_sasl(sasl());
    let cluster = MockCluster::start(config).expect("starts");
    assert_eq!(cluster.security_protocol(), "SASL_SSL");
    let files = cert_files(&cluster, "sasl-ssl");
    for mechanism in SaslMechanism::ALL {
        let topic = format!("ssl-{}", mechanism.name().to_lowercase());
        let client = Client {
            protocol: "SASL_SSL",
            mechanism: Some(mechanism),
            password: PASSWORD,
            ca: Some(&files.ca),
            ..Client::default()
        };
        let (line, ok) = run(&cluster, &topic, &client);
        assert_round_trip(&line, ok);
    }
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn a_wrong_password_is_refused_with_the_brokers_message() {
    let config = ClusterConfig::new(1)
        .with_tls(TlsConfig::generated())
        .with_sasl(sasl());
    let cluster = MockCluster::start(config).expect("starts");
    let files = cert_files(&cluster, "wrong-password");
    for mechanism in [SaslMechanism::Plain, SaslMechanism::ScramSha512] {
        let client = Client {
            protocol: "SASL_SSL",
            mechanism: Some(mechanism),
            password: "not-the-password",
            ca: Some(&files.ca),
            expect_refusal: true,
            ..Client::default()
        };
        let topic = format!("refused-{}", mechanism.name().to_lowercase());
        let (line, ok) = run(&cluster, &topic, &client);
        assert!(ok, "kafka-python was not refused: {line}");
        assert!(line.contains("SaslAuthenticationFailedError"), "{line}");
        assert!(
            line.contains("Authentication failed"),
            "the mock's message reached the client: {line}"
        );
        assert!(!line.contains("not-the-password"), "{line}");
        assert!(cluster
            .handle()
            .records(&topic, 0)
            .expect("topic")
            .is_empty());
    }
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_over_ssl_trusts_the_generated_ca_and_nothing_else() {
    let cluster =
        MockCluster::start(ClusterConfig::new(2).with_tls(TlsConfig::generated())).expect("starts");
    assert_eq!(cluster.security_protocol(), "SSL");
    let files = cert_files(&cluster, "ssl");
    let trusted = Client {
        protocol: "SSL",
        ca: Some(&files.ca),
        ..Client::default()
    };
    let (line, ok) = run(&cluster, "ssl", &trusted);
    assert_round_trip(&line, ok);
    // The system roots do not include the mock's CA.
    let untrusted = Client {
        protocol: "SSL",
        expect_refusal: true,
        ..Client::default()
    };
    let (line, ok) = run(&cluster, "ssl-untrusted", &untrusted);
    assert!(ok, "an untrusted certificate was accepted: {line}");
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn mutual_tls_needs_a_client_certificate() {
    let tls = TlsConfig::generated().with_client_auth();
    let cluster = MockCluster::start(ClusterConfig::new(1).with_tls(tls)).expect("starts");
    let files = cert_files(&cluster, "mtls");
    let with_cert = Client {
        protocol: "SSL",
        ca: Some(&files.ca),
        identity: Some((&files.client_cert, &files.client_key)),
        ..Client::default()
    };
    let (line, ok) = run(&cluster, "mtls", &with_cert);
    assert_round_trip(&line, ok);
    let without_cert = Client {
        protocol: "SSL",
        ca: Some(&files.ca),
        expect_refusal: true,
        ..Client::default()
    };
    let (line, ok) = run(&cluster, "mtls-no-cert", &without_cert);
    assert!(ok, "a client without a certificate was served: {line}");
    assert!(cluster
        .handle()
        .records("mtls-no-cert", 0)
        .expect("topic")
        .is_empty());
}

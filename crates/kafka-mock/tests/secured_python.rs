//! An independent client against the mock's secured listeners: kafka-python
//! (its SASL and SCRAM code, Python's OpenSSL) logs in with PLAIN,
//! SCRAM-SHA-256 and SCRAM-SHA-512 over SASL_PLAINTEXT and SASL_SSL,
//! connects over SSL trusting the generated CA and with mutual TLS,
//! produces and reads back; wrong passwords, missing client certificates
//! and an untrusted CA are refused.
//!
//! The runner is tests/secured/ (shared with secured_confluent.rs, the same
//! checks with librdkafka); it needs ROUSE_PYTHON.

use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use rouse_kafka_mock::{CertFiles, ClusterConfig, MockCluster, SaslMechanism, TlsConfig};

mod secured;

use secured::{assert_round_trip, cert_files, run, sasl, Client, PASSWORD, RECORDS};

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

/// A 3-broker SASL_SSL cluster and a SCRAM-SHA-256 client of it.
fn faults_cluster(name: &str) -> (MockCluster, CertFiles) {
    let config = ClusterConfig::new(3)
        .with_tls(TlsConfig::generated())
        .with_sasl(sasl());
    let cluster = MockCluster::start(config).expect("starts");
    let files = cert_files(&cluster, name);
    (cluster, files)
}

fn scram_client(ca: &Path) -> Client<'_> {
    Client {
        protocol: "SASL_SSL",
        mechanism: Some(SaslMechanism::ScramSha256),
        password: PASSWORD,
        ca: Some(ca),
        ..Client::default()
    }
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with kafka-python); cargo xtask ci sets it"]
fn kafka_python_rides_out_injected_faults_over_sasl_ssl() {
    // The same run without faults: how many logins it takes.
    let (calm, files) = faults_cluster("calm");
    let (line, ok) = run(&calm, "calm", &scram_client(&files.ca));
    assert_round_trip(&line, ok);
    let (baseline, _) = calm.sasl_logins();

    let (cluster, files) = faults_cluster("faults");
    let faults = cluster.handle();
    // Refused produces are retried; a dropped connection is reopened, which
    // means a new TLS handshake and a new SCRAM login.
    faults.fail_next(ApiKey::Produce, None, ResponseError::NotLeaderOrFollower, 3);
    faults.drop_connection_after(None, 12);
    faults.delay_responses(ApiKey::Fetch, None, Duration::from_millis(20));
    let (line, ok) = run(&cluster, "faults", &scram_client(&files.ca));
    assert_round_trip(&line, ok);
    let stored: usize = (0..3)
        .map(|p| faults.records("faults", p).expect("partition").len())
        .sum();
    assert!(stored >= RECORDS, "{stored} records stored");
    let (logins, refused) = cluster.sasl_logins();
    assert_eq!(refused, 0);
    assert!(
        logins > baseline,
        "{logins} logins against {baseline} without faults: the dropped connection logged in again"
    );
}

//! SASL against the mock cluster's SASL server (PLAIN, SCRAM-SHA-256,
//! SCRAM-SHA-512), over SASL_PLAINTEXT and SASL_SSL (the mock's rustls
//! listener with its generated CA). kafka-python and librdkafka check the
//! mock's side (crates/kafka-mock/tests/secured_python.rs); here rouse's
//! client logs in, produces, and the mock holds every record once; and a
//! wrong password, an unknown user or a mechanism the broker does not
//! enable is an authentication error within request.timeout.ms, on `send`
//! and `flush`, never a retry loop.

use std::time::{Duration, Instant};

use rouse_kafka::{DeliveryErrorKind, Producer, ProducerConfig, ProducerError, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster, SaslConfig, SaslMechanism, TlsConfig};

mod common;

use common::{assert_stored_exactly_once, send_all, TOPIC};

/// request.timeout.ms: a refusal must come within it. SCRAM's 4096 PBKDF2 rounds
/// run unoptimised in tests, which on a loaded 2-core machine has taken over 2 s.
const BOUND: Duration = Duration::from_millis(5000);

/// A one-broker mock with SASL (and TLS if `tls`), and the CA's file.
fn secured(tls: bool, mechanisms: &[SaslMechanism]) -> (MockCluster, Option<common::tls::Certs>) {
    let mut config = ClusterConfig::new(1).with_sasl(
        SaslConfig::new()
            .with_user("alice", "alice-secret")
            .with_mechanisms(mechanisms.iter().copied()),
    );
    if tls {
        config = config.with_tls(TlsConfig::generated());
    }
    let cluster = MockCluster::start(config).expect("mock starts");
    cluster.create_topic(TOPIC, 2).expect("topic");
    let dir = tls.then(|| {
        let certs = common::tls::Certs::generate();
        cluster
            .generated_certs()
            .expect("generated CA")
            .write_to(&certs.dir)
            .expect("CA written");
        certs
    });
    (cluster, dir)
}

fn producer(
    cluster: &MockCluster,
    certs: Option<&common::tls::Certs>,
    pairs: &[(&str, &str)],
) -> Producer {
    let bootstrap = cluster.bootstrap_servers();
    let mut all: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), bootstrap),
        ("request.timeout.ms".into(), BOUND.as_millis().to_string()),
        ("max.block.ms".into(), "10000".into()),
        ("linger.ms".into(), "2".into()),
    ];
    if let Some(certs) = certs {
        all.push(("ssl.ca.location".into(), certs.path("ca.pem")));
    }
    all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Producer::new(ProducerConfig::from_pairs(all).expect("config")).expect("producer")
}

fn round_trip(tls: bool, mechanism: SaslMechanism) {
    let (cluster, certs) = secured(tls, &[mechanism]);
    let protocol = if tls { "SASL_SSL" } else { "SASL_PLAINTEXT" };
    let producer = producer(
        &cluster,
        certs.as_ref(),
        &[
            ("security.protocol", protocol),
            ("sasl.mechanism", mechanism.name()),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ],
    );
    let acked = send_all(&producer, 200, mechanism.name());
    producer.flush(Duration::from_secs(10)).expect("flushed");
    assert_stored_exactly_once(&cluster, &acked, 2);
    assert!(producer.fatal_error().is_none());
    producer.close(Duration::from_secs(5)).expect("closes");
}

#[test]
fn plain_over_sasl_plaintext_and_sasl_ssl() {
    round_trip(false, SaslMechanism::Plain);
    round_trip(true, SaslMechanism::Plain);
}

#[test]
fn scram_sha_256_over_sasl_plaintext_and_sasl_ssl() {
    round_trip(false, SaslMechanism::ScramSha256);
    round_trip(true, SaslMechanism::ScramSha256);
}

#[test]
fn scram_sha_512_over_sasl_plaintext_and_sasl_ssl() {
    round_trip(false, SaslMechanism::ScramSha512);
    round_trip(true, SaslMechanism::ScramSha512);
}

#[test]
fn java_jaas_config_logs_in_too() {
    let (cluster, certs) = secured(true, &[SaslMechanism::ScramSha512]);
    let producer = producer(
        &cluster,
        certs.as_ref(),
        &[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#,
            ),
        ],
    );
    let acked = send_all(&producer, 50, "jaas");
    assert_stored_exactly_once(&cluster, &acked, 2);
}

/// `send` and `flush` say the login was refused, naming the broker and
/// the reason but never the password, within request.timeout.ms.
fn assert_refused(producer: &Producer, cause: &str) {
    let started = Instant::now();
    let error = producer
        .send(Record::value(TOPIC, "never"))
        .expect_err("login refused");
    let waited = started.elapsed();
    let ProducerError::Authentication { reason, .. } = &error else {
        panic!("expected an authentication error, got {error:?}");
    };
    assert!(reason.contains("SASL authentication failed"), "{reason}");
    assert!(reason.contains("127.0.0.1:"), "names the broker: {reason}");
    assert!(
        reason.contains(cause),
        "names the cause ({cause}): {reason}"
    );
    assert!(
        !reason.contains("wrong-secret"),
        "never the password: {reason}"
    );
    assert!(
        waited < BOUND + Duration::from_millis(500),
        "took {waited:?}"
    );
    assert_eq!(
        producer.fatal_error().expect("kept").kind(),
        DeliveryErrorKind::Authentication
    );
    match producer.flush(Duration::from_secs(5)) {
        Err(ProducerError::Authentication { record: None, .. }) => {}
        other => panic!("flush reports the refusal, got {other:?}"),
    }
    // Not retried: a later send is refused at once.
    let again = Instant::now();
    assert!(matches!(
        producer.send(Record::value(TOPIC, "later")),
        Err(ProducerError::Authentication { .. })
    ));
    assert!(again.elapsed() < Duration::from_millis(100));
}

#[test]
fn a_wrong_password_is_an_authentication_error_for_every_mechanism() {
    for tls in [false, true] {
        for mechanism in [
            SaslMechanism::Plain,
            SaslMechanism::ScramSha256,
            SaslMechanism::ScramSha512,
        ] {
            let (cluster, certs) = secured(tls, &[mechanism]);
            let protocol = if tls { "SASL_SSL" } else { "SASL_PLAINTEXT" };
            let producer = producer(
                &cluster,
                certs.as_ref(),
                &[
                    ("security.protocol", protocol),
                    ("sasl.mechanism", mechanism.name()),
                    ("sasl.username", "alice"),
                    ("sasl.password", "wrong-secret"),
                ],
            );
            assert_refused(&producer, "alice");
            assert_eq!(
                cluster.handle().records(TOPIC, 0).expect("partition").len(),
                0
            );
        }
    }
}

#[test]
fn a_mechanism_the_broker_does_not_enable_is_an_authentication_error() {
    let (cluster, _) = secured(false, &[SaslMechanism::ScramSha512]);
    let producer = producer(
        &cluster,
        None,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ],
    );
    assert_refused(&producer, "SCRAM-SHA-512");
}

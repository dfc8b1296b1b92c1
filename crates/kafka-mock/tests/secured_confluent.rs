//! librdkafka (the confluent-kafka wheel: librdkafka with its own OpenSSL
//! and built-in SCRAM) against the mock's secured listeners: logs in with
//! PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over SASL_PLAINTEXT and SASL_SSL,
//! connects over SSL and mutual TLS, produces and reads back; a wrong
//! password is an authentication error, an untrusted CA an SSL error and a
//! missing client certificate the broker's TLS alert, each within
//! REFUSAL_BOUND_S. With a
//! session lifetime, librdkafka re-authenticates in band (KIP-368) and
//! keeps its connections.
//!
//! The script prints librdkafka's version to stderr (the test log). The
//! runner is tests/secured/; it needs ROUSE_PYTHON.

#![allow(clippy::print_stdout)] // the counts go to the test log
use std::time::Duration;

use rouse_kafka_mock::{ClusterConfig, MockCluster, SaslMechanism, TlsConfig};

mod secured;

use secured::{
    assert_round_trip, assert_round_trip_of, cert_files, refusal_seconds, run, sasl, Client,
    Library, PASSWORD,
};

/// How soon librdkafka must report a refused login or TLS session: its
/// first connection is refused at once, so this is several times what it
/// takes on a loaded machine, and well under the script's own 20 s.
const REFUSAL_BOUND_S: f64 = 5.0;

fn librdkafka<'a>(protocol: &'a str) -> Client<'a> {
    Client {
        library: Library::Librdkafka,
        protocol,
        ..Client::default()
    }
}

fn assert_refused(line: &str, ok: bool, error: &str) {
    assert!(ok, "librdkafka was not refused: {line}");
    assert!(line.contains(&format!("\"error\": \"{error}\"")), "{line}");
    let seconds = refusal_seconds(line);
    assert!(
        seconds < REFUSAL_BOUND_S,
        "refused after {seconds} s, over the {REFUSAL_BOUND_S} s bound: {line}"
    );
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with confluent-kafka); cargo xtask ci sets it"]
fn librdkafka_logs_in_with_every_mechanism_over_sasl_plaintext() {
    let cluster = MockCluster::start(ClusterConfig::new(2).with_sasl(sasl())).expect("starts");
    for mechanism in SaslMechanism::ALL {
        let topic = format!("rdk-plain-{}", mechanism.name().to_lowercase());
        let client = Client {
            mechanism: Some(mechanism),
            password: PASSWORD,
            ..librdkafka("SASL_PLAINTEXT")
        };
        let (line, ok) = run(&cluster, &topic, &client);
        assert_round_trip(&line, ok);
    }
    assert_eq!(cluster.sasl_logins().1, 0, "no login refused");
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with confluent-kafka); cargo xtask ci sets it"]
fn librdkafka_logs_in_with_every_mechanism_over_sasl_ssl() {
    let config = ClusterConfig::new(2)
        .with_tls(TlsConfig::generated())
        .with_sasl(sasl());
    let cluster = MockCluster::start(config).expect("starts");
    let files = cert_files(&cluster, "rdk-sasl-ssl");
    for mechanism in SaslMechanism::ALL {
        let topic = format!("rdk-ssl-{}", mechanism.name().to_lowercase());
        let client = Client {
            mechanism: Some(mechanism),
            password: PASSWORD,
            ca: Some(&files.ca),
            ..librdkafka("SASL_SSL")
        };
        let (line, ok) = run(&cluster, &topic, &client);
        assert_round_trip(&line, ok);
    }
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with confluent-kafka); cargo xtask ci sets it"]
fn a_wrong_password_is_an_authentication_error_for_librdkafka() {
    let plain = MockCluster::start(ClusterConfig::new(1).with_sasl(sasl())).expect("starts");
    let config = ClusterConfig::new(1)
        .with_tls(TlsConfig::generated())
        .with_sasl(sasl());
    let tls = MockCluster::start(config).expect("starts");
    let files = cert_files(&tls, "rdk-wrong-password");
    for mechanism in SaslMechanism::ALL {
        for (cluster, protocol) in [(&plain, "SASL_PLAINTEXT"), (&tls, "SASL_SSL")] {
            let client = Client {
                mechanism: Some(mechanism),
                password: "not-the-password",
                ca: Some(&files.ca),
                expect_refusal: true,
                ..librdkafka(protocol)
            };
            let topic = format!("rdk-refused-{}", mechanism.name().to_lowercase());
            let (line, ok) = run(cluster, &topic, &client);
            assert_refused(&line, ok, "_AUTHENTICATION");
            assert!(!line.contains("not-the-password"), "{line}");
            assert!(cluster
                .handle()
                .records(&topic, 0)
                .expect("topic")
                .is_empty());
        }
    }
    assert_eq!(plain.sasl_logins().0, 0, "nobody logged in");
    assert_eq!(tls.sasl_logins().0, 0, "nobody logged in");
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with confluent-kafka); cargo xtask ci sets it"]
fn librdkafka_over_ssl_trusts_the_generated_ca_and_nothing_else() {
    let cluster =
        MockCluster::start(ClusterConfig::new(2).with_tls(TlsConfig::generated())).expect("starts");
    let files = cert_files(&cluster, "rdk-ssl");
    let trusted = Client {
        ca: Some(&files.ca),
        ..librdkafka("SSL")
    };
    let (line, ok) = run(&cluster, "rdk-ssl", &trusted);
    assert_round_trip(&line, ok);
    // The system's roots do not hold the mock's CA.
    let untrusted = Client {
        expect_refusal: true,
        ..librdkafka("SSL")
    };
    let (line, ok) = run(&cluster, "rdk-ssl-untrusted", &untrusted);
    assert_refused(&line, ok, "_SSL");
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with confluent-kafka); cargo xtask ci sets it"]
fn librdkafka_over_mutual_tls_needs_its_client_certificate() {
    let tls = TlsConfig::generated().with_client_auth();
    let cluster = MockCluster::start(ClusterConfig::new(1).with_tls(tls)).expect("starts");
    let files = cert_files(&cluster, "rdk-mtls");
    let with_cert = Client {
        ca: Some(&files.ca),
        identity: Some((&files.client_cert, &files.client_key)),
        ..librdkafka("SSL")
    };
    let (line, ok) = run(&cluster, "rdk-mtls", &with_cert);
    assert_round_trip(&line, ok);
    let without_cert = Client {
        ca: Some(&files.ca),
        expect_refusal: true,
        ..librdkafka("SSL")
    };
    let (line, ok) = run(&cluster, "rdk-mtls-no-cert", &without_cert);
    // TLS 1.3: the refusal comes after the client's handshake, as an alert
    // librdkafka reports when it next reads.
    assert_refused(&line, ok, "_TRANSPORT");
    assert!(line.contains("certificate required"), "{line}");
    assert!(cluster
        .handle()
        .records("rdk-mtls-no-cert", 0)
        .expect("topic")
        .is_empty());
}

#[test]
#[ignore = "needs ROUSE_PYTHON (a python with confluent-kafka); cargo xtask ci sets it"]
fn librdkafka_re_authenticates_in_band_when_the_session_lifetime_ends() {
    const LIFETIME: Duration = Duration::from_millis(1000);
    const SPREAD: Duration = Duration::from_millis(6000);
    let config = ClusterConfig::new(1)
        .with_tls(TlsConfig::generated())
        .with_sasl(sasl().with_session_lifetime(LIFETIME));
    let cluster = MockCluster::start(config).expect("starts");
    let files = cert_files(&cluster, "rdk-reauth");
    let client = Client {
        mechanism: Some(SaslMechanism::ScramSha512),
        password: PASSWORD,
        ca: Some(&files.ca),
        spread: Some(SPREAD),
        records: 300,
        ..librdkafka("SASL_SSL")
    };
    let (line, ok) = run(&cluster, "rdk-reauth", &client);
    assert_round_trip_of(&line, ok, 300);
    let (connections, reauthentications, expired) = cluster.sasl_sessions();
    let (logins, refused) = cluster.sasl_logins();
    println!(
        "{connections} connections, {logins} logins ({reauthentications} in band), \
         {expired} sessions expired, {refused} refused"
    );
    assert_eq!(refused, 0);
    // Six lifetimes of producing: a client that reconnected instead would
    // add a connection (and an expired session) per lifetime.
    assert!(
        reauthentications >= 4,
        "{reauthentications} in-band re-authentications over {SPREAD:?} of {LIFETIME:?} sessions"
    );
    // Each connection logs in at most once from scratch (one may still be
    // connecting when the script ends).
    assert!(logins - reauthentications <= connections);
    assert_eq!(expired, 0, "no connection outlived its session");
}

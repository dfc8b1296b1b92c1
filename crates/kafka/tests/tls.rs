//! TLS against real parts: OpenSSL (Python's `ssl` module, tls_relay.py)
//! terminating TLS in front of tansu, which advertises the relay's port so
//! every connection goes through TLS; kafka-python reads the records back
//! over the same TLS settings. Certificates are made by the test (rcgen).
//! And every TLS failure, each asserted to be a TLS error naming the broker
//! and the cause, within request.timeout.ms.
//!
//! Needs ROUSE_TANSU and ROUSE_PYTHON (`cargo xtask ci` sets them); run
//! alone these tests are ignored.

use std::time::{Duration, Instant};

use rouse_kafka::{DeliveryErrorKind, Producer, ProducerConfig, ProducerError, Record};

mod common;

use common::tansu::{free_port, read_back_with, start_on};
use common::tls::{Certs, Relay};

const TOPIC: &str = "rouse-tls";
const RECORDS: usize = 300;
/// request.timeout.ms for the failure tests: each must fail within it.
const BOUND: Duration = Duration::from_millis(3000);

fn producer(bootstrap: &str, extra: &[(&str, String)]) -> Producer {
    let mut pairs: Vec<(&str, String)> = vec![
        ("bootstrap.servers", bootstrap.to_owned()),
        ("client.id", "rouse-tls-test".into()),
        ("request.timeout.ms", BOUND.as_millis().to_string()),
        ("max.block.ms", "20000".into()),
        ("linger.ms", "5".into()),
    ];
    pairs.extend(extra.iter().cloned());
    Producer::new(ProducerConfig::from_pairs(pairs).expect("config")).expect("producer")
}

/// Sends RECORDS over `producer`, then has kafka-python read them back
/// through the relay with `consumer_options`, and compares.
fn round_trip(producer: &Producer, bootstrap: &str, consumer_options: &[String]) {
    let futures: Vec<_> = (0..RECORDS)
        .map(|i| {
            let record = Record::key_value(TOPIC, format!("k{}", i % 7), format!("tls-{i}"));
            producer.send(record).expect("send accepted")
        })
        .collect();
    for future in futures {
        future
            .wait_timeout(Duration::from_secs(30))
            .expect("an outcome within 30 s")
            .expect("delivered over TLS");
    }
    let stored = read_back_with(bootstrap, TOPIC, consumer_options);
    let mut values: Vec<String> = stored.into_values().flatten().map(|(_, v)| v).collect();
    values.sort();
    let mut sent: Vec<String> = (0..RECORDS).map(|i| format!("tls-{i}")).collect();
    sent.sort();
    assert_eq!(
        values, sent,
        "kafka-python read back every record once over TLS"
    );
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn round_trip_over_ssl_through_openssl_in_front_of_tansu() {
    let certs = Certs::generate();
    let (relay_port, tansu_port) = (free_port().unwrap(), free_port().unwrap());
    let _tansu = start_on(tansu_port, relay_port, &[(TOPIC, 3)]);
    let _relay = Relay::start(&certs, relay_port, tansu_port, "server", None);
    let bootstrap = format!("127.0.0.1:{relay_port}");
    let producer = producer(
        &bootstrap,
        &[
            ("security.protocol", "ssl".into()), // any case, as Java
            ("ssl.ca.location", certs.path("ca.pem")),
        ],
    );
    round_trip(
        &producer,
        &bootstrap,
        &[
            "security_protocol=SSL".into(),
            format!("ssl_cafile={}", certs.path("ca.pem")),
        ],
    );
    producer.close(Duration::from_secs(5)).expect("closes");
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn round_trip_over_mutual_tls() {
    let certs = Certs::generate();
    let (relay_port, tansu_port) = (free_port().unwrap(), free_port().unwrap());
    let _tansu = start_on(tansu_port, relay_port, &[(TOPIC, 3)]);
    let _relay = Relay::start(&certs, relay_port, tansu_port, "server", Some("ca"));
    let bootstrap = format!("127.0.0.1:{relay_port}");
    let producer = producer(
        &bootstrap,
        &[
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", certs.dir.display().to_string()), // a directory works too
            ("ssl.certificate.location", certs.path("client.pem")),
            ("ssl.key.location", certs.path("client.key")),
        ],
    );
    round_trip(
        &producer,
        &bootstrap,
        &[
            "security_protocol=SSL".into(),
            format!("ssl_cafile={}", certs.path("ca.pem")),
            format!("ssl_certfile={}", certs.path("client.pem")),
            format!("ssl_keyfile={}", certs.path("client.key")),
        ],
    );
    producer.close(Duration::from_secs(5)).expect("closes");
}

/// `send` and `flush` both say TLS failed, naming the broker and the
/// cause, within request.timeout.ms (plus scheduling slack).
fn assert_tls_failure(producer: &Producer, bootstrap: &str, cause: &str) {
    let started = Instant::now();
    let error = producer
        .send(Record::value(TOPIC, "never"))
        .expect_err("TLS fails");
    let waited = started.elapsed();
    let ProducerError::Authentication { reason, record } = &error else {
        panic!("expected a TLS failure, got {error:?}");
    };
    assert!(record.is_some(), "the record comes back");
    assert!(reason.contains("TLS failed"), "{reason}");
    assert!(reason.contains(bootstrap), "names the broker: {reason}");
    assert!(
        reason.contains(cause),
        "names the cause ({cause}): {reason}"
    );
    assert!(
        waited < BOUND + Duration::from_millis(500),
        "failed after {waited:?}, over request.timeout.ms"
    );
    let fatal = producer.fatal_error().expect("the failure is kept");
    assert_eq!(fatal.kind(), DeliveryErrorKind::Tls);
    match producer.flush(Duration::from_secs(5)) {
        Err(ProducerError::Authentication { record: None, .. }) => {}
        other => panic!("flush reports the TLS failure, got {other:?}"),
    }
}

/// A relay in front of a closed port: the TLS handshake is all there is.
fn relay_only(certs: &Certs, cert: &str, client_ca: Option<&str>) -> (Relay, String) {
    let port = free_port().unwrap();
    let nowhere = free_port().unwrap();
    let relay = Relay::start(certs, port, nowhere, cert, client_ca);
    (relay, format!("127.0.0.1:{port}"))
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn an_untrusted_certificate_is_a_tls_error_within_the_bound() {
    let certs = Certs::generate();
    let (_relay, bootstrap) = relay_only(&certs, "server", None);
    // Mozilla's roots (the default) do not include the test CA; nor does
    // a CA file of someone else's.
    for extra in [
        vec![],
        vec![("ssl.ca.location", certs.path("stranger.pem"))],
    ] {
        let mut pairs = vec![("security.protocol", "SSL".to_owned())];
        pairs.extend(extra);
        let producer = producer(&bootstrap, &pairs);
        assert_tls_failure(&producer, &bootstrap, "ssl.ca.location");
    }
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn a_certificate_for_another_host_is_a_tls_error_unless_identification_is_off() {
    let certs = Certs::generate();
    let (_relay, bootstrap) = relay_only(&certs, "other-host", None);
    let ca = ("ssl.ca.location", certs.path("ca.pem"));
    let producer = producer(
        &bootstrap,
        &[("security.protocol", "SSL".into()), ca.clone()],
    );
    assert_tls_failure(&producer, &bootstrap, "host name");

    // With identification off the chain is still checked and passes: the
    // connection gets past TLS (and then finds no broker behind the relay).
    let lenient = self::producer(
        &bootstrap,
        &[
            ("security.protocol", "SSL".into()),
            ca,
            ("ssl.endpoint.identification.algorithm", "none".into()),
            ("max.block.ms", "1500".into()),
        ],
    );
    match lenient.send(Record::value(TOPIC, "x")) {
        Err(ProducerError::MetadataTimeout { .. }) => {}
        other => panic!("expected no TLS error, only no broker behind the relay: {other:?}"),
    }
    assert!(lenient.fatal_error().is_none());
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn a_broker_requiring_a_client_certificate_refuses_one_without() {
    let certs = Certs::generate();
    let (_relay, bootstrap) = relay_only(&certs, "server", Some("ca"));
    let producer = producer(
        &bootstrap,
        &[
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", certs.path("ca.pem")),
        ],
    );
    assert_tls_failure(&producer, &bootstrap, "client's certificate");
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn a_plaintext_client_against_a_tls_port_is_a_tls_error() {
    let certs = Certs::generate();
    let (_relay, bootstrap) = relay_only(&certs, "server", None);
    let producer = producer(&bootstrap, &[]);
    assert_tls_failure(&producer, &bootstrap, "security.protocol");
}

#[test]
fn a_tls_client_against_a_plaintext_port_is_a_tls_error() {
    let cluster = common::cluster(1, 1);
    let bootstrap = cluster.bootstrap_servers();
    let certs = Certs::generate();
    let producer = producer(
        &bootstrap,
        &[
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", certs.path("ca.pem")),
        ],
    );
    assert_tls_failure(&producer, &bootstrap, "plaintext");
}

#[test]
fn a_plaintext_client_against_the_mocks_tls_port_is_a_tls_error() {
    // The mock's rustls listener answers a plaintext request with a TLS
    // alert: recognised at once.
    let cluster = rouse_kafka_mock::MockCluster::start(
        rouse_kafka_mock::ClusterConfig::new(1).with_tls(rouse_kafka_mock::TlsConfig::generated()),
    )
    .expect("mock starts");
    let bootstrap = cluster.bootstrap_servers();
    let producer = producer(&bootstrap, &[]);
    assert_tls_failure(&producer, &bootstrap, "TLS listener");
}

/// Records already queued when TLS fails each get the TLS error, within
/// request.timeout.ms: the bootstrap server is OpenSSL in front of the
/// mock, which then advertises its own plaintext port, so the metadata
/// arrives over TLS and the leader's connection fails.
#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn pending_records_fail_with_the_tls_error_within_the_bound() {
    let cluster = common::cluster(1, 1);
    let mock_port: u16 = cluster
        .bootstrap_servers()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("mock port");
    let certs = Certs::generate();
    let relay_port = free_port().unwrap();
    let _relay = Relay::start(&certs, relay_port, mock_port, "server", None);
    let producer = producer(
        &format!("127.0.0.1:{relay_port}"),
        &[
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", certs.path("ca.pem")),
            ("linger.ms", "50".into()),
        ],
    );
    let started = Instant::now();
    let mut pending = Vec::new();
    for i in 0..50 {
        match producer.send(Record::value(common::TOPIC, format!("p{i}"))) {
            Ok(future) => pending.push(future),
            Err(ProducerError::Authentication { .. }) => break, // already failed
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        !pending.is_empty(),
        "records were queued before the failure"
    );
    for future in pending {
        let outcome = future
            .wait_timeout(BOUND + Duration::from_secs(1))
            .expect("an outcome within the bound");
        let error = outcome.expect_err("not delivered");
        assert_eq!(error.kind(), DeliveryErrorKind::Tls, "{error}");
        assert!(error.message().contains("TLS failed"), "{error}");
    }
    assert!(
        started.elapsed() < BOUND + Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        cluster
            .handle()
            .records(common::TOPIC, 0)
            .expect("partition")
            .len(),
        0
    );
}

/// A plaintext listener that takes the ClientHello for the start of a
/// huge request frame and waits for the rest (as some brokers do) answers
/// nothing: the handshake's timeout is then a TLS error, within the bound.
#[test]
fn a_tls_client_against_a_silent_plaintext_port_is_a_tls_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bootstrap = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let mut sink = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut sink);
            held.push(stream); // open, silent
        }
    });
    let certs = Certs::generate();
    let producer = producer(
        &bootstrap,
        &[
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", certs.path("ca.pem")),
        ],
    );
    assert_tls_failure(&producer, &bootstrap, "does not speak TLS");
}

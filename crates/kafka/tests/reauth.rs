//! KIP-368 in band: when SaslAuthenticate gives a session lifetime, the
//! producer and the consumer log in again on the connection they have
//! (SaslHandshake and SaslAuthenticate once its requests are answered)
//! rather than opening a new one, with records flowing throughout and none
//! lost or duplicated. The mock's SASL listener sets the lifetime, closes a
//! connection that outlives its session, and counts connections, in-band
//! re-authentications and expired sessions. A re-authentication the
//! broker refuses (the user was revoked) is an authentication error, raised
//! once, within the session's end plus request.timeout.ms.

#![allow(clippy::print_stdout)] // the counts go to the test log
use std::time::{Duration, Instant};

use rouse_kafka::{
    Consumer, ConsumerConfig, DeliveryErrorKind, Producer, ProducerConfig, ProducerError, Record,
    TopicPartition,
};
use rouse_kafka_mock::{ClusterConfig, MockCluster, SaslConfig, SaslMechanism, TlsConfig};

mod common;

use common::{assert_stored_exactly_once, send_all, TOPIC};

/// The clients renew at 85% of it: 225 ms remain for what is in flight to
/// be answered (a Fetch waits at most fetch.max.wait.ms, 100 ms here).
const LIFETIME: Duration = Duration::from_millis(1500);
const PARTITIONS: i32 = 2;

/// A one-broker mock whose logins last LIFETIME, and the settings a client
/// needs (with the CA's file when `tls`).
fn secured(
    tls: bool,
    mechanism: SaslMechanism,
) -> (
    MockCluster,
    Vec<(String, String)>,
    Option<common::tls::Certs>,
) {
    let mut config = ClusterConfig::new(1).with_sasl(
        SaslConfig::new()
            .with_user("alice", "alice-secret")
            .with_mechanisms([mechanism])
            .with_session_lifetime(LIFETIME),
    );
    if tls {
        config = config.with_tls(TlsConfig::generated());
    }
    let cluster = MockCluster::start(config).expect("mock starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let mut settings: Vec<(String, String)> = [
        ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
        ("security.protocol", cluster.security_protocol()),
        ("sasl.mechanism", mechanism.name()),
        ("sasl.username", "alice"),
        ("sasl.password", "alice-secret"),
        ("request.timeout.ms", "2000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let certs = tls.then(|| {
        let certs = common::tls::Certs::generate();
        cluster
            .generated_certs()
            .expect("generated CA")
            .write_to(&certs.dir)
            .expect("CA written");
        settings.push(("ssl.ca.location".into(), certs.path("ca.pem")));
        certs
    });
    (cluster, settings, certs)
}

fn producer(settings: &[(String, String)]) -> Producer {
    let mut pairs = settings.to_vec();
    pairs.push(("linger.ms".into(), "1".into()));
    Producer::new(ProducerConfig::from_pairs(pairs).expect("config")).expect("producer")
}

/// Sends 20 records every 100 ms for `spell`; the acknowledged ones.
fn produce_for(producer: &Producer, spell: Duration) -> Vec<(i32, i64, String)> {
    let started = Instant::now();
    let mut acked = Vec::new();
    let mut round = 0;
    while started.elapsed() < spell {
        acked.extend(send_all(producer, 20, &format!("round{round}")));
        round += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    acked
}

/// The mock's (connections, re-authentications, expired sessions), checked:
/// `connections` connections only, each re-authenticated at least
/// `at_least` times in band, none cut at its session's end.
fn assert_in_band(cluster: &MockCluster, connections: u64, at_least: u64) {
    let (opened, renewed, expired) = cluster.sasl_sessions();
    let (logins, refused) = cluster.sasl_logins();
    println!("{opened} connections, {logins} logins ({renewed} in band), {expired} expired");
    assert_eq!(refused, 0);
    assert_eq!(expired, 0, "no connection outlived its session");
    assert_eq!(
        opened, connections,
        "one connection per client throughout ({renewed} re-authentications)"
    );
    assert!(
        renewed >= at_least * connections,
        "{renewed} in-band re-authentications on {opened} connections"
    );
    assert_eq!(
        logins,
        opened + renewed,
        "each login was a first one or in band"
    );
}

#[test]
fn the_producer_re_authenticates_on_its_connection_with_plain_over_sasl_ssl() {
    let (cluster, settings, _certs) = secured(true, SaslMechanism::Plain);
    let producer = producer(&settings);
    // 6 s of sending: four sessions end (each login costs some time too).
    let acked = produce_for(&producer, LIFETIME * 4);
    assert!(producer.fatal_error().is_none());
    producer.close(Duration::from_secs(5)).expect("closes");
    assert_stored_exactly_once(&cluster, &acked, PARTITIONS);
    assert_in_band(&cluster, 1, 2);
}

#[test]
fn the_consumer_re_authenticates_on_its_connection_with_scram_while_records_flow() {
    let (cluster, settings, _certs) = secured(false, SaslMechanism::ScramSha256);
    let producer = producer(&settings);
    let mut pairs = settings.clone();
    pairs.extend(
        [
            ("auto.offset.reset", "earliest"),
            ("fetch.max.wait.ms", "100"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let consumer =
        Consumer::new(ConsumerConfig::from_pairs(pairs).expect("config")).expect("consumer");
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(TOPIC, p)))
        .expect("assign");
    let (acked, got) = std::thread::scope(|scope| {
        let producing = scope.spawn(|| produce_for(&producer, LIFETIME * 4));
        let mut got = Vec::new();
        while !producing.is_finished() {
            got.extend(consumer.poll(Duration::from_millis(200)).expect("poll"));
        }
        let acked = producing.join().expect("producer thread");
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < acked.len() && Instant::now() < deadline {
            got.extend(consumer.poll(Duration::from_millis(200)).expect("poll"));
        }
        (acked, got)
    });
    let mut want: Vec<(i32, i64)> = acked.iter().map(|(p, o, _)| (*p, *o)).collect();
    let mut seen: Vec<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    want.sort_unstable();
    seen.sort_unstable();
    assert_eq!(seen, want, "every record consumed once");
    assert!(producer.fatal_error().is_none());
    producer.close(Duration::from_secs(5)).expect("closes");
    consumer.close(Duration::from_secs(5)).expect("closes");
    // Both clients' connections, each renewed about three times.
    assert_in_band(&cluster, 2, 2);
}

#[test]
fn a_refused_re_authentication_is_an_authentication_error_within_the_bound() {
    let (cluster, settings, _certs) = secured(false, SaslMechanism::ScramSha256);
    let producer = producer(&settings);
    let before = send_all(&producer, 20, "before");
    assert!(cluster.revoke_sasl_user("alice"));
    let revoked = Instant::now();
    // The session holds until it ends; the re-authentication at 85% of it
    // is refused, each step bounded by request.timeout.ms (2 s).
    let bound = LIFETIME + Duration::from_millis(2000 + 500);
    let mut pending = Vec::new();
    let reason = loop {
        match producer.send(Record::value(TOPIC, "after")) {
            Ok(future) => pending.push(future),
            Err(ProducerError::Authentication { reason, .. }) => break reason,
            Err(other) => panic!("expected an authentication error, got {other:?}"),
        }
        assert!(
            revoked.elapsed() < bound,
            "no authentication error within {bound:?} of the revocation"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("refused after {:?}: {reason}", revoked.elapsed());
    assert!(reason.contains("re-authentication"), "{reason}");
    assert!(reason.contains("\"alice\""), "names the user: {reason}");
    assert!(
        !reason.contains("alice-secret"),
        "never the password: {reason}"
    );
    // Every record sent meanwhile was stored or failed with the refusal.
    for future in pending {
        match future.wait_timeout(Duration::from_secs(5)) {
            Some(Ok(_)) => {}
            Some(Err(error)) => assert_eq!(error.kind(), DeliveryErrorKind::Authentication),
            None => panic!("a record sent before the refusal has no outcome"),
        }
    }
    assert_eq!(
        producer.fatal_error().expect("kept").kind(),
        DeliveryErrorKind::Authentication
    );
    assert!(matches!(
        producer.flush(Duration::from_secs(5)),
        Err(ProducerError::Authentication { record: None, .. })
    ));
    assert!(before.len() == 20);
    // Not retried: one refused login on the one connection, none after.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cluster.sasl_logins().1, 1, "refused once, not retried");
    assert_eq!(cluster.sasl_sessions().0, 1, "no reconnection");
}

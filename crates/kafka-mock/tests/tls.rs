//! The mock's TLS listeners with a rustls client: requests, fault injection
//! and broker stops work as over plaintext; untrusted certificates, a
//! plaintext client on a TLS port and (with mutual TLS) a client without a
//! certificate are refused; certificates can come from PEM files.

mod common;

use std::time::{Duration, Instant};

use common::{api_versions, client_config, plain, tls};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse};
use kafka_protocol::ResponseError;
use rouse_kafka_mock::{ClusterConfig, ClusterError, MockCluster, SaslConfig, TlsConfig};

fn tls_cluster(brokers: usize, config: TlsConfig) -> MockCluster {
    MockCluster::start(ClusterConfig::new(brokers).with_tls(config)).expect("starts")
}

fn ca(cluster: &MockCluster) -> &str {
    cluster.tls_ca_pem().expect("a generated CA")
}

#[test]
fn a_tls_listener_serves_requests_and_injected_faults_alike() {
    let cluster = tls_cluster(2, TlsConfig::generated());
    let config = client_config(ca(&cluster), None);
    let mut client = tls(cluster.broker_address(1).unwrap(), config.clone());
    let versions: ApiVersionsResponse = client.call(3, &api_versions()).expect("answered");
    assert_eq!(versions.error_code, 0);
    let sasl = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::SaslHandshake as i16)
        .expect("SaslHandshake listed");
    assert_eq!((sasl.min_version, sasl.max_version), (0, 1));
    let metadata: MetadataResponse = client
        .call(9, &MetadataRequest::default())
        .expect("answered");
    assert_eq!(metadata.brokers.len(), 2);

    // An injected error.
    let faults = cluster.handle();
    faults.fail_next(
        ApiKey::ApiVersions,
        None,
        ResponseError::UnknownServerError,
        1,
    );
    let versions: ApiVersionsResponse = client.call(3, &api_versions()).expect("answered");
    assert_eq!(
        versions.error_code,
        ResponseError::UnknownServerError.code()
    );

    // An injected delay holds later responses back, in order.
    faults.delay_responses(ApiKey::Metadata, None, Duration::from_millis(150));
    let started = Instant::now();
    let first = client.send(9, &MetadataRequest::default()).expect("sent");
    let second = client.send(3, &api_versions()).expect("sent");
    let (id, _) = client.receive::<MetadataResponse>(9).expect("answered");
    assert_eq!(id, first);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the delay was applied"
    );
    let (id, _) = client.receive::<ApiVersionsResponse>(3).expect("answered");
    assert_eq!(id, second);
    faults.clear_faults();

    // An injected drop.
    faults.drop_connection_after(None, 1);
    let _: ApiVersionsResponse = client.call(3, &api_versions()).expect("answered");
    client.send(3, &api_versions()).expect("sent");
    assert!(client.is_closed(), "dropped after one more request");

    // A stopped broker closes its TLS connections.
    let mut to_two = tls(cluster.broker_address(2).unwrap(), config);
    let _: ApiVersionsResponse = to_two.call(3, &api_versions()).expect("answered");
    cluster.stop_broker(2).expect("stops");
    assert!(to_two.is_closed(), "closed with the broker");
    assert_eq!(cluster.handle().request_count(Some(1), ApiKey::Metadata), 2);
}

#[test]
fn a_large_response_crosses_tls_whole() {
    let cluster = tls_cluster(1, TlsConfig::generated());
    // 50,000 topics with long names make a Metadata response of about
    // 12 MiB: far more than one TLS record (16 KiB) and more than the
    // socket buffers hold while the client is not reading, so the mock's
    // writes stop on a full socket with bytes still queued in TLS.
    const TOPICS: usize = 50_000;
    let long = "x".repeat(230);
    for i in 0..TOPICS {
        cluster
            .create_topic(&format!("{long}-{i:05}"), 1)
            .expect("topic");
    }
    let mut client = tls(
        cluster.broker_address(1).unwrap(),
        client_config(ca(&cluster), None),
    );
    let all = MetadataRequest::default().with_topics(None);
    let id = client.send(9, &all).expect("sent");
    std::thread::sleep(Duration::from_millis(300)); // let the socket fill
    let (got, metadata) = client
        .receive::<MetadataResponse>(9)
        .expect("answered whole");
    assert_eq!(got, id);
    assert_eq!(metadata.topics.len(), TOPICS);
}

#[test]
fn plaintext_on_a_tls_port_and_untrusted_certificates_are_refused() {
    let cluster = tls_cluster(1, TlsConfig::generated());
    let addr = cluster.broker_address(1).unwrap();
    let mut plaintext = plain(addr);
    plaintext.send(3, &api_versions()).expect("sent");
    assert!(plaintext.is_closed(), "a plaintext client is closed");

    let other = tls_cluster(1, TlsConfig::generated());
    let mut untrusting = tls(addr, client_config(ca(&other), None));
    let refused = untrusting
        .call(3, &api_versions())
        .expect_err("another CA's trust fails");
    assert!(
        refused
            .to_string()
            .contains("invalid peer certificate: UnknownIssuer"),
        "{refused}"
    );

    let mut good = tls(addr, client_config(ca(&cluster), None));
    let versions: ApiVersionsResponse = good.call(3, &api_versions()).expect("answered");
    assert_eq!(versions.error_code, 0, "the listener carries on");
}

#[test]
fn mutual_tls_refuses_a_client_without_a_certificate() {
    let cluster = tls_cluster(1, TlsConfig::generated().with_client_auth());
    let addr = cluster.broker_address(1).unwrap();
    let certs = cluster.generated_certs().expect("generated");
    let mut anonymous = tls(addr, client_config(certs.ca_pem(), None));
    // The client sees the mock's alert (certificate required) or, if its
    // request was still being written when the mock closed, a broken pipe.
    assert!(
        anonymous.call(3, &api_versions()).is_err(),
        "a client without a certificate was served"
    );

    let identity = Some((certs.client_cert_pem(), certs.client_key_pem()));
    let mut known = tls(addr, client_config(certs.ca_pem(), identity));
    let versions: ApiVersionsResponse = known.call(3, &api_versions()).expect("answered");
    assert_eq!(versions.error_code, 0);
    assert_eq!(cluster.handle().request_count(None, ApiKey::ApiVersions), 1);
}

#[test]
fn certificates_from_pem_files() {
    let dir = std::env::temp_dir().join(format!("rouse-mock-tls-pem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();

    let cluster = tls_cluster(1, TlsConfig::from_pem_files(&cert, &key));
    assert!(cluster.generated_certs().is_none());
    let mut client = tls(
        cluster.broker_address(1).unwrap(),
        client_config(&made.cert.pem(), None),
    );
    let versions: ApiVersionsResponse = client.call(3, &api_versions()).expect("answered");
    assert_eq!(versions.error_code, 0);

    let missing = dir.join("missing.pem");
    let error = MockCluster::start(
        ClusterConfig::new(1).with_tls(TlsConfig::from_pem_files(&missing, &key)),
    )
    .expect_err("a missing file is refused");
    assert!(
        matches!(&error, ClusterError::Security(m) if m.contains("missing.pem")),
        "{error}"
    );
    let error = MockCluster::start(
        ClusterConfig::new(1).with_tls(TlsConfig::from_pem_files(&cert, &key).with_client_auth()),
    )
    .expect_err("mutual TLS without a client CA is refused");
    assert!(error.to_string().contains("--tls-client-ca"), "{error}");
}

#[test]
fn sasl_without_users_is_refused_at_start_naming_the_setting() {
    let error = MockCluster::start(ClusterConfig::new(1).with_sasl(SaslConfig::new()))
        .expect_err("no users");
    assert!(
        error.to_string().contains("--sasl-user NAME:PASSWORD"),
        "{error}"
    );
    let error = MockCluster::start(
        ClusterConfig::new(1).with_sasl(SaslConfig::new().with_user("a", "b").with_mechanisms([])),
    )
    .expect_err("no mechanisms");
    assert!(error.to_string().contains("--sasl-mechanism"), "{error}");
}

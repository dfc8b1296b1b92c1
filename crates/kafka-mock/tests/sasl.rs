//! SASL on the mock's listeners over real sockets: SaslHandshake v1 with
//! SaslAuthenticate (PLAIN, and SCRAM by a client written here from RFC
//! 5802), v0 with raw tokens, SASL over TLS, the refusals, and fault
//! injection once logged in.

mod common;

use std::io::{Read, Write};

use base64ct::{Base64, Encoding};
use bytes::Bytes;
use common::{api_versions, client_config, plain, tls, Client};
use hmac::{Hmac, Mac};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rouse_kafka_mock::{ClusterConfig, MockCluster, SaslConfig, SaslMechanism, TlsConfig};
use sha2::{Digest, Sha256, Sha512};

fn sasl() -> SaslConfig {
    SaslConfig::new().with_user("alice", "a-secret")
}

fn handshake<S: Read + Write>(
    client: &mut Client<S>,
    version: i16,
    mechanism: &'static str,
) -> SaslHandshakeResponse {
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    client.call(version, &request).expect("handshake answered")
}

fn authenticate<S: Read + Write>(
    client: &mut Client<S>,
    token: Vec<u8>,
) -> SaslAuthenticateResponse {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
    client.call(2, &request).expect("authenticate answered")
}

fn hmac(mechanism: SaslMechanism, key: &[u8], message: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(key).unwrap();
        m.update(message);
        m.finalize().into_bytes().to_vec()
    }
    match mechanism {
        SaslMechanism::ScramSha512 => run::<Hmac<Sha512>>(key, message),
        _ => run::<Hmac<Sha256>>(key, message),
    }
}

/// A SCRAM client (RFC 5802 §3) over SaslAuthenticate: the error code of
/// the step that failed, or 0 once the server's signature checked out.
fn scram_login<S: Read + Write>(
    client: &mut Client<S>,
    mechanism: SaslMechanism,
    password: &str,
) -> (i16, Option<String>) {
    let first_bare = "n=alice,r=rust-client-nonce";
    let reply = authenticate(client, format!("n,,{first_bare}").into_bytes());
    if reply.error_code != 0 {
        return (reply.error_code, reply.error_message.map(|m| m.to_string()));
    }
    let server_first = String::from_utf8(reply.auth_bytes.to_vec()).unwrap();
    let field = |name: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let (nonce, salt, iterations) = (field("r="), field("s="), field("i="));
    assert!(
        nonce.starts_with("rust-client-nonce") && nonce.len() > 20,
        "{server_first}"
    );
    let salt = Base64::decode_vec(&salt).unwrap();
    let iterations: u32 = iterations.parse().unwrap();
    assert_eq!(iterations, 4096);
    let salted = match mechanism {
        SaslMechanism::ScramSha512 => {
            pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password.as_bytes(), &salt, iterations).to_vec()
        }
        _ => {
            pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), &salt, iterations).to_vec()
        }
    };
    let client_key = hmac(mechanism, &salted, b"Client Key");
    let stored_key = match mechanism {
        SaslMechanism::ScramSha512 => Sha512::digest(&client_key).to_vec(),
        _ => Sha256::digest(&client_key).to_vec(),
    };
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hmac(mechanism, &stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let last = format!("{without_proof},p={}", Base64::encode_string(&proof));
    let reply = authenticate(client, last.into_bytes());
    if reply.error_code != 0 {
        return (reply.error_code, reply.error_message.map(|m| m.to_string()));
    }
    let server_key = hmac(mechanism, &salted, b"Server Key");
    let expected = hmac(mechanism, &server_key, auth_message.as_bytes());
    let server_final = String::from_utf8(reply.auth_bytes.to_vec()).unwrap();
    assert_eq!(
        server_final,
        format!("v={}", Base64::encode_string(&expected))
    );
    (0, None)
}

fn metadata_works<S: Read + Write>(client: &mut Client<S>) {
    let metadata: MetadataResponse = client
        .call(9, &MetadataRequest::default())
        .expect("served after login");
    assert_eq!(metadata.brokers.len(), 1);
}

/// Logs in with SCRAM; once in, Metadata is served; once refused, the
/// connection is closed.
fn login_then_serve<S: Read + Write>(
    client: &mut Client<S>,
    mechanism: SaslMechanism,
    password: &str,
) -> (i16, Option<String>) {
    let _: ApiVersionsResponse = client.call(3, &api_versions()).unwrap();
    assert_eq!(handshake(client, 1, mechanism.name()).error_code, 0);
    let result = scram_login(client, mechanism, password);
    if result.0 == 0 {
        metadata_works(client);
    } else {
        assert!(client.is_closed(), "closed after the refusal");
    }
    result
}

#[test]
fn scram_over_sasl_ssl_and_sasl_plaintext_with_an_rfc_client() {
    for with_tls in [false, true] {
        let mut config = ClusterConfig::new(1).with_sasl(sasl());
        if with_tls {
            config = config.with_tls(TlsConfig::generated());
        }
        let cluster = MockCluster::start(config).expect("starts");
        let addr = cluster.broker_address(1).unwrap();
        for mechanism in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
            for (password, code) in [
                ("a-secret", 0),
                ("wrong", ResponseError::SaslAuthenticationFailed.code()),
            ] {
                let (got, message) = if with_tls {
                    let ca = cluster.tls_ca_pem().unwrap();
                    login_then_serve(&mut tls(addr, client_config(ca, None)), mechanism, password)
                } else {
                    login_then_serve(&mut plain(addr), mechanism, password)
                };
                assert_eq!(
                    got, code,
                    "{mechanism} tls={with_tls} password={password}: {message:?}"
                );
                if code != 0 {
                    let message = message.expect("a refusal carries a message");
                    assert!(message.contains("invalid credentials"), "{message}");
                }
            }
        }
    }
}

#[test]
fn handshake_v0_plain_with_raw_tokens() {
    let cluster = MockCluster::start(ClusterConfig::new(1).with_sasl(sasl())).expect("starts");
    let addr = cluster.broker_address(1).unwrap();
    let mut client = plain(addr);
    let response = handshake(&mut client, 0, "PLAIN");
    assert_eq!(response.error_code, 0);
    client.write_frame(b"\0alice\0a-secret").unwrap();
    assert!(
        client.read_frame().unwrap().is_empty(),
        "PLAIN's empty reply token"
    );
    metadata_works(&mut client);

    let mut refused = plain(addr);
    handshake(&mut refused, 0, "PLAIN");
    refused.write_frame(b"\0alice\0wrong").unwrap();
    assert!(refused.is_closed(), "v0 refusals close without an answer");
}

#[test]
fn before_login_only_api_versions_and_sasl_are_served() {
    let cluster = MockCluster::start(ClusterConfig::new(1).with_sasl(sasl())).expect("starts");
    let mut client = plain(cluster.broker_address(1).unwrap());
    let versions: ApiVersionsResponse = client.call(3, &api_versions()).expect("answered");
    assert_eq!(versions.error_code, 0);
    client.send(9, &MetadataRequest::default()).unwrap();
    assert!(
        client.is_closed(),
        "Metadata before login closes the connection"
    );
    assert_eq!(cluster.handle().request_count(None, ApiKey::Metadata), 0);

    let mut unknown = plain(cluster.broker_address(1).unwrap());
    let response = handshake(&mut unknown, 1, "GSSAPI");
    assert_eq!(
        response.error_code,
        ResponseError::UnsupportedSaslMechanism.code()
    );
    assert_eq!(response.mechanisms.len(), 3);
    assert!(unknown.is_closed());
}

#[test]
fn faults_apply_once_logged_in() {
    let config = ClusterConfig::new(1)
        .with_tls(TlsConfig::generated())
        .with_sasl(sasl());
    let cluster = MockCluster::start(config).expect("starts");
    let mut client = tls(
        cluster.broker_address(1).unwrap(),
        client_config(cluster.tls_ca_pem().unwrap(), None),
    );
    assert_eq!(handshake(&mut client, 1, "PLAIN").error_code, 0);
    assert_eq!(
        authenticate(&mut client, b"\0alice\0a-secret".to_vec()).error_code,
        0
    );
    cluster.handle().fail_next(
        ApiKey::ApiVersions,
        None,
        ResponseError::UnknownServerError,
        1,
    );
    let versions: ApiVersionsResponse = client.call(3, &api_versions()).unwrap();
    assert_eq!(
        versions.error_code,
        ResponseError::UnknownServerError.code()
    );
    // Logged in: a second handshake is the cluster's to refuse, as Kafka does.
    assert_eq!(
        handshake(&mut client, 1, "PLAIN").error_code,
        ResponseError::IllegalSaslState.code()
    );
}

#[test]
fn a_listener_without_sasl_answers_sasl_requests_with_illegal_state() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("starts");
    let mut client = plain(cluster.broker_address(1).unwrap());
    assert_eq!(
        handshake(&mut client, 1, "PLAIN").error_code,
        ResponseError::IllegalSaslState.code()
    );
    let response = authenticate(&mut client, b"\0alice\0a-secret".to_vec());
    assert_eq!(response.error_code, ResponseError::IllegalSaslState.code());
    metadata_works(&mut client);
}

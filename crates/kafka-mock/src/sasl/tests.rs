use bytes::Buf;
use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest, ResponseHeader};
use kafka_protocol::protocol::Request;

use super::*;
use crate::SaslConfig;

fn session(mechanisms: &[SaslMechanism]) -> Session {
    let config = SaslConfig::new()
        .with_user("alice", "a-secret")
        .with_mechanisms(mechanisms.iter().copied());
    Session::new(Arc::new(Users::new(&config).unwrap()))
}

fn frame<R: Request + Encodable>(version: i16, body: &R) -> Bytes {
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(9)
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn handshake(version: i16, mechanism: &'static str) -> Bytes {
    frame(
        version,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
    )
}

fn authenticate(version: i16, token: &'static [u8]) -> Bytes {
    frame(
        version,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(token)),
    )
}

fn metadata() -> Bytes {
    frame(12, &MetadataRequest::default())
}

/// The body of a response frame, after its length prefix and header.
fn body<R: Decodable + HeaderVersion>(mut bytes: Bytes, version: i16) -> R {
    let len = bytes.get_i32() as usize;
    assert_eq!(len, bytes.len());
    let header = ResponseHeader::decode(&mut bytes, R::header_version(version)).unwrap();
    assert_eq!(header.correlation_id, 9);
    R::decode(&mut bytes, version).unwrap()
}

#[test]
fn before_login_only_api_versions_and_the_handshake_pass() {
    let mut s = session(&SaslMechanism::ALL);
    let versions = frame(3, &ApiVersionsRequest::default());
    assert!(matches!(s.step(versions), Step::Cluster(_)));
    let Step::Close(reason) = s.step(metadata()) else {
        panic!("Metadata before login must close");
    };
    assert!(
        reason.contains("Metadata before SASL authentication"),
        "{reason}"
    );
}

#[test]
fn plain_v1_logs_in_then_frames_go_to_the_cluster() {
    let mut s = session(&SaslMechanism::ALL);
    let Step::Answer(bytes) = s.step(handshake(1, "PLAIN")) else {
        panic!("handshake answered");
    };
    let response: SaslHandshakeResponse = body(bytes, 1);
    assert_eq!(response.error_code, 0);
    let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(offered, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    let Step::Answer(bytes) = s.step(authenticate(2, b"\0alice\0a-secret")) else {
        panic!("authenticate answered");
    };
    let response: SaslAuthenticateResponse = body(bytes, 2);
    assert_eq!(response.error_code, 0);
    assert_eq!(response.session_lifetime_ms, 0, "no re-authentication");
    assert!(matches!(s.step(metadata()), Step::Cluster(_)));
    // After login, SASL requests are the cluster's to refuse.
    assert!(matches!(s.step(handshake(1, "PLAIN")), Step::Cluster(_)));
}

#[test]
fn a_wrong_password_is_answered_with_a_message_then_closed() {
    let mut s = session(&SaslMechanism::ALL);
    assert!(matches!(s.step(handshake(1, "PLAIN")), Step::Answer(_)));
    let Step::AnswerThenClose(bytes) = s.step(authenticate(1, b"\0alice\0wrong")) else {
        panic!("a refusal is answered, then the connection closes");
    };
    let response: SaslAuthenticateResponse = body(bytes, 1);
    assert_eq!(
        response.error_code,
        ResponseError::SaslAuthenticationFailed.code()
    );
    let message = response.error_message.unwrap();
    assert!(
        message.as_str().contains("Invalid username or password"),
        "{message:?}"
    );
    assert!(
        !message.as_str().contains("wrong"),
        "the password is not echoed"
    );
    assert!(matches!(s.step(metadata()), Step::Close(_)));
}

#[test]
fn handshake_v0_takes_raw_tokens_and_answers_raw() {
    let mut s = session(&SaslMechanism::ALL);
    assert!(matches!(s.step(handshake(0, "PLAIN")), Step::Answer(_)));
    let Step::Answer(reply) = s.step(Bytes::from_static(b"\0alice\0a-secret")) else {
        panic!("a raw token is answered with a raw token");
    };
    assert_eq!(
        &reply[..],
        &[0, 0, 0, 0],
        "PLAIN's empty token, length-prefixed"
    );
    assert!(matches!(s.step(metadata()), Step::Cluster(_)));

    let mut s = session(&SaslMechanism::ALL);
    assert!(matches!(s.step(handshake(0, "PLAIN")), Step::Answer(_)));
    assert!(matches!(
        s.step(Bytes::from_static(b"\0alice\0wrong")),
        Step::Close(_)
    ));
}

#[test]
fn a_mechanism_not_offered_is_refused_with_the_list() {
    let mut s = session(&[SaslMechanism::ScramSha512]);
    let Step::AnswerThenClose(bytes) = s.step(handshake(1, "PLAIN")) else {
        panic!("refused, then closed");
    };
    let response: SaslHandshakeResponse = body(bytes, 1);
    assert_eq!(
        response.error_code,
        ResponseError::UnsupportedSaslMechanism.code()
    );
    assert_eq!(response.mechanisms.len(), 1);
    assert_eq!(response.mechanisms[0].as_str(), "SCRAM-SHA-512");
}

#[test]
fn scram_first_message_gets_a_challenge_with_the_client_nonce() {
    let mut s = session(&SaslMechanism::ALL);
    assert!(matches!(
        s.step(handshake(1, "SCRAM-SHA-256")),
        Step::Answer(_)
    ));
    let Step::Answer(bytes) = s.step(authenticate(1, b"n,,n=alice,r=client-nonce")) else {
        panic!("challenge");
    };
    let response: SaslAuthenticateResponse = body(bytes, 1);
    let challenge = std::str::from_utf8(&response.auth_bytes).unwrap();
    assert!(challenge.starts_with("r=client-nonce"), "{challenge}");
    assert!(challenge.ends_with(",i=4096"), "{challenge}");
    // Authenticate out of turn (the proof missing) is refused.
    assert!(matches!(
        s.step(authenticate(1, b"c=biws,r=x")),
        Step::AnswerThenClose(_)
    ));
}

#[test]
fn authenticate_before_handshake_and_oversized_frames_close() {
    let mut s = session(&SaslMechanism::ALL);
    assert!(matches!(s.step(authenticate(1, b"x")), Step::Close(_)));
    let mut s = session(&SaslMechanism::ALL);
    assert!(matches!(
        s.step(Bytes::from(vec![0u8; MAX_UNAUTHENTICATED_FRAME + 1])),
        Step::Close(_)
    ));
    assert!(matches!(
        s.step(Bytes::from_static(b"\0\x12")),
        Step::Close(_)
    ));
}

fn reauth_session(lifetime: std::time::Duration) -> Session {
    let config = SaslConfig::new()
        .with_user("alice", "a-secret")
        .with_user("bob", "b-secret")
        .with_session_lifetime(lifetime);
    Session::new(Arc::new(Users::new(&config).unwrap()))
}

fn plain_login(s: &mut Session, token: &'static [u8]) -> Step {
    assert!(matches!(s.step(handshake(1, "PLAIN")), Step::Answer(_)));
    s.step(authenticate(1, token))
}

#[test]
fn kip_368_reauthentication_renews_the_login_and_expiry_closes() {
    let lifetime = std::time::Duration::from_millis(200);
    let mut s = reauth_session(lifetime);
    let Step::Answer(bytes) = plain_login(&mut s, b"\0alice\0a-secret") else {
        panic!("logged in");
    };
    let response: SaslAuthenticateResponse = body(bytes, 1);
    assert_eq!(response.session_lifetime_ms, 200, "the client is told");
    assert!(matches!(s.step(metadata()), Step::Cluster(_)));
    // Re-authenticate on the same connection before the lifetime ends.
    std::thread::sleep(lifetime / 2);
    let Step::Answer(_) = plain_login(&mut s, b"\0alice\0a-secret") else {
        panic!("re-authenticated");
    };
    std::thread::sleep(lifetime / 2 + lifetime / 4);
    assert!(
        matches!(s.step(metadata()), Step::Cluster(_)),
        "the renewed login has not expired yet"
    );
    std::thread::sleep(lifetime / 2);
    let Step::Close(reason) = s.step(metadata()) else {
        panic!("a request after the lifetime closes the connection");
    };
    assert!(reason.contains("KIP-368"), "{reason}");
}

#[test]
fn reauthentication_as_another_user_or_mechanism_is_refused() {
    let lifetime = std::time::Duration::from_secs(60);
    let mut s = reauth_session(lifetime);
    assert!(matches!(
        plain_login(&mut s, b"\0alice\0a-secret"),
        Step::Answer(_)
    ));
    let Step::AnswerThenClose(bytes) = plain_login(&mut s, b"\0bob\0b-secret") else {
        panic!("another user is refused");
    };
    let response: SaslAuthenticateResponse = body(bytes, 1);
    assert!(response
        .error_message
        .unwrap()
        .as_str()
        .contains("same user"));

    let mut s = reauth_session(lifetime);
    assert!(matches!(
        plain_login(&mut s, b"\0alice\0a-secret"),
        Step::Answer(_)
    ));
    let Step::AnswerThenClose(bytes) = s.step(handshake(1, "SCRAM-SHA-256")) else {
        panic!("another mechanism is refused");
    };
    let response: SaslHandshakeResponse = body(bytes, 1);
    assert_eq!(response.error_code, ResponseError::IllegalSaslState.code());
}

#[test]
fn a_revoked_user_keeps_its_session_but_cannot_re_authenticate() {
    let users = Arc::new(
        Users::new(
            &SaslConfig::new()
                .with_user("alice", "a-secret")
                .with_session_lifetime(std::time::Duration::from_secs(60)),
        )
        .unwrap(),
    );
    let mut s = Session::new(Arc::clone(&users));
    assert!(matches!(
        plain_login(&mut s, b"\0alice\0a-secret"),
        Step::Answer(_)
    ));
    assert!(users.revoke("alice"));
    assert!(!users.revoke("alice"), "already gone");
    assert!(
        matches!(s.step(metadata()), Step::Cluster(_)),
        "the session lasts until it ends"
    );
    let Step::AnswerThenClose(bytes) = plain_login(&mut s, b"\0alice\0a-secret") else {
        panic!("the re-authentication is refused");
    };
    let response: SaslAuthenticateResponse = body(bytes, 1);
    assert_eq!(
        response.error_code,
        ResponseError::SaslAuthenticationFailed.code()
    );
    assert_eq!(users.session_counts(), (1, 0, 0));
    assert_eq!(users.counts(), (1, 1));
}

mod random {
    use proptest::prelude::*;

    use super::*;

    /// A session at each point a client's bytes can reach: before the
    /// handshake, after a v1 or v0 handshake for each mechanism, and in the
    /// middle of a SCRAM exchange.
    fn sessions() -> Vec<Session> {
        // One user table for all cases: its PBKDF2 runs once.
        static USERS: std::sync::OnceLock<Arc<Users>> = std::sync::OnceLock::new();
        let users = USERS.get_or_init(|| {
            Arc::new(Users::new(&SaslConfig::new().with_user("alice", "a-secret")).unwrap())
        });
        let session = || Session::new(Arc::clone(users));
        let mut out = vec![session()];
        for mechanism in SaslMechanism::ALL {
            for version in [0, 1] {
                let mut s = session();
                let _ = s.step(handshake(version, mechanism.name()));
                out.push(s);
            }
        }
        let mut mid_scram = session();
        let _ = mid_scram.step(handshake(1, "SCRAM-SHA-512"));
        let _ = mid_scram.step(authenticate(1, b"n,,n=alice,r=abc"));
        out.push(mid_scram);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Random frames and random SASL tokens never panic a session,
        /// and never log anyone in.
        #[test]
        fn random_sasl_frames_never_panic_or_log_in(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..4),
            tokens in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..4),
        ) {
            for mut s in sessions() {
                for frame in &frames {
                    let _ = s.step(Bytes::from(frame.clone()));
                }
                prop_assert!(!matches!(s.state, State::Authenticated));
            }
            for mut s in sessions() {
                for token in &tokens {
                    let request = SaslAuthenticateRequest::default()
                        .with_auth_bytes(Bytes::from(token.clone()));
                    let _ = s.step(frame(2, &request));
                    let _ = s.step(Bytes::from(token.clone()));
                }
                prop_assert!(!matches!(s.state, State::Authenticated));
            }
        }
    }
}

//! SASL on a listener: one [`Session`] per connection stands between the
//! connection's frames and the cluster until the client has logged in.
//!
//! ```text
//!  Start ──ApiVersions──► (cluster answers) ──► Start
//!    │
//!    └─SaslHandshake v1─► Chosen ──SaslAuthenticate──► [Scram ──SaslAuthenticate──►] Authenticated
//!    └─SaslHandshake v0─► Chosen ──raw token────────► [Scram ──raw token─────────►] Authenticated
//! ```
//!
//! As Kafka does: before login only ApiVersions, SaslHandshake and
//! SaslAuthenticate are served (anything else closes the connection); a
//! refused login is answered with `SASL_AUTHENTICATION_FAILED` and its
//! reason, then the connection closes (after SaslHandshake v0, whose tokens
//! go unframed, it closes without an answer). Once logged in every frame
//! goes to the cluster, fault injection included.
//!
//! With a session lifetime ([`SaslConfig::with_session_lifetime`]), KIP-368:
//! SaslAuthenticate v1+ reports it, a SaslHandshake v1 on a logged-in
//! connection starts a re-authentication (same mechanism, same user; other
//! requests wait, as clients do), and the first request after the lifetime
//! ends closes the connection. Without one, SaslHandshake after login goes
//! to the cluster, which answers `ILLEGAL_SASL_STATE`.
//!
//! [`SaslConfig::with_session_lifetime`]: crate::SaslConfig::with_session_lifetime

pub(crate) mod plain;
pub(crate) mod scram;
pub(crate) mod users;

use std::sync::Arc;
use std::time::Instant;

use base64ct::{Base64, Encoding};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use kafka_protocol::ResponseError;

use crate::dispatch::encode_response;
use crate::SaslMechanism;
use scram::{Hash, ScramServer};
pub(crate) use users::Users;

/// The largest frame accepted before login (Kafka's
/// `sasl.server.max.receive.size` default).
const MAX_UNAUTHENTICATED_FRAME: usize = 512 * 1024;

/// What the connection does with one frame.
#[derive(Debug)]
pub(crate) enum Step {
    /// Hand it to the cluster, as on a listener without SASL.
    Cluster(Bytes),
    /// Write this response frame (length prefix included).
    Answer(Bytes),
    /// Write this response frame, then close the connection.
    AnswerThenClose(Bytes),
    /// Close the connection at once, for this reason.
    Close(String),
}

enum State {
    Start,
    /// The mechanism is chosen; `framed` when tokens come in SaslAuthenticate
    /// requests (SaslHandshake v1), not raw (v0).
    Chosen {
        mechanism: SaslMechanism,
        framed: bool,
    },
    Scram {
        server: ScramServer,
        framed: bool,
    },
    Authenticated,
    /// A refusal was sent; nothing more is served.
    Failed,
}

/// Who is logged in on a connection, and until when.
struct Login {
    user: String,
    mechanism: SaslMechanism,
    expires: Option<Instant>,
}

/// One connection's SASL state.
pub(crate) struct Session {
    users: Arc<Users>,
    state: State,
    /// The current login; during a re-authentication, the one it renews.
    login: Option<Login>,
}

impl Session {
    pub(crate) fn new(users: Arc<Users>) -> Session {
        users.count_connection();
        Session {
            users,
            state: State::Start,
            login: None,
        }
    }

    /// The largest frame to accept next: `logged_in_max` once logged in,
    /// Kafka's `sasl.server.max.receive.size` (512 KiB) before, so a client
    /// that has not logged in cannot make the mock buffer a large frame.
    pub(crate) fn frame_limit(&self, logged_in_max: usize) -> usize {
        match self.state {
            State::Authenticated => logged_in_max,
            _ => MAX_UNAUTHENTICATED_FRAME.min(logged_in_max),
        }
    }

    /// What to do with `frame` (the payload after its length prefix).
    pub(crate) fn step(&mut self, frame: Bytes) -> Step {
        match &self.state {
            State::Authenticated => return self.logged_in_step(frame),
            State::Failed => return Step::Close("SASL authentication already failed".to_owned()),
            _ => {}
        }
        if frame.len() > MAX_UNAUTHENTICATED_FRAME {
            return Step::Close(format!(
                "{}-byte frame before SASL authentication (the limit is {MAX_UNAUTHENTICATED_FRAME})",
                frame.len()
            ));
        }
        if let State::Chosen { framed: false, .. } | State::Scram { framed: false, .. } = self.state
        {
            return self.raw_token(&frame);
        }
        let Some(prefix) = frame.get(..8) else {
            return Step::Close(format!(
                "{}-byte frame cannot hold a request header",
                frame.len()
            ));
        };
        let key = ApiKey::try_from(i16::from_be_bytes([prefix[0], prefix[1]]));
        let version = i16::from_be_bytes([prefix[2], prefix[3]]);
        match (key, &self.state) {
            (Ok(ApiKey::ApiVersions), State::Start) => Step::Cluster(frame),
            (Ok(ApiKey::SaslHandshake), State::Start) => self.handshake(frame, version),
            (Ok(ApiKey::SaslAuthenticate), State::Chosen { framed: true, .. })
            | (Ok(ApiKey::SaslAuthenticate), State::Scram { framed: true, .. }) => {
                self.authenticate(frame, version)
            }
            (Ok(key), _) => Step::Close(format!(
                "{key:?} before SASL authentication completed: only ApiVersions, then \
                 SaslHandshake and SaslAuthenticate, are served until the client logs in"
            )),
            (Err(_), _) => Step::Close("unknown API key before SASL authentication".to_owned()),
        }
    }

    /// A frame on a logged-in connection: the cluster's, unless the login
    /// has expired (close) or the client re-authenticates (KIP-368).
    fn logged_in_step(&mut self, frame: Bytes) -> Step {
        let expires = self.login.as_ref().and_then(|l| l.expires);
        if expires.is_some_and(|at| Instant::now() >= at) {
            self.state = State::Failed;
            self.users.count_expired();
            let lifetime = self.users.session_lifetime().unwrap_or_default();
            return Step::Close(format!(
                "SASL session expired ({lifetime:?} after login) without re-authentication (KIP-368)"
            ));
        }
        let is_handshake = frame
            .get(..4)
            .is_some_and(|p| i16::from_be_bytes([p[0], p[1]]) == ApiKey::SaslHandshake as i16);
        if !is_handshake || self.users.session_lifetime().is_none() {
            return Step::Cluster(frame);
        }
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        self.handshake(frame, version)
    }

    fn handshake(&mut self, frame: Bytes, version: i16) -> Step {
        let Some((correlation_id, request)) = decode::<SaslHandshakeRequest>(frame, version) else {
            return self.malformed(ApiKey::SaslHandshake, version);
        };
        let offered = self.users.mechanisms();
        let mut response = SaslHandshakeResponse::default().with_mechanisms(
            offered
                .iter()
                .map(|m| StrBytes::from_static_str(m.name()))
                .collect(),
        );
        let chosen = offered
            .iter()
            .find(|m| m.name() == request.mechanism.as_str());
        let Some(&mechanism) = chosen else {
            tracing::warn!(mechanism = %request.mechanism.as_str(), "SASL mechanism not offered");
            self.state = State::Failed;
            response.error_code = ResponseError::UnsupportedSaslMechanism.code();
            return answer(correlation_id, version, &response, true);
        };
        if let Some(login) = &self.login {
            // KIP-368: re-authentication keeps the mechanism and needs
            // SaslAuthenticate framing (handshake v1).
            if login.mechanism != mechanism || version < 1 {
                tracing::warn!(%mechanism, version, "re-authentication refused: it must use SaslHandshake v1 and the first login's mechanism");
                self.state = State::Failed;
                response.error_code = ResponseError::IllegalSaslState.code();
                return answer(correlation_id, version, &response, true);
            }
        }
        self.state = State::Chosen {
            mechanism,
            framed: version >= 1,
        };
        answer(correlation_id, version, &response, false)
    }

    fn authenticate(&mut self, frame: Bytes, version: i16) -> Step {
        let Some((correlation_id, request)) = decode::<SaslAuthenticateRequest>(frame, version)
        else {
            return self.malformed(ApiKey::SaslAuthenticate, version);
        };
        let mut response = SaslAuthenticateResponse::default();
        match self.token(&request.auth_bytes) {
            Ok(token) => {
                response.auth_bytes = Bytes::from(token);
                if matches!(self.state, State::Authenticated) && version >= 1 {
                    // The field exists from v1 on; v0 clients are closed at
                    // expiry without being told.
                    let lifetime = self.users.session_lifetime().unwrap_or_default();
                    response.session_lifetime_ms =
                        i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
                }
                answer(correlation_id, version, &response, false)
            }
            Err(reason) => {
                response.error_code = ResponseError::SaslAuthenticationFailed.code();
                response.error_message = Some(StrBytes::from_string(reason));
                answer(correlation_id, version, &response, true)
            }
        }
    }

    /// After SaslHandshake v0: the frame is the token itself, and so is the
    /// answer; a refusal closes the connection without one, as Kafka does.
    fn raw_token(&mut self, token: &[u8]) -> Step {
        match self.token(token) {
            Ok(reply) => {
                let mut frame = BytesMut::with_capacity(4 + reply.len());
                frame.put_i32(i32::try_from(reply.len()).unwrap_or(i32::MAX));
                frame.put_slice(&reply);
                Step::Answer(frame.freeze())
            }
            Err(reason) => Step::Close(reason),
        }
    }

    /// Runs the chosen mechanism on one client token; the reply token, or
    /// why the login is refused (the session is then failed).
    fn token(&mut self, token: &[u8]) -> Result<Vec<u8>, String> {
        let result = match std::mem::replace(&mut self.state, State::Failed) {
            State::Chosen {
                mechanism: SaslMechanism::Plain,
                ..
            } => plain::authenticate(&self.users, token)
                .and_then(|user| self.logged_in(user, SaslMechanism::Plain, Vec::new())),
            State::Chosen { mechanism, framed } => {
                let hash = match mechanism {
                    SaslMechanism::ScramSha512 => Hash::Sha512,
                    _ => Hash::Sha256,
                };
                let mut server = ScramServer::new(hash);
                let users = &self.users;
                let reply = server_nonce().and_then(|nonce| {
                    server.client_first(token, &nonce, |user| users.scram(user, hash))
                });
                reply.inspect(|_| self.state = State::Scram { server, framed })
            }
            State::Scram { mut server, .. } => {
                let mechanism = match server.hash() {
                    Hash::Sha256 => SaslMechanism::ScramSha256,
                    Hash::Sha512 => SaslMechanism::ScramSha512,
                };
                server
                    .client_final(token)
                    .and_then(|(user, reply)| self.logged_in(user, mechanism, reply))
            }
            _ => Err("SASL token out of turn".to_owned()),
        };
        if let Err(reason) = &result {
            self.users.count(false);
            tracing::warn!(%reason, "SASL authentication failed");
        }
        result
    }

    fn logged_in(
        &mut self,
        user: String,
        mechanism: SaslMechanism,
        reply: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        if let Some(previous) = &self.login {
            if previous.user != user {
                return Err(format!(
                    "re-authentication must be as the same user ({}), not {user}",
                    previous.user
                ));
            }
        }
        self.users.count(true);
        if self.login.is_some() {
            self.users.count_reauthentication();
            tracing::info!(%user, %mechanism, "SASL re-authentication succeeded");
        } else {
            tracing::info!(%user, %mechanism, "SASL authentication succeeded");
        }
        let expires = self.users.session_lifetime().map(|l| Instant::now() + l);
        self.login = Some(Login {
            user,
            mechanism,
            expires,
        });
        self.state = State::Authenticated;
        Ok(reply)
    }

    fn malformed(&mut self, key: ApiKey, version: i16) -> Step {
        self.state = State::Failed;
        Step::Close(format!("malformed {key:?} v{version} request"))
    }
}

/// The header's correlation id and the body, or `None` if either does not
/// decode at `version`.
fn decode<R: Decodable>(mut frame: Bytes, version: i16) -> Option<(i32, R)> {
    let key = ApiKey::try_from(i16::from_be_bytes([*frame.first()?, *frame.get(1)?])).ok()?;
    let range = key.valid_versions();
    if !(range.min..=range.max).contains(&version) {
        return None;
    }
    let header = RequestHeader::decode(&mut frame, key.request_header_version(version)).ok()?;
    let body = R::decode(&mut frame, version).ok()?;
    Some((header.correlation_id, body))
}

fn answer<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    response: &R,
    then_close: bool,
) -> Step {
    match encode_response(correlation_id, version, response) {
        Ok(bytes) if then_close => Step::AnswerThenClose(bytes),
        Ok(bytes) => Step::Answer(bytes),
        Err(e) => Step::Close(format!("could not encode a SASL response: {e}")),
    }
}

/// 18 random bytes, base64: printable and free of commas, as RFC 5802
/// wants a nonce.
fn server_nonce() -> Result<String, String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes for a SCRAM nonce: {e}"))?;
    Ok(Base64::encode_string(&bytes))
}

#[cfg(test)]
mod tests;

//! The secured steps of a connection's setup, on the client's loop like any other
//! request: the TLS handshake (driven by the socket's readiness), then,
//! after ApiVersions, SaslHandshake v1 and SaslAuthenticate round trips
//! until the mechanism is done; and KIP-368 session expiry.
//!
//! Failures: a TLS error (certificate refused, alert, not TLS at all) or a
//! refused SASL exchange is handed to the client ([`Client::failed`]),
//! which raises it on its next pump (the producer fails every pending
//! record with it, once, and takes no more; see docs/security.md for why
//! this is not retried).
//!
//! Re-authentication (KIP-368), in band as the Java client does it: when
//! SaslAuthenticate gives a session lifetime, the connection stops taking
//! new requests at 85% of it (`Phase::Expiring`); as soon as its last
//! answer is in, it sends SaslHandshake and SaslAuthenticate again on the
//! same socket (each step bounded by `request.timeout.ms`), and is Ready
//! once the broker accepts. A refusal is an authentication failure like a
//! first login's. Requests still in flight when the session ends close the
//! connection instead (they are retried as after any cut), since the broker
//! would close it on the next request anyway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, SaslAuthenticateResponse, SaslHandshakeResponse};
use kafka_protocol::ResponseError;
use rouse_reactor::EventLoop;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ClientConfig};

use super::connection::{Awaiting, Phase, SessionEnd};
use super::manager::{Connections, Link};
use super::serve::{sync_interest, Serve};
use super::transport::{self, ClosedInHandshake};
use super::versions::API_VERSIONS;
use super::{requests, Client, SecurityFailure};
use crate::security::sasl::{Authenticator, Step};

/// The share of a session's lifetime after which it is replaced (Java
/// picks 85..95% at random; the low end leaves the most room).
const RENEW_AT: f64 = 0.85;

/// What a rustls error means for the user, and what to do.
fn describe_tls(error: &rustls::Error) -> String {
    let advice = match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its certificate is not signed by a trusted CA: set ssl.ca.location to the CA that signed the brokers' certificates"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            "its certificate is not for the host name dialled: use a name the certificate lists in bootstrap.servers / advertised listeners, or set ssl.endpoint.identification.algorithm=none"
        }
        rustls::Error::InvalidCertificate(_) => "its certificate was refused",
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied,
        ) => {
            "it refused this client's certificate (or wants one): set ssl.certificate.location and ssl.key.location to a certificate its CA signed"
        }
        rustls::Error::AlertReceived(_) => "it ended the TLS session with an alert",
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "it does not speak TLS: is this a plaintext port? check security.protocol and the port"
        }
        _ => "the TLS session failed",
    };
    format!("{advice} ({error})")
}

/// The setup steps after connect, and SASL session expiry, for every
/// [`Client`].
pub(crate) trait Secure: Client {
    /// The TLS configuration and the server name to check the broker's
    /// certificate against (its host as dialled), when TLS is on.
    fn tls_for(
        &self,
        server: &str,
    ) -> Result<Option<(Arc<ClientConfig>, ServerName<'static>)>, String> {
        let Some(tls) = &self.net().settings.security.tls else {
            return Ok(None);
        };
        let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host} is not a host name TLS can check ({e})"))?;
        Ok(Some((Arc::clone(&tls.client), name)))
    }

    /// Turns an I/O error on `link` into the reason it is closed; a TLS
    /// failure is also handed to the client ([`Client::failed`]).
    fn io_failure(&mut self, link: &Link<Self::Purpose>, error: &std::io::Error) -> String {
        let cause = if let Some(tls) = transport::tls_error(error) {
            describe_tls(tls)
        } else if error.get_ref().is_some_and(|e| e.is::<ClosedInHandshake>()) {
            error.to_string()
        } else {
            return error.to_string();
        };
        let reason = format!(
            "{} {} ({}): {cause}",
            link.conn.target.role(),
            link.server,
            link.conn.addr
        );
        self.failed(SecurityFailure::Tls(reason.clone()));
        reason
    }

    /// A TLS handshake that got not one byte back within
    /// request.timeout.ms: a plaintext listener waiting for the rest of
    /// what it took for a huge request frame. Raised as a TLS failure.
    fn silent_tls_handshake(&mut self, link: &Link<Self::Purpose>, why: &str) {
        let reason = format!(
            "{} {} ({}): {why}, and it sent nothing back: it does not speak TLS (a plaintext port?); check security.protocol and the port",
            link.conn.target.role(),
            link.server,
            link.conn.addr
        );
        self.failed(SecurityFailure::Tls(reason));
    }

    /// A plaintext connection whose broker answered ApiVersions with a
    /// TLS record: the port is a TLS listener.
    fn answered_in_tls(&mut self, link: &Link<Self::Purpose>) -> String {
        let reason = format!(
            "{} {} ({}): it answered in TLS: the port is a TLS listener; set security.protocol=SSL (or SASL_SSL)",
            link.conn.target.role(),
            link.server,
            link.conn.addr
        );
        self.failed(SecurityFailure::Tls(reason.clone()));
        reason
    }

    /// A connection closed (or reset) before answering ApiVersions. A TLS
    /// listener does that to a plaintext client without a word (OpenSSL
    /// resets it), so when plaintext connections keep ending that way and
    /// none has ever worked, that is what it is taken for: a TLS failure,
    /// within a few reconnect backoffs. A client that ever connected
    /// never draws this conclusion (its broker is not a TLS port), nor
    /// does a TLS one (a TLS proxy whose broker is down closes the same
    /// way, and should be waited for).
    fn closed_in_negotiation(&mut self, link: &Link<Self::Purpose>, why: String) -> String {
        const IN_A_ROW: u32 = 5;
        let tls = self.net().settings.security.tls.is_some();
        if tls || self.net().ever_ready || !link.conn.nothing_received() {
            return why;
        }
        let net = self.net_mut();
        net.silent_negotiations += 1;
        if net.silent_negotiations < IN_A_ROW {
            return format!("{why} before answering ApiVersions (a TLS listener does that to a plaintext client)");
        }
        let reason = format!(
            "{} {} ({}): it closed {IN_A_ROW} connections in a row before answering ApiVersions ({why}), as a TLS listener does to a plaintext client: set security.protocol=SSL (or SASL_SSL) if the port is TLS",
            link.conn.target.role(),
            link.server,
            link.conn.addr
        );
        self.failed(SecurityFailure::Tls(reason.clone()));
        reason
    }

    /// Moves the TLS handshake on; `Ok(true)` once it is done and
    /// ApiVersions is on its way.
    fn tls_handshake(
        &mut self,
        link: &mut Link<Self::Purpose>,
        now: Instant,
    ) -> Result<bool, String> {
        match link.conn.stream.handshake() {
            Ok(true) => {
                tracing::debug!(addr = %link.conn.addr, version = ?link.conn.stream.tls_version(), "TLS established");
                self.negotiate(link, now)?;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(error) => Err(self.io_failure(link, &error)),
        }
    }

    /// Connected (and TLS done): ask for the broker's versions.
    fn negotiate(&mut self, link: &mut Link<Self::Purpose>, now: Instant) -> Result<(), String> {
        link.conn.enter(Phase::Negotiating, now);
        self.send_api_versions(link, API_VERSIONS, now)
    }

    /// Versions are known: authenticate if SASL is configured, else the
    /// connection is ready.
    fn after_versions(
        &mut self,
        link: &mut Link<Self::Purpose>,
        now: Instant,
    ) -> Result<(), String> {
        if self.net().settings.security.sasl.is_none() {
            self.connection_ready(link, now);
            return Ok(());
        }
        self.send_sasl_handshake(link, now)
    }

    /// Starts a login: SaslHandshake v1 with the configured mechanism.
    fn send_sasl_handshake(
        &mut self,
        link: &mut Link<Self::Purpose>,
        now: Instant,
    ) -> Result<(), String> {
        let Some(sasl) = &self.net().settings.security.sasl else {
            return Err("a SASL login without SASL configured".into());
        };
        let mechanism = sasl.mechanism.name();
        let versions = &link.conn.versions;
        let (Some(handshake), Some(_)) = (
            versions.get(ApiKey::SaslHandshake),
            versions.get(ApiKey::SaslAuthenticate),
        ) else {
            return Err(self.auth_failed(
                link,
                "it does not offer SaslHandshake v1 and SaslAuthenticate (Kafka 1.0+): is this a SASL listener? check security.protocol",
            ));
        };
        link.conn.enter(Phase::SaslHandshake, now);
        self.send_request(
            link,
            ApiKey::SaslHandshake,
            handshake,
            &requests::sasl_handshake(mechanism),
            Awaiting::SaslHandshake,
            now,
            true,
        )
    }

    /// The broker said whether it takes the mechanism: start the exchange.
    fn on_sasl_handshake(
        &mut self,
        link: &mut Link<Self::Purpose>,
        response: &SaslHandshakeResponse,
        now: Instant,
    ) -> Result<(), String> {
        let Some(sasl) = self.net().settings.security.sasl.clone() else {
            return Err("a SaslHandshake answer without SASL configured".into());
        };
        if response.error_code != 0 {
            let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
            let why = match ResponseError::try_from_code(response.error_code) {
                Some(ResponseError::UnsupportedSaslMechanism) => format!(
                    "it does not enable {}; it offers {offered:?}: set sasl.mechanism to one of those",
                    sasl.mechanism
                ),
                error => format!("SaslHandshake failed with {error:?} (code {})", response.error_code),
            };
            return Err(self.auth_failed(link, &why));
        }
        let mut exchange = Authenticator::new(sasl.mechanism, &sasl.username, &sasl.password)?;
        let first = exchange.first();
        link.conn.sasl = Some(exchange);
        link.conn.enter(Phase::SaslAuthenticate, now);
        self.send_sasl_bytes(link, first, now)
    }

    fn send_sasl_bytes(
        &mut self,
        link: &mut Link<Self::Purpose>,
        bytes: Vec<u8>,
        now: Instant,
    ) -> Result<(), String> {
        let version = link
            .conn
            .versions
            .get(ApiKey::SaslAuthenticate)
            .unwrap_or(0);
        self.send_request(
            link,
            ApiKey::SaslAuthenticate,
            version,
            &requests::sasl_authenticate(bytes),
            Awaiting::SaslAuthenticate,
            now,
            true,
        )
    }

    /// One SaslAuthenticate answer: refused, another round, or done.
    fn on_sasl_authenticate(
        &mut self,
        link: &mut Link<Self::Purpose>,
        response: &SaslAuthenticateResponse,
        now: Instant,
    ) -> Result<(), String> {
        if response.error_code != 0 {
            let name = ResponseError::try_from_code(response.error_code).map_or_else(
                || format!("error code {}", response.error_code),
                |e| e.to_string(),
            );
            let why = match response.error_message.as_deref() {
                Some(message) if !message.is_empty() => format!("{name}: {message}"),
                _ => name,
            };
            return Err(self.auth_failed(link, &why));
        }
        let step = match link.conn.sasl.as_mut() {
            Some(exchange) => exchange.next(&response.auth_bytes),
            None => Err("a SaslAuthenticate answer with no exchange under way".into()),
        };
        match step {
            Ok(Step::Send(bytes)) => self.send_sasl_bytes(link, bytes, now),
            Ok(Step::Done) => {
                let conn = &mut link.conn;
                conn.sasl = None;
                conn.logins += 1;
                // A re-authentication's answer sets the next lifetime (or
                // none: the session then lasts as long as the connection).
                conn.session = (response.session_lifetime_ms > 0).then(|| {
                    let lifetime = Duration::from_millis(response.session_lifetime_ms as u64);
                    SessionEnd {
                        renew_at: now + lifetime.mul_f64(RENEW_AT),
                        expires_at: now + lifetime,
                    }
                });
                let lifetime = conn.session.map(|s| s.expires_at - now);
                if conn.logins > 1 {
                    tracing::debug!(addr = %conn.addr, logins = conn.logins, ?lifetime, "SASL re-authenticated on the open connection");
                } else {
                    tracing::debug!(addr = %conn.addr, ?lifetime, "SASL authenticated");
                }
                self.connection_ready(link, now);
                Ok(())
            }
            Err(why) => Err(self.auth_failed(link, &why)),
        }
    }

    /// The broker refused the credentials (or the exchange broke): the
    /// reason closes the connection, and the failure is raised once.
    fn auth_failed(&mut self, link: &Link<Self::Purpose>, why: &str) -> String {
        let (mechanism, user) = self
            .net()
            .settings
            .security
            .sasl
            .as_ref()
            .map_or(("SASL", ""), |s| (s.mechanism.name(), s.username.as_str()));
        let again = if link.conn.logins > 0 { "re-" } else { "" };
        let reason = format!(
            "{} {} ({}) refused {mechanism} {again}authentication as user {user:?}: {why}",
            link.conn.target.role(),
            link.server,
            link.conn.addr
        );
        self.failed(SecurityFailure::Authentication(reason.clone()));
        reason
    }

    /// KIP-368: a connection whose session is ending takes no new
    /// requests (`Expiring`); once nothing is in flight it logs in again on
    /// the same socket. One still waiting for answers when the session ends
    /// is closed (the broker would close it at its next request).
    fn expire_sessions(&mut self, el: &mut EventLoop<Self>, now: Instant) {
        // Usually empty: no allocation unless a session is ending.
        let ending = self.conns_where(el, |conn| conn.session.is_some_and(|s| now >= s.renew_at));
        for key in ending {
            let Some(link) = el.source_mut::<Link<Self::Purpose>>(key) else {
                continue;
            };
            let Some(session) = link.conn.session else {
                continue;
            };
            if link.conn.phase == Phase::Ready {
                tracing::debug!(addr = %link.conn.addr, in_flight = link.conn.in_flight.len(), "SASL session ending: no new requests until this connection re-authenticates");
                link.conn.enter(Phase::Expiring, now);
            }
            if link.conn.phase != Phase::Expiring {
                continue;
            }
            let cut = if link.conn.in_flight.is_empty() {
                match self.reauthenticate(link, now) {
                    Ok(()) => {
                        let wants_write = link.conn.wants_write();
                        sync_interest(el, key, wants_write);
                        None
                    }
                    Err(reason) => Some(reason),
                }
            } else if now >= session.expires_at {
                Some("the SASL session ended with requests in flight".to_owned())
            } else {
                None
            };
            if let Some(reason) = cut {
                self.close(el, key, &reason, now);
            }
        }
    }

    /// Logs in again on an idle connection whose session is ending:
    /// SaslHandshake, then SaslAuthenticate as on the first login; the
    /// connection is Ready again when the broker accepts.
    fn reauthenticate(
        &mut self,
        link: &mut Link<Self::Purpose>,
        now: Instant,
    ) -> Result<(), String> {
        tracing::debug!(addr = %link.conn.addr, "SASL re-authentication (KIP-368)");
        link.conn.session = None;
        self.send_sasl_handshake(link, now)
    }
}

impl<D: Client> Secure for D {}

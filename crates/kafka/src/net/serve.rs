//! The reactor handler of every broker connection, and sending a request:
//! bytes in and out, whole answers matched to their requests and handed to
//! the layer (setup steps) or the client (everything else), in order.

use std::io;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use rouse_reactor::{EventLoop, Interest, PostAction, Ready, SourceKey};

use super::connection::{Awaiting, InFlight, Peer, Phase};
use super::manager::{Connections, Link};
use super::secure::Secure;
use super::versions::{self, Negotiated};
use super::{requests, wire, Answered, Client, Lost};

/// The reactor handler of every broker connection: serve what `ready`
/// says, then wait for the next edge, or, if the connection failed, hand
/// back what was in flight on it and have the loop close it.
pub(super) fn on_ready<D: Client>(
    el: &mut EventLoop<D>,
    client: &mut D,
    link: &mut Link<D::Purpose>,
    ready: Ready,
) -> io::Result<PostAction> {
    let key = el.current_source().expect("called as a handler");
    let now = el.now();
    match client.serve(key, link, ready, now) {
        Ok(()) => {
            sync_interest(el, key, link.conn.wants_write());
            Ok(PostAction::Wait) // read and written to WouldBlock
        }
        Err(reason) => {
            client.forget(key);
            client.closed(el, link, &reason, now);
            Ok(PostAction::Remove) // the loop drops the link: socket closed
        }
    }
}

/// Watches WRITE only while the connection has bytes waiting for room.
pub(crate) fn sync_interest<D>(el: &mut EventLoop<D>, key: SourceKey, wants_write: bool) {
    let want = if wants_write {
        Interest::READ_WRITE
    } else {
        Interest::READ
    };
    if el.interest(key) != Some(want) {
        if let Err(error) = el.set_interest(key, want) {
            tracing::warn!(%error, "could not change a broker socket's interest");
        }
    }
}

/// Serving a connection's I/O and sending requests, for every [`Client`].
pub(crate) trait Serve: Client {
    /// Serves one readiness of connection `key`; an error closes it.
    fn serve(
        &mut self,
        key: SourceKey,
        link: &mut Link<Self::Purpose>,
        ready: Ready,
        now: Instant,
    ) -> Result<(), String> {
        let conn = &mut link.conn;
        if ready.error && conn.phase == Phase::Connecting {
            let error = conn.stream.tcp().take_error().ok().flatten();
            let error = error.map_or_else(|| "socket error".into(), |e| e.to_string());
            return Err(format!("could not connect to {}: {error}", conn.addr));
        }
        if conn.phase == Phase::Connecting {
            if !conn
                .finish_connect()
                .map_err(|e| format!("could not connect to {}: {e}", conn.addr))?
            {
                return Ok(());
            }
            tracing::debug!(addr = %conn.addr, "connected");
            if conn.stream.is_handshaking() {
                conn.enter(Phase::TlsHandshake, now);
            } else {
                self.negotiate(link, now)?;
            }
        }
        if link.conn.phase == Phase::TlsHandshake && !self.tls_handshake(link, now)? {
            return Ok(()); // the handshake waits for the socket
        }
        // On an error (a reset), what arrived before it is read first: a
        // TLS alert saying why, or the last responses.
        if ready.writable && !ready.error {
            if let Err(error) = link.conn.flush() {
                return Err(self.io_failure(link, &error));
            }
        }
        if ready.readable || ready.hang_up || ready.error {
            let read = link.conn.read_available();
            if link.conn.phase == Phase::Negotiating && link.conn.answered_in_tls() {
                return Err(self.answered_in_tls(link));
            }
            // Responses that arrived before a close still count.
            self.handle_responses(key, link, now)?;
            let why = match read {
                Err(error) => self.io_failure(link, &error),
                Ok(Peer::Closed) => "the broker closed the connection".to_string(),
                Ok(Peer::Open) if ready.error => {
                    let error = link.conn.stream.tcp().take_error().ok().flatten();
                    error.map_or_else(|| "socket error".into(), |e| e.to_string())
                }
                Ok(Peer::Open) => return Ok(()),
            };
            if link.conn.phase == Phase::Negotiating {
                return Err(self.closed_in_negotiation(link, why));
            }
            return Err(why);
        }
        Ok(())
    }

    /// Every whole answer read, in order: the setup steps' are the layer's,
    /// the rest go to the client.
    fn handle_responses(
        &mut self,
        key: SourceKey,
        link: &mut Link<Self::Purpose>,
        now: Instant,
    ) -> Result<(), String> {
        while let Some((request, payload)) = link.conn.next_response().map_err(|e| e.to_string())? {
            link.conn.last_used = now;
            let InFlight {
                api,
                version,
                sent,
                purpose,
                ..
            } = request;
            match purpose {
                Awaiting::Client(purpose) => {
                    let answered = Answered {
                        api,
                        version,
                        sent,
                        purpose,
                    };
                    self.on_response(key, link, answered, payload, now)?;
                }
                setup => self.on_setup_response(link, setup, api, version, payload, now)?,
            }
        }
        Ok(())
    }

    /// The answer to one of the layer's own requests.
    fn on_setup_response(
        &mut self,
        link: &mut Link<Self::Purpose>,
        purpose: Awaiting<Self::Purpose>,
        api: ApiKey,
        version: i16,
        payload: Bytes,
        now: Instant,
    ) -> Result<(), String> {
        match purpose {
            Awaiting::ApiVersions => {
                let response: ApiVersionsResponse =
                    wire::response(api, version, payload).map_err(|e| e.to_string())?;
                let wants = self.net().settings.wants;
                match versions::api_versions(&response, version, wants) {
                    Ok(Negotiated::AskAtV0) => self.send_api_versions(link, 0, now),
                    Ok(Negotiated::Versions(versions)) => {
                        link.conn.versions = versions;
                        self.after_versions(link, now)
                    }
                    Err(reason) => {
                        tracing::error!(reason, "broker cannot serve this client");
                        Err(reason)
                    }
                }
            }
            Awaiting::SaslHandshake => {
                let response: SaslHandshakeResponse =
                    wire::response(api, version, payload).map_err(|e| e.to_string())?;
                self.on_sasl_handshake(link, &response, now)
            }
            Awaiting::SaslAuthenticate => {
                let response: SaslAuthenticateResponse =
                    wire::response(api, version, payload).map_err(|e| e.to_string())?;
                self.on_sasl_authenticate(link, &response, now)
            }
            Awaiting::Client(_) => Err("a client's answer taken for a setup step".into()),
        }
    }

    /// Asks for the broker's versions, at `version`.
    fn send_api_versions(
        &mut self,
        link: &mut Link<Self::Purpose>,
        version: i16,
        now: Instant,
    ) -> Result<(), String> {
        let body = requests::api_versions();
        self.send_request(
            link,
            ApiKey::ApiVersions,
            version,
            &body,
            Awaiting::ApiVersions,
            now,
            true,
        )
    }

    /// Encodes and sends one of the client's requests on connection `key`
    /// (from the pump: the loop holds the connection).
    #[allow(clippy::too_many_arguments)]
    fn send_on<R: kafka_protocol::protocol::Request>(
        &mut self,
        el: &mut EventLoop<Self>,
        key: SourceKey,
        api: ApiKey,
        version: i16,
        body: &R,
        purpose: Self::Purpose,
        now: Instant,
        expect_response: bool,
    ) -> Result<(), String> {
        let Some(link) = el.source_mut::<Link<Self::Purpose>>(key) else {
            self.on_unanswered(purpose, Lost::Network("connection gone".into()), now);
            return Err("connection gone".into());
        };
        let purpose = Awaiting::Client(purpose);
        self.send_request(link, api, version, body, purpose, now, expect_response)
    }

    /// Encodes and sends one request on `link`. One that expects no
    /// answer is handed back to the client once written (or lost).
    #[allow(clippy::too_many_arguments)]
    fn send_request<R: kafka_protocol::protocol::Request>(
        &mut self,
        link: &mut Link<Self::Purpose>,
        api: ApiKey,
        version: i16,
        body: &R,
        purpose: Awaiting<Self::Purpose>,
        now: Instant,
        expect_response: bool,
    ) -> Result<(), String> {
        let conn = &mut link.conn;
        let correlation_id = conn.next_id();
        let client_id = &self.net().settings.client_id;
        let frame = match wire::request(version, correlation_id, client_id, body) {
            Ok(frame) => frame,
            Err(e) => {
                let reason = e.to_string();
                self.unanswered(purpose, Lost::Encoding(reason.clone()), now);
                return Err(reason);
            }
        };
        let bound = match &purpose {
            Awaiting::Client(p) => self.request_timeout(p),
            _ => None,
        };
        let request = InFlight {
            correlation_id,
            api,
            version,
            sent: now,
            deadline: deadline_after(now, bound.unwrap_or(self.net().settings.request_timeout)),
            purpose,
        };
        let (unanswered, written) = conn.send(frame, request, expect_response);
        let written = written.map_err(|e| format!("write to {}: {e}", conn.addr));
        if let Some(unanswered) = unanswered {
            match (&written, unanswered.purpose) {
                // acks=0: written is all the broker will ever tell us.
                (Ok(()), Awaiting::Client(purpose)) => self.on_written(purpose),
                (Ok(()), _) => {}
                (Err(reason), purpose) => {
                    self.unanswered(purpose, Lost::Network(reason.clone()), now)
                }
            }
        }
        written
    }
}

impl<D: Client> Serve for D {}

/// `now + bound`, or a year on for a bound past what `Instant` holds.
fn deadline_after(now: Instant, bound: std::time::Duration) -> Instant {
    now.checked_add(bound)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

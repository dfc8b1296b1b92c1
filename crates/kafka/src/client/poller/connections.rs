//! The poller's broker connections: dialling (names resolved off-thread,
//! reconnects backed off), the reactor handler that reads responses, and
//! closing a connection so that everything in flight on it gets an outcome.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use crate::BrokerId;
use kafka_protocol::messages::ApiKey;
use rouse_reactor::{Interest, PostAction, Ready, SourceKey, Watch};

use super::{Loop, Poller};
use crate::client::connection::{Connection, InFlight, Peer, Phase, Purpose};
use crate::client::resolver::Address;
use crate::client::{requests, wire};
use crate::delivery::DeliveryError;

/// A broker connection as the loop owns it (the registered source), with
/// the name it was dialled by (`host:port`, for the resolver and for
/// messages). Dropping it closes the socket.
pub(crate) struct Link {
    pub(super) conn: Connection,
    pub(super) server: String,
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> RawFd {
        self.conn.stream.tcp().as_raw_fd()
    }
}

/// When a broker may be dialled again, after how many failures in a row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reconnect {
    pub(super) at: Instant,
    failures: u32,
}

/// What a connection is to, for messages.
pub(super) fn role(broker: Option<BrokerId>) -> String {
    broker.map_or_else(
        || "bootstrap server".to_owned(),
        |b| format!("broker {}", b.0),
    )
}

/// The reactor handler of every broker connection: serve what `ready`
/// says, then wait for the next edge, or, if the connection failed, settle
/// what was in flight on it and have the loop close it.
fn on_ready(
    el: &mut Loop,
    poller: &mut Poller,
    link: &mut Link,
    ready: Ready,
) -> io::Result<PostAction> {
    let key = el.current_source().expect("called as a handler");
    let now = el.now();
    match poller.serve(key, link, ready, now) {
        Ok(()) => {
            sync_interest(el, key, link.conn.wants_write());
            Ok(PostAction::Wait) // read and written to WouldBlock
        }
        Err(reason) => {
            poller.forget(key);
            poller.closed(el, link, &reason, now);
            Ok(PostAction::Remove) // the loop drops the link: socket closed
        }
    }
}

/// Watches WRITE only while the connection has bytes waiting for room.
pub(super) fn sync_interest(el: &mut Loop, key: SourceKey, wants_write: bool) {
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

impl Poller {
    /// A Ready connection: `broker`'s, or any when `broker` is `None`.
    pub(super) fn ready_conn(&self, el: &Loop, broker: Option<BrokerId>) -> Option<SourceKey> {
        let ready = |key: &SourceKey| {
            el.source::<Link>(*key)
                .is_some_and(|l| l.conn.phase == Phase::Ready)
        };
        match broker {
            Some(b) => self.by_broker.get(&b).copied().filter(ready),
            None => self.conns.iter().copied().find(ready),
        }
    }

    /// Dials `broker` (or, for `None`, the next bootstrap server) unless a
    /// connection exists, its name is still being resolved, or the
    /// reconnect backoff has not passed.
    pub(super) fn connect(&mut self, el: &mut Loop, broker: Option<BrokerId>, now: Instant) {
        if broker.is_some_and(|b| self.by_broker.contains_key(&b)) {
            return;
        }
        if broker.is_none() && !self.conns.is_empty() {
            return; // any live connection can carry Metadata
        }
        if self.reconnect.get(&broker).is_some_and(|r| r.at > now) {
            return;
        }
        let server = match broker {
            Some(b) => match self.shared.metadata.broker(b) {
                Some((host, port)) if host.contains(':') => format!("[{host}]:{port}"),
                Some((host, port)) => format!("{host}:{port}"),
                None => {
                    tracing::debug!(broker = b.0, "no address for broker yet");
                    self.shared.metadata.mark_stale();
                    return;
                }
            },
            None => {
                let servers = self.shared.config.bootstrap_servers();
                self.bootstrap_turn += 1;
                servers[self.bootstrap_turn % servers.len()].clone()
            }
        };
        let addr = match self.resolver.address(&server) {
            Address::Ready(addr) => addr,
            Address::Pending => return, // the answer wakes the loop
            Address::Failed(why) => {
                self.connect_failed(el, broker, &server, &why, now);
                return;
            }
        };
        let tls = match self.tls_for(&server) {
            Ok(tls) => tls,
            Err(why) => {
                self.connect_failed(el, broker, &server, &why, now);
                return;
            }
        };
        match Connection::open(broker, addr, now, tls) {
            Ok(conn) => self.register(el, conn, server),
            Err(error) => {
                let why = format!("could not connect to {addr}: {error}");
                self.connect_failed(el, broker, &server, &why, now);
            }
        }
    }

    /// Hands a new connection to the loop.
    fn register(&mut self, el: &mut Loop, conn: Connection, server: String) {
        let (addr, broker) = (conn.addr, conn.broker);
        let watch = Watch::read_write().named(format!("rouse-kafka broker {addr}"));
        match el.register(Link { conn, server }, watch, on_ready) {
            Ok(key) => {
                tracing::debug!(%addr, ?broker, "connecting");
                if let Some(b) = broker {
                    self.by_broker.insert(b, key);
                }
                self.conns.insert(key);
            }
            Err(error) => tracing::error!(%error, "could not watch a broker socket"),
        }
    }

    /// A connection to `server` could not be made, or was lost: back off
    /// exponentially, and while no broker at all is reachable, keep the
    /// reason (naming the server) for senders waiting on metadata.
    fn connect_failed(
        &mut self,
        el: &Loop,
        broker: Option<BrokerId>,
        server: &str,
        why: &str,
        now: Instant,
    ) {
        let failures = self.reconnect.get(&broker).map_or(0, |r| r.failures) + 1;
        let wait = self
            .shared
            .config
            .reconnect_wait(failures, crate::backoff::random());
        self.reconnect.insert(
            broker,
            Reconnect {
                at: now + wait,
                failures,
            },
        );
        self.resolver.forget(server);
        tracing::warn!(server, why, failures, ?wait, "{} unreachable", role(broker));
        if self.ready_conn(el, None).is_none() {
            self.shared
                .metadata
                .set_unreachable(Some(format!("{} {server}: {why}", role(broker))));
        }
    }

    /// Serves one readiness of connection `key`; an error closes it.
    fn serve(
        &mut self,
        key: SourceKey,
        link: &mut Link,
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

    fn handle_responses(
        &mut self,
        key: SourceKey,
        link: &mut Link,
        now: Instant,
    ) -> Result<(), String> {
        while let Some((request, payload)) = link.conn.next_response().map_err(|e| e.to_string())? {
            self.apply(key, link, request, payload, now)?;
        }
        Ok(())
    }

    /// The connection answered ApiVersions: it is usable, so the broker is
    /// reachable and its reconnect backoff starts over.
    pub(super) fn connection_ready(&mut self, link: &mut Link, now: Instant) {
        let conn = &mut link.conn;
        conn.enter(Phase::Ready, now);
        self.ever_ready = true;
        self.silent_negotiations = 0;
        self.reconnect.remove(&conn.broker);
        self.shared.metadata.set_unreachable(None);
        tracing::debug!(addr = %conn.addr, versions = ?conn.versions, "versions negotiated");
    }

    pub(super) fn send_api_versions(
        &mut self,
        link: &mut Link,
        version: i16,
        now: Instant,
    ) -> Result<(), String> {
        let body = requests::api_versions();
        self.send_request(
            link,
            ApiKey::ApiVersions,
            version,
            &body,
            Purpose::ApiVersions,
            now,
            true,
        )
    }

    /// Encodes and sends one request on connection `key` (from the pump:
    /// the loop holds the connection).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_on<R: kafka_protocol::protocol::Request>(
        &mut self,
        el: &mut Loop,
        key: SourceKey,
        api: ApiKey,
        version: i16,
        body: &R,
        purpose: Purpose,
        now: Instant,
        expect_response: bool,
    ) -> Result<(), String> {
        let Some(link) = el.source_mut::<Link>(key) else {
            self.settle_unsent(purpose, &DeliveryError::network("connection gone"), now);
            return Err("connection gone".into());
        };
        self.send_request(link, api, version, body, purpose, now, expect_response)
    }

    /// Encodes and sends one request on `link`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_request<R: kafka_protocol::protocol::Request>(
        &mut self,
        link: &mut Link,
        api: ApiKey,
        version: i16,
        body: &R,
        purpose: Purpose,
        now: Instant,
        expect_response: bool,
    ) -> Result<(), String> {
        let client_id = self.shared.config.client_id().to_owned();
        let conn = &mut link.conn;
        let correlation_id = conn.next_id();
        let frame = match wire::request(version, correlation_id, &client_id, body) {
            Ok(frame) => frame,
            Err(e) => {
                let reason = e.to_string();
                self.settle_unsent(purpose, &DeliveryError::encoding(&reason), now);
                return Err(reason);
            }
        };
        let request = InFlight {
            correlation_id,
            api,
            version,
            sent: now,
            purpose,
        };
        let (unanswered, written) = conn.send(frame, request, expect_response);
        let written = written.map_err(|e| format!("write to {}: {e}", conn.addr));
        if let Some(unanswered) = unanswered {
            match &written {
                // acks=0: written is all the broker will ever tell us.
                Ok(()) => self.written_unanswered(unanswered.purpose),
                Err(reason) => {
                    self.settle_unsent(unanswered.purpose, &DeliveryError::network(reason), now)
                }
            }
        }
        written
    }

    /// A request that will get no response (never sent, or its connection
    /// died): its batches are retried or failed, its flags cleared. Nothing
    /// is dropped without an outcome.
    pub(super) fn settle_unsent(&mut self, purpose: Purpose, error: &DeliveryError, now: Instant) {
        match purpose {
            Purpose::Produce(batches) => {
                for batch in batches {
                    self.settle(batch, super::apply::lost_answer(error), now);
                }
            }
            Purpose::Metadata => self.metadata_in_flight = false,
            Purpose::InitProducerId => self.identity.unanswered(now),
            Purpose::ApiVersions | Purpose::SaslHandshake | Purpose::SaslAuthenticate => {}
        }
    }

    /// Forgets connection `key` (its registration is being removed).
    pub(super) fn forget(&mut self, key: SourceKey) {
        self.conns.remove(&key);
        self.by_broker.retain(|_, k| *k != key);
    }

    /// Forgets connections the loop removed on its own: a handler that
    /// panicked (a bug, logged by the loop) loses its connection and what
    /// was in flight on it; the broker is then dialled afresh.
    pub(super) fn forget_removed(&mut self, el: &Loop) {
        self.conns.retain(|key| el.contains(*key));
        self.by_broker.retain(|_, key| el.contains(*key));
    }

    /// Closes connection `key` from outside its handler: the loop hands the
    /// link back, and dropping it closes the socket.
    pub(super) fn close(&mut self, el: &mut Loop, key: SourceKey, reason: &str, now: Instant) {
        self.forget(key);
        if let Some(mut link) = el.take::<Link>(key) {
            self.closed(el, &mut link, reason, now);
        }
    }

    /// Everything in flight on a closed connection is retried or failed,
    /// and the broker is dialled again only after a backoff.
    fn closed(&mut self, el: &Loop, link: &mut Link, reason: &str, now: Instant) {
        let broker = link.conn.broker;
        if !link.conn.phase.in_setup() {
            // It worked until now: the backoff starts over.
            self.reconnect.remove(&broker);
        }
        self.connect_failed(el, broker, &link.server, reason, now);
        let error = DeliveryError::network(reason);
        for request in link.conn.take_in_flight() {
            self.settle_unsent(request.purpose, &error, now);
        }
        self.shared.metadata.mark_stale();
    }

    /// Closes every connection that waited longer than `request.timeout.ms`
    /// for a connect, ApiVersions, or its oldest response.
    pub(super) fn time_out(&mut self, el: &mut Loop, now: Instant) {
        let limit = self.shared.config.request_timeout();
        let expired: Vec<(SourceKey, String)> = self
            .conns
            .iter()
            .filter_map(|key| Some((*key, &el.source::<Link>(*key)?.conn)))
            .filter_map(|(key, conn)| {
                if conn.phase.in_setup() && now.duration_since(conn.phase_since) >= limit {
                    Some((
                        key,
                        format!("{} took longer than request.timeout.ms", conn.phase.step()),
                    ))
                } else if conn
                    .oldest_request()
                    .is_some_and(|sent| now.duration_since(sent) >= limit)
                {
                    Some((key, "no response within request.timeout.ms".to_owned()))
                } else {
                    None
                }
            })
            .collect();
        for (key, reason) in expired {
            if let Some(link) = el.source::<Link>(key) {
                if link.conn.phase == Phase::TlsHandshake && link.conn.stream.tls_unanswered() {
                    self.silent_tls_handshake(link, &reason);
                }
            }
            self.close(el, key, &reason, now);
        }
    }

    /// A bootstrap connection whose address is a broker's becomes that
    /// broker's connection, so it is not dialled twice.
    pub(super) fn adopt_bootstrap_connection(&mut self, key: SourceKey, link: &mut Link) {
        if link.conn.broker.is_some() {
            return;
        }
        let addr = link.conn.addr;
        let brokers = self.shared.metadata.brokers();
        let found = brokers.into_iter().find(|(broker, host, port)| {
            !self.by_broker.contains_key(broker)
                && self.resolver.address(&format!("{host}:{port}")) == Address::Ready(addr)
        });
        if let Some((broker, _, _)) = found {
            link.conn.broker = Some(broker);
            self.by_broker.insert(broker, key);
        }
    }
}

//! The poller's broker connections: dialling (names resolved off-thread,
//! reconnects backed off), the reactor handler that reads responses, and
//! closing a connection so that everything in flight on it gets an outcome.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::BrokerId;
use kafka_protocol::messages::ApiKey;
use rouse_reactor::{EventLoop, Interest, Ready, SourceKey, Watch};

use super::Poller;
use crate::client::connection::{Connection, InFlight, Phase, Purpose};
use crate::client::resolver::Address;
use crate::client::{requests, wire};
use crate::delivery::DeliveryError;

/// A connection, its registration with the loop, and the name it was
/// dialled by (`host:port`, for the resolver and for messages).
pub(crate) struct Slot {
    pub(super) conn: Connection,
    pub(super) key: SourceKey,
    server: String,
}

/// When a broker may be dialled again, after how many failures in a row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reconnect {
    pub(super) at: Instant,
    failures: u32,
}

/// What a connection is to, for messages.
fn role(broker: Option<BrokerId>) -> String {
    broker.map_or_else(
        || "bootstrap server".to_owned(),
        |b| format!("broker {}", b.0),
    )
}

impl Poller {
    /// A Ready connection: `broker`'s, or any when `broker` is `None`.
    pub(super) fn ready_conn(&self, broker: Option<BrokerId>) -> Option<u64> {
        let ready = |id: &u64| {
            self.conns
                .get(id)
                .is_some_and(|s| s.conn.phase == Phase::Ready)
        };
        match broker {
            Some(b) => self.by_broker.get(&b).copied().filter(ready),
            None => self.conns.keys().copied().find(ready),
        }
    }

    /// Dials `broker` (or, for `None`, the next bootstrap server) unless a
    /// connection exists, its name is still being resolved, or the
    /// reconnect backoff has not passed.
    pub(super) fn connect(&mut self, el: &mut EventLoop, broker: Option<BrokerId>, now: Instant) {
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
                self.connect_failed(broker, &server, &why, now);
                return;
            }
        };
        match Connection::open(broker, addr, now) {
            Ok(conn) => self.register(el, conn, server),
            Err(error) => {
                let why = format!("could not connect to {addr}: {error}");
                self.connect_failed(broker, &server, &why, now);
            }
        }
    }

    fn register(&mut self, el: &mut EventLoop, conn: Connection, server: String) {
        let id = self.next_conn;
        self.next_conn += 1;
        let this = self.this.clone();
        let watch = Watch::read_write().named(format!("rouse-kafka broker {}", conn.addr));
        let registered = el.register(
            conn.stream.as_raw_fd(),
            watch,
            move |el, _, ready| match this.upgrade() {
                Some(poller) => poller.borrow_mut().on_ready(el, id, ready),
                None => Err(io::ErrorKind::ConnectionAborted.into()),
            },
        );
        match registered {
            Ok(key) => {
                tracing::debug!(addr = %conn.addr, broker = ?conn.broker, "connecting");
                if let Some(b) = conn.broker {
                    self.by_broker.insert(b, id);
                }
                self.conns.insert(id, Slot { conn, key, server });
            }
            Err(error) => tracing::error!(%error, "could not watch a broker socket"),
        }
    }

    /// A connection to `server` could not be made, or was lost: back off
    /// exponentially, and while no broker at all is reachable, keep the
    /// reason (naming the server) for senders waiting on metadata.
    fn connect_failed(&mut self, broker: Option<BrokerId>, server: &str, why: &str, now: Instant) {
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
        if self.ready_conn(None).is_none() {
            self.shared
                .metadata
                .set_unreachable(Some(format!("{} {server}: {why}", role(broker))));
        }
    }

    /// The reactor handler of connection `id`.
    fn on_ready(&mut self, el: &mut EventLoop, id: u64, ready: Ready) -> io::Result<()> {
        let now = el.now();
        match self.serve(id, ready, now) {
            Ok(()) => {
                self.sync_interest(el, id);
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(reason) => {
                if let Some(slot) = self.detach(id) {
                    self.closed(slot, &reason, now, true);
                }
                // The loop removes the registration; the stream dies on
                // the next pump (see `graveyard`).
                Err(io::ErrorKind::ConnectionAborted.into())
            }
        }
    }

    fn serve(&mut self, id: u64, ready: Ready, now: Instant) -> Result<(), String> {
        let slot = self.conns.get_mut(&id).ok_or("connection gone")?;
        let conn = &mut slot.conn;
        if ready.error {
            let error = conn.stream.take_error().ok().flatten();
            let error = error.map_or_else(|| "socket error".into(), |e| e.to_string());
            return Err(match conn.phase {
                Phase::Connecting => format!("could not connect to {}: {error}", conn.addr),
                _ => error,
            });
        }
        if conn.phase == Phase::Connecting {
            if !conn
                .finish_connect()
                .map_err(|e| format!("could not connect to {}: {e}", conn.addr))?
            {
                return Ok(());
            }
            tracing::debug!(addr = %conn.addr, "connected");
            conn.phase = Phase::Negotiating;
            self.send_api_versions(id, requests::API_VERSIONS, now)?;
        }
        let slot = self.conns.get_mut(&id).ok_or("connection gone")?;
        if ready.writable {
            slot.conn.flush().map_err(|e| e.to_string())?;
        }
        if ready.readable || ready.hang_up {
            let read = slot.conn.read_available();
            self.handle_responses(id, now)?;
            read.map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => "the broker closed the connection".to_string(),
                _ => e.to_string(),
            })?;
        }
        Ok(())
    }

    fn handle_responses(&mut self, id: u64, now: Instant) -> Result<(), String> {
        loop {
            let slot = self.conns.get_mut(&id).ok_or("connection gone")?;
            let Some((request, payload)) = slot.conn.next_response().map_err(|e| e.to_string())?
            else {
                return Ok(());
            };
            self.apply(id, request, payload, now)?;
        }
    }

    /// The connection answered ApiVersions: it is usable, so the broker is
    /// reachable and its reconnect backoff starts over.
    pub(super) fn connection_ready(&mut self, id: u64) {
        if let Some(slot) = self.conns.get_mut(&id) {
            slot.conn.phase = Phase::Ready;
            self.reconnect.remove(&slot.conn.broker);
            self.shared.metadata.set_unreachable(None);
            tracing::debug!(addr = %slot.conn.addr, versions = ?slot.conn.versions, "versions negotiated");
        }
    }

    pub(super) fn send_api_versions(
        &mut self,
        id: u64,
        version: i16,
        now: Instant,
    ) -> Result<(), String> {
        let body = requests::api_versions();
        self.send_request(
            id,
            ApiKey::ApiVersions,
            version,
            &body,
            Purpose::ApiVersions,
            now,
            true,
        )
    }

    /// Encodes and sends one request on connection `id`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_request<R: kafka_protocol::protocol::Request>(
        &mut self,
        id: u64,
        api: ApiKey,
        version: i16,
        body: &R,
        purpose: Purpose,
        now: Instant,
        expect_response: bool,
    ) -> Result<(), String> {
        let client_id = self.shared.config.client_id().to_owned();
        let Some(slot) = self.conns.get_mut(&id) else {
            self.settle_unsent(purpose, &DeliveryError::network("connection gone"), now);
            return Err("connection gone".into());
        };
        let conn = &mut slot.conn;
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
            Purpose::ApiVersions => {}
        }
    }

    pub(super) fn sync_interest(&mut self, el: &mut EventLoop, id: u64) {
        if let Some(slot) = self.conns.get(&id) {
            let want = if slot.conn.wants_write() {
                Interest::READ_WRITE
            } else {
                Interest::READ
            };
            if el.interest(slot.key) != Some(want) {
                if let Err(error) = el.set_interest(slot.key, want) {
                    tracing::warn!(%error, "could not change a broker socket's interest");
                }
            }
        }
    }

    /// Takes connection `id` out of the tables (its registration stays until
    /// the caller or the loop removes it).
    pub(super) fn detach(&mut self, id: u64) -> Option<Slot> {
        let slot = self.conns.remove(&id)?;
        if let Some(b) = slot.conn.broker {
            if self.by_broker.get(&b) == Some(&id) {
                self.by_broker.remove(&b);
            }
        }
        Some(slot)
    }

    /// Closes connection `id` from outside its handler.
    pub(super) fn close(&mut self, el: &mut EventLoop, id: u64, reason: &str, now: Instant) {
        if let Some(slot) = self.detach(id) {
            el.remove(slot.key);
            self.closed(slot, reason, now, false);
        }
    }

    /// Everything in flight on a closed connection is retried or failed,
    /// and the broker is dialled again only after a backoff.
    fn closed(&mut self, mut slot: Slot, reason: &str, now: Instant, in_handler: bool) {
        let broker = slot.conn.broker;
        if slot.conn.phase == Phase::Ready {
            // It worked until now: the backoff starts over.
            self.reconnect.remove(&broker);
        }
        self.connect_failed(broker, &slot.server, reason, now);
        let error = DeliveryError::network(reason);
        for request in slot.conn.take_in_flight() {
            self.settle_unsent(request.purpose, &error, now);
        }
        self.shared.metadata.mark_stale();
        if in_handler {
            self.graveyard.push(slot);
        }
    }

    /// Closes every connection that waited longer than `request.timeout.ms`
    /// for a connect, ApiVersions, or its oldest response.
    pub(super) fn time_out(&mut self, el: &mut EventLoop, now: Instant) {
        let limit = self.shared.config.request_timeout();
        let expired: Vec<(u64, &'static str)> = self
            .conns
            .iter()
            .filter_map(|(id, s)| {
                if s.conn.phase != Phase::Ready && now.duration_since(s.conn.opened) >= limit {
                    Some((
                        *id,
                        "connect and ApiVersions took longer than request.timeout.ms",
                    ))
                } else if s
                    .conn
                    .oldest_request()
                    .is_some_and(|sent| now.duration_since(sent) >= limit)
                {
                    Some((*id, "no response within request.timeout.ms"))
                } else {
                    None
                }
            })
            .collect();
        for (id, reason) in expired {
            self.close(el, id, reason, now);
        }
    }

    /// A bootstrap connection whose address is a broker's becomes that
    /// broker's connection, so it is not dialled twice.
    pub(super) fn adopt_bootstrap_connection(&mut self, id: u64) {
        let Some(slot) = self.conns.get(&id) else {
            return;
        };
        if slot.conn.broker.is_some() {
            return;
        }
        let addr = slot.conn.addr;
        let brokers = self.shared.metadata.brokers();
        let found = brokers.into_iter().find(|(broker, host, port)| {
            !self.by_broker.contains_key(broker)
                && self.resolver.address(&format!("{host}:{port}")) == Address::Ready(addr)
        });
        if let Some((broker, _, _)) = found {
            if let Some(slot) = self.conns.get_mut(&id) {
                slot.conn.broker = Some(broker);
                self.by_broker.insert(broker, id);
            }
        }
    }
}

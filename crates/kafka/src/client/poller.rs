//! The poller thread's state: every broker connection, the producer id and
//! sequence numbers, and one pass over the work that runs before each poll.
//!
//! ```text
//!  each loop iteration:  I/O handlers (responses: complete / retry batches,
//!                        take metadata)  ──►  prepare hook: pump()
//!  pump():  time out requests and connects ─► refresh metadata if due ─►
//!           InitProducerId if idempotent ─► expire old batches ─►
//!           drain ready batches into Produce requests ─► arm one timer for
//!           the next deadline (linger, backoff, timeout, metadata age)
//! ```
//!
//! The loop then sleeps until that timer, an I/O event, or a sender's wake.
//! Nothing here spins: a batch that is ready but cannot go (its leader's
//! connection is busy or still connecting) waits for that connection's I/O,
//! not for a timer in the past.
//!
//! Order per partition: without idempotence one batch per partition is in
//! flight at a time. With it, up to `max.in.flight.requests.per.connection`
//! (at most 5) are pipelined: the broker accepts each only if its sequence
//! number follows the last one written, so when one fails every later one
//! fails too (OUT_OF_ORDER_SEQUENCE_NUMBER is retried here for that reason)
//! and they are re-enqueued in creation order and resent with the same
//! bytes. A partition at its limit is muted in the accumulator until a
//! batch of it ends.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::rc::Weak;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, BrokerId};
use rouse_reactor::{EventLoop, Interest, Ready, SourceKey, TimerId, Watch};

use super::connection::{Connection, InFlight, Phase, Purpose};
use super::{requests, responses, wire, Shared};
use crate::accumulator::ProducerBatch;
use crate::delivery::DeliveryError;
use crate::record::TopicPartition;

/// Drains per pump at most (a connection's in-flight limit is at most 5
/// per partition, so more rounds than that only find muted partitions).
const MAX_DRAIN_ROUNDS: usize = 8;

/// A connection and its registration with the loop.
pub(super) struct Slot {
    pub(super) conn: Connection,
    key: SourceKey,
}

/// Everything the poller thread owns.
pub(crate) struct Poller {
    pub(super) shared: Arc<Shared>,
    this: Weak<RefCell<Poller>>,
    pub(super) conns: HashMap<u64, Slot>,
    pub(super) by_broker: HashMap<BrokerId, u64>,
    next_conn: u64,
    /// Connections closed inside their own handler: dropped (fd closed) on
    /// the next pump, once the loop has forgotten the registration, so the
    /// fd number cannot be reused under it.
    graveyard: Vec<Connection>,
    /// When each broker (or the bootstrap list) may be dialled again.
    reconnect_at: HashMap<Option<BrokerId>, Instant>,
    bootstrap_turn: usize,
    pub(super) metadata_in_flight: bool,
    pub(super) metadata_not_before: Instant,
    pub(super) producer_id: Option<(i64, i16)>,
    pub(super) pid_in_flight: bool,
    sequences: HashMap<TopicPartition, i32>,
    /// Batches in flight per partition, and how many may be.
    in_flight: HashMap<TopicPartition, usize>,
    per_partition: usize,
    timer: Option<(Instant, TimerId)>,
    last_idle: Duration,
}

impl Poller {
    pub(crate) fn new(shared: Arc<Shared>, this: Weak<RefCell<Poller>>, now: Instant) -> Poller {
        let idempotent = shared.config.enable_idempotence();
        let per_partition = if idempotent {
            shared
                .config
                .max_in_flight_requests_per_connection()
                .clamp(1, 5)
        } else {
            1
        };
        Poller {
            shared,
            this,
            conns: HashMap::new(),
            by_broker: HashMap::new(),
            next_conn: 0,
            graveyard: Vec::new(),
            reconnect_at: HashMap::new(),
            bootstrap_turn: 0,
            metadata_in_flight: false,
            metadata_not_before: now,
            producer_id: if idempotent { None } else { Some((-1, -1)) },
            pid_in_flight: false,
            sequences: HashMap::new(),
            in_flight: HashMap::new(),
            per_partition,
            timer: None,
            last_idle: Duration::ZERO,
        }
    }

    /// One pass before the loop sleeps; see the module docs.
    pub(crate) fn pump(&mut self, el: &mut EventLoop) {
        let now = el.now();
        let idle = el.metrics().idle;
        let slept = idle.saturating_sub(self.last_idle);
        self.last_idle = idle;
        self.graveyard.clear();
        if self.shared.abort.load(Ordering::Acquire) {
            self.abort(el);
            return;
        }
        self.time_out(el, now);
        self.refresh_metadata(el, now);
        self.init_producer_id(el, now);
        self.shared.accumulator.expire(now);
        self.send_ready(el, now, slept);
        self.arm_timer(el, now);
    }

    // ---- connections ------------------------------------------------------

    /// A Ready connection: `broker`'s, or any when `broker` is `None`.
    fn ready_conn(&self, broker: Option<BrokerId>) -> Option<u64> {
        match broker {
            Some(b) => self
                .by_broker
                .get(&b)
                .filter(|id| {
                    self.conns
                        .get(id)
                        .is_some_and(|s| s.conn.phase == Phase::Ready)
                })
                .copied(),
            None => self
                .conns
                .iter()
                .find(|(_, s)| s.conn.phase == Phase::Ready)
                .map(|(id, _)| *id),
        }
    }

    /// Dials `broker` (or, for `None`, the next bootstrap address) unless a
    /// connection exists or the reconnect backoff has not passed.
    fn connect(&mut self, el: &mut EventLoop, broker: Option<BrokerId>, now: Instant) {
        if broker.is_some_and(|b| self.by_broker.contains_key(&b)) {
            return;
        }
        if broker.is_none() && !self.conns.is_empty() {
            return; // any live connection can carry Metadata
        }
        if self.reconnect_at.get(&broker).is_some_and(|at| *at > now) {
            return;
        }
        let addr = match broker {
            Some(b) => self
                .shared
                .metadata
                .broker(b)
                .and_then(|(h, p)| resolve(&h, p)),
            None => self.next_bootstrap(),
        };
        let Some(addr) = addr else {
            if let Some(b) = broker {
                tracing::debug!(broker = b.0, "no address for broker yet");
            }
            self.reconnect_at
                .insert(broker, now + self.shared.config.retry_backoff());
            return;
        };
        match Connection::open(broker, addr, now) {
            Ok(conn) => self.register(el, conn),
            Err(error) => {
                tracing::warn!(%addr, %error, "connect failed");
                self.backoff(broker, now);
            }
        }
    }

    fn next_bootstrap(&mut self) -> Option<SocketAddr> {
        let servers = self.shared.config.bootstrap_servers();
        for _ in 0..servers.len() {
            let server = &servers[self.bootstrap_turn % servers.len()];
            self.bootstrap_turn += 1;
            match server.to_socket_addrs().map(|mut a| a.next()) {
                Ok(Some(addr)) => return Some(addr),
                _ => tracing::warn!(server, "bootstrap server does not resolve"),
            }
        }
        None
    }

    fn register(&mut self, el: &mut EventLoop, conn: Connection) {
        let id = self.next_conn;
        self.next_conn += 1;
        let this = self.this.clone();
        let name = format!("rouse-kafka broker {}", conn.addr);
        let watch = Watch::read_write().named(name);
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
                self.conns.insert(id, Slot { conn, key });
            }
            Err(error) => tracing::error!(%error, "could not watch a broker socket"),
        }
    }

    fn backoff(&mut self, broker: Option<BrokerId>, now: Instant) {
        self.reconnect_at
            .insert(broker, now + self.shared.config.retry_backoff());
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
                    self.fail_connection(slot.conn, &reason, now, true);
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
            return Err(error.map_or_else(|| "socket error".into(), |e| e.to_string()));
        }
        if conn.phase == Phase::Connecting {
            if !conn
                .finish_connect()
                .map_err(|e| format!("connect to {}: {e}", conn.addr))?
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
            responses::apply(self, id, request, payload, now)?;
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
                Ok(()) => {
                    // acks=0: written is all the broker will ever tell us.
                    if let Purpose::Produce(batches) = unanswered.purpose {
                        for batch in batches {
                            self.batch_done(batch.topic_partition());
                            batch.complete(-1, None);
                        }
                    }
                }
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
    fn settle_unsent(&mut self, purpose: Purpose, error: &DeliveryError, now: Instant) {
        match purpose {
            Purpose::Produce(batches) => {
                for batch in batches {
                    self.retry_or_fail(batch, error.clone(), now);
                }
            }
            Purpose::Metadata => self.metadata_in_flight = false,
            Purpose::InitProducerId => self.pid_in_flight = false,
            Purpose::ApiVersions => {}
        }
    }

    fn sync_interest(&mut self, el: &mut EventLoop, id: u64) {
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
    fn detach(&mut self, id: u64) -> Option<Slot> {
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
            self.fail_connection(slot.conn, reason, now, false);
        }
    }

    /// Everything in flight on a dead connection is retried or failed.
    fn fail_connection(
        &mut self,
        mut conn: Connection,
        reason: &str,
        now: Instant,
        in_handler: bool,
    ) {
        tracing::warn!(addr = %conn.addr, broker = ?conn.broker, reason, "broker connection closed");
        let error = DeliveryError::network(reason);
        for request in conn.take_in_flight() {
            self.settle_unsent(request.purpose, &error, now);
        }
        self.shared.metadata.mark_stale();
        self.backoff(conn.broker, now);
        if in_handler {
            self.graveyard.push(conn);
        }
    }

    /// A batch of `tp` left for the broker: mute the partition at its limit.
    fn batch_sent(&mut self, tp: &TopicPartition) {
        let count = self.in_flight.entry(tp.clone()).or_insert(0);
        *count += 1;
        if *count >= self.per_partition {
            self.shared.accumulator.mute(tp);
        }
    }

    /// A batch of `tp` ended or went back to the queue.
    pub(super) fn batch_done(&mut self, tp: &TopicPartition) {
        if let Some(count) = self.in_flight.get_mut(tp) {
            *count = count.saturating_sub(1);
            if *count < self.per_partition {
                self.shared.accumulator.unmute(tp);
            }
            if *count == 0 {
                self.in_flight.remove(tp);
            }
        }
    }

    /// A batch that failed retriably goes back to its queue unless it is
    /// out of retries or `delivery.timeout.ms` has passed.
    pub(super) fn retry_or_fail(
        &mut self,
        batch: ProducerBatch,
        error: DeliveryError,
        now: Instant,
    ) {
        self.batch_done(batch.topic_partition());
        let config = &self.shared.config;
        if batch.is_expired(now, config.delivery_timeout()) {
            batch.fail(DeliveryError::timeout(config.delivery_timeout(), true));
        } else if !error.is_retriable() || batch.attempts() >= config.retries() {
            batch.fail(error);
        } else {
            self.shared.accumulator.reenqueue(batch, now);
        }
    }

    // ---- the pass ---------------------------------------------------------

    fn time_out(&mut self, el: &mut EventLoop, now: Instant) {
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

    fn refresh_metadata(&mut self, el: &mut EventLoop, now: Instant) {
        let metadata = &self.shared.metadata;
        if self.metadata_in_flight
            || now < self.metadata_not_before
            || !metadata.needs_refresh(now, self.shared.config.metadata_max_age())
        {
            return;
        }
        let Some(id) = self.ready_conn(None) else {
            self.connect(el, None, now);
            return;
        };
        let topics = metadata.wanted();
        let version = self.conns[&id].conn.versions.metadata;
        let body = requests::metadata(&topics);
        match self.send_request(
            id,
            ApiKey::Metadata,
            version,
            &body,
            Purpose::Metadata,
            now,
            true,
        ) {
            Ok(()) => self.metadata_in_flight = true,
            Err(reason) => self.close(el, id, &reason, now),
        }
    }

    fn init_producer_id(&mut self, el: &mut EventLoop, now: Instant) {
        if self.producer_id.is_some() || self.pid_in_flight {
            return;
        }
        let Some(id) = self.ready_conn(None) else {
            self.connect(el, None, now);
            return;
        };
        let Some(version) = self.conns[&id].conn.versions.init_producer_id else {
            tracing::error!(
                "the broker does not serve InitProducerId: sending without idempotence \
                 (duplicates are possible on retries); set enable.idempotence=false to silence this"
            );
            self.producer_id = Some((-1, -1));
            return;
        };
        let timeout_ms =
            i32::try_from(self.shared.config.delivery_timeout().as_millis()).unwrap_or(i32::MAX);
        let body = requests::init_producer_id(timeout_ms);
        match self.send_request(
            id,
            ApiKey::InitProducerId,
            version,
            &body,
            Purpose::InitProducerId,
            now,
            true,
        ) {
            Ok(()) => self.pid_in_flight = true,
            Err(reason) => self.close(el, id, &reason, now),
        }
    }

    /// Whether connection to `broker` can take one more Produce request.
    fn has_room(&self, broker: BrokerId) -> bool {
        let max = self.shared.config.max_in_flight_requests_per_connection();
        self.ready_conn(Some(broker))
            .is_some_and(|id| self.conns[&id].conn.produce_in_flight() < max)
    }

    fn send_ready(&mut self, el: &mut EventLoop, now: Instant, slept: Duration) {
        let Some((pid, epoch)) = self.producer_id else {
            return; // idempotent: nothing goes before the producer id
        };
        let shared = Arc::clone(&self.shared);
        // Each drain takes at most one batch per partition: drain again
        // while it yields, so a busy partition fills its pipeline (and the
        // connections their in-flight limit) in one pass, not one per
        // loop iteration. Bounded: every round sends or mutes something.
        for round in 0..MAX_DRAIN_ROUNDS {
            let drained = shared.accumulator.drain_ready(now, |tp| {
                let leader = shared.metadata.leader(tp)?;
                self.has_room(leader).then_some(leader)
            });
            if round == 0 {
                for tp in &drained.unknown_leaders {
                    match shared.metadata.leader(tp) {
                        None => shared.metadata.mark_stale(),
                        Some(leader) => self.connect(el, Some(leader), now),
                    }
                }
            }
            if drained.batches.is_empty() {
                return;
            }
            for (broker, batches) in drained.batches {
                self.produce(el, broker, batches, (pid, epoch), now, slept);
            }
        }
    }

    fn produce(
        &mut self,
        el: &mut EventLoop,
        broker: BrokerId,
        batches: Vec<ProducerBatch>,
        (pid, epoch): (i64, i16),
        now: Instant,
        slept: Duration,
    ) {
        let config = &self.shared.config;
        let (compression, acks) = (config.compression(), config.acks().wire_value());
        let timeout_ms = i32::try_from(config.request_timeout().as_millis()).unwrap_or(i32::MAX);
        let mut encoded = Vec::with_capacity(batches.len());
        for mut batch in batches {
            batch.note_poll_duration(slept);
            let tp = batch.topic_partition().clone();
            let sequence = if pid >= 0 && batch.encoded().is_none() {
                let next = self.sequences.entry(tp.clone()).or_insert(0);
                let base = *next;
                *next = next.wrapping_add(batch.record_count() as i32) & i32::MAX;
                base
            } else {
                -1
            };
            match batch.encode(pid, epoch, sequence, compression) {
                Ok(bytes) => {
                    self.batch_sent(&tp);
                    encoded.push((batch, bytes));
                }
                Err(error) => batch.fail(DeliveryError::encoding(&error.to_string())),
            }
        }
        if encoded.is_empty() {
            return;
        }
        let Some(id) = self.ready_conn(Some(broker)) else {
            for (batch, _) in encoded {
                self.retry_or_fail(
                    batch,
                    DeliveryError::network("the leader's connection closed"),
                    now,
                );
            }
            return;
        };
        let refs: Vec<(&ProducerBatch, Bytes)> = encoded
            .iter()
            .map(|(b, bytes)| (b, bytes.clone()))
            .collect();
        let body = requests::produce(acks, timeout_ms, &refs);
        drop(refs);
        let version = self.conns[&id].conn.versions.produce;
        let batches: Vec<ProducerBatch> = encoded.into_iter().map(|(b, _)| b).collect();
        let expect_response = acks != 0;
        tracing::trace!(broker = broker.0, batches = batches.len(), "produce");
        if let Err(reason) = self.send_request(
            id,
            ApiKey::Produce,
            version,
            &body,
            Purpose::Produce(batches),
            now,
            expect_response,
        ) {
            self.close(el, id, &reason, now);
        }
        self.sync_interest(el, id);
    }

    /// One timer for the earliest deadline that needs the loop awake.
    fn arm_timer(&mut self, el: &mut EventLoop, now: Instant) {
        let config = &self.shared.config;
        let mut next: Option<Instant> = None;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at.filter(|at| *at > now) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        if self.producer_id.is_some() {
            // A deadline already past means "ready but blocked": the
            // connection's I/O, not a timer, will bring it round again.
            consider(self.shared.accumulator.next_linger_deadline());
        }
        consider(self.shared.metadata.next_refresh(config.metadata_max_age()));
        consider(Some(self.metadata_not_before));
        for slot in self.conns.values() {
            let started = slot
                .conn
                .oldest_request()
                .or((slot.conn.phase != Phase::Ready).then_some(slot.conn.opened));
            consider(started.map(|s| s + config.request_timeout()));
        }
        for at in self.reconnect_at.values() {
            consider(Some(*at));
        }
        match (next, self.timer) {
            (Some(at), Some((armed, _))) if armed == at => {}
            (next, armed) => {
                if let Some((_, timer)) = armed {
                    el.cancel(timer);
                }
                // The pump runs on the iteration the timer wakes; the
                // callback itself has nothing to do.
                self.timer = next.map(|at| (at, el.call_at(at, |_| {})));
            }
        }
    }

    /// The producer is closing for good: fail what is left and stop.
    fn abort(&mut self, el: &mut EventLoop) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(slot) = self.detach(id) {
                el.remove(slot.key);
                let mut conn = slot.conn;
                // Requests already handed to the socket layer (acks=0 ones
                // count as sent) get one last chance to leave.
                let _ = conn.flush();
                for request in conn.take_in_flight() {
                    if let Purpose::Produce(batches) = request.purpose {
                        for batch in batches {
                            batch.fail(DeliveryError::aborted(
                                "the producer closed before the broker acknowledged it (it may have been written)",
                            ));
                        }
                    }
                }
            }
        }
        self.shared.accumulator.abort_all(DeliveryError::aborted(
            "the producer closed before it was sent",
        ));
        el.stop();
    }
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    (host, port).to_socket_addrs().ok()?.next()
}

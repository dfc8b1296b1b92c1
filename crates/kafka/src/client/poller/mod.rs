//! The poller thread's state: every broker connection, the producer's
//! identity and sequence numbers, and one pass over the work that runs
//! before each poll.
//!
//! ```text
//!  each loop iteration:  I/O handlers (crate::net: read responses;
//!                        apply.rs: verdicts complete / retry / fail batches)
//!                        ──►  prepare hook: pump()
//!  pump():  take DNS answers ─► time out requests and connects ─► refresh
//!           metadata if due ─► InitProducerId if wanted ─► expire old
//!           batches ─► renew the producer id if a partition needs it ─►
//!           drain ready batches into Produce requests (send.rs) ─► arm one
//!           timer for the next deadline
//! ```
//!
//! The loop then sleeps until that timer, an I/O event, or a sender's wake.
//! Nothing here spins: a batch that is ready but cannot go (its leader's
//! connection is busy or still connecting) waits for that connection's I/O,
//! not for a timer in the past.
//!
//! Order per partition: without idempotence one batch per partition is in
//! flight at a time. With it, up to `max.in.flight.requests.per.connection`
//! (at most 5) are pipelined, and `sequences` decides which stamp each batch
//! goes out with and when a partition must wait for a new producer identity
//! (see its module docs). A partition at its limit is muted in the
//! accumulator until a batch of it ends.
//!
//! What cannot be recovered is a fatal error ([`Poller::raise_fatal`]):
//! every pending batch fails at once, and every later `send` is refused.
//!
//! Ownership: the poller is the loop's data (`EventLoop<Poller>`), lent to
//! the connection handlers, the prepare hook and the timer one call at a
//! time. The loop owns each broker connection ([`Link`], registered as the
//! source): the handler of a connection gets it as its argument, the pump
//! reaches the others by key (`el.source_mut`), and closing one is removing
//! its registration (`PostAction::Remove` from its handler, `el.take`
//! elsewhere), which drops the socket.
//!
//! The connections themselves (dialling, TLS, SASL, ApiVersions, reading
//! answers, timeouts) are the shared connection layer's (`crate::net`); the
//! poller is its [`Client`](crate::net::Client) (`hooks.rs`), so answers to
//! the producer's requests come back to `apply.rs` and lost requests to
//! `settle`.

mod apply;
mod hooks;
mod send;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rouse_reactor::{EventLoop, TimerId};

use super::identity::Identity;
use super::requests::{Purpose, WANTS};
use super::sequences::Sequences;
use super::{Failure, Shared};
use crate::config::ProducerConfig;
use crate::delivery::DeliveryError;
use crate::net::{Awaiting, Connections, Net, NetSettings, Secure};
use crate::record::TopicPartition;

/// The poller thread's event loop: its data is the [`Poller`].
pub(crate) type Loop = EventLoop<Poller>;

/// A broker connection as the poller's loop owns it.
pub(crate) type Link = crate::net::Link<Purpose>;

/// Everything the poller thread owns but its connections (the loop owns
/// those; see the module docs).
pub(crate) struct Poller {
    shared: Arc<Shared>,
    /// The broker connections' bookkeeping (crate::net).
    net: Net,
    metadata_in_flight: bool,
    metadata_not_before: Instant,
    identity: Identity,
    sequences: Sequences,
    /// Batches in flight per partition.
    in_flight: HashMap<TopicPartition, usize>,
    timer: Option<(Instant, TimerId)>,
    last_idle: Duration,
    /// A fatal error found inside a handler, raised by the next pump (which
    /// may close every connection, the handler's own included).
    pending_fatal: Option<Failure>,
}

/// What the connection layer needs of the producer's configuration.
fn net_settings(config: &ProducerConfig) -> NetSettings {
    NetSettings {
        bootstrap_servers: config.bootstrap_servers.clone(),
        client_id: config.client_id.clone(),
        request_timeout: config.request_timeout(),
        reconnect_backoff: config.reconnect_backoff,
        reconnect_backoff_max: config.reconnect_backoff_max,
        max_idle: config.connections_max_idle(),
        security: config.security.clone(),
        wants: WANTS,
    }
}

impl Poller {
    pub(crate) fn new(shared: Arc<Shared>, el: &Loop) -> Poller {
        let now = el.now();
        let config = &shared.config;
        let identity = Identity::new(
            config.enable_idempotence(),
            config.idempotence_requested(),
            now,
        );
        Poller {
            net: Net::new(net_settings(config), el),
            metadata_in_flight: false,
            metadata_not_before: now,
            identity,
            sequences: Sequences::default(),
            in_flight: HashMap::new(),
            timer: None,
            last_idle: Duration::ZERO,
            pending_fatal: None,
            shared,
        }
    }

    /// One pass before the loop sleeps; see the module docs.
    pub(crate) fn pump(&mut self, el: &mut Loop) {
        let now = el.now();
        let idle = el.metrics().idle;
        let slept = idle.saturating_sub(self.last_idle);
        self.last_idle = idle;
        if self.shared.abort.load(Ordering::Acquire) {
            self.abort(el);
            return;
        }
        if let Some(failure) = self.pending_fatal.take() {
            self.raise(el, failure);
        }
        if self.shared.fatal.get().is_some() {
            return; // everything was failed when it was raised
        }
        self.net.take_answers();
        self.forget_removed(el);
        self.time_out(el, now);
        self.expire_sessions(el, now);
        self.refresh_metadata(el, now);
        self.init_producer_id(el, now);
        self.expire(now);
        self.renew_identity(el, now);
        self.send_ready(el, now, slept);
        self.arm_timer(el, now);
    }

    /// Fails every queued batch whose `delivery.timeout.ms` has passed.
    fn expire(&mut self, now: Instant) {
        let timeout = self.shared.config.delivery_timeout();
        for batch in self.shared.accumulator.take_expired(now) {
            let sent = batch.attempts() > 0;
            tracing::debug!(tp = %batch.topic_partition(), sent, "batch expired");
            self.sequences
                .ended_unacked(batch.topic_partition(), batch.id());
            batch.fail(DeliveryError::timeout(timeout, sent));
        }
    }

    /// Asks for a new producer identity once a partition's sequence stream
    /// is broken and nothing of it is left in doubt.
    fn renew_identity(&mut self, el: &mut Loop, now: Instant) {
        let Some(current) = self.identity.current() else {
            return;
        };
        if !self.sequences.needs_new_identity(current) {
            return;
        }
        tracing::info!(broken = ?self.sequences.broken(), "partitions wait for a new producer id");
        if let Err(reason) = self.identity.renew(now) {
            self.raise_fatal(el, &reason);
        }
    }

    /// One timer for the earliest deadline that needs the loop awake.
    fn arm_timer(&mut self, el: &mut Loop, now: Instant) {
        let config = &self.shared.config;
        let mut next: Option<Instant> = None;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at.filter(|at| *at > now) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        if self.identity.is_ready() {
            // A deadline already past means "ready but blocked": the
            // connection's I/O, not a timer, will bring it round again.
            consider(self.shared.accumulator.next_linger_deadline());
        }
        // Batches held back for a new identity still expire on time.
        consider(
            self.shared
                .accumulator
                .next_expiry(config.delivery_timeout()),
        );
        consider(self.identity.wanted_at());
        consider(self.shared.metadata.next_refresh(config.metadata_max_age()));
        consider(Some(self.metadata_not_before));
        self.net.deadlines(el, &mut consider);
        match (next, self.timer) {
            (Some(at), Some((armed, _))) if armed == at => {}
            (next, armed) => {
                if let Some((_, timer)) = armed {
                    el.cancel(timer);
                }
                // The pump runs on the iteration the timer wakes; the
                // callback itself has nothing to do.
                self.timer = next.map(|at| (at, el.call_at(at, |_, _| {})));
            }
        }
    }

    /// The producer cannot go on: say so once, loudly; fail every batch
    /// queued or in flight; refuse every later send.
    pub(super) fn raise_fatal(&mut self, el: &mut Loop, reason: &str) {
        self.raise(el, Failure::fatal(reason));
    }

    /// Raises `failure` (fatal, authentication or TLS) once; see
    /// [`Poller::raise_fatal`].
    pub(super) fn raise(&mut self, el: &mut Loop, failure: Failure) {
        if self.shared.fatal.set(failure.clone()).is_err() {
            return;
        }
        let reason = failure.reason.as_str();
        if failure.error.is_security() {
            tracing::error!(reason, kind = ?failure.error.kind(), "cannot connect securely: the producer fails every pending record and refuses new ones; fix the security settings and create a new producer");
        } else {
            tracing::error!(reason, "fatal producer error: the producer fails every pending record and refuses new ones; create a new producer");
        }
        self.identity.fail();
        let error = failure.error;
        self.shared.accumulator.close();
        self.shared.metadata.close();
        self.fail_all(el, &error, &error);
    }

    /// The producer is closing for good: fail what is left and stop.
    fn abort(&mut self, el: &mut Loop) {
        self.fail_all(
            el,
            &DeliveryError::aborted(
                "the producer closed before the broker acknowledged it (it may have been written)",
            ),
            &DeliveryError::aborted("the producer closed before it was sent"),
        );
        el.stop();
    }

    /// Closes every connection, failing its batches with `in_flight`, and
    /// fails every queued batch with `queued`. Runs in the pump, outside
    /// any connection's handler, so every connection can be taken back.
    fn fail_all(&mut self, el: &mut Loop, in_flight: &DeliveryError, queued: &DeliveryError) {
        let links: Vec<Link> = self.net.take_all(el);
        for mut link in links {
            // Requests already handed to the socket layer (acks=0 ones
            // count as sent) get one last chance to leave.
            let _ = link.conn.flush();
            for batch in link
                .conn
                .take_in_flight()
                .into_iter()
                .filter_map(|r| match r.purpose {
                    Awaiting::Client(purpose) => Some(purpose.into_batches()),
                    _ => None,
                })
                .flatten()
            {
                batch.fail(in_flight.clone());
            }
            // Dropping the link closes its socket.
        }
        self.shared.accumulator.abort_all(queued.clone());
    }
}

//! The connections of one client: dialling (names resolved off-thread,
//! reconnects backed off), closing a connection so that everything in
//! flight on it gets an outcome, request timeouts, and the bootstrap
//! connection becoming a broker's.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use rouse_reactor::{EventLoop, SourceKey, Watch};

use super::connection::{Awaiting, Connection, Phase};
use super::resolver::{Address, Resolver};
use super::secure::Secure;
use super::serve::on_ready;
use super::target::Target;
use super::versions::Want;
use super::{Client, Lost};
use crate::backoff;
use crate::security::SecurityConfig;
use crate::BrokerId;

/// What the layer needs of the client's configuration.
#[derive(Debug, Clone)]
pub(crate) struct NetSettings {
    /// `bootstrap.servers`, each `host:port`.
    pub(crate) bootstrap_servers: Vec<String>,
    /// `client.id`, in every request header.
    pub(crate) client_id: String,
    /// `request.timeout.ms`: bounds each setup step and each answer.
    pub(crate) request_timeout: Duration,
    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms`.
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    /// `connections.max.idle.ms`: a Ready connection with nothing in
    /// flight for this long is closed (`None`: never).
    pub(crate) max_idle: Option<Duration>,
    /// TLS and SASL.
    pub(crate) security: SecurityConfig,
    /// The APIs the client speaks, negotiated on every connection.
    pub(crate) wants: &'static [Want],
}

impl NetSettings {
    /// The wait before dialling a broker again after `failures` failed
    /// connections in a row: `reconnect.backoff.ms * 2^(failures - 1)`,
    /// capped at `reconnect.backoff.max.ms`, spread by ±20%. `random` is
    /// any 64-bit random value.
    pub(crate) fn reconnect_wait(&self, failures: u32, random: u64) -> Duration {
        backoff::jittered(
            backoff::exponential(self.reconnect_backoff, self.reconnect_backoff_max, failures),
            random,
        )
    }
}

/// A broker connection as the loop owns it (the registered source), with
/// the name it was dialled by (`host:port`, for the resolver and for
/// messages). Dropping it closes the socket.
pub(crate) struct Link<P> {
    pub(crate) conn: Connection<P>,
    pub(crate) server: String,
}

impl<P> AsRawFd for Link<P> {
    fn as_raw_fd(&self) -> RawFd {
        self.conn.stream.tcp().as_raw_fd()
    }
}

/// When a broker may be dialled again, after how many failures in a row.
#[derive(Debug, Clone, Copy)]
struct Reconnect {
    at: Instant,
    failures: u32,
}

/// The layer's state, held by the client (the loop holds the connections).
pub(crate) struct Net {
    pub(super) settings: NetSettings,
    /// The registrations of every live connection ([`Link`]s).
    pub(super) conns: HashSet<SourceKey>,
    /// The connection of each broker and each coordinator (bootstrap
    /// connections are not listed until metadata names their broker).
    by_target: HashMap<Target, SourceKey>,
    /// When each target (the bootstrap list too) may be dialled again.
    reconnect: HashMap<Target, Reconnect>,
    resolver: Resolver,
    bootstrap_turn: usize,
    /// Plaintext connections closed in a row before answering ApiVersions
    /// while none ever became ready (a TLS listener does that).
    pub(super) silent_negotiations: u32,
    /// Whether any connection ever became ready.
    pub(super) ever_ready: bool,
}

impl Net {
    /// No connections yet; DNS answers wake the loop of `el`.
    pub(crate) fn new<D: 'static>(settings: NetSettings, el: &EventLoop<D>) -> Net {
        Net {
            settings,
            conns: HashSet::new(),
            by_target: HashMap::new(),
            reconnect: HashMap::new(),
            resolver: Resolver::new(el.handle()),
            bootstrap_turn: 0,
            silent_negotiations: 0,
            ever_ready: false,
        }
    }

    /// Takes in the DNS answers that arrived (each pump, before dialling).
    pub(crate) fn take_answers(&mut self) {
        self.resolver.take_answers();
    }

    /// Calls `deadline` with every instant the loop must wake for: request
    /// and setup timeouts, SASL session ends, reconnect backoffs, idle
    /// connections to close.
    pub(crate) fn deadlines<D: Client>(
        &self,
        el: &EventLoop<D>,
        mut deadline: impl FnMut(Option<Instant>),
    ) {
        let timeout = self.settings.request_timeout;
        for key in &self.conns {
            let Some(conn) = el.source::<Link<D::Purpose>>(*key).map(|l| &l.conn) else {
                continue;
            };
            let setup = conn.phase.in_setup().then(|| conn.phase_since + timeout);
            let answer = conn.next_deadline().map(|(_, _, at)| at);
            deadline([setup, answer].into_iter().flatten().min());
            deadline(conn.session.map(|s| s.renew_at));
            deadline(conn.session.map(|s| s.expires_at));
            if let Some(idle) = self.settings.max_idle {
                deadline(conn.idle_since().map(|since| since + idle));
            }
        }
        for reconnect in self.reconnect.values() {
            deadline(Some(reconnect.at));
        }
    }

    /// Takes every connection back from the loop (the client is failing
    /// everything): it settles what is in flight; dropping each closes it.
    pub(crate) fn take_all<D: Client>(&mut self, el: &mut EventLoop<D>) -> Vec<Link<D::Purpose>> {
        self.by_target.clear();
        self.conns
            .drain()
            .filter_map(|key| el.take::<Link<D::Purpose>>(key))
            .collect()
    }
}

/// Dialling, closing and timing out connections, for every [`Client`].
pub(crate) trait Connections: Client {
    /// A Ready connection: `broker`'s, or for `None` any that may carry
    /// any request (not a coordinator's, kept for its group).
    fn ready_conn(&self, el: &EventLoop<Self>, broker: Option<BrokerId>) -> Option<SourceKey> {
        match broker {
            Some(b) => self.ready_target(el, Target::Broker(b)),
            None => self.net().conns.iter().copied().find(|key| {
                el.source::<Link<Self::Purpose>>(*key)
                    .is_some_and(|l| l.conn.phase == Phase::Ready && l.conn.target.is_general())
            }),
        }
    }

    /// The Ready connection to group coordinator `broker`: its own, not
    /// the broker's (see [`Target`]).
    fn ready_coordinator(&self, el: &EventLoop<Self>, broker: BrokerId) -> Option<SourceKey> {
        self.ready_target(el, Target::Coordinator(broker))
    }

    /// The Ready connection dialled for `target` (never a bootstrap one).
    fn ready_target(&self, el: &EventLoop<Self>, target: Target) -> Option<SourceKey> {
        let key = *self.net().by_target.get(&target)?;
        el.source::<Link<Self::Purpose>>(key)
            .is_some_and(|l| l.conn.phase == Phase::Ready)
            .then_some(key)
    }

    /// Dials `broker` (or, for `None`, the next bootstrap server): see
    /// [`connect_to`](Connections::connect_to).
    fn connect(&mut self, el: &mut EventLoop<Self>, broker: Option<BrokerId>, now: Instant) {
        self.connect_to(el, Target::broker_or_bootstrap(broker), now);
    }

    /// Dials group coordinator `broker` on a connection of its own.
    fn connect_coordinator(&mut self, el: &mut EventLoop<Self>, broker: BrokerId, now: Instant) {
        self.connect_to(el, Target::Coordinator(broker), now);
    }

    /// Dials `target` unless a connection for it exists (for the
    /// bootstrap list: unless any connection that can carry Metadata
    /// exists), its name is still being resolved, or the reconnect backoff
    /// has not passed.
    fn connect_to(&mut self, el: &mut EventLoop<Self>, target: Target, now: Instant) {
        let net = self.net();
        if net.by_target.contains_key(&target) {
            return;
        }
        let general = |key: &SourceKey| {
            el.source::<Link<Self::Purpose>>(*key)
                .is_some_and(|l| l.conn.target.is_general())
        };
        if target == Target::Bootstrap && net.conns.iter().any(general) {
            return; // a live connection can carry Metadata
        }
        if net.reconnect.get(&target).is_some_and(|r| r.at > now) {
            return;
        }
        let server = match target.broker() {
            Some(b) => match self.broker_address(b) {
                Some((host, port)) if host.contains(':') => format!("[{host}]:{port}"),
                Some((host, port)) => format!("{host}:{port}"),
                None => {
                    tracing::debug!(broker = b.0, "no address for broker yet");
                    self.metadata_stale();
                    return;
                }
            },
            None => {
                let net = self.net_mut();
                let servers = &net.settings.bootstrap_servers;
                net.bootstrap_turn += 1;
                servers[net.bootstrap_turn % servers.len()].clone()
            }
        };
        let addr = match self.net_mut().resolver.address(&server) {
            Address::Ready(addr) => addr,
            Address::Pending => return, // the answer wakes the loop
            Address::Failed(why) => {
                self.connect_failed(el, target, &server, &why, now);
                return;
            }
        };
        let tls = match self.tls_for(&server) {
            Ok(tls) => tls,
            Err(why) => {
                self.connect_failed(el, target, &server, &why, now);
                return;
            }
        };
        match Connection::open(target, addr, now, tls) {
            Ok(conn) => self.register(el, conn, server),
            Err(error) => {
                let why = format!("could not connect to {addr}: {error}");
                self.connect_failed(el, target, &server, &why, now);
            }
        }
    }

    /// Hands a new connection to the loop.
    fn register(
        &mut self,
        el: &mut EventLoop<Self>,
        conn: Connection<Self::Purpose>,
        server: String,
    ) {
        let (addr, target) = (conn.addr, conn.target);
        let watch = Watch::read_write().named(format!("rouse-kafka {} {addr}", target.role()));
        match el.register(Link { conn, server }, watch, on_ready::<Self>) {
            Ok(key) => {
                tracing::debug!(%addr, ?target, "connecting");
                let net = self.net_mut();
                if target != Target::Bootstrap {
                    net.by_target.insert(target, key);
                }
                net.conns.insert(key);
            }
            Err(error) => tracing::error!(%error, "could not watch a broker socket"),
        }
    }

    /// A connection to `server` could not be made, or was lost: back off
    /// exponentially, and while no broker at all is reachable, say why
    /// (naming the server) to callers waiting on metadata.
    fn connect_failed(
        &mut self,
        el: &EventLoop<Self>,
        target: Target,
        server: &str,
        why: &str,
        now: Instant,
    ) {
        let net = self.net_mut();
        let failures = net.reconnect.get(&target).map_or(0, |r| r.failures) + 1;
        let wait = net.settings.reconnect_wait(failures, backoff::random());
        net.reconnect.insert(
            target,
            Reconnect {
                at: now + wait,
                failures,
            },
        );
        net.resolver.forget(server);
        tracing::warn!(
            server,
            why,
            failures,
            ?wait,
            "{} unreachable",
            target.role()
        );
        if self.ready_conn(el, None).is_none() {
            self.reachable(Some(format!("{} {server}: {why}", target.role())));
        }
    }

    /// The connection is usable (versions known, authenticated): the
    /// broker is reachable and its reconnect backoff starts over.
    fn connection_ready(&mut self, link: &mut Link<Self::Purpose>, now: Instant) {
        let conn = &mut link.conn;
        conn.enter(Phase::Ready, now);
        let net = self.net_mut();
        net.ever_ready = true;
        net.silent_negotiations = 0;
        net.reconnect.remove(&conn.target);
        self.reachable(None);
        tracing::debug!(addr = %conn.addr, versions = ?conn.versions, "versions negotiated");
    }

    /// Forgets connection `key` (its registration is being removed).
    fn forget(&mut self, key: SourceKey) {
        let net = self.net_mut();
        net.conns.remove(&key);
        net.by_target.retain(|_, k| *k != key);
    }

    /// Forgets connections the loop removed on its own: a handler that
    /// panicked (a bug, logged by the loop) loses its connection and what
    /// was in flight on it; the broker is then dialled afresh.
    fn forget_removed(&mut self, el: &EventLoop<Self>) {
        let net = self.net_mut();
        net.conns.retain(|key| el.contains(*key));
        net.by_target.retain(|_, key| el.contains(*key));
    }

    /// Closes connection `key` from outside its handler: the loop hands the
    /// link back, and dropping it closes the socket.
    fn close(&mut self, el: &mut EventLoop<Self>, key: SourceKey, reason: &str, now: Instant) {
        self.forget(key);
        if let Some(mut link) = el.take::<Link<Self::Purpose>>(key) {
            self.closed(el, &mut link, reason, now);
        }
    }

    /// Everything in flight on a closed connection is handed back as
    /// unanswered, and the broker is dialled again only after a backoff.
    fn closed(
        &mut self,
        el: &EventLoop<Self>,
        link: &mut Link<Self::Purpose>,
        reason: &str,
        now: Instant,
    ) {
        let target = link.conn.target;
        if !link.conn.phase.in_setup() {
            // It worked until now: the backoff starts over.
            self.net_mut().reconnect.remove(&target);
        }
        self.connect_failed(el, target, &link.server, reason, now);
        for request in link.conn.take_in_flight() {
            self.unanswered(request.purpose, Lost::Network(reason.to_owned()), now);
        }
        self.metadata_stale();
    }

    /// Closes every connection that waited longer than `request.timeout.ms`
    /// for a setup step (connect, TLS, ApiVersions, SASL), or past its
    /// oldest request's deadline (`request.timeout.ms`, or the client's
    /// own bound: [`Client::request_timeout`]); and every connection idle
    /// for `connections.max.idle.ms`.
    fn time_out(&mut self, el: &mut EventLoop<Self>, now: Instant) {
        self.close_idle(el, now);
        let limit = self.net().settings.request_timeout;
        let expired: Vec<(SourceKey, String)> = self
            .net()
            .conns
            .iter()
            .filter_map(|key| Some((*key, &el.source::<Link<Self::Purpose>>(*key)?.conn)))
            .filter_map(|(key, conn)| {
                if conn.phase.in_setup() && now.duration_since(conn.phase_since) >= limit {
                    Some((
                        key,
                        format!("{} took longer than request.timeout.ms", conn.phase.step()),
                    ))
                } else if let Some((api, bound, _)) =
                    conn.next_deadline().filter(|(_, _, at)| now >= *at)
                {
                    let reason = if bound == limit {
                        format!("no {api:?} response within request.timeout.ms")
                    } else {
                        format!("no {api:?} response within {} ms", bound.as_millis())
                    };
                    Some((key, reason))
                } else {
                    None
                }
            })
            .collect();
        for (key, reason) in expired {
            if let Some(link) = el.source::<Link<Self::Purpose>>(key) {
                if link.conn.phase == Phase::TlsHandshake && link.conn.stream.tls_unanswered() {
                    self.silent_tls_handshake(link, &reason);
                }
            }
            self.close(el, key, &reason, now);
        }
    }

    /// Closes every connection idle for `connections.max.idle.ms`: nothing
    /// was in flight, so nothing needs an outcome, and it is no failure (no
    /// backoff, no metadata refresh): the next request for its broker dials
    /// it again.
    fn close_idle(&mut self, el: &mut EventLoop<Self>, now: Instant) {
        let Some(limit) = self.net().settings.max_idle else {
            return;
        };
        let idle = self.conns_where(el, |conn| {
            conn.idle_since()
                .is_some_and(|since| now.saturating_duration_since(since) >= limit)
        });
        for key in idle {
            self.forget(key);
            if let Some(link) = el.take::<Link<Self::Purpose>>(key) {
                tracing::debug!(server = %link.server, target = ?link.conn.target, "closing a connection idle for connections.max.idle.ms");
            }
        }
    }

    /// The connections `pick` picks, collected (the caller then closes or
    /// changes them through the loop; none picked allocates nothing).
    fn conns_where(
        &self,
        el: &EventLoop<Self>,
        pick: impl Fn(&Connection<Self::Purpose>) -> bool,
    ) -> Vec<SourceKey> {
        self.net()
            .conns
            .iter()
            .copied()
            .filter(|key| {
                el.source::<Link<Self::Purpose>>(*key)
                    .is_some_and(|l| pick(&l.conn))
            })
            .collect()
    }

    /// A bootstrap connection whose address is a broker's becomes that
    /// broker's connection, so it is not dialled twice. The client calls
    /// it when a Metadata answer arrives on `link`.
    fn adopt_bootstrap_connection(&mut self, key: SourceKey, link: &mut Link<Self::Purpose>) {
        if link.conn.target != Target::Bootstrap {
            return;
        }
        let addr = link.conn.addr;
        let brokers = self.brokers();
        let net = self.net_mut();
        let found = brokers.into_iter().find(|(broker, host, port)| {
            !net.by_target.contains_key(&Target::Broker(*broker))
                && net.resolver.address(&format!("{host}:{port}")) == Address::Ready(addr)
        });
        if let Some((broker, _, _)) = found {
            link.conn.target = Target::Broker(broker);
            net.by_target.insert(Target::Broker(broker), key);
        }
    }

    /// A request that will get no answer: the client's get an outcome; the
    /// layer's own need none (their connection is closing).
    fn unanswered(&mut self, purpose: Awaiting<Self::Purpose>, lost: Lost, now: Instant) {
        if let Awaiting::Client(purpose) = purpose {
            self.on_unanswered(purpose, lost, now);
        }
    }
}

impl<D: Client> Connections for D {}

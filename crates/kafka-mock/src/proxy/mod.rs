//! A seeded TCP fault proxy for 127.0.0.1: put it between a client and its
//! brokers to delay, split, cut and refuse connections, on a schedule or at
//! random, reproducibly from a seed.
//!
//! ```text
//!  client ──► 127.0.0.1:p1 ─┐                 ┌─► upstream 1 (a broker)
//!  client ──► 127.0.0.1:p2 ─┼─ FaultProxy ────┼─► upstream 2
//!  client ──► 127.0.0.1:p3 ─┘  (one route per │─► upstream 3
//!                               upstream)
//! ```
//!
//! A [`FaultProxy`] listens on one 127.0.0.1 port per upstream address (a
//! *route*) and forwards bytes both ways. What it does to them is a
//! [`FaultPlan`]:
//!
//! | fault | plan | on demand |
//! |-------|------|-----------|
//! | delay each chunk, uniform `min..=max`, order kept per direction | [`with_delay`](FaultPlan::with_delay) | |
//! | split writes into pieces of 1..=n bytes | [`with_split_writes`](FaultPlan::with_split_writes) | |
//! | cut every live connection (both sides) | [`with_cut_at`](FaultPlan::with_cut_at) | [`cut_all`](FaultProxy::cut_all) |
//! | refuse new connections for a spell | [`with_refusal_at`](FaultPlan::with_refusal_at) | [`refuse_for`](FaultProxy::refuse_for) |
//! | outage: cut, then refuse for a spell | [`with_outage_at`](FaultPlan::with_outage_at) | [`outage`](FaultProxy::outage) |
//! | cut about every N ms, jittered from the seed | [`with_cuts_every`](FaultPlan::with_cuts_every) | |
//!
//! How refusal looks to a client is chosen with [`Refusal`]: a closed port
//! (`ECONNREFUSED`, the default, as a broker that is down) or
//! accept-and-close. Offsets in the plan count from
//! [`FaultProxy::start`]; [`FaultProxy::events`] logs every fault fired,
//! with when it was planned and when it happened, and
//! [`FaultProxy::stats`] counts connections accepted, refused and cut,
//! bytes each way, and chunks delayed and split.
//!
//! # Putting a mock cluster behind it
//!
//! Kafka clients use the bootstrap address only for their first Metadata
//! request; after that they connect to the addresses Metadata advertises.
//! So every broker must advertise its proxy port, not its own:
//!
//! 1. start the cluster ([`MockCluster::start`]);
//! 2. start the proxy with one route per broker address (this binds the
//!    proxy's ports);
//! 3. make each broker advertise its route's port with
//!    [`ClusterHandle::set_broker_address`](crate::ClusterHandle::set_broker_address);
//! 4. give the client the proxy's addresses as `bootstrap.servers`.
//!
//! [`FaultProxy::in_front_of`] does steps 2 and 3. For a broker of another
//! kind (a real Kafka, tansu) the order is the same: bind the proxy first
//! ([`FaultProxy::start_on`] with fixed ports, or [`FaultProxy::start`]
//! and read [`routes`](FaultProxy::routes)), then start or configure the
//! broker to advertise the proxy's address. The upstream need not be up
//! when the proxy starts: it is dialled per accepted connection, and an
//! unreachable one closes that client connection (counted in
//! [`ProxyStats::upstream_failed`]). Stopping and restarting
//! brokers through [`MockCluster`] keeps working behind it (a restarted
//! broker comes back on the same port, still advertising the proxy's).
//! Drop the proxy after the clients: once it is gone, the brokers advertise
//! dead ports.
//!
//! ```
//! use std::time::Duration;
//! use rouse_kafka_mock::proxy::{FaultPlan, FaultProxy};
//! use rouse_kafka_mock::{ClusterConfig, MockCluster};
//!
//! let cluster = MockCluster::start(ClusterConfig::new(3))?;
//! cluster.create_topic("orders", 6)?;
//! // 0-150 ms per chunk; at t=3 s everything is cut and refused for 6 s.
//! let plan = FaultPlan::new(42)
//!     .with_delay(Duration::ZERO, Duration::from_millis(150))
//!     .with_outage_at(Duration::from_secs(3), Duration::from_secs(6));
//! let proxy = FaultProxy::in_front_of(&cluster, plan)?;
//! let bootstrap = proxy.bootstrap_servers(); // give this to the client
//! for broker in cluster.handle().brokers() {
//!     // Metadata now advertises the proxy's ports.
//!     assert!(proxy.routes().iter().any(|r| r.listen.port() == broker.port));
//! }
//! # assert_eq!(bootstrap.split(',').count(), 3);
//! // ... run the client; afterwards:
//! let stats = proxy.stats();
//! # let _ = stats;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Random faults, the same for the same seed:
//!
//! ```
//! use std::time::Duration;
//! use rouse_kafka_mock::proxy::{FaultPlan, FaultProxy};
//! use rouse_kafka_mock::{ClusterConfig, MockCluster};
//!
//! let cluster = MockCluster::start(ClusterConfig::new(3))?;
//! // Cuts every ~500 ms (250-750 ms apart), chunks delayed 0-20 ms, writes
//! // split into pieces of 1-512 bytes; each part can be changed.
//! let plan = FaultPlan::random(7, Duration::from_millis(500))
//!     .with_delay(Duration::ZERO, Duration::from_millis(5));
//! let cuts = plan.timeline(Duration::from_secs(10)); // known in advance
//! let proxy = FaultProxy::in_front_of(&cluster, plan)?;
//! // ... run the client; then compare what fired with what was planned:
//! for (fired, planned) in proxy.events().iter().zip(&cuts) {
//!     assert_eq!(fired.planned, Some(planned.at));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threads and bounds
//!
//! One control thread (accepts, fires faults on time, runs refusal spells;
//! it sleeps in `poll` until something is due) and, per connection, one
//! thread that connects upstream and four that pump (a reader and a writer
//! per direction), all blocking `std::net`: fine at test scale, dozens of
//! connections. Dropping the proxy closes every socket and joins every
//! thread. Cuts and drops shut sockets down with FIN (the peer reads
//! end-of-stream); a half-close by one side is passed on to the other.

mod conn;
mod control;
mod plan;
mod rng;
mod stats;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Sender};
use mio::{Poll, Waker};

pub use plan::{FaultKind, FaultPlan, PlannedFault, Refusal};
pub use stats::{FaultEvent, FaultEventKind, ProxyStats};

use crate::MockCluster;
use control::{Command, Control, Shared, WAKE};

/// How long an on-demand fault may take to reach the control thread.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// One listening port and the upstream it forwards to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The proxy's address, on 127.0.0.1; clients connect here.
    pub listen: SocketAddr,
    /// Where accepted connections are forwarded.
    pub upstream: SocketAddr,
}

/// A running fault proxy; see the [module docs](self). Dropping it closes
/// every listener and connection and joins its threads.
pub struct FaultProxy {
    routes: Vec<Route>,
    plan: Arc<FaultPlan>,
    shared: Arc<Shared>,
    started: Instant,
    commands: Sender<Command>,
    waker: Waker,
    control: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy with one route per upstream, each listening on an
    /// ephemeral 127.0.0.1 port (read them from [`routes`](Self::routes)).
    /// The plan's offsets count from now.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad plan or no upstream; any error binding the
    /// listeners or starting the control thread.
    pub fn start(upstreams: &[SocketAddr], plan: FaultPlan) -> io::Result<FaultProxy> {
        let routes: Vec<(SocketAddr, SocketAddr)> = upstreams
            .iter()
            .map(|&upstream| (SocketAddr::from(([127, 0, 0, 1], 0)), upstream))
            .collect();
        FaultProxy::start_on(&routes, plan)
    }

    /// Starts a proxy with explicit `(listen, upstream)` routes; a listen
    /// port of 0 picks an ephemeral one.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad plan, no route, or a listen address that is
    /// not loopback (the proxy only serves this machine); any error binding
    /// the listeners or starting the control thread.
    pub fn start_on(
        routes: &[(SocketAddr, SocketAddr)],
        plan: FaultPlan,
    ) -> io::Result<FaultProxy> {
        plan.validate()?;
        if routes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a fault proxy needs at least one upstream",
            ));
        }
        let mut listeners = Vec::with_capacity(routes.len());
        let mut bound = Vec::with_capacity(routes.len());
        for &(listen, upstream) in routes {
            if !listen.ip().is_loopback() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("fault proxy listen address {listen} is not loopback"),
                ));
            }
            let listener = TcpListener::bind(listen).map_err(|e| {
                io::Error::new(e.kind(), format!("fault proxy: binding {listen}: {e}"))
            })?;
            bound.push(Route {
                listen: listener.local_addr()?,
                upstream,
            });
            listeners.push((listener, upstream));
        }
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        let shared = Arc::new(Shared::default());
        let plan = Arc::new(plan);
        let (commands, commands_rx) = unbounded();
        let started = Instant::now();
        let control = Control::new(
            poll,
            listeners,
            Arc::clone(&shared),
            Arc::clone(&plan),
            started,
            commands_rx,
        )?;
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || control.run())?;
        tracing::info!(routes = ?bound, seed = plan.seed(), "fault proxy listening");
        Ok(FaultProxy {
            routes: bound,
            plan,
            shared,
            started,
            commands,
            waker,
            control: Some(thread),
        })
    }

    /// Starts a proxy with one route per broker of `cluster` and makes each
    /// broker advertise its route's port in Metadata, so clients reach
    /// every broker through the proxy, also after they reconnect.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn in_front_of(cluster: &MockCluster, plan: FaultPlan) -> io::Result<FaultProxy> {
        let brokers: Vec<(i32, SocketAddr)> = cluster
            .handle()
            .brokers()
            .iter()
            .filter_map(|b| Some((b.id, cluster.broker_address(b.id)?)))
            .collect();
        let upstreams: Vec<SocketAddr> = brokers.iter().map(|(_, addr)| *addr).collect();
        let proxy = FaultProxy::start(&upstreams, plan)?;
        for ((id, _), route) in brokers.iter().zip(&proxy.routes) {
            cluster
                .handle()
                .set_broker_address(*id, "127.0.0.1", route.listen.port())
                .map_err(io::Error::other)?;
        }
        Ok(proxy)
    }

    /// The routes, in the order given.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The proxy address forwarding to `upstream`, if it has a route.
    pub fn listen_addr(&self, upstream: SocketAddr) -> Option<SocketAddr> {
        self.routes
            .iter()
            .find(|r| r.upstream == upstream)
            .map(|r| r.listen)
    }

    /// Every route's listen address, comma-separated, for
    /// `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.routes
            .iter()
            .map(|r| r.listen.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The plan it runs.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The instant the plan's offsets count from.
    pub fn started_at(&self) -> Instant {
        self.started
    }

    /// Cuts every live connection now, both sides; returns how many.
    pub fn cut_all(&self) -> usize {
        self.shared.cut_all(self.started, Some(None))
    }

    /// Refuses new connections from now for `duration` (live ones are left
    /// alone). When it returns, the refusal is in place. A spell already
    /// running is extended, never shortened.
    ///
    /// # Errors
    ///
    /// `TimedOut` or `BrokenPipe` if the control thread did not answer.
    pub fn refuse_for(&self, duration: Duration) -> io::Result<()> {
        self.command(FaultKind::Refuse(duration)).map(|_| ())
    }

    /// Cuts every live connection and refuses new ones for `duration`;
    /// returns how many were cut. When it returns, the refusal is in place.
    ///
    /// # Errors
    ///
    /// As [`refuse_for`](Self::refuse_for).
    pub fn outage(&self, duration: Duration) -> io::Result<usize> {
        self.command(FaultKind::Outage(duration))
    }

    /// Whether new connections are refused right now.
    pub fn is_refusing(&self) -> bool {
        self.shared.refusing.load(Ordering::Acquire)
    }

    /// Connections being forwarded right now.
    pub fn live_connections(&self) -> usize {
        self.shared.live_connections()
    }

    /// The counters so far.
    pub fn stats(&self) -> ProxyStats {
        self.shared.counters.snapshot()
    }

    /// Every fault fired so far (scheduled, random and on demand), in
    /// order, with its time and how many connections it cut.
    pub fn events(&self) -> Vec<FaultEvent> {
        self.shared.events()
    }

    fn command(&self, kind: FaultKind) -> io::Result<usize> {
        let (done, done_rx) = bounded(1);
        self.commands
            .send(Command::Fault { kind, done })
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "fault proxy has stopped"))?;
        self.waker.wake()?;
        done_rx.recv_timeout(COMMAND_TIMEOUT).map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "fault proxy's control thread did not answer",
            )
        })
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(control) = self.control.take() {
            let _ = control.join();
        }
        // No new connection can start now; close and join the rest.
        self.shared.cut_all(self.started, None);
        for thread in self.shared.take_threads() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("routes", &self.routes)
            .field("seed", &self.plan.seed())
            .finish_non_exhaustive()
    }
}

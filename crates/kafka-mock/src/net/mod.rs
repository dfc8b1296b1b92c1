//! The network layer: [`MockCluster`] serves the protocol core on real
//! 127.0.0.1 sockets, one listener per broker, from one `rouse-reactor` loop
//! thread.
//!
//! The test thread keeps a [`ClusterHandle`] for faults and inspection;
//! faults that touch sockets (stopping and restarting a broker) go through
//! [`MockCluster`], which runs them on the loop thread and waits until they
//! are done, so when `stop_broker` returns the broker's connections are
//! closed and its port refuses connections.

mod connection;
mod sockets;
mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::bounded;
use mio::net::TcpListener;
use rouse_reactor::Handle;

use crate::sasl::Users;
use crate::security::server::ListenerSecurity;
use crate::{ClusterConfig, ClusterError, ClusterHandle, GeneratedCerts};
use sockets::{Loop, Sockets};

/// How long a command to the loop thread may take before it is reported as
/// a failure (the loop is stuck or gone).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A running mock cluster: N brokers on 127.0.0.1 ephemeral ports, served
/// by one loop thread named `rouse-kafka-mock`. Dropping it stops the loop,
/// closes every socket and joins the thread.
///
/// ```
/// use rouse_kafka_mock::{ClusterConfig, MockCluster};
///
/// let cluster = MockCluster::start(ClusterConfig::new(3))?;
/// cluster.create_topic("orders", 6)?;
/// let bootstrap = cluster.bootstrap_servers(); // "127.0.0.1:p1,127.0.0.1:p2,..."
/// assert_eq!(bootstrap.split(',').count(), 3);
///
/// cluster.stop_broker(2)?; // listener and connections closed
/// assert_eq!(cluster.bootstrap_servers().split(',').count(), 2);
/// cluster.restart_broker(2)?; // same port again
/// assert_eq!(cluster.bootstrap_servers(), bootstrap);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MockCluster {
    cluster: ClusterHandle,
    addresses: Vec<(i32, SocketAddr)>,
    /// Partial-frame bytes of every connection (the loop's connections
    /// count them; `buffered_bytes` reads them).
    buffered: Arc<AtomicUsize>,
    loop_handle: Handle<Sockets>,
    thread: Option<JoinHandle<()>>,
    security_protocol: &'static str,
    generated: Option<GeneratedCerts>,
    users: Option<Arc<Users>>,
}

impl MockCluster {
    /// Binds one listener per broker on 127.0.0.1 and starts serving.
    ///
    /// # Errors
    ///
    /// [`ClusterError`] for a bad config, or [`ClusterError::Io`] when a
    /// listener, the event loop or its thread cannot be created.
    pub fn start(config: ClusterConfig) -> Result<MockCluster, ClusterError> {
        let security = ListenerSecurity::build(&config)?;
        let security_protocol = match (config.tls().is_some(), config.sasl().is_some()) {
            (false, false) => "PLAINTEXT",
            (true, false) => "SSL",
            (false, true) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        };
        let generated = security.generated.clone();
        let users = security.sasl.clone();
        let cluster = ClusterHandle::new(config)?;
        let mut listeners = Vec::new();
        for broker in cluster.brokers() {
            let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .map_err(|e| io_error("binding a broker listener on 127.0.0.1", e))?;
            let addr = listener
                .local_addr()
                .map_err(|e| io_error("reading a listener's address", e))?;
            cluster.set_broker_address(broker.id, "127.0.0.1", addr.port())?;
            listeners.push((broker.id, addr, listener));
        }
        let addresses = listeners.iter().map(|(id, addr, _)| (*id, *addr)).collect();
        let buffered = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = bounded(1);
        let (serving_buffered, serving_cluster) = (Arc::clone(&buffered), cluster.clone());
        let thread = std::thread::Builder::new()
            .name("rouse-kafka-mock".into())
            .spawn(move || {
                // The sockets table is the loop's data: accept handlers and
                // the test thread's commands get it in turn.
                let mut sockets = Sockets::new(serving_buffered, security);
                let started = Loop::new().and_then(|mut el| {
                    for (id, _, listener) in listeners {
                        sockets.listen(&mut el, serving_cluster.clone(), id, listener)?;
                    }
                    Ok(el)
                });
                match started {
                    Ok(mut el) => {
                        let _ = ready_tx.send(Ok(el.handle()));
                        if let Err(error) = el.run(&mut sockets) {
                            tracing::error!(%error, "mock cluster loop failed");
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| io_error("spawning the mock cluster thread", e))?;
        let loop_handle = match ready_rx.recv() {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => return Err(io_error("starting the mock cluster's event loop", e)),
            Err(_) => {
                return Err(io_error(
                    "starting the mock cluster's event loop",
                    io::ErrorKind::BrokenPipe.into(),
                ))
            }
        };
        tracing::info!(brokers = ?addresses, "mock cluster listening");
        Ok(MockCluster {
            cluster,
            addresses,
            buffered,
            loop_handle,
            thread: Some(thread),
            security_protocol,
            generated,
            users,
        })
    }

    /// The running brokers' addresses, comma-separated, for
    /// `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.addresses
            .iter()
            .filter(|(id, _)| self.cluster.is_broker_up(*id) == Some(true))
            .map(|(_, addr)| addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A broker's address, running or not (`None` for an unknown id).
    pub fn broker_address(&self, broker: i32) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .find(|(id, _)| *id == broker)
            .map(|(_, a)| *a)
    }

    /// The `security.protocol` clients set for these listeners: `PLAINTEXT`,
    /// `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub fn security_protocol(&self) -> &'static str {
        self.security_protocol
    }

    /// The certificates generated at start (with
    /// [`TlsConfig::generated`](crate::TlsConfig::generated)): the CA
    /// clients trust, and a client certificate for mutual TLS. `None`
    /// without TLS or with certificates from PEM files.
    pub fn generated_certs(&self) -> Option<&GeneratedCerts> {
        self.generated.as_ref()
    }

    /// The CA certificate clients must trust (PEM), when it was generated.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.generated.as_ref().map(GeneratedCerts::ca_pem)
    }

    /// SASL logins so far over all connections, as (succeeded, refused);
    /// `(0, 0)` without SASL. A client that reconnects logs in again.
    pub fn sasl_logins(&self) -> (u64, u64) {
        self.users.as_ref().map_or((0, 0), |users| users.counts())
    }

    /// KIP-368 counts over all connections, as (connections accepted on the
    /// SASL listeners, in-band re-authentications that succeeded, connections
    /// closed because their session ended without one); `(0, 0, 0)` without
    /// SASL. A client that re-authenticates in band keeps its connections;
    /// one that reconnects instead adds a connection per session.
    pub fn sasl_sessions(&self) -> (u64, u64, u64) {
        self.users
            .as_ref()
            .map_or((0, 0, 0), |users| users.session_counts())
    }

    /// Revokes SASL user `name`: every login from now on, a KIP-368
    /// re-authentication included, is refused as a wrong password is;
    /// sessions already open last until they end. Whether there was such a
    /// user (always `false` without SASL).
    pub fn revoke_sasl_user(&self, name: &str) -> bool {
        self.users.as_ref().is_some_and(|users| users.revoke(name))
    }

    /// Bytes of not-yet-whole request frames buffered right now, over all
    /// connections; bounded by
    /// [`ClusterConfig::with_max_buffered_total`].
    pub fn buffered_bytes(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }

    /// The cluster's state: inject faults and inspect records and requests.
    pub fn handle(&self) -> &ClusterHandle {
        &self.cluster
    }

    /// Creates a topic with `partitions` partitions, leaders spread over the
    /// running brokers.
    ///
    /// # Errors
    ///
    /// As [`ClusterHandle::create_topic`].
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), ClusterError> {
        self.cluster.create_topic(name, partitions)
    }

    /// Stops a broker: Metadata leaves it out, and its listener and every
    /// connection to it are closed before this returns.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`], or [`ClusterError::Io`] if the loop
    /// thread did not answer.
    pub fn stop_broker(&self, broker: i32) -> Result<(), ClusterError> {
        self.cluster.stop_broker(broker)?;
        let closed = self.on_loop(move |el, sockets| Ok(sockets.close_broker(el, broker)))?;
        tracing::info!(broker, connections = closed, "fault: broker sockets closed");
        Ok(())
    }

    /// Restarts a stopped broker on the same port, with its data intact
    /// (and its idempotent-producer state too, unless
    /// [`ClusterConfig::with_forget_producers_on_restart`] is on; see
    /// [`ClusterHandle::restart_broker`]).
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`], or [`ClusterError::Io`] when the
    /// port cannot be bound again (another process took it) or the loop
    /// thread did not answer.
    pub fn restart_broker(&self, broker: i32) -> Result<(), ClusterError> {
        let addr = self
            .broker_address(broker)
            .ok_or(ClusterError::UnknownBroker(broker))?;
        if self.cluster.is_broker_up(broker) == Some(true) {
            return Ok(());
        }
        let listener = TcpListener::bind(addr)
            .map_err(|e| io_error(&format!("binding {addr} again for broker {broker}"), e))?;
        let cluster = self.cluster.clone();
        self.on_loop(move |el, sockets| sockets.listen(el, cluster, broker, listener))?;
        self.cluster.restart_broker(broker)
    }

    /// Runs `command` on the loop thread and waits for its result.
    fn on_loop<T, F>(&self, command: F) -> Result<T, ClusterError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Loop, &mut Sockets) -> io::Result<T> + Send + 'static,
    {
        let (tx, rx) = bounded(1);
        self.loop_handle
            .add_callback(move |el, sockets| {
                let _ = tx.send(command(el, sockets));
            })
            .map_err(|e| {
                io_error(
                    "sending a command to the mock cluster's loop",
                    io::Error::other(e),
                )
            })?;
        match rx.recv_timeout(COMMAND_TIMEOUT) {
            Ok(result) => {
                result.map_err(|e| io_error("running a command on the mock cluster's loop", e))
            }
            Err(_) => Err(io_error(
                "waiting for the mock cluster's loop",
                io::ErrorKind::TimedOut.into(),
            )),
        }
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        self.loop_handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for MockCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockCluster")
            .field("brokers", &self.addresses)
            .finish_non_exhaustive()
    }
}

fn io_error(doing: &str, error: io::Error) -> ClusterError {
    ClusterError::Io(format!("{doing}: {error}"))
}

//! Which sockets each broker owns on the loop, so a stopped broker can close
//! its listener and every connection it accepted.
//!
//! [`Sockets`] is the mock loop's data (`EventLoop<Sockets>`): the accept
//! handlers and the commands the test thread sends through the loop's
//! `Handle` all get it as `&mut Sockets` on the loop thread, one at a time,
//! so it needs no lock.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use mio::net::TcpListener;
use rouse_reactor::{EventLoop, Interest, PostAction, Ready, SourceKey, Watch};

use super::connection::Connection;
use super::tls::Stream;
use crate::sasl::Session;
use crate::security::server::ListenerSecurity;
use crate::ClusterHandle;

/// The mock cluster's event loop.
pub(super) type Loop = EventLoop<Sockets>;

/// One broker's registrations.
#[derive(Default)]
struct BrokerSockets {
    listener: Option<SourceKey>,
    connections: Vec<SourceKey>,
}

/// Every broker's registrations.
pub(super) struct Sockets {
    brokers: HashMap<i32, BrokerSockets>,
    /// Partial-frame bytes buffered by every connection together (read by
    /// the test thread too, through `MockCluster::buffered_bytes`).
    buffered: Arc<AtomicUsize>,
    /// TLS and SASL, the same for every listener.
    security: ListenerSecurity,
    /// Connections whose head is a parked Fetch: woken after a Produce.
    fetch_waiters: Vec<SourceKey>,
}

impl Sockets {
    /// No sockets yet; connections will count their partial frames in
    /// `buffered`.
    pub(super) fn new(buffered: Arc<AtomicUsize>, security: ListenerSecurity) -> Sockets {
        Sockets {
            brokers: HashMap::new(),
            buffered,
            security,
            fetch_waiters: Vec::new(),
        }
    }

    /// Serves `listener` as broker `broker`.
    pub(super) fn listen(
        &mut self,
        el: &mut Loop,
        cluster: ClusterHandle,
        broker: i32,
        listener: TcpListener,
    ) -> io::Result<()> {
        let watch = Watch::read().named(format!("mock broker {broker} accept"));
        let key = el
            .register(
                listener,
                watch,
                move |el, sockets: &mut Sockets, listener: &mut TcpListener, _: Ready| {
                    sockets.accept_all(el, &cluster, broker, listener)
                },
            )
            .map_err(io::Error::other)?;
        self.brokers.entry(broker).or_default().listener = Some(key);
        Ok(())
    }

    fn accept_all(
        &mut self,
        el: &mut Loop,
        cluster: &ClusterHandle,
        broker: i32,
        listener: &mut TcpListener,
    ) -> io::Result<PostAction> {
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(PostAction::Wait),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EMFILE and the like: keep listening, the client retries.
                Err(e) => {
                    tracing::warn!(broker, error = %e, "accept failed");
                    return Ok(PostAction::Wait);
                }
            };
            stream.set_nodelay(true)?;
            let stream = match Stream::new(stream, self.security.tls.as_ref()) {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(broker, %peer, error = %e, "TLS session not created");
                    continue;
                }
            };
            let session = self.security.sasl.clone().map(Session::new);
            let buffered = Arc::clone(&self.buffered);
            let connection =
                Connection::new(stream, session, cluster.clone(), broker, peer, buffered);
            let watch = Watch::read().named(format!("mock broker {broker} client {peer}"));
            let key = el
                .register(connection, watch, Connection::on_ready)
                .map_err(io::Error::other)?;
            tracing::debug!(broker, %peer, "connection accepted");
            let owned = self.brokers.entry(broker).or_default();
            // Forget connections the loop has closed since, then add this one.
            owned.connections.retain(|k| el.contains(*k));
            owned.connections.push(key);
        }
    }

    /// Lists `key` as holding a parked Fetch, to be woken by the next
    /// Produce. Closed connections are forgotten as the list grows.
    pub(super) fn wait_for_records(&mut self, el: &Loop, key: SourceKey) {
        if self.fetch_waiters.contains(&key) {
            return;
        }
        if self.fetch_waiters.len() >= 64 {
            self.fetch_waiters.retain(|k| el.contains(*k));
        }
        self.fetch_waiters.push(key);
    }

    /// Turns WRITE on for every connection listed as holding a parked
    /// Fetch, so each asks the cluster again in this loop turn; one whose
    /// fetch still waits lists itself again. A key the loop has closed
    /// meanwhile is refused harmlessly.
    pub(super) fn wake_fetch_waiters(&mut self, el: &mut Loop) {
        for key in self.fetch_waiters.drain(..) {
            let _ = el.set_interest(key, Interest::READ_WRITE);
        }
    }

    /// Closes a broker's listener and every connection it accepted.
    pub(super) fn close_broker(&mut self, el: &mut Loop, broker: i32) -> usize {
        let owned = self.brokers.remove(&broker).unwrap_or_default();
        let closed = owned
            .connections
            .into_iter()
            .filter(|key| el.remove(*key))
            .count();
        if let Some(listener) = owned.listener {
            el.remove(listener);
        }
        closed
    }
}

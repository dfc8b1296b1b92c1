//! Which sockets each broker owns on the loop, so a stopped broker can close
//! its listener and every connection it accepted.
//!
//! Shared between the accept handlers (loop thread) and the commands the
//! test thread sends through the loop's `Handle`, hence a mutex; only the
//! loop thread ever touches it, one command at a time, so it is never
//! contended.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use mio::net::{TcpListener, TcpStream};
use parking_lot::Mutex;
use rouse_reactor::{EventLoop, Ready, SourceKey, Watch};

use super::connection::Connection;
use crate::ClusterHandle;

/// One broker's registrations.
#[derive(Default)]
struct BrokerSockets {
    listener: Option<SourceKey>,
    connections: Vec<SourceKey>,
}

/// Every broker's registrations.
#[derive(Default, Clone)]
pub(super) struct Sockets {
    brokers: Arc<Mutex<HashMap<i32, BrokerSockets>>>,
    /// Partial-frame bytes buffered by every connection together.
    pub(super) buffered: Arc<AtomicUsize>,
}

impl Sockets {
    /// Serves `listener` as broker `broker` (on the loop thread).
    pub(super) fn listen(
        &self,
        el: &mut EventLoop,
        cluster: ClusterHandle,
        broker: i32,
        listener: TcpListener,
    ) -> io::Result<()> {
        let sockets = self.clone();
        let watch = Watch::read().named(format!("mock broker {broker} accept"));
        let key = el
            .register(
                listener,
                watch,
                move |el, listener: &mut TcpListener, _: Ready| {
                    sockets.accept_all(el, &cluster, broker, listener)
                },
            )
            .map_err(io::Error::other)?;
        self.brokers.lock().entry(broker).or_default().listener = Some(key);
        Ok(())
    }

    fn accept_all(
        &self,
        el: &mut EventLoop,
        cluster: &ClusterHandle,
        broker: i32,
        listener: &mut TcpListener,
    ) -> io::Result<()> {
        loop {
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EMFILE and the like: keep listening, the client retries.
                Err(e) => {
                    tracing::warn!(broker, error = %e, "accept failed");
                    return Ok(());
                }
            };
            stream.set_nodelay(true)?;
            let mut connection =
                Connection::new(cluster.clone(), broker, peer, Arc::clone(&self.buffered));
            let watch = Watch::read().named(format!("mock broker {broker} client {peer}"));
            let key = el
                .register(stream, watch, move |el, stream: &mut TcpStream, ready| {
                    connection.on_ready(el, stream, ready)
                })
                .map_err(io::Error::other)?;
            tracing::debug!(broker, %peer, "connection accepted");
            let mut brokers = self.brokers.lock();
            let owned = brokers.entry(broker).or_default();
            // Forget connections the loop has closed since, then add this one.
            owned.connections.retain(|k| el.contains(*k));
            owned.connections.push(key);
        }
    }

    /// Closes a broker's listener and every connection it accepted.
    pub(super) fn close_broker(&self, el: &mut EventLoop, broker: i32) -> usize {
        let owned = self.brokers.lock().remove(&broker).unwrap_or_default();
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

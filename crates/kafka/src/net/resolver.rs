//! Host names resolved off the poller thread.
//!
//! `getaddrinfo` blocks, for as long as the system's resolver likes (a dead
//! DNS server: many seconds). Run on the poller it would freeze every
//! connection, so each name is looked up on a short-lived thread
//! (`rouse-kafka-resolver`) that hands the answer back over a channel and
//! wakes the poller. Addresses written as IP literals need no lookup and
//! never start a thread. At most one lookup per name runs at a time; a
//! lookup that hangs holds up only connections to that name.
//!
//! ```text
//!   poller: address("broker-1:9092") ─► cached? ─► Ready(addr) / Failed(why)
//!                                        └─ no ──► spawn lookup ─► Pending
//!   lookup thread: to_socket_addrs ─► channel ─► wake the poller
//!   poller (each pump): take_answers() fills the cache
//! ```

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use rouse_reactor::Handle;

/// What is known of a `host:port` now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// Connect here.
    Ready(SocketAddr),
    /// The name does not resolve: the message says why.
    Failed(String),
    /// A lookup is under way; the poller is woken when it ends.
    Pending,
}

type Answer = (String, Result<SocketAddr, String>);

/// A blocking name lookup: the system's, or a test's.
type Lookup = Arc<dyn Fn(&str) -> Result<SocketAddr, String> + Send + Sync>;

/// Wakes the loop that asked (its `Handle::wake`, whatever the loop's data).
type Wake = Arc<dyn Fn() + Send + Sync>;

/// The poller's resolver and its cache.
pub(crate) struct Resolver {
    wake: Wake,
    lookup: Lookup,
    answers_tx: Sender<Answer>,
    answers: Receiver<Answer>,
    cache: HashMap<String, Result<SocketAddr, String>>,
    pending: HashSet<String>,
}

impl Resolver {
    /// A resolver that wakes the loop of `wake` when an answer arrives.
    pub(crate) fn new<D: 'static>(wake: Handle<D>) -> Resolver {
        Resolver::with_lookup(wake, Arc::new(resolve))
    }

    fn with_lookup<D: 'static>(wake: Handle<D>, lookup: Lookup) -> Resolver {
        let (answers_tx, answers) = crossbeam_channel::unbounded();
        Resolver {
            wake: Arc::new(move || wake.wake()),
            lookup,
            answers_tx,
            answers,
            cache: HashMap::new(),
            pending: HashSet::new(),
        }
    }

    /// The address of `server` (`host:port`), starting a lookup if needed.
    pub(crate) fn address(&mut self, server: &str) -> Address {
        if let Ok(addr) = server.parse::<SocketAddr>() {
            return Address::Ready(addr);
        }
        match self.cache.get(server) {
            Some(Ok(addr)) => Address::Ready(*addr),
            Some(Err(why)) => {
                // Known bad, but names get fixed: look again meanwhile.
                let why = why.clone();
                self.look_up(server);
                Address::Failed(why)
            }
            None => {
                self.look_up(server);
                Address::Pending
            }
        }
    }

    /// Forgets `server`'s address (its connection failed: it may have moved).
    pub(crate) fn forget(&mut self, server: &str) {
        self.cache.remove(server);
    }

    /// Takes in the answers of finished lookups.
    pub(crate) fn take_answers(&mut self) {
        while let Ok((server, answer)) = self.answers.try_recv() {
            self.pending.remove(&server);
            if let Err(why) = &answer {
                tracing::warn!(server, why, "broker address does not resolve");
            }
            self.cache.insert(server, answer);
        }
    }

    fn look_up(&mut self, server: &str) {
        if !self.pending.insert(server.to_owned()) {
            return;
        }
        let (tx, wake, name) = (
            self.answers_tx.clone(),
            Arc::clone(&self.wake),
            server.to_owned(),
        );
        let lookup = Arc::clone(&self.lookup);
        let spawned = std::thread::Builder::new()
            .name("rouse-kafka-resolver".into())
            .spawn(move || {
                let answer = lookup(&name);
                // The producer may be gone; then nobody needs the answer.
                if tx.send((name, answer)).is_ok() {
                    wake();
                }
            });
        if let Err(error) = spawned {
            self.pending.remove(server);
            self.cache.insert(
                server.to_owned(),
                Err(format!("could not start a thread to resolve it: {error}")),
            );
        }
    }
}

/// One blocking lookup: the first address, or why there is none.
fn resolve(server: &str) -> Result<SocketAddr, String> {
    match server.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| "the name resolves to no address".to_owned()),
        Err(error) => Err(format!("the name does not resolve: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rouse_reactor::EventLoop;
    use std::time::{Duration, Instant};

    #[test]
    fn literals_are_ready_names_are_looked_up_off_thread() {
        let el: EventLoop = EventLoop::new().unwrap();
        let mut resolver = Resolver::new(el.handle());
        assert_eq!(
            resolver.address("127.0.0.1:9092"),
            Address::Ready("127.0.0.1:9092".parse().unwrap())
        );
        assert_eq!(resolver.address("localhost:9092"), Address::Pending);
        assert_eq!(
            resolver.address("localhost:9092"),
            Address::Pending,
            "one lookup"
        );
        let found = settled(&mut resolver, "localhost:9092");
        assert!(
            matches!(found, Address::Ready(a) if a.ip().is_loopback() && a.port() == 9092),
            "{found:?}"
        );
    }

    /// Asks until `server` is no longer pending (bounded).
    fn settled(resolver: &mut Resolver, server: &str) -> Address {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            resolver.take_answers();
            match resolver.address(server) {
                Address::Pending if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                other => return other,
            }
        }
    }

    #[test]
    fn a_hanging_lookup_holds_up_only_its_own_name() {
        let el: EventLoop = EventLoop::new().unwrap();
        let (release, hold) = crossbeam_channel::bounded::<()>(0);
        let lookup: Lookup = Arc::new(move |server: &str| {
            if server == "hangs:1" {
                let _ = hold.recv(); // a resolver that does not answer
            }
            Ok("127.0.0.1:1".parse().unwrap())
        });
        let mut resolver = Resolver::with_lookup(el.handle(), lookup);
        assert_eq!(resolver.address("hangs:1"), Address::Pending);
        let started = Instant::now();
        let quick = settled(&mut resolver, "quick:2");
        assert!(matches!(quick, Address::Ready(_)), "{quick:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            resolver.address("hangs:1"),
            Address::Pending,
            "still waiting"
        );
        release.send(()).unwrap();
        assert!(matches!(
            settled(&mut resolver, "hangs:1"),
            Address::Ready(_)
        ));
    }

    #[test]
    fn a_name_that_does_not_resolve_says_so() {
        // RFC 6761: .invalid never resolves.
        let answer = resolve("no-such-broker.invalid:9092");
        let why = answer.unwrap_err();
        assert!(why.starts_with("the name does not resolve"), "{why}");
    }
}

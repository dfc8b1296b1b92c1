//! The proxy's control thread: accepts on every route's listener, fires the
//! timeline's faults on time, runs refusal spells and serves the commands a
//! test sends (through a channel and a `mio` waker).
//!
//! It blocks in `mio::Poll::poll` until a listener is readable, a command
//! arrives or the next deadline (fault, end of refusal, port rebind) is
//! due: no busy loop.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use parking_lot::Mutex;

use super::conn::{Conn, ConnCtl};
use super::plan::{FaultKind, FaultPlan, PlannedFault, Refusal, Timeline};
use super::rng::after;
use super::stats::{Counters, FaultEvent, FaultEventKind};

/// The waker's token; listeners use their route index.
pub(crate) const WAKE: Token = Token(usize::MAX);

/// How soon a failed rebind or accept is tried again.
const RETRY: Duration = Duration::from_millis(50);

/// State shared by the control thread, the connection threads and the
/// [`FaultProxy`](super::FaultProxy).
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    conns: Mutex<HashMap<u64, Arc<ConnCtl>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    events: Mutex<Vec<FaultEvent>>,
    pub(crate) refusing: AtomicBool,
    pub(crate) shutdown: AtomicBool,
}

impl Shared {
    /// Closes every live connection; counted as cuts and logged when
    /// `log` (a fault) is given, silent when the proxy is shutting down.
    pub(crate) fn cut_all(&self, started: Instant, log: Option<Option<Duration>>) -> usize {
        let conns: Vec<Arc<ConnCtl>> = self.conns.lock().values().cloned().collect();
        // Hold the log while closing, so whoever sees a connection close
        // and then reads the log finds this cut in it.
        let mut events = self.events.lock();
        let cut = conns.iter().filter(|c| c.close()).count();
        if let Some(planned) = log {
            Counters::add(&self.counters.cut, cut as u64);
            events.push(FaultEvent {
                at: started.elapsed(),
                planned,
                kind: FaultEventKind::Cut,
                connections: cut,
            });
            tracing::info!(connections = cut, ?planned, "fault proxy: connections cut");
        }
        cut
    }

    pub(crate) fn log(
        &self,
        started: Instant,
        planned: Option<Duration>,
        kind: FaultEventKind,
        connections: usize,
    ) {
        self.events.lock().push(FaultEvent {
            at: started.elapsed(),
            planned,
            kind,
            connections,
        });
    }

    pub(crate) fn events(&self) -> Vec<FaultEvent> {
        self.events.lock().clone()
    }

    pub(crate) fn live_connections(&self) -> usize {
        self.conns.lock().len()
    }

    /// Called by a connection thread as it ends.
    pub(crate) fn forget(&self, index: u64) {
        self.conns.lock().remove(&index);
    }

    /// Every connection thread's handle, to join on shutdown.
    pub(crate) fn take_threads(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.threads.lock())
    }
}

/// A command from the test thread; `done` is signalled once it took effect.
pub(crate) enum Command {
    Fault {
        kind: FaultKind,
        done: Sender<usize>,
    },
}

/// One route's listening side.
struct Listen {
    addr: SocketAddr,
    upstream: SocketAddr,
    listener: Option<TcpListener>,
}

/// The control thread's state.
pub(crate) struct Control {
    poll: Poll,
    routes: Vec<Listen>,
    shared: Arc<Shared>,
    plan: Arc<FaultPlan>,
    started: Instant,
    timeline: Timeline,
    next_fault: Option<PlannedFault>,
    refusing_until: Option<Instant>,
    retry_at: Option<Instant>,
    commands: Receiver<Command>,
    accepted: u64,
}

impl Control {
    /// Registers the bound `listeners` (route `i` is token `i`).
    pub(crate) fn new(
        poll: Poll,
        listeners: Vec<(TcpListener, SocketAddr)>,
        shared: Arc<Shared>,
        plan: Arc<FaultPlan>,
        started: Instant,
        commands: Receiver<Command>,
    ) -> io::Result<Control> {
        let mut routes = Vec::with_capacity(listeners.len());
        for (index, (listener, upstream)) in listeners.into_iter().enumerate() {
            listener.set_nonblocking(true)?;
            poll.registry().register(
                &mut SourceFd(&listener.as_raw_fd()),
                Token(index),
                Interest::READABLE,
            )?;
            routes.push(Listen {
                addr: listener.local_addr()?,
                upstream,
                listener: Some(listener),
            });
        }
        let mut timeline = plan.faults();
        let next_fault = timeline.next();
        Ok(Control {
            poll,
            routes,
            shared,
            plan,
            started,
            timeline,
            next_fault,
            refusing_until: None,
            retry_at: None,
            commands,
            accepted: 0,
        })
    }

    /// Runs until the proxy's drop sets `shutdown` and wakes it.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        loop {
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(error) = self.poll.poll(&mut events, timeout) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!(%error, "fault proxy: poll failed, stopping");
                return;
            }
            if self.shared.shutdown.load(Ordering::Acquire) {
                return;
            }
            while let Ok(command) = self.commands.try_recv() {
                match command {
                    Command::Fault { kind, done } => {
                        let cut = self.fire(kind, None);
                        let _ = done.send(cut);
                    }
                }
            }
            self.fire_due_faults();
            if self.refusing_until.is_some_and(|t| t <= Instant::now()) {
                self.end_refusal();
            }
            if self.retry_at.is_some_and(|t| t <= Instant::now()) {
                self.retry_at = None;
                if self.refusing_until.is_none() {
                    self.end_refusal();
                }
                for index in 0..self.routes.len() {
                    self.accept_all(index);
                }
            }
            for event in &events {
                if event.token() != WAKE {
                    self.accept_all(event.token().0);
                }
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.next_fault.map(|f| after(self.started, f.at)),
            self.refusing_until,
            self.retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn fire_due_faults(&mut self) {
        while let Some(fault) = self.next_fault {
            if after(self.started, fault.at) > Instant::now() {
                return;
            }
            self.fire(fault.kind, Some(fault.at));
            self.next_fault = self.timeline.next();
        }
    }

    /// Fires one fault; returns the connections it cut.
    fn fire(&mut self, kind: FaultKind, planned: Option<Duration>) -> usize {
        match kind {
            FaultKind::Cut => self.shared.cut_all(self.started, Some(planned)),
            FaultKind::Refuse(duration) => {
                self.start_refusal(duration, planned);
                0
            }
            FaultKind::Outage(duration) => {
                let cut = self.shared.cut_all(self.started, Some(planned));
                self.start_refusal(duration, planned);
                cut
            }
        }
    }

    fn start_refusal(&mut self, duration: Duration, planned: Option<Duration>) {
        let until = after(Instant::now(), duration);
        self.refusing_until = Some(self.refusing_until.map_or(until, |t| t.max(until)));
        if self.plan.refusal() == Refusal::ClosePort {
            for route in &mut self.routes {
                if let Some(listener) = route.listener.take() {
                    let _ = self
                        .poll
                        .registry()
                        .deregister(&mut SourceFd(&listener.as_raw_fd()));
                }
            }
        }
        self.shared.log(
            self.started,
            planned,
            FaultEventKind::RefusalStarted(duration),
            0,
        );
        // Last: whoever sees the flag finds the refusal in place and logged.
        self.shared.refusing.store(true, Ordering::Release);
        tracing::info!(?duration, ?planned, refusal = ?self.plan.refusal(), "fault proxy: refusing new connections");
    }

    /// Listens on every route again (retrying later for a port someone
    /// else holds), then logs the end of the spell.
    fn end_refusal(&mut self) {
        let was_refusing = self.refusing_until.take().is_some();
        for index in 0..self.routes.len() {
            if self.routes[index].listener.is_some() {
                continue;
            }
            if let Err(error) = self.rebind(index) {
                tracing::warn!(
                    listen = %self.routes[index].addr,
                    %error,
                    "fault proxy: cannot listen again yet, retrying in 50 ms"
                );
                self.retry_at = Some(Instant::now() + RETRY);
            }
        }
        if self.retry_at.is_some() {
            return; // still refusing, in effect, until every port is back
        }
        if was_refusing || self.shared.refusing.load(Ordering::Acquire) {
            self.shared
                .log(self.started, None, FaultEventKind::RefusalEnded, 0);
            self.shared.refusing.store(false, Ordering::Release);
            tracing::info!("fault proxy: accepting new connections again");
        }
    }

    fn rebind(&mut self, index: usize) -> io::Result<()> {
        let route = &mut self.routes[index];
        let listener = TcpListener::bind(route.addr)?;
        listener.set_nonblocking(true)?;
        self.poll.registry().register(
            &mut SourceFd(&listener.as_raw_fd()),
            Token(index),
            Interest::READABLE,
        )?;
        route.listener = Some(listener);
        // Connections may already wait in the new backlog.
        self.accept_all(index);
        Ok(())
    }

    fn accept_all(&mut self, index: usize) {
        loop {
            let Some(listener) = self.routes.get(index).and_then(|r| r.listener.as_ref()) else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    // EMFILE and the like: try again shortly (the listener
                    // is edge-triggered, so no new event may come).
                    tracing::warn!(%error, "fault proxy: accept failed");
                    self.retry_at = Some(Instant::now() + RETRY);
                    return;
                }
            };
            if self.refusing_until.is_some() {
                Counters::add(&self.shared.counters.refused, 1);
                tracing::debug!(%peer, "fault proxy: refused (accepted and closed)");
                drop(stream);
                continue;
            }
            if let Err(error) = self.spawn(index, stream, peer) {
                tracing::warn!(%peer, %error, "fault proxy: cannot serve a connection, closed it");
            }
        }
    }

    fn spawn(&mut self, route: usize, client: TcpStream, peer: SocketAddr) -> io::Result<()> {
        client.set_nonblocking(false)?;
        client.set_nodelay(true)?;
        let index = self.accepted;
        self.accepted += 1;
        let (ctl, closed) = ConnCtl::new(client.try_clone()?);
        self.shared.conns.lock().insert(index, Arc::clone(&ctl));
        Counters::add(&self.shared.counters.accepted, 1);
        let conn = Conn {
            index,
            client,
            peer,
            upstream: self.routes[route].upstream,
            ctl: Arc::clone(&ctl),
            closed,
            shared: Arc::clone(&self.shared),
            plan: Arc::clone(&self.plan),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("fault-proxy {index}"))
            .spawn(move || conn.serve());
        match spawned {
            Ok(thread) => {
                let mut threads = self.shared.threads.lock();
                threads.retain(|t| !t.is_finished());
                threads.push(thread);
                Ok(())
            }
            Err(error) => {
                ctl.close();
                self.shared.forget(index);
                Err(error)
            }
        }
    }
}

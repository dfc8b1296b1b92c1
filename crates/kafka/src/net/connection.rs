//! One broker connection: a non-blocking socket, what is waiting to be
//! written, and the requests in flight in the order the broker will answer.
//!
//! ```text
//!   Connecting ─► TlsHandshake ─► Negotiating ─► SaslHandshake ─► SaslAuthenticate ─► Ready
//!                 (SSL only)      (ApiVersions)  (SASL only)      (1+ round trips)      │
//!        │             │              │               ▲                  │          Expiring
//!        │             │              │               └── nothing in flight ────────────┘
//!        └─ error, hang-up, a step over request.timeout.ms ──────────────┴───────────┴──► closed
//! ```
//!
//! Each step is bounded by `request.timeout.ms` from the moment it began
//! (`phase_since`). `Expiring` is a Ready connection whose SASL session is
//! about to end (KIP-368): it takes no new requests, and once its last
//! answer is in it goes through SaslHandshake and SaslAuthenticate again on
//! the same socket (in-band re-authentication), then is Ready again.
//!
//! What a request in flight carries for the client is `P` (the producer's
//! batches, say); the setup steps' requests are the layer's own
//! ([`Awaiting`]).
//!
//! The client's loop owns the socket; the reactor watches its fd. Output that does
//! not fit the socket waits in `out` and WRITE interest is kept on until it
//! drains (the caller syncs interest through [`Connection::wants_write`]).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::target::Target;
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use super::transport::Transport;
use super::versions::VersionTable;
use super::wire::{self, WireError};
use crate::security::sasl::Authenticator;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `connect` is under way.
    Connecting,
    /// Connected; the TLS handshake is under way.
    TlsHandshake,
    /// Connected; ApiVersions sent, versions not known yet.
    Negotiating,
    /// SaslHandshake sent: does the broker take the mechanism?
    SaslHandshake,
    /// SaslAuthenticate exchanges under way.
    SaslAuthenticate,
    /// Versions known (and authenticated): the client's requests may go.
    Ready,
    /// Ready, but its SASL session ends soon: no new requests; it
    /// re-authenticates once nothing is in flight.
    Expiring,
}

impl Phase {
    /// Still being set up: not yet usable, and bounded by
    /// `request.timeout.ms` per step.
    pub(crate) fn in_setup(self) -> bool {
        !matches!(self, Phase::Ready | Phase::Expiring)
    }

    /// What the connection was doing, for a timeout's message.
    pub(crate) fn step(self) -> &'static str {
        match self {
            Phase::Connecting => "connect",
            Phase::TlsHandshake => "the TLS handshake",
            Phase::Negotiating => "ApiVersions",
            Phase::SaslHandshake => "SaslHandshake",
            Phase::SaslAuthenticate => "SASL authentication",
            Phase::Ready | Phase::Expiring => "a response",
        }
    }
}

/// Whether the broker still has its side of the connection open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Open: more may come.
    Open,
    /// The broker closed the connection (end of stream).
    Closed,
}

/// What a request in flight was for: the layer's own setup steps, or
/// the client's request, carrying what the client needs back (`P`: the
/// producer's batches, the consumer's fetch).
#[derive(Debug)]
pub(crate) enum Awaiting<P> {
    ApiVersions,
    SaslHandshake,
    SaslAuthenticate,
    Client(P),
}

/// A request awaiting its response.
#[derive(Debug)]
pub(crate) struct InFlight<P> {
    pub(crate) correlation_id: i32,
    pub(crate) api: ApiKey,
    pub(crate) version: i16,
    pub(crate) sent: Instant,
    /// Past this the connection is closed: `sent` + request.timeout.ms,
    /// or the client's own bound for this request (JoinGroup's).
    pub(crate) deadline: Instant,
    pub(crate) purpose: Awaiting<P>,
}

/// When an authenticated session must be replaced (KIP-368).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionEnd {
    /// Stop sending new requests from here on.
    pub(crate) renew_at: Instant,
    /// The broker's limit: close at the latest then.
    pub(crate) expires_at: Instant,
}

/// A connection to one broker (or to a bootstrap address, id unknown).
#[derive(Debug)]
pub(crate) struct Connection<P> {
    pub(crate) target: Target,
    pub(crate) addr: SocketAddr,
    pub(crate) stream: Transport,
    pub(crate) phase: Phase,
    /// When the current phase began: each is bounded by request.timeout.ms.
    pub(crate) phase_since: Instant,
    /// Empty until ApiVersions is answered.
    pub(crate) versions: VersionTable,
    /// The SASL exchange under way, if any.
    pub(crate) sasl: Option<Authenticator>,
    /// KIP-368: when to stop sending on this connection and re-authenticate,
    /// and when the broker will cut it.
    pub(crate) session: Option<SessionEnd>,
    /// SASL logins completed on this connection (more than one: it
    /// re-authenticated).
    pub(crate) logins: u32,
    pub(crate) in_flight: VecDeque<InFlight<P>>,
    /// The last request sent or answer read (`connections.max.idle.ms`
    /// counts from here).
    pub(crate) last_used: Instant,
    out: VecDeque<Bytes>,
    inbox: BytesMut,
    next_correlation: i32,
}

impl<P> Connection<P> {
    /// Starts a non-blocking connect; with `tls`, a TLS session to that
    /// server name follows it.
    pub(crate) fn open(
        target: Target,
        addr: SocketAddr,
        now: Instant,
        tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    ) -> io::Result<Connection<P>> {
        let tcp = mio::net::TcpStream::connect(addr)?;
        let stream = match tls {
            Some((config, name)) => Transport::tls(tcp, config, name)?,
            None => Transport::Plain(tcp),
        };
        Ok(Connection {
            target,
            addr,
            stream,
            phase: Phase::Connecting,
            phase_since: now,
            versions: VersionTable::default(),
            sasl: None,
            session: None,
            logins: 0,
            in_flight: VecDeque::new(),
            last_used: now,
            out: VecDeque::new(),
            inbox: BytesMut::with_capacity(16 * 1024),
            next_correlation: 0,
        })
    }

    /// Moves to `phase`, whose time starts now.
    pub(crate) fn enter(&mut self, phase: Phase, now: Instant) {
        self.phase = phase;
        self.phase_since = now;
    }

    /// After a writable event while connecting: `Ok(true)` once connected.
    pub(crate) fn finish_connect(&mut self) -> io::Result<bool> {
        let tcp = self.stream.tcp();
        if let Some(error) = tcp.take_error()? {
            return Err(error);
        }
        match tcp.peer_addr() {
            Ok(_) => {
                tcp.set_nodelay(true)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The next correlation id.
    pub(crate) fn next_id(&mut self) -> i32 {
        self.next_correlation = self.next_correlation.wrapping_add(1);
        self.next_correlation
    }

    /// Queues a request frame and writes what the socket takes. A request
    /// that expects a response is recorded in flight *before* the write, so
    /// that if the write fails it is retried or failed with the connection's
    /// other requests when the connection is closed; one that expects none
    /// (`acks=0` Produce) is handed back, beside the write's result.
    pub(crate) fn send(
        &mut self,
        frame: Bytes,
        request: InFlight<P>,
        expect_response: bool,
    ) -> (Option<InFlight<P>>, io::Result<()>) {
        self.out.push_back(frame);
        self.last_used = request.sent;
        let unanswered = if expect_response {
            let mut request = request;
            // The broker answers one connection's requests in order, so a
            // request behind a held JoinGroup cannot be answered before it:
            // it gets the later deadline. Deadlines stay in order, and the
            // front request's is the connection's.
            if let Some(ahead) = self.in_flight.back() {
                request.deadline = request.deadline.max(ahead.deadline);
            }
            self.in_flight.push_back(request);
            None
        } else {
            Some(request)
        };
        (unanswered, self.flush())
    }

    /// Writes queued output until done or the socket is full.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        while let Some(front) = self.out.front_mut() {
            match self.stream.write(front) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) if n == front.len() => {
                    self.out.pop_front();
                }
                Ok(n) => front.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.stream.flush_tls()
    }

    /// Whether output waits for room in the socket (or the connect for
    /// completion): the fd should be watched for WRITE.
    pub(crate) fn wants_write(&self) -> bool {
        self.phase == Phase::Connecting || !self.out.is_empty() || self.stream.wants_write()
    }

    /// Reads what the socket has, and says whether the peer closed its side
    /// (what was read before the close is kept for `next_response`).
    pub(crate) fn read_available(&mut self) -> io::Result<Peer> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Peer::Closed),
                Ok(n) => self.inbox.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Peer::Open),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the broker has sent nothing (not even part of a frame).
    pub(crate) fn nothing_received(&self) -> bool {
        self.inbox.is_empty()
    }

    /// Whether what the broker sent starts like a TLS record (an alert or
    /// a handshake) rather than a Kafka frame, whose length would be that
    /// far over 256 MiB.
    pub(crate) fn answered_in_tls(&self) -> bool {
        matches!(self.inbox.get(..2), Some([0x15 | 0x16, 0x03]))
    }

    /// The next whole response and the request it answers.
    pub(crate) fn next_response(&mut self) -> Result<Option<(InFlight<P>, Bytes)>, WireError> {
        let Some(payload) = wire::take_frame(&mut self.inbox)? else {
            return Ok(None);
        };
        let got = wire::correlation_id(&payload).unwrap_or(-1);
        match self.in_flight.pop_front() {
            Some(request) if request.correlation_id == got => Ok(Some((request, payload))),
            Some(request) => {
                let want = request.correlation_id;
                self.in_flight.push_front(request);
                Err(WireError::OutOfOrder { got, want })
            }
            None => Err(WireError::OutOfOrder { got, want: -1 }),
        }
    }

    /// The client's requests in flight that `counts` picks (the producer
    /// counts its Produce requests against its in-flight limit).
    pub(crate) fn in_flight_where(&self, counts: impl Fn(&P) -> bool) -> usize {
        self.in_flight
            .iter()
            .filter(|r| matches!(&r.purpose, Awaiting::Client(p) if counts(p)))
            .count()
    }

    /// The oldest request's deadline (the earliest, see `send`), with its
    /// API and its bound (from `sent` to `deadline`) for the error.
    pub(crate) fn next_deadline(&self) -> Option<(ApiKey, Duration, Instant)> {
        self.in_flight.front().map(|r| {
            (
                r.api,
                r.deadline.saturating_duration_since(r.sent),
                r.deadline,
            )
        })
    }

    /// Since when the connection has been idle: Ready, nothing in flight
    /// and nothing left to write; `None` while it is not.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        let idle = self.phase == Phase::Ready && self.in_flight.is_empty() && !self.wants_write();
        idle.then_some(self.last_used)
    }

    /// Everything in flight, for the caller to retry or fail on close.
    pub(crate) fn take_in_flight(&mut self) -> Vec<InFlight<P>> {
        self.in_flight.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(correlation_id: i32) -> InFlight<()> {
        InFlight {
            correlation_id,
            api: ApiKey::Metadata,
            version: 0,
            sent: Instant::now(),
            deadline: Instant::now() + Duration::from_secs(30),
            purpose: Awaiting::Client(()),
        }
    }

    #[test]
    fn a_request_whose_write_fails_stays_in_flight_for_the_close_to_settle() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let mut conn: Connection<()> =
            Connection::open(Target::Bootstrap, addr, Instant::now(), None).expect("connect");
        let (peer, _) = listener.accept().expect("accept");
        for _ in 0..200 {
            if conn.finish_connect().expect("connects") {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(peer); // the broker hangs up: writes fail soon after
        let mut sent = 0;
        let failed = (0..200).find_map(|i| {
            let (unanswered, written) = conn.send(Bytes::from_static(b"frame"), request(i), true);
            assert!(
                unanswered.is_none(),
                "a request expecting an answer is kept"
            );
            sent += 1;
            std::thread::sleep(Duration::from_millis(5));
            written.err()
        });
        assert!(
            failed.is_some(),
            "writing to a closed peer fails within 1 s"
        );
        assert_eq!(
            conn.take_in_flight().len(),
            sent,
            "the request whose write failed is in flight too"
        );
        let (unanswered, written) = conn.send(Bytes::from_static(b"frame"), request(-1), false);
        assert!(written.is_err());
        assert!(
            unanswered.is_some(),
            "an acks=0 request is handed back, not dropped"
        );
    }
}

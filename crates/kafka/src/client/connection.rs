//! One broker connection: a non-blocking socket, what is waiting to be
//! written, and the requests in flight in the order the broker will answer.
//!
//! ```text
//!   Connecting ──writable, no error──► Negotiating (ApiVersions) ──► Ready
//!        │                                   │                        │
//!        └──────── error, hang-up, timeout ──┴────────────────────────┴──► closed
//! ```
//!
//! The poller owns the socket; the reactor watches its fd. Output that does
//! not fit the socket waits in `out` and WRITE interest is kept on until it
//! drains (the caller syncs interest through [`Connection::wants_write`]).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use crate::BrokerId;
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;

use super::wire::{self, WireError};
use crate::accumulator::ProducerBatch;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `connect` is under way.
    Connecting,
    /// Connected; ApiVersions sent, versions not known yet.
    Negotiating,
    /// Versions known: Produce and Metadata may go.
    Ready,
}

/// Versions agreed with this broker (the highest both sides support).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Versions {
    pub(crate) produce: i16,
    pub(crate) metadata: i16,
    /// `None` when the broker does not serve InitProducerId.
    pub(crate) init_producer_id: Option<i16>,
}

/// Whether the broker still has its side of the connection open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Open: more may come.
    Open,
    /// The broker closed the connection (end of stream).
    Closed,
}

/// What a request in flight was for.
#[derive(Debug)]
pub(crate) enum Purpose {
    ApiVersions,
    Metadata,
    InitProducerId,
    Produce(Vec<ProducerBatch>),
}

impl Purpose {
    /// The batches a Produce request carries (none for other requests).
    pub(crate) fn into_batches(self) -> Vec<ProducerBatch> {
        match self {
            Purpose::Produce(batches) => batches,
            _ => Vec::new(),
        }
    }
}

/// A request awaiting its response.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub(crate) correlation_id: i32,
    pub(crate) api: ApiKey,
    pub(crate) version: i16,
    pub(crate) sent: Instant,
    pub(crate) purpose: Purpose,
}

/// A connection to one broker (or to a bootstrap address, id unknown).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) broker: Option<BrokerId>,
    pub(crate) addr: SocketAddr,
    pub(crate) stream: mio::net::TcpStream,
    pub(crate) phase: Phase,
    pub(crate) opened: Instant,
    pub(crate) versions: Versions,
    pub(crate) in_flight: VecDeque<InFlight>,
    out: VecDeque<Bytes>,
    inbox: BytesMut,
    next_correlation: i32,
}

impl Connection {
    /// Starts a non-blocking connect.
    pub(crate) fn open(
        broker: Option<BrokerId>,
        addr: SocketAddr,
        now: Instant,
    ) -> io::Result<Connection> {
        let stream = mio::net::TcpStream::connect(addr)?;
        Ok(Connection {
            broker,
            addr,
            stream,
            phase: Phase::Connecting,
            opened: now,
            versions: Versions::default(),
            in_flight: VecDeque::new(),
            out: VecDeque::new(),
            inbox: BytesMut::with_capacity(16 * 1024),
            next_correlation: 0,
        })
    }

    /// After a writable event while connecting: `Ok(true)` once connected.
    pub(crate) fn finish_connect(&mut self) -> io::Result<bool> {
        if let Some(error) = self.stream.take_error()? {
            return Err(error);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.stream.set_nodelay(true)?;
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
        request: InFlight,
        expect_response: bool,
    ) -> (Option<InFlight>, io::Result<()>) {
        self.out.push_back(frame);
        let unanswered = if expect_response {
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
        Ok(())
    }

    /// Whether output waits for room in the socket (or the connect for
    /// completion): the fd should be watched for WRITE.
    pub(crate) fn wants_write(&self) -> bool {
        self.phase == Phase::Connecting || !self.out.is_empty()
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

    /// The next whole response and the request it answers.
    pub(crate) fn next_response(&mut self) -> Result<Option<(InFlight, Bytes)>, WireError> {
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

    /// Produce requests in flight (for `max.in.flight.requests.per.connection`).
    pub(crate) fn produce_in_flight(&self) -> usize {
        self.in_flight
            .iter()
            .filter(|r| matches!(r.purpose, Purpose::Produce(_)))
            .count()
    }

    /// The oldest request's send time, for `request.timeout.ms`.
    pub(crate) fn oldest_request(&self) -> Option<Instant> {
        self.in_flight.front().map(|r| r.sent)
    }

    /// Everything in flight, for the caller to retry or fail on close.
    pub(crate) fn take_in_flight(&mut self) -> Vec<InFlight> {
        self.in_flight.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request(correlation_id: i32) -> InFlight {
        InFlight {
            correlation_id,
            api: ApiKey::Metadata,
            version: 0,
            sent: Instant::now(),
            purpose: Purpose::Metadata,
        }
    }

    #[test]
    fn a_request_whose_write_fails_stays_in_flight_for_the_close_to_settle() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let mut conn = Connection::open(None, addr, Instant::now()).expect("connect");
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

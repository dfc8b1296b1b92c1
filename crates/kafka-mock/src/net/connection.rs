//! One client connection: read frames, answer each through the cluster, and
//! write the answers back strictly in request order.
//!
//! ```text
//!  socket ──read──► inbox ──FrameDecoder──► ClusterHandle::handle ──► outbox
//!                                                                     │ (in order;
//!  socket ◄──write── head of the outbox, once its delay has passed ◄──┘  a delayed
//!                                                                        head holds
//!                                                                        the rest)
//! ```
//!
//! The connection (socket, buffers and caps) is the registered source,
//! owned by the loop: the handler returning `PostAction::Remove` closes it.
//! The registration is edge-triggered and watches READ while nothing is
//! ready to write. Output that does not fit the socket turns WRITE on until
//! it drains. A delayed response schedules a timer that turns WRITE on when
//! it is due: re-arming the fd with WRITE makes epoll report it writable at
//! once, which calls this handler to write it.
//!
//! A deferred response (a JoinGroup waiting for the join phase, a Fetch
//! parked until records arrive) sits in the outbox like a delayed one, so
//! only this connection waits. At the head, a group response asks the
//! cluster every few milliseconds until the coordinator has answered. A
//! parked Fetch asks whenever any connection has served a Produce, and at
//! its deadline: the connection lists itself with [`Sockets`] as waiting
//! for records, and a connection that served a Produce turns WRITE on for
//! every listed one, which brings each back to its head. That is how a
//! record reaches a consumer's long poll within a loop turn of its
//! Produce, as Kafka's fetch purgatory answers it. A change that comes
//! another way (a leader moved by the test thread) is seen at the
//! deadline, at most the cluster's fetch wait cap later.
//!
//! The bytes go through a [`Stream`]: the socket, or TLS over it. On a SASL
//! listener each frame first meets the connection's [`Session`], which
//! answers the login itself and lets frames through to the cluster once the
//! client has logged in; a refused login is answered, then the connection
//! closes once the answer is written.
//!
//! Reading stops while the outbox is full ([`MAX_QUEUED_RESPONSES`]
//! responses, or the connection's buffer cap in response bytes): a client
//! that pipelines requests without reading the answers gets TCP
//! backpressure, as a Kafka broker mutes such a channel, instead of
//! making the mock queue answers without bound. Reading resumes within
//! the handler turn whose writes make room (no new edge comes for bytes
//! that are already in the socket).
//!
//! Frames are served after every socket read, so the inbox holds at most
//! one partial frame and one read. Its bytes count against the connection's
//! cap and, through a counter shared by every connection, the cluster's
//! total cap ([`ClusterConfig::with_max_buffered_per_connection`] and
//! [`with_max_buffered_total`]); the connection over either is closed with
//! a warning naming the peer and the size its frame announced.
//!
//! [`ClusterConfig::with_max_buffered_per_connection`]: crate::ClusterConfig::with_max_buffered_per_connection
//! [`with_max_buffered_total`]: crate::ClusterConfig::with_max_buffered_total

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use rouse_reactor::{Interest, PostAction, Ready, SourceKey};

use super::sockets::{Loop, Sockets};
use super::tls::Stream;
use crate::frame::{FrameDecoder, LENGTH_PREFIX};
use crate::sasl::{Session, Step};
use crate::{ClusterHandle, Deferred, Outcome};

/// The first two bytes of a Produce request frame (its API key, 0).
const PRODUCE_KEY: [u8; 2] = 0i16.to_be_bytes();

/// Responses queued at most before the connection stops reading.
const MAX_QUEUED_RESPONSES: usize = 64;

/// A response waiting for its turn on the socket.
struct Pending {
    body: Body,
    due: Instant,
    /// Bytes it counts in [`Connection::queued_bytes`] (0 while deferred).
    size: usize,
}

/// A response's bytes, or the cluster's promise of them.
enum Body {
    Ready(Bytes),
    /// Polled every [`DEFERRED_POLL`] once at the head of the outbox.
    Deferred(Deferred),
}

/// How often a deferred group response at the head of the outbox asks the
/// coordinator again: the join phase's timeouts run on these polls, so
/// they end within this of their deadline; a join completed by another
/// member's request is answered within it too.
const DEFERRED_POLL: Duration = Duration::from_millis(5);

/// One accepted connection: its socket and its state.
pub(super) struct Connection {
    stream: Stream,
    /// The login state on a SASL listener.
    session: Option<Session>,
    /// A refusal was queued: close once it is written, serve nothing more.
    closing: bool,
    cluster: ClusterHandle,
    broker: i32,
    peer: SocketAddr,
    /// The largest request frame accepted once logged in (before a SASL
    /// login the session allows less).
    max_request: usize,
    inbox: BytesMut,
    outbox: VecDeque<Pending>,
    /// Bytes of the ready responses in `outbox`, as queued.
    queued_bytes: usize,
    /// Reading stopped at a full outbox with the socket not drained.
    reading_paused: bool,
    /// Partial-frame bytes of every connection of the cluster.
    buffered: Arc<AtomicUsize>,
    /// This connection's share of `buffered`.
    counted: usize,
    max_buffered: usize,
    max_buffered_total: usize,
    /// A Produce was served since the last turn: parked fetches are to be
    /// asked again.
    produced: bool,
}

impl Connection {
    pub(super) fn new(
        stream: Stream,
        session: Option<Session>,
        cluster: ClusterHandle,
        broker: i32,
        peer: SocketAddr,
        buffered: Arc<AtomicUsize>,
    ) -> Connection {
        let config = cluster.config();
        Connection {
            stream,
            session,
            closing: false,
            max_request: config.max_request_size(),
            cluster,
            broker,
            peer,
            inbox: BytesMut::with_capacity(64 * 1024),
            outbox: VecDeque::new(),
            queued_bytes: 0,
            reading_paused: false,
            buffered,
            counted: 0,
            max_buffered: config.max_buffered_per_connection(),
            max_buffered_total: config.max_buffered_total(),
            produced: false,
        }
    }

    /// The reactor handler: `Wait` once drained, until the next edge;
    /// `Remove` (the loop closes the socket) when the client hung up, the
    /// socket failed, a frame was refused or a buffer cap was passed.
    pub(super) fn on_ready(
        el: &mut Loop,
        sockets: &mut Sockets,
        conn: &mut Connection,
        ready: Ready,
    ) -> io::Result<PostAction> {
        if ready.error {
            return Ok(PostAction::Remove);
        }
        let key = el.current_source().expect("called as a handler");
        // Frames that arrived before a close are served too: a client may
        // send and hang up at once (acks=0), and those count.
        let mut read = ready.readable || ready.hang_up;
        loop {
            if read && conn.read_and_serve(el, key)? == Keep::Close {
                conn.stream.close();
                return Ok(PostAction::Remove);
            }
            if std::mem::take(&mut conn.produced) {
                sockets.wake_fetch_waiters(el);
            }
            conn.stream.flush()?; // TLS handshake messages, alerts, records

            // One instant for both decisions: with the clock read twice, a
            // thread preempted between them sees a head write_due just put
            // off (a deferred group answer, polled every DEFERRED_POLL) as
            // due, keeps WRITE on with no new edge coming, and the timer's
            // set_interest then changes nothing: the answer is never sent.
            let now = el.now();
            conn.write_due(el, sockets, key, now)?;
            if conn.closing && conn.outbox.is_empty() && !conn.stream.has_queued() {
                conn.stream.close();
                return Ok(PostAction::Remove); // a refused login, answered
            }
            // Reading stopped at a full outbox left bytes in the socket
            // whose edge has come and gone: read on once writing made room.
            read = conn.reading_paused && !conn.outbox_full();
            if !read {
                conn.watch_write_if_blocked(el, key, now)?;
                return Ok(PostAction::Wait); // drained: wait for the next edge
            }
        }
    }

    /// Whether the outbox holds as much as the connection queues before it
    /// stops reading.
    fn outbox_full(&self) -> bool {
        self.outbox.len() >= MAX_QUEUED_RESPONSES || self.queued_bytes >= self.max_buffered
    }

    /// Reads until the socket is drained or the outbox is full, serving
    /// whole frames after each read and checking the buffer caps.
    fn read_and_serve(&mut self, el: &mut Loop, key: SourceKey) -> io::Result<Keep> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            self.reading_paused = self.outbox_full();
            if self.reading_paused {
                return Ok(Keep::Open);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Keep::Close), // the client hung up
                Ok(n) => {
                    self.inbox.extend_from_slice(&chunk[..n]);
                    let served = self.serve_frames(el, key);
                    self.count_buffered();
                    if served == Keep::Close || self.over_cap() {
                        return Ok(Keep::Close);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Keep::Open),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    // Only TLS reports this: the handshake or a record failed.
                    tracing::warn!(broker = self.broker, peer = %self.peer, error = %e, "closing connection: TLS failed");
                    return Ok(Keep::Close);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Brings this connection's share of the cluster-wide count up to date.
    fn count_buffered(&mut self) {
        let held = self.inbox.len();
        if held > self.counted {
            self.buffered
                .fetch_add(held - self.counted, Ordering::AcqRel);
        } else {
            self.buffered
                .fetch_sub(self.counted - held, Ordering::AcqRel);
        }
        self.counted = held;
    }

    /// Whether the connection must close: its partial frame is over its
    /// cap, or it holds some and all connections together are over theirs.
    fn over_cap(&self) -> bool {
        let held = self.inbox.len();
        let total = self.buffered.load(Ordering::Acquire);
        let over_own = held > self.max_buffered;
        let over_total = held > 0 && total > self.max_buffered_total;
        if !(over_own || over_total) {
            return false;
        }
        let announced = self
            .inbox
            .get(..LENGTH_PREFIX)
            .map(|p| i32::from_be_bytes([p[0], p[1], p[2], p[3]]));
        tracing::warn!(
            broker = self.broker,
            peer = %self.peer,
            announced_frame_bytes = announced,
            buffered = held,
            buffered_all_connections = total,
            cap = if over_own { self.max_buffered } else { self.max_buffered_total },
            "closing connection: partial request frame over the {} buffer cap",
            if over_own { "per-connection" } else { "cluster-wide" },
        );
        true
    }

    /// Answers every whole frame in the inbox. A frame the cluster refuses
    /// (malformed, unknown API, stopped broker, injected drop) closes this
    /// connection only.
    fn serve_frames(&mut self, el: &mut Loop, key: SourceKey) -> Keep {
        loop {
            if self.closing {
                return Keep::Open; // serve nothing after a refused login
            }
            let limit = self
                .session
                .as_ref()
                .map_or(self.max_request, |s| s.frame_limit(self.max_request));
            let frame = match FrameDecoder::new(limit).decode(&mut self.inbox) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Keep::Open,
                Err(error) => {
                    tracing::warn!(broker = self.broker, peer = %self.peer, %error, "closing connection: bad frame");
                    return Keep::Close;
                }
            };
            let step = match &mut self.session {
                Some(session) => session.step(frame),
                None => Step::Cluster(frame),
            };
            let outcome = match step {
                Step::Cluster(frame) => {
                    self.produced |= frame.get(..2) == Some(&PRODUCE_KEY[..]);
                    self.cluster.handle(self.broker, frame)
                }
                Step::Answer(bytes) => Outcome::Respond { bytes, delay: None },
                Step::AnswerThenClose(bytes) => {
                    self.closing = true;
                    Outcome::Respond { bytes, delay: None }
                }
                Step::Close(reason) => {
                    tracing::warn!(broker = self.broker, peer = %self.peer, %reason, "closing connection");
                    return Keep::Close;
                }
            };
            match outcome {
                Outcome::Respond { bytes, delay } => {
                    let due = delay.map_or_else(|| el.now(), |d| el.now() + d);
                    if delay.is_some() {
                        // Turn WRITE on when it is due; a stale key (the
                        // connection closed meanwhile) is refused harmlessly.
                        el.call_at(due, move |el, _| {
                            let _ = el.set_interest(key, Interest::READ_WRITE);
                        });
                    }
                    self.queued_bytes += bytes.len();
                    self.outbox.push_back(Pending {
                        size: bytes.len(),
                        body: Body::Ready(bytes),
                        due,
                    });
                }
                Outcome::Deferred(deferred) => self.outbox.push_back(Pending {
                    body: Body::Deferred(deferred),
                    due: el.now(),
                    size: 0,
                }),
                Outcome::NoResponse => {}
                Outcome::Close { reason } => {
                    tracing::warn!(broker = self.broker, %reason, "closing connection");
                    return Keep::Close;
                }
            }
        }
    }

    /// Writes due responses from the head of the outbox, in order, until the
    /// socket is full or the head is not due yet.
    ///
    /// A deferred head is asked on every call, due or not: a turn that
    /// finds it still waiting arms the next poll only once the last one
    /// has passed, so edges do not pile up timers.
    fn write_due(
        &mut self,
        el: &mut Loop,
        sockets: &mut Sockets,
        key: SourceKey,
        now: Instant,
    ) -> io::Result<()> {
        while let Some(head) = self.outbox.front_mut() {
            let deferred = matches!(head.body, Body::Deferred(_));
            if head.due > now && !deferred {
                return Ok(());
            }
            if let Body::Deferred(deferred) = &head.body {
                match self.cluster.resume(deferred) {
                    None => {
                        // Ask again when a Produce comes (a parked
                        // fetch) or soon (a group request), and at the
                        // fetch's deadline; the timer turns WRITE on,
                        // which brings the handler back here.
                        let next = match deferred.fetch_deadline() {
                            Some(deadline) => {
                                sockets.wait_for_records(el, key);
                                deadline
                            }
                            None => now + DEFERRED_POLL,
                        };
                        if head.due <= now {
                            head.due = next;
                            el.call_at(next, move |el, _| {
                                let _ = el.set_interest(key, Interest::READ_WRITE);
                            });
                        }
                        return Ok(());
                    }
                    Some(Outcome::Respond { bytes, delay }) => {
                        head.size = bytes.len();
                        self.queued_bytes += head.size;
                        head.body = Body::Ready(bytes);
                        if let Some(delay) = delay {
                            // An injected delay, counted from now.
                            head.due = now + delay;
                            el.call_at(head.due, move |el, _| {
                                let _ = el.set_interest(key, Interest::READ_WRITE);
                            });
                            return Ok(());
                        }
                    }
                    Some(other) => {
                        return Err(io::Error::other(format!(
                            "a deferred response ended as {other:?}"
                        )))
                    }
                }
            }
            let Body::Ready(bytes) = &mut head.body else {
                continue;
            };
            while bytes.has_remaining() {
                match self.stream.write(bytes) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => bytes.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            let size = head.size;
            self.outbox.pop_front();
            debug_assert!(
                self.queued_bytes >= size,
                "queued bytes count every ready answer"
            );
            self.queued_bytes -= size;
        }
        Ok(())
    }

    /// WRITE is watched only while a due response waits for socket room
    /// (a delay timer may have turned it on: read back what is set).
    fn watch_write_if_blocked(
        &mut self,
        el: &mut Loop,
        key: SourceKey,
        now: Instant,
    ) -> io::Result<()> {
        let blocked =
            self.outbox.front().is_some_and(|head| head.due <= now) || self.stream.has_queued();
        let want = if blocked {
            Interest::READ_WRITE
        } else {
            Interest::READ
        };
        if el.interest(key) != Some(want) {
            el.set_interest(key, want).map_err(io::Error::other)?;
        }
        Ok(())
    }
}

impl Drop for Connection {
    /// A closed connection's partial frame no longer counts.
    fn drop(&mut self) {
        self.buffered.fetch_sub(self.counted, Ordering::AcqRel);
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// Whether the connection stays open after a read or a batch of frames.
#[derive(Debug, PartialEq, Eq)]
enum Keep {
    Open,
    Close,
}

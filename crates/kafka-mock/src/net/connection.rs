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
//! The registration is edge-triggered and watches READ while nothing is
//! ready to write. Output that does not fit the socket turns WRITE on until
//! it drains. A delayed response schedules a timer that turns WRITE on when
//! it is due: re-arming the fd with WRITE makes epoll report it writable at
//! once, which calls this handler to write it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use mio::net::TcpStream;
use rouse_reactor::{EventLoop, Interest, Ready, SourceKey};

use crate::frame::FrameDecoder;
use crate::{ClusterHandle, Outcome};

/// A response waiting for its turn on the socket.
struct Pending {
    bytes: Bytes,
    due: Instant,
}

/// The state of one accepted connection.
pub(super) struct Connection {
    cluster: ClusterHandle,
    broker: i32,
    decoder: FrameDecoder,
    inbox: BytesMut,
    outbox: VecDeque<Pending>,
}

impl Connection {
    pub(super) fn new(cluster: ClusterHandle, broker: i32) -> Connection {
        let decoder = FrameDecoder::new(cluster.max_request_size());
        Connection {
            cluster,
            broker,
            decoder,
            inbox: BytesMut::with_capacity(64 * 1024),
            outbox: VecDeque::new(),
        }
    }

    /// The reactor handler: `Err(WouldBlock)` parks it until the next edge;
    /// an EOF or abort error closes the connection quietly.
    pub(super) fn on_ready(
        &mut self,
        el: &mut EventLoop,
        stream: &mut TcpStream,
        ready: Ready,
    ) -> io::Result<()> {
        if ready.error {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        let key = el.current_source().ok_or(io::ErrorKind::Other)?;
        if ready.readable || ready.hang_up {
            // Serve what arrived before a close too: a client may send and
            // hang up at once (acks=0), and those requests count.
            let read = self.read_available(stream);
            self.serve_frames(el, key)?;
            read?;
        }
        self.write_due(el, stream)?;
        self.watch_write_if_blocked(el, key)?;
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn read_available(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.inbox.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Answers every whole frame in the inbox. A frame the cluster refuses
    /// (malformed, unknown API, stopped broker, injected drop) closes this
    /// connection only.
    fn serve_frames(&mut self, el: &mut EventLoop, key: SourceKey) -> io::Result<()> {
        loop {
            let frame = match self.decoder.decode(&mut self.inbox) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(error) => {
                    tracing::warn!(broker = self.broker, %error, "closing connection: bad frame");
                    return Err(io::ErrorKind::ConnectionAborted.into());
                }
            };
            match self.cluster.handle(self.broker, frame) {
                Outcome::Respond { bytes, delay } => {
                    let due = delay.map_or_else(|| el.now(), |d| el.now() + d);
                    if delay.is_some() {
                        // Turn WRITE on when it is due; a stale key (the
                        // connection closed meanwhile) is refused harmlessly.
                        el.call_at(due, move |el| {
                            let _ = el.set_interest(key, Interest::READ_WRITE);
                        });
                    }
                    self.outbox.push_back(Pending { bytes, due });
                }
                Outcome::NoResponse => {}
                Outcome::Close { reason } => {
                    tracing::warn!(broker = self.broker, %reason, "closing connection");
                    return Err(io::ErrorKind::ConnectionAborted.into());
                }
            }
        }
    }

    /// Writes due responses from the head of the outbox, in order, until the
    /// socket is full or the head is not due yet.
    fn write_due(&mut self, el: &EventLoop, stream: &mut TcpStream) -> io::Result<()> {
        let now = el.now();
        while let Some(head) = self.outbox.front_mut() {
            if head.due > now {
                return Ok(());
            }
            while head.bytes.has_remaining() {
                match stream.write(&head.bytes) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => head.bytes.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            self.outbox.pop_front();
        }
        Ok(())
    }

    /// WRITE is watched only while a due response waits for socket room
    /// (a delay timer may have turned it on: read back what is set).
    fn watch_write_if_blocked(&mut self, el: &mut EventLoop, key: SourceKey) -> io::Result<()> {
        let now = el.now();
        let blocked = self.outbox.front().is_some_and(|head| head.due <= now);
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

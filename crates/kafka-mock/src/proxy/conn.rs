//! One proxied connection: connect upstream, then pump bytes both ways.
//!
//! ```text
//!            reader ──chunks (due time)──► writer
//!  client ──────────────────────────────────────────► upstream
//!  client ◄────────────────────────────────────────── upstream
//!            writer ◄──chunks (due time)── reader
//! ```
//!
//! Four scoped threads per connection, all blocking std::net. A reader
//! stamps each chunk with `max(now + drawn delay, previous due)`, so a
//! chunk never overtakes the one before; its writer sleeps until then and
//! writes it, whole or in drawn pieces. [`ConnCtl::close`] (a cut, an
//! error, the proxy's drop) shuts both sockets down, which wakes blocked
//! reads and writes, and drops the `closed` sender, which wakes writers
//! waiting for a due time: every thread ends within one step.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::control::Shared;
use super::plan::FaultPlan;
use super::rng::{after, SplitMix64};
use super::stats::Counters;

/// Chunks queued per direction before the reader waits for the writer.
const QUEUE: usize = 256;

/// The largest read.
const READ_SIZE: usize = 64 * 1024;

/// The sockets of one connection, so any thread can close it all.
pub(crate) struct ConnCtl {
    inner: Mutex<CtlInner>,
}

struct CtlInner {
    live: bool,
    sockets: Vec<TcpStream>,
    closed: Option<Sender<()>>,
}

impl ConnCtl {
    /// A live connection owning `client` (a clone of the accepted stream),
    /// and the receiver its writers wait on.
    pub(crate) fn new(client: TcpStream) -> (Arc<ConnCtl>, Receiver<()>) {
        let (closed, closed_rx) = bounded(0);
        let ctl = ConnCtl {
            inner: Mutex::new(CtlInner {
                live: true,
                sockets: vec![client],
                closed: Some(closed),
            }),
        };
        (Arc::new(ctl), closed_rx)
    }

    /// Adds a socket to close with the rest; `false` (and the socket shut
    /// down) when the connection was closed meanwhile.
    fn add(&self, socket: TcpStream) -> bool {
        let mut inner = self.inner.lock();
        if !inner.live {
            let _ = socket.shutdown(Shutdown::Both);
            return false;
        }
        inner.sockets.push(socket);
        true
    }

    /// Shuts every socket down both ways and wakes every waiting writer;
    /// `true` if the connection was live until now.
    pub(crate) fn close(&self) -> bool {
        let mut inner = self.inner.lock();
        for socket in &inner.sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        inner.closed = None;
        std::mem::replace(&mut inner.live, false)
    }

    fn is_live(&self) -> bool {
        self.inner.lock().live
    }
}

/// Everything a connection thread needs.
pub(crate) struct Conn {
    pub(crate) index: u64,
    pub(crate) client: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) upstream: SocketAddr,
    pub(crate) ctl: Arc<ConnCtl>,
    pub(crate) closed: Receiver<()>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) plan: Arc<FaultPlan>,
}

/// One direction's settings.
struct Pump<'a> {
    from: TcpStream,
    to: TcpStream,
    rng_stream: u64,
    bytes: &'a AtomicU64,
    name: &'static str,
}

impl Conn {
    /// The connection thread's body: returns when both directions are done
    /// or the connection was closed, and forgets the connection.
    pub(crate) fn serve(self) {
        if let Err(error) = self.pump() {
            tracing::debug!(connection = self.index, peer = %self.peer, %error, "connection ended");
        }
        self.ctl.close();
        self.shared.forget(self.index);
    }

    fn pump(&self) -> io::Result<()> {
        let upstream = match TcpStream::connect_timeout(&self.upstream, self.plan.connect_timeout())
        {
            Ok(upstream) => upstream,
            Err(error) => {
                Counters::add(&self.shared.counters.upstream_failed, 1);
                tracing::warn!(
                    connection = self.index,
                    peer = %self.peer,
                    upstream = %self.upstream,
                    %error,
                    "fault proxy: upstream unreachable, closing the client's connection"
                );
                return Ok(());
            }
        };
        upstream.set_nodelay(true)?;
        if !self.ctl.add(upstream.try_clone()?) {
            return Ok(());
        }
        tracing::debug!(connection = self.index, peer = %self.peer, upstream = %self.upstream, "proxying");
        let counters = &self.shared.counters;
        let stream = 1 + self.index * 4;
        let to_upstream = Pump {
            from: self.client.try_clone()?,
            to: upstream.try_clone()?,
            rng_stream: stream,
            bytes: &counters.bytes_to_upstream,
            name: "up",
        };
        let to_client = Pump {
            from: upstream,
            to: self.client.try_clone()?,
            rng_stream: stream + 2,
            bytes: &counters.bytes_to_client,
            name: "down",
        };
        std::thread::scope(|scope| -> io::Result<()> {
            for pump in [to_upstream, to_client] {
                let (tx, rx) = bounded(QUEUE);
                let Pump {
                    from,
                    to,
                    rng_stream,
                    bytes,
                    name,
                } = pump;
                let reader = Reader {
                    from,
                    tx,
                    rng: SplitMix64::new(self.plan.seed(), rng_stream),
                    conn: self,
                };
                let writer = Writer {
                    to,
                    rx,
                    rng: SplitMix64::new(self.plan.seed(), rng_stream + 1),
                    bytes,
                    conn: self,
                };
                let spawned = std::thread::Builder::new()
                    .name(format!("fault-proxy {} {name} read", self.index))
                    .spawn_scoped(scope, move || reader.run())
                    .and_then(|_| {
                        std::thread::Builder::new()
                            .name(format!("fault-proxy {} {name} write", self.index))
                            .spawn_scoped(scope, move || writer.run())
                    });
                if let Err(error) = spawned {
                    // The threads already running end once it is closed.
                    self.ctl.close();
                    return Err(error);
                }
            }
            Ok(())
        })
    }
}

/// A chunk read from one side, to be written to the other at `due`.
struct Chunk {
    bytes: Vec<u8>,
    due: Instant,
}

struct Reader<'a> {
    from: TcpStream,
    tx: Sender<Chunk>,
    rng: SplitMix64,
    conn: &'a Conn,
}

impl Reader<'_> {
    /// Reads until end-of-stream (then the writer half-closes the other
    /// side) or an error (then the whole connection is closed).
    fn run(mut self) {
        let counters = &self.conn.shared.counters;
        let delay = self.conn.plan.delay();
        let mut buf = vec![0u8; READ_SIZE];
        let mut last_due = Instant::now();
        loop {
            let n = match self.from.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::debug!(connection = self.conn.index, %error, "read failed: closing");
                    self.conn.ctl.close();
                    return;
                }
            };
            let held = delay.map_or(Duration::ZERO, |(lo, hi)| self.rng.duration(lo, hi));
            if !held.is_zero() {
                Counters::add(&counters.chunks_delayed, 1);
            }
            let due = after(Instant::now(), held).max(last_due);
            last_due = due;
            let chunk = Chunk {
                bytes: buf[..n].to_vec(),
                due,
            };
            if self.tx.send(chunk).is_err() {
                return; // the writer is gone: the connection is closing
            }
        }
    }
}

struct Writer<'a> {
    to: TcpStream,
    rx: Receiver<Chunk>,
    rng: SplitMix64,
    bytes: &'a AtomicU64,
    conn: &'a Conn,
}

impl Writer<'_> {
    fn run(mut self) {
        if self.write_all_chunks().is_err() {
            self.conn.ctl.close();
            return;
        }
        // The reader saw end-of-stream: pass the half-close on, unless the
        // whole connection is being closed anyway.
        if self.conn.ctl.is_live() {
            let _ = self.to.shutdown(Shutdown::Write);
        }
    }

    /// `Err` when the connection was closed or a write failed.
    fn write_all_chunks(&mut self) -> Result<(), ()> {
        let counters = &self.conn.shared.counters;
        let split = self.conn.plan.split_writes();
        let pause = self.conn.plan.split_pause();
        while let Ok(chunk) = self.rx.recv() {
            self.wait_until(chunk.due)?;
            let mut rest = &chunk.bytes[..];
            let mut pieces = 0u32;
            while !rest.is_empty() {
                if pieces > 0 && !pause.is_zero() {
                    self.wait_until(after(Instant::now(), pause))?;
                }
                let size = split.map_or(rest.len(), |max| {
                    let drawn = self.rng.range_u64(1, max as u64);
                    usize::try_from(drawn).unwrap_or(max).min(rest.len())
                });
                let (piece, after) = rest.split_at(size);
                if let Err(error) = self.to.write_all(piece) {
                    tracing::debug!(connection = self.conn.index, %error, "write failed: closing");
                    return Err(());
                }
                Counters::add(self.bytes, piece.len() as u64);
                rest = after;
                pieces += 1;
            }
            if pieces > 1 {
                Counters::add(&counters.chunks_split, 1);
            }
        }
        Ok(())
    }

    /// Sleeps until `due`; `Err` at once if the connection is closed first.
    fn wait_until(&self, due: Instant) -> Result<(), ()> {
        if due <= Instant::now() {
            return if self.conn.ctl.is_live() {
                Ok(())
            } else {
                Err(())
            };
        }
        match self.conn.closed.recv_deadline(due) {
            Err(RecvTimeoutError::Timeout) => Ok(()),
            _ => Err(()),
        }
    }
}

//! The poll echo server of shared/seeds/004 on the reactor: each connection
//! has a write queue; it watches READ while the queue is empty and
//! READ|WRITE while data waits for room in the socket; a hang-up or an error
//! closes it. Shared by the `echo` example and the reactor benchmark, so the
//! bench measures the very server a newcomer runs.
//!
//! Each connection is registered as one source: the socket and its queue in
//! one struct the loop owns, so the handler needs no captured state and
//! returning `PostAction::Remove` closes the socket and frees the queue.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use mio::net::{TcpListener, TcpStream};
use rouse_reactor::{EventLoop, Interest, PostAction, Ready, Watch};

/// Starts serving on `addr`; returns the address bound (for port 0).
pub(crate) fn listen(el: &mut EventLoop, addr: SocketAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    el.register(listener, Watch::read().named("echo accept"), accept)?;
    Ok(bound)
}

fn accept(
    el: &mut EventLoop,
    _: &mut (),
    listener: &mut TcpListener,
    _: Ready,
) -> io::Result<PostAction> {
    loop {
        let (stream, peer) = listener.accept()?; // WouldBlock: all accepted, wait
        stream.set_nodelay(true)?;
        let conn = Connection {
            stream,
            queue: Vec::new(),
            sent: 0,
            watching_write: false,
        };
        el.register(
            conn,
            Watch::read().named(format!("echo {peer}")),
            Connection::on_ready,
        )?;
    }
}

/// One client: its socket, and the bytes read and not yet written back.
struct Connection {
    stream: TcpStream,
    queue: Vec<u8>,
    sent: usize,
    watching_write: bool,
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl Connection {
    fn on_ready(
        el: &mut EventLoop,
        _: &mut (),
        conn: &mut Connection,
        ready: Ready,
    ) -> io::Result<PostAction> {
        if ready.error || ready.hang_up || (ready.readable && conn.read_all()? == Peer::Closed) {
            return Ok(PostAction::Remove); // the loop closes the socket
        }
        conn.flush()?;
        // Watch WRITE only while something waits for room in the socket.
        let want_write = conn.sent < conn.queue.len();
        if want_write != conn.watching_write {
            let key = el.current_source().expect("called as a handler");
            let interest = if want_write {
                Interest::READ_WRITE
            } else {
                Interest::READ
            };
            el.set_interest(key, interest)?;
            conn.watching_write = want_write;
        }
        Ok(PostAction::Wait) // drained: wait for the next edge
    }

    fn read_all(&mut self) -> io::Result<Peer> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(Peer::Closed),
                Ok(n) => self.queue.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Peer::Open),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.sent < self.queue.len() {
            match self.stream.write(&self.queue[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.queue.clear();
        self.sent = 0;
        Ok(())
    }
}

/// Whether the client is still there after a read.
#[derive(PartialEq, Eq)]
enum Peer {
    Open,
    Closed,
}

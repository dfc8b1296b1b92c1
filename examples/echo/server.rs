//! The poll echo server of shared/seeds/004 on the reactor: each connection
//! has a write queue; it watches READ while the queue is empty and
//! READ|WRITE while data waits for room in the socket; a hang-up or an error
//! closes it. Shared by the `echo` example and the reactor benchmark, so the
//! bench measures the very server a newcomer runs.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use rouse_reactor::{EventLoop, Interest, Ready, Watch};

/// Starts serving on `addr`; returns the address bound (for port 0).
pub(crate) fn listen(el: &mut EventLoop, addr: SocketAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    el.register(listener, Watch::read().named("echo accept"), accept)?;
    Ok(bound)
}

fn accept(el: &mut EventLoop, listener: &mut TcpListener, _: Ready) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept()?; // WouldBlock: all accepted
        stream.set_nodelay(true)?;
        let mut conn = Connection::default();
        el.register(
            stream,
            Watch::read().named(format!("echo {peer}")),
            move |el, stream, ready| conn.on_ready(el, stream, ready),
        )?;
    }
}

/// One client's state: bytes read and not yet written back.
#[derive(Default)]
struct Connection {
    queue: Vec<u8>,
    sent: usize,
    watching_write: bool,
}

impl Connection {
    fn on_ready(
        &mut self,
        el: &mut EventLoop,
        stream: &mut TcpStream,
        ready: Ready,
    ) -> io::Result<()> {
        if ready.error || ready.hang_up {
            // Tells the loop to remove and close this connection quietly.
            return Err(io::ErrorKind::ConnectionAborted.into());
        }
        if ready.readable {
            self.read_all(stream)?;
        }
        self.flush(stream)?;
        // Watch WRITE only while something waits for room in the socket.
        let want_write = self.sent < self.queue.len();
        if want_write != self.watching_write {
            let key = el.current_source().expect("called as a handler");
            let interest = if want_write {
                Interest::READ_WRITE
            } else {
                Interest::READ
            };
            el.set_interest(key, interest)?;
            self.watching_write = want_write;
        }
        Err(io::ErrorKind::WouldBlock.into()) // drained: wait for the next edge
    }

    fn read_all(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.queue.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        while self.sent < self.queue.len() {
            match stream.write(&self.queue[self.sent..]) {
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

//! A connection's byte stream: the socket itself, or TLS (rustls, sans-IO)
//! over it. Either way the connection reads and writes plaintext with
//! non-blocking semantics, so framing, SASL, dispatch and fault injection
//! run the same over TLS.
//!
//! With TLS, bytes rustls has encrypted may wait for socket room after a
//! `write` accepted them ([`Stream::has_queued`]); the connection keeps
//! WRITE watched until [`Stream::flush`] has sent them. The handshake needs
//! no special case: reading feeds rustls, which queues its handshake
//! messages, and the flush after every read sends them.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

/// The byte stream under one connection.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

/// TLS over a socket.
pub(super) struct TlsStream {
    tcp: TcpStream,
    tls: ServerConnection,
}

impl Stream {
    /// The socket as is, or wrapped in a TLS server session.
    pub(super) fn new(tcp: TcpStream, tls: Option<&Arc<ServerConfig>>) -> io::Result<Stream> {
        match tls {
            None => Ok(Stream::Plain(tcp)),
            Some(config) => {
                let tls = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
                Ok(Stream::Tls(Box::new(TlsStream { tcp, tls })))
            }
        }
    }

    /// Reads plaintext: `Ok(0)` when the peer closed, `WouldBlock` once the
    /// socket is drained, `InvalidData` when TLS failed (a bad handshake, a
    /// refused client certificate, garbage; the alert has been sent).
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }

    /// Writes plaintext; `WouldBlock` when the socket has no room.
    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    /// Sends what TLS has queued, as far as the socket takes it.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(s) => s.flush(),
        }
    }

    /// Whether TLS holds bytes the socket has not taken yet.
    pub(super) fn has_queued(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.tls.wants_write(),
        }
    }

    /// Says goodbye (TLS `close_notify`) before the loop closes the socket;
    /// best effort, nothing waits for it.
    pub(super) fn close(&mut self) {
        if let Stream::Tls(s) = self {
            s.tls.send_close_notify();
            let _ = s.flush();
        }
    }
}

impl TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n), // 0: the peer sent close_notify
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed the socket without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // No plaintext buffered: feed rustls from the socket.
            match self.tls.read_tls(&mut self.tcp) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    if let Err(error) = self.tls.process_new_packets() {
                        // rustls queued an alert saying why; send it.
                        let _ = self.flush();
                        return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush()?;
        if self.tls.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let accepted = self.tls.writer().write(buf)?;
        self.flush()?;
        if accepted == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(accepted)
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Plain(tcp) => tcp.as_raw_fd(),
            Stream::Tls(s) => s.tcp.as_raw_fd(),
        }
    }
}

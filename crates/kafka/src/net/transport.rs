//! A broker connection's byte stream: a plain TCP socket, or a rustls
//! client session over one. Both are non-blocking; rustls is sans-IO, so
//! TLS is this file moving bytes between the socket and the session.
//!
//! ```text
//!   Plain:  read/write ──► TcpStream                        (direct, no copy)
//!   Tls:    write ──► session (encrypts) ──► flush_tls ──► TcpStream
//!           read  ◄── session (decrypts) ◄── read_tls  ◄── TcpStream
//! ```
//!
//! The plain path stays a direct socket call behind one enum match: TLS
//! costs nothing to those who do not use it (the TLS state is boxed once,
//! at connect, never per call).
//!
//! A TLS failure (a certificate refused, an alert, bytes that are not TLS)
//! comes back as an `io::Error` of kind `InvalidData` carrying the
//! `rustls::Error`; [`tls_error`] finds it, so the connection layer can
//! tell a TLS problem from a network one.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

/// A connection's stream.
#[derive(Debug)]
pub(crate) enum Transport {
    /// PLAINTEXT / SASL_PLAINTEXT.
    Plain(TcpStream),
    /// SSL / SASL_SSL.
    Tls(Box<Tls>),
}

/// A TLS session and its socket.
#[derive(Debug)]
pub(crate) struct Tls {
    tcp: TcpStream,
    session: ClientConnection,
    /// Whether the broker has sent any bytes at all.
    heard: bool,
}

/// The rustls error inside an I/O error from this module, if it is one.
pub(crate) fn tls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A TLS session that saw no TLS from the peer before the socket closed.
#[derive(Debug, thiserror::Error)]
#[error("the broker closed the connection during the TLS handshake (a plaintext listener does that; check security.protocol and the port)")]
pub(crate) struct ClosedInHandshake;

impl Transport {
    /// A TLS session to `server_name` over `tcp` (the handshake starts when
    /// the socket is connected).
    pub(crate) fn tls(
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> io::Result<Transport> {
        let session = ClientConnection::new(config, server_name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Transport::Tls(Box::new(Tls {
            tcp,
            session,
            heard: false,
        })))
    }

    /// The socket, for connect status, options and registration.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(tls) => &tls.tcp,
        }
    }

    /// Whether the TLS handshake is still to finish (never for plain).
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(tls) => tls.session.is_handshaking(),
        }
    }

    /// A TLS session to which the broker has not sent a single byte: its
    /// handshake timing out means the port does not speak TLS.
    pub(crate) fn tls_unanswered(&self) -> bool {
        matches!(self, Transport::Tls(tls) if !tls.heard)
    }

    /// TLS records wait for room in the socket.
    pub(crate) fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(tls) => tls.session.wants_write(),
        }
    }

    /// The negotiated TLS version, for logs.
    pub(crate) fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(tls) => tls.session.protocol_version(),
        }
    }

    /// Moves the TLS handshake on as far as the socket allows: `Ok(true)`
    /// once it is done (plain streams have none).
    pub(crate) fn handshake(&mut self) -> io::Result<bool> {
        let Transport::Tls(tls) = self else {
            return Ok(true);
        };
        loop {
            tls.flush_tls()?;
            if !tls.session.is_handshaking() {
                return Ok(true);
            }
            if tls.session.wants_write() {
                return Ok(false); // the socket is full: wait for WRITE
            }
            match tls.session.read_tls(&mut tls.tcp) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        ClosedInHandshake,
                    ))
                }
                Ok(_) => tls.process()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes queued TLS records until done or the socket is full.
    pub(crate) fn flush_tls(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(tls) => tls.flush_tls(),
        }
    }
}

impl Tls {
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Decrypts what `read_tls` took in; a TLS error is sent to the broker
    /// as an alert (best effort) and returned.
    fn process(&mut self) -> io::Result<()> {
        if let Err(error) = self.session.process_new_packets() {
            let _ = self.flush_tls();
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        }
        Ok(())
    }
}

impl Read for Transport {
    /// Plaintext from the broker; `Ok(0)` when it closed (with or without
    /// TLS's close_notify: Kafka frames are length-prefixed, so a cut
    /// inside a frame is seen there).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let tls = match self {
            Transport::Plain(tcp) => return tcp.read(buf),
            Transport::Tls(tls) => tls,
        };
        loop {
            match tls.session.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            match tls.session.read_tls(&mut tls.tcp) {
                // The session now knows of the end; its reader says so.
                Ok(0) => tls.process()?,
                Ok(_) => {
                    tls.process()?;
                    // Answers the session owes (key updates) go out now.
                    tls.flush_tls()?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for Transport {
    /// Takes plaintext; TLS encrypts it and writes what the socket takes,
    /// keeping the rest (then [`Transport::wants_write`] is true). When
    /// rustls's buffer is full this is `WouldBlock`, as a full socket is.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let tls = match self {
            Transport::Plain(tcp) => return tcp.write(buf),
            Transport::Tls(tls) => tls,
        };
        tls.flush_tls()?;
        let n = tls.session.writer().write(buf)?;
        tls.flush_tls()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

//! A small blocking Kafka client over any byte stream (plain TCP or a
//! rustls client stream), with every call bounded by the socket's timeout,
//! and a rustls client config builder for the mock's generated CA.
#![allow(dead_code)] // each test file uses part of it

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A client on one connection.
pub(crate) struct Client<S> {
    pub(crate) stream: S,
    correlation_id: i32,
}

pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

pub(crate) fn tcp(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(stream)
}

pub(crate) fn plain(addr: SocketAddr) -> Client<TcpStream> {
    Client::new(tcp(addr).expect("connects"))
}

/// A TLS client for 127.0.0.1 with `config` (the handshake runs on first
/// use).
pub(crate) fn tls(addr: SocketAddr, config: Arc<ClientConfig>) -> Client<TlsStream> {
    let name = ServerName::try_from("127.0.0.1").expect("an IP name");
    let connection = ClientConnection::new(config, name).expect("client session");
    Client::new(StreamOwned::new(connection, tcp(addr).expect("connects")))
}

/// A rustls client config trusting `ca_pem`, presenting `identity` (cert
/// and key PEM) if given.
pub(crate) fn client_config(ca_pem: &str, identity: Option<(&str, &str)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA accepted");
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("client cert PEM");
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("client key PEM");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client identity")
        }
    };
    Arc::new(config)
}

impl<S: Read + Write> Client<S> {
    pub(crate) fn new(stream: S) -> Client<S> {
        Client {
            stream,
            correlation_id: 0,
        }
    }

    pub(crate) fn send<R: Request>(&mut self, version: i16, body: &R) -> std::io::Result<i32> {
        self.correlation_id += 1;
        let key = ApiKey::try_from(R::KEY).expect("a known API");
        let mut payload = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("secured-test")))
            .encode(&mut payload, key.request_header_version(version))
            .expect("header encodes");
        body.encode(&mut payload, version).expect("body encodes");
        self.write_frame(&payload)?;
        Ok(self.correlation_id)
    }

    pub(crate) fn write_frame(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let len = (payload.len() as i32).to_be_bytes();
        self.stream.write_all(&len)?;
        self.stream.write_all(payload)?;
        self.stream.flush()
    }

    /// One frame's payload.
    pub(crate) fn read_frame(&mut self) -> std::io::Result<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body)?;
        Ok(Bytes::from(body))
    }

    pub(crate) fn receive<R: Decodable + HeaderVersion>(
        &mut self,
        version: i16,
    ) -> std::io::Result<(i32, R)> {
        let mut buf = self.read_frame()?;
        let header = ResponseHeader::decode(&mut buf, R::header_version(version)).expect("header");
        Ok((
            header.correlation_id,
            R::decode(&mut buf, version).expect("body"),
        ))
    }

    pub(crate) fn call<R: Request>(
        &mut self,
        version: i16,
        body: &R,
    ) -> std::io::Result<R::Response> {
        let id = self.send(version, body)?;
        let (got, response) = self.receive::<R::Response>(version)?;
        assert_eq!(got, id, "responses come in request order");
        Ok(response)
    }

    /// True once the peer has closed the connection (bounded wait); bytes
    /// before the close (a TLS alert) are skipped, a read timeout means open.
    pub(crate) fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }
}

pub(crate) fn api_versions() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("secured-test"))
        .with_client_software_version(StrBytes::from_static_str("1"))
}

//! The TLS stream on its own: a non-blocking handshake with a blocking
//! rustls client, then writes into a full socket, where bytes rustls has
//! encrypted wait in it (`has_queued`) until `flush` sends them.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::*;
use crate::security::certs;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Runs `step` until it says done, failing after 10 s.
fn until(mut step: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !step() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn bytes_the_socket_did_not_take_are_queued_until_flushed() {
    let generated = certs::generate().unwrap();
    let server_config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(generated.server_chain, generated.server_key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(generated.ca_der).unwrap();
    let client_config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let session = ClientConnection::new(Arc::new(client_config), name).unwrap();
        let mut stream = StreamOwned::new(session, tcp);
        stream.write_all(b"hello").unwrap();
        go_rx.recv().unwrap(); // the server has filled the socket
        let mut received = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return received,
                Ok(n) => received += n,
            }
        }
    });

    let (tcp, _) = listener.accept().unwrap();
    tcp.set_nonblocking(true).unwrap();
    let mut server = Stream::new(TcpStream::from_std(tcp), Some(&Arc::new(server_config))).unwrap();
    let mut hello = Vec::new();
    until(|| {
        let mut buf = [0u8; 64];
        match server.read(&mut buf) {
            Ok(n) => hello.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        server.flush().unwrap(); // the handshake's answers
        hello == b"hello"
    });

    // The client is not reading: write until the socket refuses.
    let chunk = vec![7u8; 64 * 1024];
    let mut accepted = 0usize;
    loop {
        match server.write(&chunk) {
            Ok(n) => accepted += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(accepted < 256 << 20, "the socket never filled");
    }
    assert!(server.has_queued(), "encrypted bytes wait for socket room");

    go_tx.send(()).unwrap();
    until(|| {
        server.flush().unwrap();
        !server.has_queued()
    });
    server.close();
    drop(server);
    assert_eq!(
        client.join().unwrap(),
        accepted,
        "every accepted byte arrived"
    );
}

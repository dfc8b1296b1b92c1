//! KIP-368: when SaslAuthenticate gives a session lifetime, the producer
//! stops using the connection before the session ends and authenticates
//! afresh on a new one, with no record lost or duplicated.
//!
//! The mock's SASL server gives no lifetime, so a proxy written here sits
//! between the producer and the mock and sets `session_lifetime_ms` in
//! every SaslAuthenticate answer (the mock advertises the proxy's port).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader, SaslAuthenticateResponse};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use rouse_kafka::{Producer, ProducerConfig};
use rouse_kafka_mock::{ClusterConfig, MockCluster, SaslConfig, SaslMechanism};

mod common;

use common::{assert_stored_exactly_once, send_all, TOPIC};

const LIFETIME_MS: i64 = 600;

/// Counts of what went through the proxy.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    /// SaslAuthenticate answers (SCRAM takes two per login).
    authenticates: AtomicUsize,
}

fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
    stream.read_exact(&mut frame).ok()?;
    Some(frame)
}

fn write_frame(stream: &mut TcpStream, frame: &[u8]) -> Option<()> {
    stream.write_all(&(frame.len() as i32).to_be_bytes()).ok()?;
    stream.write_all(frame).ok()
}

/// A SaslAuthenticate answer with the session lifetime set.
fn with_lifetime(frame: Vec<u8>, version: i16) -> Vec<u8> {
    let mut payload = Bytes::from(frame);
    let header_version = SaslAuthenticateResponse::header_version(version);
    let header = ResponseHeader::decode(&mut payload, header_version).expect("header");
    let response = SaslAuthenticateResponse::decode(&mut payload, version)
        .expect("SaslAuthenticate response")
        .with_session_lifetime_ms(LIFETIME_MS);
    let mut out = BytesMut::new();
    header.encode(&mut out, header_version).expect("encode");
    response.encode(&mut out, version).expect("encode");
    out.to_vec()
}

/// Relays one connection, frame by frame, both ways.
fn relay(client: TcpStream, upstream: u16, seen: Arc<Seen>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let asked: Arc<Mutex<HashMap<i32, (i16, i16)>>> = Arc::default();
    let (mut c_in, mut c_out) = (client.try_clone().unwrap(), client);
    let (mut s_in, mut s_out) = (server.try_clone().unwrap(), server);
    let requests = Arc::clone(&asked);
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut c_in) {
            let api = i16::from_be_bytes([frame[0], frame[1]]);
            let version = i16::from_be_bytes([frame[2], frame[3]]);
            let id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            requests.lock().unwrap().insert(id, (api, version));
            if write_frame(&mut s_out, &frame).is_none() {
                break;
            }
        }
        let _ = s_out.shutdown(Shutdown::Both);
    });
    while let Some(mut frame) = read_frame(&mut s_in) {
        let id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        if let Some((api, version)) = asked.lock().unwrap().remove(&id) {
            if api == ApiKey::SaslAuthenticate as i16 && version >= 1 {
                frame = with_lifetime(frame, version);
                seen.authenticates.fetch_add(1, Ordering::Relaxed);
            }
        }
        if write_frame(&mut c_out, &frame).is_none() {
            break;
        }
    }
    let _ = c_out.shutdown(Shutdown::Both);
}

#[test]
fn a_session_lifetime_makes_the_producer_reconnect_and_log_in_again() {
    let cluster = MockCluster::start(
        ClusterConfig::new(1).with_sasl(
            SaslConfig::new()
                .with_user("alice", "alice-secret")
                .with_mechanisms([SaslMechanism::ScramSha256]),
        ),
    )
    .expect("mock starts");
    cluster.create_topic(TOPIC, 2).expect("topic");
    let broker = cluster.handle().brokers()[0].clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let counts = Arc::clone(&seen);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            counts.connections.fetch_add(1, Ordering::Relaxed);
            let counts = Arc::clone(&counts);
            std::thread::spawn(move || relay(client, broker.port, counts));
        }
    });
    cluster
        .handle()
        .set_broker_address(broker.id, "127.0.0.1", proxy_port)
        .expect("advertise the proxy");

    let producer = Producer::new(
        ProducerConfig::from_pairs([
            (
                "bootstrap.servers",
                format!("127.0.0.1:{proxy_port}").as_str(),
            ),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
            ("request.timeout.ms", "2000"),
            ("linger.ms", "1"),
        ])
        .expect("config"),
    )
    .expect("producer");
    // 2.4 s of sending spans four 600 ms sessions.
    let mut acked = Vec::new();
    for round in 0..12 {
        acked.extend(send_all(&producer, 20, &format!("round{round}")));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_stored_exactly_once(&cluster, &acked, 2);
    assert!(producer.fatal_error().is_none());
    let (connections, authenticates) = (
        seen.connections.load(Ordering::Relaxed),
        seen.authenticates.load(Ordering::Relaxed),
    );
    assert!(
        connections >= 3 && authenticates >= 2 * connections,
        "sessions were renewed, each with a SCRAM login: {connections} connections, {authenticates} SaslAuthenticate answers"
    );
    producer.close(Duration::from_secs(5)).expect("closes");
}

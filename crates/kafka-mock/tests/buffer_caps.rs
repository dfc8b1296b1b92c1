//! The mock bounds what clients can make it buffer: a frame announced huge
//! and trickled in is cut off at the per-connection or the cluster-wide
//! cap, never held whole. Raw 127.0.0.1 sockets, every wait bounded.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rouse_kafka_mock::{ClusterConfig, MockCluster, BUFFER_SLACK};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const LONG: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(300);

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
}

/// One socket read: how far past its cap the mock may go for a moment.
const READ: usize = 64 * KIB;

/// Announces a frame of `announced` bytes, then trickles up to `limit`
/// bytes of it in 16 KiB writes, checking after each that the mock never
/// holds more than `cap` plus one read. Returns how many bytes were
/// written before the mock closed the connection (`None` if it did not,
/// waiting up to `grace` after the last write for a slow mock).
fn trickle(
    cluster: &MockCluster,
    stream: &mut TcpStream,
    announced: i32,
    (limit, grace): (usize, Duration),
    cap: usize,
) -> Option<usize> {
    stream.write_all(&announced.to_be_bytes()).expect("prefix");
    let piece = [0x5a_u8; 16 * KIB];
    let mut sent = 0;
    while sent < limit {
        if stream.write_all(&piece).is_err() {
            return Some(sent);
        }
        sent += piece.len();
        assert!(
            cluster.buffered_bytes() <= cap + READ,
            "{} bytes buffered, over the {cap} cap",
            cluster.buffered_bytes()
        );
        std::thread::sleep(Duration::from_millis(1));
        if peer_closed(stream, Duration::from_millis(1)) {
            return Some(sent);
        }
    }
    peer_closed(stream, grace).then_some(sent)
}

/// Whether the peer has closed (end-of-stream or reset) within `wait`.
fn peer_closed(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut byte = [0u8; 1];
    let closed = match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    closed
}

fn wait_for_empty_buffers(cluster: &MockCluster) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while cluster.buffered_bytes() != 0 {
        assert!(
            Instant::now() < deadline,
            "{} bytes still counted",
            cluster.buffered_bytes()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// ApiVersions v0 with no client id: the mock answers it.
fn still_serves(addr: SocketAddr) {
    let mut stream = connect(addr);
    let request: [u8; 14] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    stream.write_all(&request).expect("write");
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("an answer");
    assert!(i32::from_be_bytes(len) > 0);
}

#[test]
fn a_huge_frame_trickled_in_is_closed_at_the_cluster_wide_cap() {
    let cap = 512 * KIB;
    let cluster =
        MockCluster::start(ClusterConfig::new(1).with_max_buffered_total(cap)).expect("starts");
    let addr = cluster.broker_address(1).expect("broker 1");
    let mut stream = connect(addr);
    // 100 MiB announced, under the 100 MiB request limit: only the cap stops it.
    let sent = trickle(
        &cluster,
        &mut stream,
        100 * MIB as i32 - 1,
        (8 * MIB, LONG),
        cap,
    )
    .expect("closed long before 8 MiB");
    assert!(
        sent >= cap - 32 * KIB,
        "closed at {sent} bytes, before the cap"
    );
    assert!(peer_closed(&mut stream, Duration::from_secs(5)));
    wait_for_empty_buffers(&cluster);
    still_serves(addr);
}

#[test]
fn a_huge_frame_trickled_in_is_closed_at_the_per_connection_cap() {
    let cap = 256 * KIB;
    let cluster = MockCluster::start(ClusterConfig::new(1).with_max_buffered_per_connection(cap))
        .expect("starts");
    let addr = cluster.broker_address(1).expect("broker 1");
    let mut stream = connect(addr);
    let sent = trickle(
        &cluster,
        &mut stream,
        100 * MIB as i32 - 1,
        (8 * MIB, LONG),
        cap,
    )
    .expect("closed long before 8 MiB");
    assert!(
        sent >= cap - 32 * KIB,
        "closed at {sent} bytes, before the cap"
    );
    wait_for_empty_buffers(&cluster);
    still_serves(addr);
}

#[test]
fn the_connection_going_over_the_total_is_the_one_closed() {
    let cluster = MockCluster::start(ClusterConfig::new(1).with_max_buffered_total(512 * KIB))
        .expect("starts");
    let addr = cluster.broker_address(1).expect("broker 1");
    let mut first = connect(addr);
    let mut second = connect(addr);
    // 320 KiB of a 400 KiB frame each: the first fits, the second does not.
    assert_eq!(
        trickle(
            &cluster,
            &mut first,
            400 * KIB as i32,
            (320 * KIB, SHORT),
            512 * KIB
        ),
        None,
        "the first stays under the cap"
    );
    assert!(
        trickle(
            &cluster,
            &mut second,
            400 * KIB as i32,
            (400 * KIB, LONG),
            512 * KIB
        )
        .is_some(),
        "the second goes over the total"
    );
    assert!(!peer_closed(&mut first, SHORT), "the first is kept");
    drop(first);
    wait_for_empty_buffers(&cluster);
}

#[test]
fn default_caps_follow_the_request_limit() {
    let config = ClusterConfig::new(1).with_max_request_size(MIB);
    assert_eq!(config.max_buffered_per_connection(), MIB + BUFFER_SLACK);
    assert_eq!(config.max_buffered_total(), 64 * MIB);
}

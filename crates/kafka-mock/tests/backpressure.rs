//! A client that pipelines requests without reading the answers gets TCP
//! backpressure: the mock stops reading once its outbox is full instead of
//! queueing answers without bound, and serves the rest, in order, once the
//! client reads. Raw 127.0.0.1 socket, every wait bounded.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

use common::{api_versions, Client};

/// Requests the client pipelines: about 3 MB of requests whose answers
/// (about 400 bytes each) would be 40 MB queued in the mock.
const REQUESTS: i32 = 100_000;

/// ApiVersions requests the mock has answered so far.
fn answered(cluster: &MockCluster) -> u64 {
    cluster.handle().request_count(None, ApiKey::ApiVersions)
}

/// Waits (at most 10 s) until the mock has answered no new request for
/// 500 ms; returns the count then.
fn settled(cluster: &MockCluster) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (answered(cluster), Instant::now());
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        let now = answered(cluster);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= Duration::from_millis(500) {
            break;
        }
    }
    last.0
}

#[test]
fn a_client_that_does_not_read_is_throttled_then_served_in_order() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("cluster");
    let addr = cluster.bootstrap_servers().parse().expect("one address");
    let stream = common::tcp(addr).expect("connects");
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut writer = Client::new(stream.try_clone().expect("clone"));
    let sending = thread::spawn(move || {
        for _ in 0..REQUESTS {
            writer.send(3, &api_versions())?;
        }
        Ok::<(), std::io::Error>(())
    });

    // The mock answers what fits the socket buffers and its outbox, then
    // stops reading: the rest of the requests wait in the sockets.
    let before_reading = settled(&cluster);
    assert!(
        before_reading < REQUESTS as u64 / 2,
        "the mock read on without the answers being read: {before_reading} of {REQUESTS} answered"
    );

    // Reading the answers lets it go on; every answer comes, in order.
    let mut reader = Client::new(stream);
    for expected in 1..=REQUESTS {
        let (id, response) = reader
            .receive::<ApiVersionsResponse>(3)
            .unwrap_or_else(|e| panic!("answer {expected} of {REQUESTS}: {e}"));
        assert_eq!(id, expected, "answers in request order");
        assert_eq!(response.error_code, 0);
    }
    sending
        .join()
        .expect("writer thread")
        .expect("every request written");
    assert_eq!(answered(&cluster), REQUESTS as u64);
}

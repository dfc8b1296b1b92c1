//! `connections.max.idle.ms`: a broker connection with nothing in flight
//! for that long is closed on time (the loop wakes for it), and dialled
//! again when a request needs it; with -1 it stays open. A fault proxy
//! with no faults counts the live connections; every new connection
//! starts with ApiVersions, which the mock counts.

use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use rouse_kafka::{Producer, ProducerConfig, Record};
use rouse_kafka_mock::proxy::{FaultPlan, FaultProxy};
use rouse_kafka_mock::MockCluster;

mod common;

use common::{cluster, TOPIC};

fn producer(proxy: &FaultProxy, max_idle_ms: &str) -> Producer {
    let bootstrap = proxy.bootstrap_servers();
    let pairs = [
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "idle-test"),
        ("max.block.ms", "5000"),
        ("connections.max.idle.ms", max_idle_ms),
        // The poller's sleep ends at its deadlines only, not every second:
        // the idle close must be one of them.
        ("rouse.poll.timeout.ms", "60000"),
    ];
    Producer::new(ProducerConfig::from_pairs(pairs).expect("config")).expect("starts")
}

fn deliver(producer: &Producer, value: &str) {
    producer
        .send(Record::value(TOPIC, value.to_owned()))
        .expect("send")
        .wait_timeout(Duration::from_secs(10))
        .expect("outcome")
        .expect("delivered");
}

/// A one-broker mock behind a fault proxy with no faults, and a producer
/// with `connections.max.idle.ms` at `max_idle_ms` that has delivered one
/// record through it.
fn delivered_once(max_idle_ms: &str) -> (MockCluster, FaultProxy, Producer) {
    let cluster = cluster(1, 1);
    let proxy = FaultProxy::in_front_of(&cluster, FaultPlan::new(1)).expect("proxy");
    let producer = producer(&proxy, max_idle_ms);
    deliver(&producer, "first");
    (cluster, proxy, producer)
}

/// Connections negotiated so far.
fn negotiated(cluster: &MockCluster) -> u64 {
    cluster.handle().request_count(None, ApiKey::ApiVersions)
}

#[test]
fn an_idle_connection_is_closed_on_time_and_dialled_again_when_needed() {
    let (cluster, proxy, producer) = delivered_once("300");
    let before = negotiated(&cluster);
    // Nothing is sent from here on: only the idle deadline can close it.
    let deadline = Instant::now() + Duration::from_secs(3);
    while proxy.live_connections() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} connections still open 3 s after the last answer",
            proxy.live_connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(negotiated(&cluster), before, "nothing dials while idle");
    deliver(&producer, "second");
    assert_eq!(
        negotiated(&cluster) - before,
        1,
        "the second record needed a new connection"
    );
}

#[test]
fn minus_one_keeps_idle_connections_open() {
    let (cluster, proxy, producer) = delivered_once("-1");
    let (before, open) = (negotiated(&cluster), proxy.live_connections());
    assert!(open >= 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(proxy.live_connections(), open, "still open after 1 s idle");
    deliver(&producer, "second");
    assert_eq!(negotiated(&cluster), before, "the same connection served");
}

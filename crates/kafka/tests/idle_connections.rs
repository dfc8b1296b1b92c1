//! `connections.max.idle.ms`: a broker connection with nothing in flight
//! for that long is closed, and dialled again when a request needs it;
//! with -1 it stays open. Every new connection starts with ApiVersions,
//! which the mock counts.

use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use rouse_kafka::{Producer, Record};
use rouse_kafka_mock::MockCluster;

mod common;

use common::{cluster, producer, TOPIC};

fn deliver(producer: &Producer, value: &str) {
    producer
        .send(Record::value(TOPIC, value.to_owned()))
        .expect("send")
        .wait_timeout(Duration::from_secs(10))
        .expect("outcome")
        .expect("delivered");
}

/// Connections negotiated so far.
fn negotiated(cluster: &MockCluster) -> u64 {
    cluster.handle().request_count(None, ApiKey::ApiVersions)
}

/// Delivers one record, idles for a second, delivers another: how many
/// connections were negotiated for the second one, and how many while
/// idle.
fn reconnects_after_a_second_idle(max_idle_ms: &str) -> (u64, u64) {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[("connections.max.idle.ms", max_idle_ms)]);
    deliver(&producer, "first");
    let before = negotiated(&cluster);
    std::thread::sleep(Duration::from_secs(1));
    let idle = negotiated(&cluster) - before;
    deliver(&producer, "second");
    (idle, negotiated(&cluster) - before)
}

#[test]
fn an_idle_connection_is_closed_and_dialled_again_when_needed() {
    let (while_idle, in_all) = reconnects_after_a_second_idle("300");
    assert_eq!(while_idle, 0, "nothing dials while nothing is to be sent");
    assert_eq!(in_all, 1, "the second record needed a new connection");
}

#[test]
fn minus_one_keeps_idle_connections_open() {
    assert_eq!(reconnects_after_a_second_idle("-1"), (0, 0));
}

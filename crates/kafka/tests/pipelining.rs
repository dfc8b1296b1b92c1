//! Which batches of one partition the idempotent producer pipelines: a
//! batch still taking records waits for the request in flight, so a
//! steady trickle goes out as one request per round trip; complete batches
//! (full, or with more behind them) still go several at a time.

use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use rouse_kafka::{DeliveryFuture, Producer, Record};
use rouse_kafka_mock::MockCluster;

mod common;

use common::{cluster, producer, TOPIC};

/// How long the mock holds each Produce answer in these tests.
const HOLD: Duration = Duration::from_millis(300);

/// Sends one record and waits for it: the identity is then confirmed, the
/// state in which the producer may pipeline at all.
fn warm_up(producer: &Producer) {
    producer
        .send(Record::value(TOPIC, "warm-up"))
        .expect("send")
        .wait_timeout(Duration::from_secs(10))
        .expect("outcome")
        .expect("delivered");
}

/// Waits (bounded) until the mock has seen `count` Produce requests.
fn wait_for_requests(cluster: &MockCluster, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while cluster.handle().request_count(None, ApiKey::Produce) < count {
        assert!(
            Instant::now() < deadline,
            "the mock saw {} Produce requests, waited for {count}",
            cluster.handle().request_count(None, ApiKey::Produce)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn wait_all(futures: Vec<DeliveryFuture>) {
    for future in futures {
        future
            .wait_timeout(Duration::from_secs(10))
            .expect("outcome")
            .expect("delivered");
    }
}

#[test]
fn records_arriving_while_a_request_is_in_flight_go_together() {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[("linger.ms", "0")]);
    warm_up(&producer);
    let before = cluster.handle().request_count(None, ApiKey::Produce);
    cluster
        .handle()
        .delay_responses(ApiKey::Produce, None, HOLD);
    let first = producer.send(Record::value(TOPIC, "first")).expect("send");
    wait_for_requests(&cluster, before + 1);
    // Twenty records trickle in while "first" is in flight. Each wakes the
    // poller; pipelining each as it came would send up to four more
    // requests (five in flight) of one record or so each.
    let mut trickle = vec![first];
    for i in 0..20 {
        trickle.push(
            producer
                .send(Record::value(TOPIC, format!("trickle-{i}")))
                .expect("send"),
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_all(trickle);
    let sent = cluster.handle().request_count(None, ApiKey::Produce) - before;
    assert_eq!(
        sent, 2,
        "\"first\" and one request carrying the 20 that came during its round trip"
    );
}

#[test]
fn complete_batches_are_still_pipelined() {
    let cluster = cluster(1, 1);
    // 1 KiB batches: 40 records of 200 B fill several, each with a
    // backlog behind it or full.
    let producer = producer(&cluster, &[("linger.ms", "0"), ("batch.size", "1024")]);
    warm_up(&producer);
    let before = cluster.handle().request_count(None, ApiKey::Produce);
    cluster
        .handle()
        .delay_responses(ApiKey::Produce, None, HOLD);
    let started = Instant::now();
    let futures: Vec<_> = (0..40)
        .map(|i| {
            let value = format!("{i:0>200}");
            producer.send(Record::value(TOPIC, value)).expect("send")
        })
        .collect();
    // The connection's limit (five requests) is reached long before the
    // first answer comes back.
    wait_for_requests(&cluster, before + 5);
    assert!(
        started.elapsed() < HOLD,
        "five requests were in flight only after {:?}: complete batches waited for answers",
        started.elapsed()
    );
    wait_all(futures);
}

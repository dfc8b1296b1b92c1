//! `DeliveryFuture` is a `std::future::Future`: `producer.send(record)?.await`
//! works inside tokio (or any executor), with no runtime in rouse-kafka.

use std::time::Duration;

use rouse_kafka::Record;

mod common;

use common::{cluster, producer, TOPIC};

#[tokio::test(flavor = "current_thread")]
async fn send_then_await_under_tokio() {
    let cluster = cluster(1, 3);
    let producer = producer(&cluster, &[]);
    // On a current-thread runtime a blocking wait would deadlock nothing
    // here (the poller is its own thread), but .await must not block at all:
    // run many sends concurrently on one task each.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let future = producer
                .send(Record::value(TOPIC, format!("async-{i}")))
                .expect("send accepted");
            tokio::spawn(future)
        })
        .collect();
    let mut offsets = Vec::new();
    for task in tasks {
        let delivered = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("an outcome within 10 s")
            .expect("the task ran")
            .expect("delivered");
        offsets.push((delivered.partition, delivered.offset));
    }
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(offsets.len(), 50, "fifty distinct offsets");
    let direct = producer
        .send(Record::value(TOPIC, "awaited"))
        .expect("send accepted")
        .await
        .expect("delivered");
    assert!(direct.offset >= 0);
}

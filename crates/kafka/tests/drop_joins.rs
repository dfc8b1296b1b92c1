//! Dropping the last `Producer` handle joins its poller thread. A test of
//! its own binary: it counts the process's poller threads, which producers
//! of tests running beside it would change under it.

use std::time::{Duration, Instant};

use rouse_kafka::Record;

mod common;

use common::{cluster, producer, send_all, TOPIC};

/// Threads of this process whose name starts with `prefix`, and open fds.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with(prefix))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn dropping_the_last_handle_joins_the_poller_and_closes_its_sockets() {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[]);
    let clone = producer.clone();
    send_all(&clone, 10, "drop");
    let pollers = threads_named("rouse-kafka-pol");
    assert!(pollers >= 1, "the poller thread runs");
    drop(producer);
    assert_eq!(
        threads_named("rouse-kafka-pol"),
        pollers,
        "a clone keeps it alive"
    );
    // Records still queued when the last handle goes are sent, not lost.
    let pending = clone.send(Record::value(TOPIC, "last")).expect("send");
    let started = Instant::now();
    drop(clone);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "drop is bounded"
    );
    assert_eq!(threads_named("rouse-kafka-pol"), pollers - 1, "joined");
    let outcome = pending
        .wait_timeout(Duration::from_secs(1))
        .expect("resolved by the drop");
    assert!(outcome.is_ok(), "{outcome:?}");
}

//! A subscribed consumer's clear errors, against the embedded mock
//! cluster (a group coordinator) on 127.0.0.1: `poll` not called within
//! `max.poll.interval.ms` (the next poll says so, then the member is back
//! in the group), two static members with one `group.instance.id` (the
//! fenced one fails naming the setting), `assign` and `subscribe` mixed,
//! a bad pattern, `subscribe` without a `group.id`. Every wait is bounded.

use std::time::{Duration, Instant};

use rouse_kafka::{Consumer, ConsumerConfig, ConsumerError, TopicPartition};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

const TOPIC: &str = "errors";

fn cluster() -> MockCluster {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("mock starts");
    cluster.create_topic(TOPIC, 4).expect("topic");
    cluster
}

fn consumer(cluster: &MockCluster, extra: &[(&str, &str)]) -> Consumer {
    let bootstrap = cluster.bootstrap_servers();
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", "errors"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "200"),
    ];
    pairs.extend_from_slice(extra);
    Consumer::new(ConsumerConfig::from_pairs(pairs).expect("valid config")).expect("starts")
}

/// Polls until the consumer owns partitions (bounded).
fn until_assigned(consumer: &Consumer) -> Vec<TopicPartition> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        consumer.poll(Duration::from_millis(100)).expect("poll");
        let owned = consumer.assignment();
        if !owned.is_empty() {
            return owned;
        }
    }
    panic!("no assignment within 20 s");
}

#[test]
fn a_late_poll_says_the_member_left_and_the_next_one_rejoins() {
    let cluster = cluster();
    let c = consumer(&cluster, &[("max.poll.interval.ms", "1500")]);
    c.subscribe([TOPIC], ()).expect("subscribe");
    assert_eq!(until_assigned(&c).len(), 4);
    std::thread::sleep(Duration::from_millis(2500)); // no poll: past the interval
    assert!(c.assignment().is_empty(), "the partitions were given up");
    match c.poll(Duration::from_millis(100)) {
        Err(e @ ConsumerError::PollIntervalExceeded { .. }) => {
            assert!(e.to_string().contains("max.poll.interval.ms"), "{e}")
        }
        other => panic!("expected PollIntervalExceeded, got {other:?}"),
    }
    assert_eq!(until_assigned(&c).len(), 4, "back in the group");
}

#[test]
fn a_fenced_static_member_fails_naming_group_instance_id() {
    let cluster = cluster();
    let first = consumer(&cluster, &[("group.instance.id", "host-1")]);
    first.subscribe([TOPIC], ()).expect("subscribe");
    until_assigned(&first);
    let second = consumer(&cluster, &[("group.instance.id", "host-1")]);
    second.subscribe([TOPIC], ()).expect("subscribe");
    until_assigned(&second);
    let deadline = Instant::now() + Duration::from_secs(20);
    let error = loop {
        assert!(Instant::now() < deadline, "the fenced member never heard");
        match first.poll(Duration::from_millis(100)) {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&error, ConsumerError::Fatal(why) if why.contains("group.instance.id")),
        "{error}"
    );
}

#[test]
fn assign_and_subscribe_do_not_mix_and_bad_input_is_named() {
    let cluster = cluster();
    let c = consumer(&cluster, &[]);
    c.assign([TopicPartition::new(TOPIC, 0)]).expect("assign");
    let e = c.subscribe([TOPIC], ()).unwrap_err();
    assert!(matches!(e, ConsumerError::SubscriptionConflict(_)), "{e}");
    assert!(e.to_string().contains("unsubscribe"), "{e}");
    c.unsubscribe()
        .expect("unsubscribe drops the manual assignment");
    c.subscribe([TOPIC], ())
        .expect("subscribe after unsubscribe");
    let e = c.assign([TopicPartition::new(TOPIC, 1)]).unwrap_err();
    assert!(matches!(e, ConsumerError::SubscriptionConflict(_)), "{e}");
    let e = c.subscribe_pattern("err(", ()).unwrap_err();
    assert!(
        matches!(&e, ConsumerError::InvalidPattern { pattern, .. } if pattern == "err("),
        "{e}"
    );
    let no_group = Consumer::new(
        ConsumerConfig::from_pairs([("bootstrap.servers", cluster.bootstrap_servers().as_str())])
            .expect("config"),
    )
    .expect("starts");
    assert!(matches!(
        no_group.subscribe([TOPIC], ()),
        Err(ConsumerError::NoGroup)
    ));
}

#[test]
fn a_pattern_subscribes_every_matching_topic() {
    let cluster = cluster();
    cluster.create_topic("errors-b", 2).expect("topic");
    cluster.create_topic("other", 2).expect("topic");
    let c = consumer(&cluster, &[]);
    c.subscribe_pattern("err.*", ()).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.assignment().len() < 6 && Instant::now() < deadline {
        c.poll(Duration::from_millis(100)).expect("poll");
    }
    let topics: std::collections::BTreeSet<String> = c
        .assignment()
        .iter()
        .map(|tp| tp.topic.to_string())
        .collect();
    assert_eq!(c.assignment().len(), 6, "errors (4) and errors-b (2)");
    assert!(!topics.contains("other"), "{topics:?}");
}

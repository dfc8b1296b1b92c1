//! The group protocol's finer points, against the embedded mock cluster on
//! 127.0.0.1, each as Java's consumer does it: a JoinGroup the coordinator
//! holds longer than `request.timeout.ms` still joins (it may wait
//! `max.poll.interval.ms` + 5 s), and one never answered is given up
//! within that bound; partitions added to a subscribed topic are assigned
//! and consumed exactly once; `client.rack` reaches the coordinator (the
//! subscription) and the brokers (Fetch); a coordinator that moves during
//! a join is found again. Every wait is bounded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Buf;
use kafka_protocol::messages::{ApiKey, ConsumerProtocolSubscription};
use kafka_protocol::protocol::Decodable;
use rouse_kafka::{Consumer, ConsumerConfig, Producer, ProducerConfig, Record};
use rouse_kafka_mock::{ClusterConfig, GroupSettings, MockCluster};

const TOPIC: &str = "protocol";
const GROUP: &str = "protocol";

fn cluster(brokers: usize, partitions: i32) -> MockCluster {
    let cluster = MockCluster::start(ClusterConfig::new(brokers)).expect("mock starts");
    cluster.create_topic(TOPIC, partitions).expect("topic");
    cluster
}

fn config(cluster: &MockCluster, extra: &[(&str, &str)]) -> ConsumerConfig {
    let bootstrap = cluster.bootstrap_servers();
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", GROUP),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "200"),
        ("auto.commit.interval.ms", "200"),
    ];
    pairs.extend_from_slice(extra);
    ConsumerConfig::from_pairs(pairs).expect("valid config")
}

/// Polls until the consumer owns `want` partitions or `within` passes;
/// how long it took.
fn until_assigned(consumer: &Consumer, want: usize, within: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        consumer.poll(Duration::from_millis(50)).expect("poll");
        if consumer.assignment().len() == want {
            return started.elapsed();
        }
    }
    panic!(
        "{want} partitions not assigned within {within:?}: {:?}",
        consumer.assignment()
    );
}

#[test]
fn a_join_held_longer_than_request_timeout_still_joins() {
    let cluster = cluster(1, 2);
    // Every JoinGroup answer is held 2.5 s, as a coordinator holds joins
    // while it waits for slow members: longer than request.timeout.ms.
    let hold = Duration::from_millis(2500);
    cluster
        .handle()
        .delay_responses(ApiKey::JoinGroup, None, hold);
    let c = Consumer::new(config(
        &cluster,
        &[
            ("request.timeout.ms", "1000"),
            ("max.poll.interval.ms", "10000"),
        ],
    ))
    .expect("starts");
    c.subscribe([TOPIC], ()).expect("subscribe");
    // The coordinator's first answer (KIP-394's member id) is held.
    let took = until_assigned(&c, 2, Duration::from_secs(20));
    assert!(took >= hold, "the join was held: {took:?}");
    assert_eq!(
        cluster.handle().request_count(None, ApiKey::JoinGroup),
        2,
        "no join was given up and sent again"
    );
}

#[test]
fn a_join_never_answered_is_given_up_after_the_rebalance_timeout_and_five_seconds() {
    let cluster = cluster(1, 2);
    let handle = cluster.handle();
    handle.delay_responses(ApiKey::JoinGroup, None, Duration::from_secs(120));
    let c = Consumer::new(config(
        &cluster,
        &[
            ("request.timeout.ms", "1000"),
            ("max.poll.interval.ms", "2000"),
        ],
    ))
    .expect("starts");
    c.subscribe([TOPIC], ()).expect("subscribe");
    let joins = || handle.request_count(None, ApiKey::JoinGroup);
    let deadline = Instant::now() + Duration::from_secs(20);
    while joins() == 0 {
        assert!(Instant::now() < deadline, "no JoinGroup sent");
        c.poll(Duration::from_millis(10)).expect("poll");
    }
    let first = Instant::now();
    while joins() == 1 {
        assert!(Instant::now() < deadline, "the join was never given up");
        c.poll(Duration::from_millis(10)).expect("poll");
    }
    // Java's bound: max(request.timeout.ms, max.poll.interval.ms + 5 s),
    // then the coordinator is found again (retry.backoff.ms, a reconnect).
    let waited = first.elapsed();
    let bound = Duration::from_secs(7);
    assert!(
        waited >= bound - Duration::from_millis(100) && waited < bound + Duration::from_secs(2),
        "the join was given up after {waited:?}, not {bound:?}"
    );
    assert!(c.assignment().is_empty());
}

/// A member on its own thread, recording what it consumed.
struct Member {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Rec>>,
}

fn member(config: ConsumerConfig, topics: Topics) -> Member {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let consumer = Consumer::new(config).expect("consumer");
        match topics {
            Topics::Names(names) => consumer.subscribe(names, ()).expect("subscribe"),
            Topics::Pattern(p) => consumer.subscribe_pattern(p, ()).expect("subscribe"),
        }
        let mut got = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            let records = consumer.poll(Duration::from_millis(100)).expect("poll");
            got.extend(
                records
                    .into_iter()
                    .map(|r| (r.topic.to_string(), r.partition, r.offset)),
            );
        }
        consumer.close(Duration::from_secs(10)).ok();
        got
    });
    Member { stop, thread }
}

/// (topic, partition, offset) of one record.
type Rec = (String, i32, i64);

enum Topics {
    Names(Vec<&'static str>),
    Pattern(&'static str),
}

impl Member {
    fn stop(self) -> Vec<Rec> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("member thread")
    }
}

/// Sends `n` records to each of `partitions` of `topic`; where they went.
fn produce(producer: &Producer, topic: &str, partitions: &[i32], n: usize) -> Vec<Rec> {
    let futures: Vec<_> = partitions
        .iter()
        .flat_map(|&p| (0..n).map(move |i| (p, i)))
        .map(|(p, i)| {
            let record = Record::value(topic, format!("{p}-{i}")).with_partition(p);
            producer.send(record).expect("send")
        })
        .collect();
    futures
        .into_iter()
        .map(|f| {
            let meta = f
                .wait_timeout(Duration::from_secs(30))
                .expect("an outcome")
                .expect("delivered");
            (topic.to_owned(), meta.partition, meta.offset)
        })
        .collect()
}

fn producer(cluster: &MockCluster) -> Producer {
    Producer::new(
        ProducerConfig::from_pairs([
            ("bootstrap.servers", cluster.bootstrap_servers().as_str()),
            ("linger.ms", "5"),
        ])
        .expect("config"),
    )
    .expect("producer")
}

/// Every produced record consumed exactly once: (lost, duplicated).
fn lost_and_duplicated(produced: &[Rec], consumed: &[Rec]) -> (usize, usize) {
    let mut seen: BTreeMap<&Rec, usize> = produced.iter().map(|r| (r, 0)).collect();
    for r in consumed {
        *seen.get_mut(r).expect("consumed a record never produced") += 1;
    }
    let lost = seen.values().filter(|n| **n == 0).count();
    let duplicated = seen.values().filter(|n| **n > 1).count();
    (lost, duplicated)
}

fn wait_until(within: Duration, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn partitions_added_to_a_subscribed_topic_are_consumed_exactly_once() {
    let cluster = cluster(1, 2);
    let handle = cluster.handle();
    let extra = [("metadata.max.age.ms", "300")];
    let a = member(config(&cluster, &extra), Topics::Names(vec![TOPIC]));
    let b = member(config(&cluster, &extra), Topics::Names(vec![TOPIC]));
    let producer = producer(&cluster);
    let mut produced = produce(&producer, TOPIC, &[0, 1], 100);
    wait_until(Duration::from_secs(20), "two members", || {
        let group = handle.group(GROUP);
        group.state == "Stable" && group.members.len() == 2
    });
    let generation = handle.group(GROUP).generation;
    handle.create_partitions(TOPIC, 4).expect("grown");
    // A new producer: its first metadata knows the new partitions.
    drop(producer);
    let producer = self::producer(&cluster);
    produced.extend(produce(&producer, TOPIC, &[0, 1, 2, 3], 100));
    wait_until(Duration::from_secs(20), "a rebalance", || {
        let group = handle.group(GROUP);
        group.state == "Stable" && group.generation > generation
    });
    wait_until(Duration::from_secs(20), "every record committed", || {
        (0..4).all(|p| handle.committed(GROUP, TOPIC, p) == Some(100 + 100 * (p < 2) as i64))
    });
    let mut consumed = a.stop();
    consumed.extend(b.stop());
    assert_eq!(produced.len(), 600);
    assert_eq!(lost_and_duplicated(&produced, &consumed), (0, 0));
}

#[test]
fn a_new_topic_matching_the_pattern_is_consumed_exactly_once() {
    let cluster = cluster(1, 2);
    let handle = cluster.handle();
    let extra = [("metadata.max.age.ms", "300")];
    let a = member(config(&cluster, &extra), Topics::Pattern("proto.*"));
    let producer = producer(&cluster);
    let mut produced = produce(&producer, TOPIC, &[0, 1], 50);
    wait_until(Duration::from_secs(20), "a member", || {
        handle.group(GROUP).state == "Stable"
    });
    cluster.create_topic("protocol-b", 3).expect("topic");
    let later = produce(&producer, "protocol-b", &[0, 1, 2], 50);
    wait_until(Duration::from_secs(20), "every record committed", || {
        (0..3).all(|p| handle.committed(GROUP, "protocol-b", p) == Some(50))
            && (0..2).all(|p| handle.committed(GROUP, TOPIC, p) == Some(50))
    });
    produced.extend(later);
    let consumed = a.stop();
    assert_eq!(produced.len(), 250);
    assert_eq!(lost_and_duplicated(&produced, &consumed), (0, 0));
}

#[test]
fn client_rack_goes_in_the_subscription_and_in_fetch() {
    let cluster = cluster(1, 2);
    let handle = cluster.handle();
    let c = Consumer::new(config(
        &cluster,
        &[("client.rack", "use1-az3"), ("client.id", "racked")],
    ))
    .expect("starts");
    c.subscribe([TOPIC], ()).expect("subscribe");
    until_assigned(&c, 2, Duration::from_secs(20));
    wait_until(Duration::from_secs(10), "a Stable group", || {
        handle.group(GROUP).state == "Stable"
    });
    let group = handle.group(GROUP);
    let member = &group.members[0];
    assert!(
        member.member_id.starts_with("racked-"),
        "the member id starts with the client id: {}",
        member.member_id
    );
    let mut bytes = member.metadata.clone();
    let version = bytes.get_i16();
    assert_eq!(version, 3, "Java 3.5+'s subscription version");
    let subscription = ConsumerProtocolSubscription::decode(&mut bytes, version).expect("decodes");
    assert_eq!(subscription.rack_id.as_deref(), Some("use1-az3"));
    let fetched_with = Mutex::new(Vec::new());
    wait_until(Duration::from_secs(10), "a Fetch with the rack", || {
        c.poll(Duration::from_millis(50)).expect("poll");
        *fetched_with.lock().unwrap() = handle.fetch_rack_ids();
        !fetched_with.lock().unwrap().is_empty()
    });
    assert_eq!(*fetched_with.lock().unwrap(), ["use1-az3"]);
}

#[test]
fn a_coordinator_that_moves_during_a_join_is_found_again() {
    let cluster = cluster(3, 2);
    let handle = cluster.handle();
    // The first join phase waits 1.5 s for more members: the join is
    // held at the coordinator while it moves.
    handle
        .set_group_settings(GroupSettings {
            initial_rebalance_delay: Duration::from_millis(1500),
            ..GroupSettings::default()
        })
        .expect("valid");
    let c = Consumer::new(config(&cluster, &[])).expect("starts");
    c.subscribe([TOPIC], ()).expect("subscribe");
    let old = handle.coordinator(GROUP).expect("runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.group(GROUP).members.is_empty() {
        assert!(Instant::now() < deadline, "the join never arrived");
        c.poll(Duration::from_millis(10)).expect("poll");
    }
    let new = if old == 1 { 2 } else { 1 };
    handle
        .move_group_coordinator(GROUP, new)
        .expect("known broker");
    until_assigned(&c, 2, Duration::from_secs(20));
    assert!(
        handle.request_count(Some(new), ApiKey::JoinGroup) >= 1,
        "the member joined at the new coordinator"
    );
    assert_eq!(handle.group(GROUP).state, "Stable");
}

#[test]
fn a_join_the_coordinator_holds_does_not_hold_back_fetches() {
    // One broker: the coordinator is also the partitions' leader, and a
    // broker answers one connection's requests in order, so a Fetch sent
    // on the connection carrying the held JoinGroup would wait for it.
    let cluster = cluster(1, 2);
    let handle = cluster.handle();
    let c = Consumer::new(config(
        &cluster,
        &[
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("metadata.max.age.ms", "300"),
            ("max.poll.interval.ms", "20000"),
            // The mock's group state has the join answered at once (the
            // fault holds only its bytes), so its session clock runs
            // through the hold.
            ("session.timeout.ms", "15000"),
        ],
    ))
    .expect("starts");
    c.subscribe([TOPIC], ()).expect("subscribe");
    until_assigned(&c, 2, Duration::from_secs(20));
    let producer = producer(&cluster);

    // A partition more makes the member rejoin; the coordinator holds
    // that join 6 s. Cooperative: the member keeps both partitions meanwhile.
    let hold = Duration::from_secs(6);
    handle.delay_responses(ApiKey::JoinGroup, None, hold);
    let joins = handle.request_count(None, ApiKey::JoinGroup);
    handle.create_partitions(TOPIC, 3).expect("grown");
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.request_count(None, ApiKey::JoinGroup) == joins {
        assert!(Instant::now() < deadline, "no rejoin");
        c.poll(Duration::from_millis(20)).expect("poll");
    }
    let produced = produce(&producer, TOPIC, &[0, 1], 10);
    let acked = Instant::now();
    let mut consumed = Vec::new();
    while consumed.len() < produced.len() {
        assert!(
            acked.elapsed() < hold / 3,
            "{} of {} records in {:?} while the join was held: fetches waited behind it",
            consumed.len(),
            produced.len(),
            acked.elapsed()
        );
        let records = c.poll(Duration::from_millis(20)).expect("poll");
        consumed.extend(
            records
                .into_iter()
                .map(|r| (r.topic.to_string(), r.partition, r.offset)),
        );
    }
    assert_eq!(c.assignment().len(), 2, "still in the held rebalance");
    assert_eq!(lost_and_duplicated(&produced, &consumed), (0, 0));
    until_assigned(&c, 3, Duration::from_secs(20));
}

#[test]
fn a_deleted_topic_is_dropped_from_the_assignment_by_a_rebalance() {
    let cluster = cluster(1, 2);
    let handle = cluster.handle();
    cluster.create_topic("protocol-gone", 2).expect("topic");
    let c = Consumer::new(config(
        &cluster,
        &[
            ("metadata.max.age.ms", "300"),
            // Else the consumer's own Metadata creates the topic again.
            ("allow.auto.create.topics", "false"),
        ],
    ))
    .expect("starts");
    c.subscribe([TOPIC, "protocol-gone"], ())
        .expect("subscribe");
    until_assigned(&c, 4, Duration::from_secs(20));
    let generation = handle.group(GROUP).generation;
    handle.delete_topic("protocol-gone").expect("deleted");
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.assignment().len() != 2 {
        assert!(
            Instant::now() < deadline,
            "the deleted topic's partitions stayed assigned: {:?}",
            c.assignment()
        );
        c.poll(Duration::from_millis(50)).expect("poll");
    }
    assert!(c.assignment().iter().all(|tp| &*tp.topic == TOPIC));
    assert!(handle.group(GROUP).generation > generation, "a rebalance");
}

//! The consumer through broker faults, and fed bad input.
//!
//! Faults: leaders moved between the mock's 3 brokers, brokers stopped and
//! restarted, connections dropped; tansu (a real Kafka-compatible broker)
//! behind the seeded fault proxy through outages and cuts. Each fault fires
//! when the consumer has handed out a set number of records, so it lands
//! mid-drain with fetches in flight, however fast or slow the machine; no
//! record may be skipped or handed out twice.
//!
//! Bad input: an unknown topic, an unknown partition, an offset out of
//! range with `auto.offset.reset=none`, and a batch whose CRC does not
//! match (the mock's corrupt-batch fault). Each must make `poll` return an
//! error naming the partition within 5 s ([`ERROR_BOUND`]), keep returning
//! it until the application seeks, and hand out every record before it:
//! never a panic, a hang or a silent skip.
//!
//! The tansu test needs ROUSE_TANSU (`cargo xtask ci` sets it) and is
//! ignored otherwise. Run with `--nocapture` to see the figures.

// The figures each run prints are the point of `--nocapture`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use rouse_kafka::{Consumer, ConsumerError, ConsumerRecord, Producer, Record, TopicPartition};
use rouse_kafka_mock::proxy::FaultPlan;
use rouse_kafka_mock::{ClusterConfig, MockCluster};

mod common;

use common::consume::{consumer, partitions, produce_rouse, Produced, Tally};
use common::tansu::behind_proxy;

const TOPIC: &str = "faults";
const PARTITIONS: i32 = 6;
/// How long `poll` may take to report a partition that cannot be consumed.
const ERROR_BOUND: Duration = Duration::from_secs(5);

/// Drains `produced` through `consumer`, calling `fault(n)` each time the
/// records handed out pass the next of `milestones` (`n` its index). Bounded
/// by `within`.
fn drain_with_faults(
    consumer: &Consumer,
    produced: &Produced,
    milestones: &[usize],
    within: Duration,
    mut fault: impl FnMut(usize),
) -> Tally {
    let total: usize = produced.values().map(Vec::len).sum();
    let deadline = Instant::now() + within;
    let mut got: Vec<ConsumerRecord> = Vec::with_capacity(total);
    let mut next = 0;
    while got.len() < total && Instant::now() < deadline {
        got.extend(consumer.poll(Duration::from_millis(200)).expect("poll"));
        while next < milestones.len() && got.len() >= milestones[next] {
            fault(next);
            next += 1;
        }
    }
    assert_eq!(next, milestones.len(), "every fault fired mid-drain");
    got.extend(consumer.poll(Duration::from_millis(300)).expect("poll"));
    Tally::new(produced, &got)
}

/// Moves every partition's leader to the next of the 3 brokers.
fn move_all_leaders(cluster: &MockCluster, topic: &str) {
    let leaders = cluster.handle().leaders(topic).expect("leaders");
    for (partition, leader) in leaders.into_iter().enumerate() {
        let to = leader % 3 + 1;
        cluster
            .handle()
            .move_leader(topic, partition as i32, to)
            .expect("move");
    }
}

#[test]
fn mock_moved_leaders_restarts_and_drops_skip_and_repeat_nothing() {
    let cluster = MockCluster::start(ClusterConfig::new(3)).expect("mock starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let bootstrap = cluster.bootstrap_servers();
    let produced = produce_rouse(&bootstrap, TOPIC, PARTITIONS, 6_000, "mock");
    // Small buffers: most records are still to be fetched when a fault fires.
    let consumer = consumer(
        &bootstrap,
        &[
            ("max.poll.records", "100"),
            ("queued.max.messages.kbytes", "8"),
            ("max.partition.fetch.bytes", "4096"),
            ("fetch.max.bytes", "16384"),
        ],
    );
    consumer
        .assign(partitions(TOPIC, PARTITIONS))
        .expect("assign");
    let (faults, fire) = crossbeam_channel::unbounded::<usize>();
    let tally = std::thread::scope(|s| {
        // Stops wait for their restart here, so polls go on meanwhile.
        s.spawn(|| {
            let stop_restart = |broker: i32| {
                cluster.stop_broker(broker).expect("stop");
                std::thread::sleep(Duration::from_millis(400));
                cluster.restart_broker(broker).expect("restart");
            };
            for step in fire.iter() {
                match step {
                    0 | 2 => move_all_leaders(&cluster, TOPIC),
                    1 => stop_restart(2),
                    3 => {
                        cluster.handle().drop_connection_after(Some(1), 0);
                        stop_restart(3);
                    }
                    _ => {
                        move_all_leaders(&cluster, TOPIC);
                        stop_restart(1);
                    }
                }
            }
        });
        let milestones = [2_000, 5_000, 9_000, 13_000, 17_000];
        let tally = drain_with_faults(
            &consumer,
            &produced,
            &milestones,
            Duration::from_secs(60),
            |step| faults.send(step).expect("fault thread"),
        );
        drop(faults);
        tally
    });
    println!("mock faults: {tally}; {:?}", consumer.stats());
    tally.assert_clean("mock moved leaders, restarts and drops");
}

#[test]
#[ignore = "needs ROUSE_TANSU; cargo xtask ci sets it"]
fn tansu_outages_and_cuts_through_the_fault_proxy_skip_and_repeat_nothing() {
    let (tansu, proxy) = behind_proxy(TOPIC, PARTITIONS as u32, FaultPlan::new(31));
    let bootstrap = tansu.bootstrap();
    let produced = produce_rouse(&bootstrap, TOPIC, PARTITIONS, 5_000, "tansu");
    let consumer = consumer(
        &bootstrap,
        &[
            ("max.poll.records", "100"),
            ("queued.max.messages.kbytes", "8"),
            ("max.partition.fetch.bytes", "4096"),
            ("fetch.max.bytes", "16384"),
            ("reconnect.backoff.ms", "50"),
        ],
    );
    consumer
        .assign(partitions(TOPIC, PARTITIONS))
        .expect("assign");
    let milestones = [3_000, 9_000, 15_000];
    let tally = drain_with_faults(
        &consumer,
        &produced,
        &milestones,
        Duration::from_secs(90),
        |step| {
            let cut = match step {
                0 => proxy.outage(Duration::from_secs(2)).expect("outage"),
                1 => proxy.cut_all(),
                _ => proxy.outage(Duration::from_millis(800)).expect("outage"),
            };
            assert!(cut > 0, "fault {step} cut the consumer's connections");
        },
    );
    println!("tansu faults: {tally}; proxy {:?}", proxy.stats());
    tally.assert_clean("tansu outages and cuts");
}

/// Polls (bounded by [`ERROR_BOUND`]) until an error; records handed out
/// before it are returned with it.
fn poll_until_error(consumer: &Consumer) -> (Vec<ConsumerRecord>, ConsumerError, Duration) {
    let started = Instant::now();
    let mut records = Vec::new();
    loop {
        match consumer.poll(ERROR_BOUND) {
            Ok(got) => records.extend(got),
            Err(error) => return (records, error, started.elapsed()),
        }
        assert!(
            started.elapsed() < ERROR_BOUND,
            "no error within {ERROR_BOUND:?}; {} records",
            records.len()
        );
    }
}

/// The error [`poll_until_error`] found is a `Partition` error for `tp`
/// whose message holds every one of `words`, and came within
/// [`ERROR_BOUND`]; returns the records handed out before it.
fn assert_names(
    found: (Vec<ConsumerRecord>, ConsumerError, Duration),
    tp: &TopicPartition,
    words: &[&str],
) -> Vec<ConsumerRecord> {
    let (records, error, took) = found;
    assert!(took < ERROR_BOUND, "{error} took {took:?}");
    match error {
        ConsumerError::Partition { partition, message } => {
            assert_eq!(&partition, tp, "{message}");
            for word in words {
                assert!(message.contains(word), "{word:?} not in {message:?}");
            }
        }
        other => panic!("expected an error naming {tp}, got {other:?}"),
    }
    records
}

/// Polls (bounded by [`ERROR_BOUND`]) until `want` records came, taking
/// errors naming `failed` as the stopped partition's, any other as a
/// failure.
fn poll_past_errors(
    consumer: &Consumer,
    failed: &TopicPartition,
    want: usize,
) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + ERROR_BOUND;
    let mut records = Vec::new();
    while records.len() < want && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Ok(got) => records.extend(got),
            Err(ConsumerError::Partition { partition, .. }) if &partition == failed => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(other) => panic!("{other}"),
        }
    }
    records
}

fn send_batch(producer: &Producer, partition: i32, values: std::ops::Range<i32>) {
    for i in values {
        let record = Record::key_value(TOPIC, "k", format!("v{i}")).with_partition(partition);
        producer.send(record).expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

#[test]
fn a_corrupt_batch_is_named_after_every_record_before_it() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("mock starts");
    let cluster_bootstrap = cluster.bootstrap_servers();
    cluster.create_topic(TOPIC, 2).expect("topic");
    let producer = common::producer(&cluster, &[("linger.ms", "50")]);
    // Three batches in partition 0 (offsets 0-9, 10-19, 20-29), one in 1.
    for batch in 0..3 {
        send_batch(&producer, 0, batch * 10..batch * 10 + 10);
    }
    send_batch(&producer, 1, 0..10);
    cluster.handle().corrupt_batch(TOPIC, 0, 15);

    let consumer = consumer(&cluster_bootstrap, &[("max.poll.records", "7")]);
    let (tp0, tp1) = (TopicPartition::new(TOPIC, 0), TopicPartition::new(TOPIC, 1));
    consumer.assign([tp0.clone(), tp1.clone()]).expect("assign");
    let mut records = assert_names(
        poll_until_error(&consumer),
        &tp0,
        &["faults-0", "offset 10", "CRC", "seek"],
    );
    // Partition 1 may still be handed out after the error: poll on to it.
    let more = 10 - records.iter().filter(|r| r.partition == 1).count();
    records.extend(poll_past_errors(&consumer, &tp0, more));
    let before: Vec<(i32, i64)> = records.iter().map(|r| (r.partition, r.offset)).collect();
    let p0: Vec<i64> = before.iter().filter(|r| r.0 == 0).map(|r| r.1).collect();
    let p1: Vec<i64> = before.iter().filter(|r| r.0 == 1).map(|r| r.1).collect();
    assert_eq!(p0, (0..10).collect::<Vec<_>>(), "every record before it");
    assert_eq!(
        p1,
        (0..10).collect::<Vec<_>>(),
        "the other partition goes on"
    );
    // Never a silent skip: the error stays until the application seeks.
    assert_names(poll_until_error(&consumer), &tp0, &["offset 10"]);
    assert_eq!(consumer.position(&tp0, ERROR_BOUND).expect("position"), 10);
    consumer.seek(&tp0, 20).expect("seek past it");
    let after = common::consume::drain(&consumer, 10, ERROR_BOUND);
    let offsets: Vec<i64> = after.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (20..30).collect::<Vec<_>>());
}

#[test]
fn unknown_topic_unknown_partition_and_out_of_range_are_named() {
    // A broker that does not create topics on request (Kafka's
    // auto.create.topics.enable=false, as most production clusters run).
    let cluster =
        MockCluster::start(ClusterConfig::new(2).with_auto_create_topics(false)).expect("mock");
    cluster.create_topic(TOPIC, 2).expect("topic");
    let bootstrap = cluster.bootstrap_servers();
    let producer = common::producer(&cluster, &[]);
    send_batch(&producer, 0, 0..5);

    let consumer = consumer(&bootstrap, &[]);
    let nowhere = TopicPartition::new("no-such-topic", 0);
    consumer.assign([nowhere.clone()]).expect("assign");
    let records = assert_names(
        poll_until_error(&consumer),
        &nowhere,
        &["no-such-topic-0", "no such topic"],
    );
    assert!(records.is_empty());

    let missing = TopicPartition::new(TOPIC, 5);
    let (tp0, tp1) = (TopicPartition::new(TOPIC, 0), TopicPartition::new(TOPIC, 1));
    consumer
        .assign([missing.clone(), tp0.clone()])
        .expect("assign");
    // The partition that exists is still consumed (some of its records may
    // come before the error), the missing one named by every poll that has
    // nothing else to hand out.
    let mut got = assert_names(
        poll_until_error(&consumer),
        &missing,
        &["faults-5", "has 2"],
    );
    got.extend(poll_past_errors(&consumer, &missing, 5 - got.len()));
    let offsets: Vec<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(
        offsets,
        (0..5).map(|o| (0, o)).collect::<Vec<_>>(),
        "the good partition's records"
    );

    let strict = common::consume::consumer(&bootstrap, &[("auto.offset.reset", "none")]);
    strict.assign([tp0.clone(), tp1.clone()]).expect("assign");
    strict.seek(&tp0, 1_000).expect("seek");
    strict.seek(&tp1, 0).expect("seek");
    assert_names(
        poll_until_error(&strict),
        &tp0,
        &["faults-0", "1000", "auto.offset.reset"],
    );
    assert_names(poll_until_error(&strict), &tp0, &["1000"]);
    // Nothing committed and `none`: the partition is named at once.
    let fresh = common::consume::consumer(&bootstrap, &[("auto.offset.reset", "none")]);
    fresh.assign([tp1.clone()]).expect("assign");
    assert_names(
        poll_until_error(&fresh),
        &tp1,
        &["faults-1", "auto.offset.reset"],
    );
}

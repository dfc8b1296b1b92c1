//! Commit, close, reopen: rounds of consumers of one group, each taking
//! part of 6 partitions' records (more produced between rounds, with every
//! codec), committing, closing; the next resumes at the committed offsets.
//! Across all rounds every record is handed out once, in order per
//! partition: no gap, no repeat. Against the mock and against tansu (a real
//! Kafka-compatible broker; ignored unless ROUSE_TANSU is set, as
//! `cargo xtask ci` does).
//!
//! And `wakeup()` from another thread under load: 1000 wakeups at jittered
//! moments (before a poll, while it drains, while it waits) while records
//! stream in bursts and `poll` runs with timeouts of 0, 1 ms and 10 s; each
//! must make a `poll` return `Wakeup` within 2 s, and no record may be
//! lost or repeated around them. Bounded: 60 s at most.
//!
//! And `enable.auto.commit` commits from `poll`, as Java's consumer does:
//! never a record the application has been given and not yet polled past.

// The figures each run prints are the point of `--nocapture`.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rouse_kafka::{ConsumerError, ConsumerRecord, Producer, ProducerConfig, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

mod common;

use common::consume::{consumer, drain, note, partitions, produce_rouse, sorted, Produced, Tally};
use common::tansu::{free_port, start_on};

const TOPIC: &str = "resume";
const PARTITIONS: i32 = 6;

/// Adds `more` to `produced`.
fn merge(produced: Produced, more: Produced) -> Produced {
    let mut all = produced;
    for (partition, records) in more {
        all.entry(partition).or_default().extend(records);
    }
    sorted(all)
}

/// Four consumers of one group in turn take about `takes[i]` records,
/// commit and close, with more records produced after each; a fifth takes
/// the rest. Each starts where the one before committed.
fn rounds_of_commit_close_reopen(bootstrap: &str, group: &str) -> Tally {
    let takes = [1_500, 2_300, 700, 1_200];
    let mut produced = produce_rouse(bootstrap, TOPIC, PARTITIONS, 1_000, "r0");
    let settings = [
        ("group.id", group),
        ("enable.auto.commit", "false"),
        ("max.poll.records", "100"),
    ];
    let tps = partitions(TOPIC, PARTITIONS);
    let mut delivered: Vec<ConsumerRecord> = Vec::new();
    let mut committed: HashMap<i32, i64> = HashMap::new();
    for round in 0..=takes.len() {
        let consumer = consumer(bootstrap, &settings);
        consumer.assign(tps.clone()).expect("assign");
        let stored = consumer
            .committed(&tps, Duration::from_secs(10))
            .expect("committed");
        for tp in &tps {
            let want = committed.get(&tp.partition).copied();
            assert_eq!(stored[tp], want, "round {round}: {tp}'s commit is kept");
        }
        let total: usize = produced.values().map(Vec::len).sum();
        let take = takes.get(round).copied().unwrap_or(total - delivered.len());
        let got = drain(&consumer, take, Duration::from_secs(30));
        assert!(got.len() >= take, "round {round}: {} of {take}", got.len());
        let mut first: HashMap<i32, i64> = HashMap::new();
        for r in &got {
            first.entry(r.partition).or_insert(r.offset);
        }
        for (partition, offset) in &first {
            let resumed_at = committed.get(partition).copied().unwrap_or(0);
            assert_eq!(*offset, resumed_at, "round {round}: partition {partition}");
        }
        delivered.extend(got);
        consumer
            .commit_sync(Duration::from_secs(10))
            .expect("commit");
        for tp in &tps {
            let position = consumer
                .position(tp, Duration::from_secs(10))
                .expect("position");
            committed.insert(tp.partition, position);
        }
        consumer.close(Duration::from_secs(10)).expect("close");
        if round < takes.len() {
            let tag = format!("r{}", round + 1);
            let more = produce_rouse(bootstrap, TOPIC, PARTITIONS, 250, &tag);
            produced = merge(produced, more);
        }
    }
    Tally::new(&produced, &delivered)
}

#[test]
fn mock_commit_close_reopen_resumes_with_no_gap_and_no_repeat() {
    let cluster = MockCluster::start(ClusterConfig::new(2)).expect("mock starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let tally = rounds_of_commit_close_reopen(&cluster.bootstrap_servers(), "resumers");
    println!("mock commit, close, reopen: {tally}");
    tally.assert_clean("mock commit, close, reopen");
}

#[test]
#[ignore = "needs ROUSE_TANSU; cargo xtask ci sets it"]
fn tansu_commit_close_reopen_resumes_with_no_gap_and_no_repeat() {
    let port = free_port().expect("a free port");
    let tansu = start_on(port, port, &[(TOPIC, PARTITIONS as u32)]);
    let tally = rounds_of_commit_close_reopen(&tansu.bootstrap(), "resumers");
    println!("tansu commit, close, reopen: {tally}");
    tally.assert_clean("tansu commit, close, reopen");
}

/// Produces bursts of 50 records over 3 partitions, 20 ms apart, until
/// `stop`; returns what was acknowledged.
fn produce_bursts(producer: &Producer, stop: &AtomicBool) -> Produced {
    let mut produced = Produced::new();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let futures: Vec<_> = (i..i + 50)
            .map(|n| {
                let value = format!("burst-{n}");
                let record = Record::value(TOPIC, value.clone()).with_partition((n % 3) as i32);
                (value, producer.send(record).expect("send"))
            })
            .collect();
        for (value, future) in futures {
            let meta = future
                .wait_timeout(Duration::from_secs(10))
                .expect("an outcome")
                .expect("delivered");
            note(&mut produced, meta.partition, meta.offset, value);
        }
        i += 50;
        std::thread::sleep(Duration::from_millis(20));
    }
    sorted(produced)
}

#[test]
fn wakeup_from_another_thread_under_load_is_never_lost() {
    const ROUNDS: usize = 1_000;
    const WAKE_BOUND: Duration = Duration::from_secs(2);
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("mock starts");
    cluster.create_topic(TOPIC, 3).expect("topic");
    let bootstrap = cluster.bootstrap_servers();
    let producer = Producer::new(
        ProducerConfig::from_pairs([
            ("bootstrap.servers", bootstrap.as_str()),
            ("linger.ms", "1"),
        ])
        .expect("config"),
    )
    .expect("producer");
    let consumer = consumer(&bootstrap, &[("max.poll.records", "13")]);
    consumer.assign(partitions(TOPIC, 3)).expect("assign");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let (stop, waker_done, seen) = (
        AtomicBool::new(false),
        AtomicBool::new(false),
        AtomicUsize::new(0),
    );
    let mut delivered: Vec<ConsumerRecord> = Vec::new();
    let (produced, waker) = std::thread::scope(|s| {
        let load = s.spawn(|| produce_bursts(&producer, &stop));
        let waker = s.spawn(|| {
            let outcome = (0..ROUNDS).try_for_each(|round| {
                // Jitter (0-500 µs, spun) moves the wakeup across every
                // phase of the poll loop.
                let jitter = Duration::from_micros((round as u64 * 7_919) % 500);
                let spun = Instant::now();
                while spun.elapsed() < jitter {
                    std::hint::spin_loop();
                }
                let before = seen.load(Ordering::Acquire);
                let woken = Instant::now();
                consumer.wakeup();
                while seen.load(Ordering::Acquire) == before {
                    if woken.elapsed() > WAKE_BOUND {
                        return Err(round);
                    }
                    std::thread::yield_now();
                }
                Ok(())
            });
            waker_done.store(true, Ordering::Release);
            outcome
        });
        let timeouts = [
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_secs(10),
        ];
        let mut polls = 0usize;
        while !waker_done.load(Ordering::Acquire) && Instant::now() < deadline {
            match consumer.poll(timeouts[polls % timeouts.len()]) {
                Ok(records) => delivered.extend(records),
                Err(ConsumerError::Wakeup) => {
                    seen.fetch_add(1, Ordering::Release);
                }
                Err(other) => panic!("{other}"),
            }
            polls += 1;
        }
        stop.store(true, Ordering::Relaxed);
        (load.join().expect("producer"), waker.join().expect("waker"))
    });
    assert_eq!(waker, Ok(()), "a wakeup not seen within {WAKE_BOUND:?}");
    assert_eq!(
        seen.load(Ordering::Acquire),
        ROUNDS,
        "one Wakeup per wakeup()"
    );
    let total: usize = produced.values().map(Vec::len).sum();
    let rest = total.saturating_sub(delivered.len());
    delivered.extend(drain(&consumer, rest, Duration::from_secs(20)));
    delivered.extend(consumer.poll(Duration::from_millis(200)).expect("poll"));
    let tally = Tally::new(&produced, &delivered);
    println!(
        "wakeup under load: {ROUNDS} wakeups seen in {} ms; {tally}",
        started.elapsed().as_millis()
    );
    assert!(total > 0, "records streamed meanwhile");
    tally.assert_clean("records around wakeups");
}

#[test]
fn auto_commit_covers_only_the_records_of_earlier_polls() {
    let cluster = MockCluster::start(ClusterConfig::new(1)).expect("mock starts");
    cluster.create_topic("auto", 1).expect("topic");
    let bootstrap = cluster.bootstrap_servers();
    let produced = produce_rouse(&bootstrap, "auto", 1, 20, "a");
    let total = produced.values().map(Vec::len).sum::<usize>();
    let consumer = consumer(
        &bootstrap,
        &[("group.id", "auto"), ("auto.commit.interval.ms", "100")],
    );
    consumer.assign(partitions("auto", 1)).expect("assign");
    let got = drain(&consumer, total, Duration::from_secs(20));
    assert_eq!(got.len(), total);
    // The application works on the last batch for 10 commit intervals
    // without polling: none of its records may be committed meanwhile.
    std::thread::sleep(Duration::from_secs(1));
    let committed = cluster.handle().committed("auto", "auto", 0);
    assert!(
        committed.is_none_or(|c| c < total as i64),
        "offset {committed:?} committed while the application still held the records before it"
    );
    // Its next poll commits them.
    consumer.poll(Duration::ZERO).expect("poll");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.handle().committed("auto", "auto", 0) != Some(total as i64) {
        assert!(
            Instant::now() < deadline,
            "the poll after them committed nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

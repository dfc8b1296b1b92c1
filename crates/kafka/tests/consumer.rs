//! The consumer against the embedded mock cluster on 127.0.0.1: records
//! produced by rouse's producer consumed exactly once and in order per
//! partition; `wakeup` from another thread; `poll` woken by records, not by
//! its timeout; seek, pause and resume; commits a new consumer resumes
//! from; partitions that cannot be consumed named in the error. Every wait
//! is bounded. The last test does the same against tansu, a real
//! Kafka-compatible broker (ignored unless ROUSE_TANSU is set, as
//! `cargo xtask ci` does).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rouse_kafka::{Consumer, ConsumerConfig, ConsumerError, ConsumerRecord, TopicPartition};
use rouse_kafka_mock::MockCluster;

mod common;

use common::tansu::{free_port, start_on};
use common::{cluster, producer, send_all, TOPIC};

fn consumer(cluster: &MockCluster, extra: &[(&str, &str)]) -> Consumer {
    let bootstrap = cluster.bootstrap_servers();
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "consumer-test"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
        ("request.timeout.ms", "5000"),
        ("retry.backoff.ms", "20"),
    ];
    pairs.extend_from_slice(extra);
    Consumer::new(ConsumerConfig::from_pairs(pairs).expect("valid config")).expect("starts")
}

fn partitions(n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(TOPIC, p)).collect()
}

/// Polls until `want` records came or `within` passed.
fn consume(consumer: &Consumer, want: usize, within: Duration) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(consumer.poll(Duration::from_millis(200)).expect("poll"));
    }
    got
}

/// partition → offsets and values, in the order handed out.
fn by_partition(records: &[ConsumerRecord]) -> BTreeMap<i32, Vec<(i64, String)>> {
    let mut out: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for r in records {
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        out.entry(r.partition).or_default().push((r.offset, value));
    }
    out
}

#[test]
fn records_produced_are_consumed_exactly_once_in_order_per_partition() {
    let cluster = cluster(2, 6);
    let producer = producer(&cluster, &[("linger.ms", "2")]);
    let sent = send_all(&producer, 3000, "once");
    let mut want: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for (partition, offset, value) in sent {
        want.entry(partition).or_default().push((offset, value));
    }
    for list in want.values_mut() {
        list.sort();
    }

    let consumer = consumer(&cluster, &[("max.poll.records", "100")]);
    consumer.assign(partitions(6)).expect("assign");
    let got = consume(&consumer, 3000, Duration::from_secs(20));
    assert_eq!(by_partition(&got), want, "every record once, in order");
    let more = consumer.poll(Duration::from_millis(300)).expect("poll");
    assert!(more.is_empty(), "nothing twice: {} more", more.len());
    let stats = consumer.stats();
    assert_eq!(stats.records_fetched, 3000, "{stats:?}");
    assert!(stats.fetch_requests > 0);
}

#[test]
fn leader_moves_dropped_connections_and_a_broker_restart_skip_and_repeat_nothing() {
    let cluster = cluster(2, 4);
    let producer = producer(&cluster, &[("linger.ms", "2")]);
    let sent = send_all(&producer, 2000, "faults");
    let mut want: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for (partition, offset, value) in sent {
        want.entry(partition).or_default().push((offset, value));
    }
    for list in want.values_mut() {
        list.sort();
    }
    let consumer = consumer(
        &cluster,
        &[
            ("max.poll.records", "50"),
            ("queued.max.messages.kbytes", "4"),
        ],
    );
    consumer.assign(partitions(4)).expect("assign");
    let mut got = consume(&consumer, 400, Duration::from_secs(10));
    let leaders = cluster.handle().leaders(TOPIC).expect("leaders");
    for (partition, leader) in leaders.iter().enumerate() {
        let other = if *leader == 1 { 2 } else { 1 };
        cluster
            .handle()
            .move_leader(TOPIC, partition as i32, other)
            .expect("move");
    }
    got.extend(consume(&consumer, 400, Duration::from_secs(10)));
    assert_eq!(
        got.len(),
        800,
        "the moved partitions are read at their new leaders"
    );
    // The faults land while the consumer drains, so fetches are in flight.
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            cluster.handle().drop_connection_after(None, 1);
            std::thread::sleep(Duration::from_millis(100));
            cluster.stop_broker(1).expect("stop");
            std::thread::sleep(Duration::from_millis(300));
            cluster.restart_broker(1).expect("restart");
        });
        got.extend(consume(
            &consumer,
            2000 - got.len(),
            Duration::from_secs(20),
        ));
    });
    assert_eq!(by_partition(&got), want, "every record once, in order");
}

#[test]
fn wakeup_from_another_thread_ends_a_blocked_poll_at_once() {
    let cluster = cluster(1, 1);
    let consumer = consumer(&cluster, &[]);
    consumer.assign(partitions(1)).expect("assign");
    // Before any poll: the next one returns Wakeup at once, then polls go on.
    consumer.wakeup();
    let started = Instant::now();
    assert!(matches!(
        consumer.poll(Duration::from_secs(10)),
        Err(ConsumerError::Wakeup)
    ));
    // Bounds here are a tenth of the poll's timeout, not the wake's cost
    // (about 0.1 ms, examples/consumer_wakeup.rs): a loaded 2-core CI
    // machine must not make them flaky, and a missed wake still fails them.
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(consumer
        .poll(Duration::from_millis(50))
        .expect("poll")
        .is_empty());

    for _ in 0..3 {
        let woken_at = std::thread::scope(|s| {
            let waker = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                let at = Instant::now();
                consumer.wakeup();
                at
            });
            let result = consumer.poll(Duration::from_secs(10));
            let returned = Instant::now();
            assert!(matches!(result, Err(ConsumerError::Wakeup)), "{result:?}");
            let woken = waker.join().expect("waker thread");
            returned.duration_since(woken)
        });
        assert!(
            woken_at < Duration::from_secs(1),
            "poll returned {woken_at:?} after wakeup()"
        );
    }
}

#[test]
fn no_wakeup_is_lost_while_records_stream_in() {
    let cluster = cluster(1, 2);
    let producer = producer(&cluster, &[("linger.ms", "1")]);
    let consumer = consumer(&cluster, &[("max.poll.records", "7")]);
    consumer.assign(partitions(2)).expect("assign");
    let (ack, acked) = crossbeam_channel::bounded::<()>(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut records = 0;
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                send_all(&producer, 20, "load");
            }
        });
        // Records flow before the wakeups start.
        while records == 0 && Instant::now() < deadline {
            records += consumer
                .poll(Duration::from_millis(100))
                .expect("poll")
                .len();
        }
        let streamed = records;
        let waker = s.spawn(|| {
            for _ in 0..200 {
                consumer.wakeup();
                // The next wakeup only after this one was seen.
                if acked.recv_timeout(Duration::from_secs(10)).is_err() {
                    return false;
                }
            }
            true
        });
        let mut seen = 0;
        while seen < 200 && Instant::now() < deadline {
            match consumer.poll(Duration::from_secs(10)) {
                Ok(got) => records += got.len(),
                Err(ConsumerError::Wakeup) => {
                    seen += 1;
                    ack.send(()).expect("the waker waits");
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(seen, 200, "every wakeup returned Wakeup");
        assert!(waker.join().expect("waker"), "no wakeup went unseen");
        assert!(records > streamed, "records streamed in meanwhile");
    });
}

#[test]
fn auto_commit_commits_the_positions_from_poll_on_its_interval() {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[]);
    send_all(&producer, 50, "auto");
    let consumer = consumer(
        &cluster,
        &[("group.id", "auto"), ("auto.commit.interval.ms", "50")],
    );
    consumer.assign(partitions(1)).expect("assign");
    assert_eq!(consume(&consumer, 50, Duration::from_secs(10)).len(), 50);
    let deadline = Instant::now() + Duration::from_secs(5);
    // Committed from poll (tests/consumer_resume.rs checks that nothing
    // is committed between polls).
    while cluster.handle().committed("auto", TOPIC, 0) != Some(50) {
        assert!(
            Instant::now() < deadline,
            "no auto-commit of offset 50 within 5 s"
        );
        consumer.poll(Duration::from_millis(20)).expect("poll");
    }
}

#[test]
fn poll_returns_as_soon_as_records_arrive_not_at_its_timeout() {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[("linger.ms", "0")]);
    let consumer = consumer(&cluster, &[]);
    let tp = TopicPartition::new(TOPIC, 0);
    consumer.assign([tp.clone()]).expect("assign");
    assert_eq!(
        consumer
            .position(&tp, Duration::from_secs(5))
            .expect("position"),
        0
    );
    std::thread::scope(|s| {
        let sender = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            send_all(&producer, 1, "prompt");
            Instant::now()
        });
        let records = consumer.poll(Duration::from_secs(10)).expect("poll");
        let returned = Instant::now();
        let acked = sender.join().expect("sender thread");
        assert_eq!(records.len(), 1);
        let after = returned.saturating_duration_since(acked);
        // The mock holds a fetch up to fetch.max.wait.ms (100 ms) with what
        // it had when the fetch arrived; anything near 10 s is the timeout.
        assert!(
            after < Duration::from_secs(1),
            "poll returned {after:?} after the ack"
        );
    });
}

#[test]
fn seek_pause_and_resume() {
    let cluster = cluster(1, 2);
    let producer = producer(&cluster, &[]);
    let tp0 = TopicPartition::new(TOPIC, 0);
    let tp1 = TopicPartition::new(TOPIC, 1);
    for i in 0..100 {
        let record = rouse_kafka::Record::key_value(TOPIC, "k", format!("v{i}")).with_partition(0);
        producer.send(record).expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let consumer = consumer(&cluster, &[]);
    consumer.assign([tp0.clone(), tp1.clone()]).expect("assign");

    consumer.seek(&tp0, 50).expect("seek");
    let got = consume(&consumer, 50, Duration::from_secs(10));
    let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (50..100).collect::<Vec<_>>());

    consumer
        .seek_to_beginning(std::slice::from_ref(&tp0))
        .expect("seek");
    assert_eq!(
        consumer
            .position(&tp0, Duration::from_secs(5))
            .expect("position"),
        0
    );
    consumer
        .seek_to_end(std::slice::from_ref(&tp0))
        .expect("seek");
    assert_eq!(
        consumer
            .position(&tp0, Duration::from_secs(5))
            .expect("position"),
        100
    );

    consumer.pause(std::slice::from_ref(&tp0)).expect("pause");
    for i in 100..110 {
        let record = rouse_kafka::Record::key_value(TOPIC, "k", format!("v{i}")).with_partition(0);
        producer.send(record).expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let paused = consumer.poll(Duration::from_millis(400)).expect("poll");
    assert!(paused.is_empty(), "a paused partition hands out nothing");
    consumer.resume(std::slice::from_ref(&tp0)).expect("resume");
    let got = consume(&consumer, 10, Duration::from_secs(10));
    let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (100..110).collect::<Vec<_>>());

    let unassigned = TopicPartition::new(TOPIC, 7);
    assert!(matches!(
        consumer.seek(&unassigned, 0),
        Err(ConsumerError::NotAssigned(tp)) if tp == unassigned
    ));
}

#[test]
fn a_new_consumer_resumes_at_the_committed_offset() {
    let cluster = cluster(2, 3);
    let producer = producer(&cluster, &[]);
    send_all(&producer, 300, "commit");
    let group = [
        ("group.id", "resumers"),
        ("enable.auto.commit", "false"),
        ("max.poll.records", "20"),
    ];
    let first = consumer(&cluster, &group);
    first.assign(partitions(3)).expect("assign");
    let mut got = consume(&first, 100, Duration::from_secs(10));
    first.commit_sync(Duration::from_secs(5)).expect("commit");
    let committed = first
        .committed(&partitions(3), Duration::from_secs(5))
        .expect("committed");
    for tp in partitions(3) {
        let position = first
            .position(&tp, Duration::from_secs(1))
            .expect("position");
        let stored = cluster.handle().committed("resumers", TOPIC, tp.partition);
        assert_eq!(committed[&tp], Some(position), "{tp}");
        assert_eq!(stored, Some(position), "{tp}: the mock has it");
    }
    first.close(Duration::from_secs(5)).expect("close");
    assert!(matches!(
        first.poll(Duration::ZERO),
        Err(ConsumerError::Closed)
    ));

    let second = consumer(&cluster, &group);
    second.assign(partitions(3)).expect("assign");
    got.extend(consume(&second, 300 - got.len(), Duration::from_secs(10)));
    let mut seen: Vec<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        total,
        "no record twice across the two consumers"
    );
    assert_eq!(total, 300, "no gap");
}

#[test]
fn partitions_that_cannot_be_consumed_are_named() {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[]);
    send_all(&producer, 5, "named");

    let missing = TopicPartition::new(TOPIC, 4);
    let consumer = consumer(&cluster, &[]);
    consumer.assign([missing.clone()]).expect("assign");
    match consumer.poll(Duration::from_secs(5)) {
        Err(ConsumerError::Partition { partition, message }) => {
            assert_eq!(partition, missing);
            assert!(
                message.contains("events-4") && message.contains("1 partition"),
                "{message}"
            );
        }
        other => panic!("expected a partition error, got {other:?}"),
    }

    let strict = self::consumer(&cluster, &[("auto.offset.reset", "none")]);
    let tp = TopicPartition::new(TOPIC, 0);
    strict.assign([tp.clone()]).expect("assign");
    strict.seek(&tp, 1000).expect("seek");
    match strict.poll(Duration::from_secs(5)) {
        Err(ConsumerError::Partition { partition, message }) => {
            assert_eq!(partition, tp);
            assert!(
                message.contains("1000") && message.contains("auto.offset.reset"),
                "{message}"
            );
        }
        other => panic!("expected out of range, got {other:?}"),
    }
    // Until the application seeks, the error stays; after, records come.
    assert!(strict.poll(Duration::from_millis(100)).is_err());
    strict.seek(&tp, 0).expect("seek");
    assert_eq!(consume(&strict, 5, Duration::from_secs(5)).len(), 5);
    assert!(matches!(
        strict.commit_sync(Duration::from_secs(1)),
        Err(ConsumerError::NoGroup)
    ));
}

#[test]
#[ignore = "needs ROUSE_TANSU; cargo xtask ci sets it"]
fn against_tansu_records_once_in_order_commits_resume_and_wakeup() {
    let topic = "rouse-consumer";
    let port = free_port().expect("a free port");
    let tansu = start_on(port, port, &[(topic, 3)]);
    let bootstrap = tansu.bootstrap();
    let producer = rouse_kafka::Producer::new(
        rouse_kafka::ProducerConfig::from_pairs([
            ("bootstrap.servers", bootstrap.as_str()),
            ("linger.ms", "5"),
            ("max.block.ms", "20000"),
        ])
        .expect("config"),
    )
    .expect("producer");
    let produce = |from: usize, to: usize| {
        let futures: Vec<_> = (from..to)
            .map(|i| {
                let record =
                    rouse_kafka::Record::key_value(topic, format!("k{}", i % 13), format!("v{i}"));
                (format!("v{i}"), producer.send(record).expect("send"))
            })
            .collect();
        let mut want: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
        for (value, future) in futures {
            let meta = future
                .wait_timeout(Duration::from_secs(60))
                .expect("an outcome")
                .expect("delivered");
            want.entry(meta.partition)
                .or_default()
                .push((meta.offset, value));
        }
        for list in want.values_mut() {
            list.sort();
        }
        want
    };
    let config = [
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", "rouse-consumer-test"),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
    ];
    let tps: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(topic, p)).collect();

    let want = produce(0, 1000);
    let first =
        Consumer::new(ConsumerConfig::from_pairs(config).expect("config")).expect("consumer");
    first.assign(tps.clone()).expect("assign");
    let got = consume(&first, 1000, Duration::from_secs(60));
    assert_eq!(by_partition(&got), want, "every record once, in order");
    first.commit_sync(Duration::from_secs(10)).expect("commit");
    first.close(Duration::from_secs(10)).expect("close");

    let later = produce(1000, 1100);
    let second =
        Consumer::new(ConsumerConfig::from_pairs(config).expect("config")).expect("consumer");
    second.assign(tps.clone()).expect("assign");
    let got = consume(&second, 100, Duration::from_secs(60));
    assert_eq!(
        by_partition(&got),
        later,
        "resumed at the commit: no gap, no repeat"
    );

    let woken = std::thread::scope(|s| {
        let waker = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            let at = Instant::now();
            second.wakeup();
            at
        });
        let result = second.poll(Duration::from_secs(10));
        let returned = Instant::now();
        assert!(matches!(result, Err(ConsumerError::Wakeup)), "{result:?}");
        returned.duration_since(waker.join().expect("waker"))
    });
    assert!(woken < Duration::from_secs(1), "{woken:?}");
}

//! The producer through a seeded fault proxy in front of the mock cluster:
//! outages longer than `delivery.timeout.ms`, and random cuts, delays and
//! split writes. Every record gets exactly one outcome; nothing acknowledged
//! is lost, nothing is stored twice or out of order; after an outage the
//! producer delivers again.
//!
//! Run with `--nocapture` to see each run's figures.

// The figures each run prints are the point of `--nocapture`.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use rouse_kafka::Producer;
use rouse_kafka_mock::proxy::{FaultPlan, FaultProxy};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

mod common;

use common::load::{self, Report};
use common::{cluster, TOPIC};

const PARTITIONS: i32 = 6;

fn producer(proxy: &FaultProxy, extra: &[(&str, &str)]) -> Producer {
    let bootstrap = proxy.bootstrap_servers();
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "fault-test"),
        ("max.block.ms", "20000"),
    ];
    pairs.extend_from_slice(extra);
    Producer::new(rouse_kafka::ProducerConfig::from_pairs(pairs).expect("config")).expect("starts")
}

/// What the mock stored, partition by partition.
fn stored(cluster: &MockCluster) -> HashMap<i32, Vec<(i64, String)>> {
    (0..PARTITIONS)
        .map(|p| {
            let records = cluster.handle().records(TOPIC, p).expect("partition");
            let values = records
                .into_iter()
                .map(|r| {
                    let value = r.value.map(|v| String::from_utf8_lossy(&v).into_owned());
                    (r.offset, value.unwrap_or_default())
                })
                .collect();
            (p, values)
        })
        .collect()
}

/// The outage of the reliability report: chunks delayed 0-150 ms, at 3 s
/// every connection cut and refused for 6 s, `delivery.timeout.ms` 4 s,
/// 1000 records/s to 6 partitions for 13 s.
fn outage_run(seed: u64) -> Report {
    let cluster = cluster(3, PARTITIONS);
    let (outage_at, outage) = (Duration::from_secs(3), Duration::from_secs(6));
    let plan = FaultPlan::new(seed)
        .with_delay(Duration::ZERO, Duration::from_millis(150))
        .with_outage_at(outage_at, outage);
    let proxy = FaultProxy::in_front_of(&cluster, plan).expect("proxy");
    let outage_end = proxy.started_at() + outage_at + outage;
    let producer = producer(
        &proxy,
        &[
            ("delivery.timeout.ms", "4000"),
            ("request.timeout.ms", "2000"),
        ],
    );
    let tag = format!("outage{seed}");
    let sent = load::run(
        &producer,
        TOPIC,
        PARTITIONS,
        1000,
        Duration::from_secs(13),
        &tag,
    );
    load::wait_for_outcomes(&sent, Duration::from_secs(10));
    producer.close(Duration::from_secs(5)).ok();
    let report = Report::new(&sent, &stored(&cluster), &tag, Some(outage_end));
    println!("outage seed {seed}: {report}; proxy {:?}", proxy.stats());
    report
}

#[test]
fn an_outage_longer_than_delivery_timeout_is_recovered_from() {
    // Two seeds at a time (each run is 13 s of light load): on two busy
    // cores more at once can starve the runs themselves.
    for seeds in [[1, 2], [3, 4], [5, 6]] {
        let runs: Vec<_> = seeds
            .map(|seed| std::thread::spawn(move || (seed, outage_run(seed))))
            .into_iter()
            .map(|run| run.join().expect("run"))
            .collect();
        for (seed, report) in runs {
            report.assert_clean(&format!("seed {seed}"));
            assert_eq!(report.no_offset, 0, "the mock gives every offset: {report}");
            let failed: usize = report.failed.values().sum();
            assert!(
                failed > 0,
                "seed {seed}: the outage expired nothing? {report}"
            );
            assert_eq!(
                report.failed.keys().collect::<Vec<_>>(),
                ["Timeout"],
                "seed {seed}: only timeouts, {report}"
            );
            assert!(
                report
                    .first_delivery_after
                    .is_some_and(|d| d < Duration::from_secs(3)),
                "seed {seed}: delivery resumes within 3 s of the outage, {report}"
            );
        }
    }
}

#[test]
fn random_cuts_delays_and_split_writes_lose_nothing() {
    let cluster = cluster(3, PARTITIONS);
    let plan = FaultPlan::random(7, Duration::from_millis(500))
        .with_delay(Duration::ZERO, Duration::from_millis(20))
        .with_split_writes(700);
    let proxy = FaultProxy::in_front_of(&cluster, plan).expect("proxy");
    let producer = producer(&proxy, &[("acks", "all"), ("request.timeout.ms", "3000")]);
    let tag = "random";
    let started = Instant::now();
    let sent = load::run(
        &producer,
        TOPIC,
        PARTITIONS,
        4000,
        Duration::from_secs(5),
        tag,
    );
    load::wait_for_outcomes(&sent, Duration::from_secs(60));
    producer.close(Duration::from_secs(5)).ok();
    let report = Report::new(&sent, &stored(&cluster), tag, None);
    let stats = proxy.stats();
    println!(
        "random faults: {report}; {:?} in {:?}; proxy {stats:?}",
        sent.len(),
        started.elapsed()
    );
    report.assert_clean("random faults");
    assert_eq!(report.no_offset, 0, "the mock gives every offset: {report}");
    assert_eq!(
        (report.sent, report.delivered),
        (20_000, 20_000),
        "{report}"
    );
    assert!(stats.cut >= 5, "the run was cut often: {stats:?}");
}

/// A mock cluster whose brokers forget idempotent producers when restarted
/// and answer UNKNOWN_PRODUCER_ID to one they do not know (as brokers
/// before KIP-360's relaxation do), behind a proxy that only forwards.
fn forgetful_cluster(brokers: usize) -> (MockCluster, FaultProxy) {
    let config = ClusterConfig::new(brokers)
        .with_forget_producers_on_restart(true)
        .with_strict_unknown_producer(true);
    let cluster = MockCluster::start(config).expect("mock starts");
    cluster.create_topic(TOPIC, PARTITIONS).expect("topic");
    let proxy = FaultProxy::in_front_of(&cluster, FaultPlan::new(21)).expect("proxy");
    (cluster, proxy)
}

#[test]
fn a_broker_restarted_without_its_producer_state_is_recovered_from() {
    let (cluster, proxy) = forgetful_cluster(1);
    let producer = producer(&proxy, &[]);
    let before = load::run(
        &producer,
        TOPIC,
        PARTITIONS,
        1000,
        Duration::from_secs(2),
        "restart",
    );
    producer
        .flush(Duration::from_secs(10))
        .expect("all acknowledged");
    // A restart between requests: nothing is in doubt, so nothing may be
    // written twice. (A batch written just before the stop whose answer
    // was lost would be: the restarted broker no longer recognises it.)
    cluster.stop_broker(1).expect("stops");
    cluster
        .restart_broker(1)
        .expect("restarts, producer state gone");
    let restarted = Instant::now();
    let asked = cluster.handle().request_count(None, ApiKey::InitProducerId);
    let after = load::run(
        &producer,
        TOPIC,
        PARTITIONS,
        1000,
        Duration::from_secs(2),
        "restart-after",
    );
    load::wait_for_outcomes(&after, Duration::from_secs(20));
    let stored = stored(&cluster);
    let report = Report::new(&before, &stored, "restart", None);
    let report_after = Report::new(&after, &stored, "restart-after", Some(restarted));
    println!("restart without producer state: before {report}; after {report_after}");
    report.assert_clean("before the restart");
    report_after.assert_clean("after the restart");
    assert!(
        cluster.handle().request_count(None, ApiKey::InitProducerId) > asked,
        "the producer renewed its id"
    );
    assert!(producer.fatal_error().is_none());
}

#[test]
fn producer_state_expiring_under_load_is_recovered_from() {
    let (cluster, proxy) = forgetful_cluster(3);
    let producer = producer(&proxy, &[("acks", "all")]);
    let handle = cluster.handle().clone();
    let forgetter = std::thread::spawn(move || {
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(700));
            for broker in 1..=3 {
                handle.forget_producers(broker).expect("broker");
            }
        }
    });
    let sent = load::run(
        &producer,
        TOPIC,
        PARTITIONS,
        2000,
        Duration::from_secs(3),
        "expiry",
    );
    forgetter.join().expect("forgetter");
    load::wait_for_outcomes(&sent, Duration::from_secs(30));
    let report = Report::new(&sent, &stored(&cluster), "expiry", None);
    println!("producer state expiring: {report}");
    report.assert_clean("producer state expiring");
    assert_eq!(report.delivered, report.sent, "{report}");
    assert!(
        cluster.handle().request_count(None, ApiKey::InitProducerId) >= 2,
        "the producer renewed its id"
    );
}

//! The producer through the seeded fault proxy in front of tansu, a real
//! Kafka-compatible broker, with kafka-python reading back what tansu
//! stored: an outage longer than `delivery.timeout.ms`, a restart that
//! loses the broker's state, and random cuts, delays and split writes.
//!
//! What tansu 0.6 cannot do, and what the tests assert instead:
//! - it answers a retry it already wrote (DUPLICATE_SEQUENCE_NUMBER) without
//!   the first write's offset, so some acknowledgements carry offset -1;
//! - it refuses to bump an epoch (InitProducerId with the current id and
//!   epoch fails with UNKNOWN_SERVER_ERROR), so a renewal takes a fresh id;
//! - restarted, it has forgotten every producer id it handed out and hands
//!   out the same id and epoch again. Reusing them could make the broker
//!   mistake a new batch for an old one (a silent loss), so the producer
//!   fails fatally, at once, instead.
//!
//! Needs ROUSE_TANSU and ROUSE_PYTHON (`cargo xtask ci` sets them); ignored
//! in a plain `cargo test`. Run with `--nocapture` to see the figures.

// The figures each run prints are the point of `--nocapture`.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use rouse_kafka::{Producer, ProducerConfig};
use rouse_kafka_mock::proxy::{FaultPlan, FaultProxy};

mod common;

use common::load::{self, Report};
use common::tansu::{behind_proxy, read_back, Tansu};

const TOPIC: &str = "faults";

/// tansu behind a proxy that it advertises, so every connection of the
/// client goes through the proxy.
fn tansu_behind_proxy(partitions: u32, plan: FaultPlan) -> (Tansu, FaultProxy) {
    behind_proxy(TOPIC, partitions, plan)
}

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer {
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap),
        ("client.id", "tansu-fault-test"),
        ("max.block.ms", "20000"),
    ];
    pairs.extend_from_slice(extra);
    Producer::new(ProducerConfig::from_pairs(pairs).expect("config")).expect("starts")
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn an_outage_longer_than_delivery_timeout_is_recovered_from() {
    let (outage_at, outage) = (Duration::from_secs(3), Duration::from_secs(6));
    let plan = FaultPlan::new(11)
        .with_delay(Duration::ZERO, Duration::from_millis(150))
        .with_outage_at(outage_at, outage);
    let (tansu, proxy) = tansu_behind_proxy(6, plan);
    let outage_end = proxy.started_at() + outage_at + outage;
    let producer = producer(
        &tansu.bootstrap(),
        &[
            ("delivery.timeout.ms", "4000"),
            ("request.timeout.ms", "2000"),
        ],
    );
    let sent = load::run(&producer, TOPIC, 6, 1000, Duration::from_secs(13), "outage");
    load::wait_for_outcomes(&sent, Duration::from_secs(10));
    let fatal = producer.fatal_error();
    producer.close(Duration::from_secs(5)).ok();
    let report = Report::new(
        &sent,
        &read_back(&format!("127.0.0.1:{}", tansu.port()), TOPIC),
        "outage",
        Some(outage_end),
    );
    println!(
        "tansu outage: {report}; fatal: {fatal:?}; proxy {:?}",
        proxy.stats()
    );
    report.assert_clean("tansu outage");
    assert!(fatal.is_none(), "{fatal:?}");
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn a_restart_that_loses_the_brokers_state_is_a_prompt_fatal_error() {
    let (mut tansu, proxy) = tansu_behind_proxy(1, FaultPlan::new(12));
    let producer = producer(&tansu.bootstrap(), &[("linger.ms", "5")]);
    let before = load::run(&producer, TOPIC, 1, 500, Duration::from_secs(2), "before");
    load::wait_for_outcomes(&before, Duration::from_secs(10));
    tansu.restart_losing_state().expect("tansu restarts");
    let restarted = std::time::Instant::now();
    let after = load::run(&producer, TOPIC, 1, 500, Duration::from_secs(4), "after");
    load::wait_for_outcomes(&after, Duration::from_secs(30));
    let fatal = producer.fatal_error();
    producer.close(Duration::from_secs(5)).ok();
    let stored = read_back(&format!("127.0.0.1:{}", tansu.port()), TOPIC);
    let report = Report::new(&after, &stored, "after", None);
    println!(
        "tansu restart: {report}; fatal: {fatal:?}; proxy {:?}",
        proxy.stats()
    );
    let fatal = fatal.expect("tansu reissues the same producer id: a fatal error");
    assert!(fatal.message().contains("same producer id"), "{fatal}");
    report.assert_clean("tansu restart");
    // Fatal at once: the first failure within 5 s of the restart, and
    // every record with its one outcome (checked above) well before the
    // 30 s wait ran out.
    let first_failure = after
        .iter()
        .filter_map(|s| {
            let outcomes = s.outcomes.lock();
            outcomes
                .first()
                .filter(|(_, o)| o.is_err())
                .map(|(at, _)| *at)
        })
        .min()
        .expect("records failed");
    assert!(
        first_failure.duration_since(restarted) < Duration::from_secs(5),
        "fatal {:?} after the restart",
        first_failure.duration_since(restarted)
    );
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn random_cuts_delays_and_split_writes_lose_nothing() {
    let plan = FaultPlan::random(13, Duration::from_millis(500))
        .with_delay(Duration::ZERO, Duration::from_millis(20))
        .with_split_writes(700);
    let (tansu, proxy) = tansu_behind_proxy(6, plan);
    let producer = producer(&tansu.bootstrap(), &[("acks", "all")]);
    let sent = load::run(&producer, TOPIC, 6, 4000, Duration::from_secs(5), "random");
    load::wait_for_outcomes(&sent, Duration::from_secs(60));
    producer.close(Duration::from_secs(5)).ok();
    let report = Report::new(
        &sent,
        &read_back(&format!("127.0.0.1:{}", tansu.port()), TOPIC),
        "random",
        None,
    );
    let stats = proxy.stats();
    println!("tansu random faults: {report}; proxy {stats:?}");
    report.assert_clean("tansu random faults");
    assert_eq!(
        (report.sent, report.delivered),
        (20_000, 20_000),
        "{report}"
    );
    assert!(stats.cut >= 5, "the run was cut often: {stats:?}");
}

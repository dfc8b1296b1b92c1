//! Consumer groups against the embedded mock cluster (a group coordinator
//! too) and against tansu, a real Kafka-compatible broker (those ignored
//! unless ROUSE_TANSU and ROUSE_PYTHON are set, as `cargo xtask ci` does),
//! on 127.0.0.1: members of one group over a 12-partition topic while
//! records are produced. With no member dying every record is
//! consumed exactly once; with a member killed (a child process, SIGKILL:
//! no commit, no LeaveGroup) and another joining later, every record is
//! consumed at least once; a kafka-python member and a rouse member split
//! the partitions. Every wait is bounded.

#![allow(clippy::print_stdout, clippy::print_stderr)] // the child member prints its records; assignment changes go to the test log

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rouse_kafka::{
    Consumer, ConsumerConfig, ConsumerError, ConsumerRebalanceListener, Producer, ProducerConfig,
    Record, TopicPartition,
};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

mod common;

use common::tansu::{env_path, free_port, start_on};

const TOPIC: &str = "group-events";
const PARTITIONS: u32 = 12;

/// The assignors the exactly-once test runs with, one group each.
const STRATEGIES: &[&str] = &["range", "cooperative-sticky"];

/// (partition, offset, value) of one record.
type Rec = (i32, i64, String);

fn member_config(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut pairs = vec![
        ("bootstrap.servers", bootstrap),
        ("group.id", group),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("auto.commit.interval.ms", "200"),
        ("request.timeout.ms", "20000"),
    ];
    pairs.extend_from_slice(extra);
    ConsumerConfig::from_pairs(pairs).expect("valid config")
}

/// Records each assignment change, for the assertions and the log.
struct Changes {
    name: String,
    owned: Arc<Mutex<BTreeSet<TopicPartition>>>,
    /// Partitions this member revoked at some point.
    revoked: BTreeSet<TopicPartition>,
    /// Partitions assigned back to it after it revoked them: what a
    /// cooperative rebalance never does while no member leaves.
    returned: Arc<AtomicUsize>,
}

impl ConsumerRebalanceListener for Changes {
    fn on_partitions_revoked(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        let mut owned = self.owned.lock().unwrap();
        partitions.iter().for_each(|tp| {
            owned.remove(tp);
        });
        self.revoked.extend(partitions.iter().cloned());
        eprintln!("{}: revoked {partitions:?}", self.name);
    }
    fn on_partitions_assigned(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        let back = partitions.iter().filter(|tp| self.revoked.contains(*tp));
        self.returned.fetch_add(back.count(), Ordering::Relaxed);
        self.owned
            .lock()
            .unwrap()
            .extend(partitions.iter().cloned());
        eprintln!("{}: assigned {partitions:?}", self.name);
    }
    fn on_partitions_lost(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        let mut owned = self.owned.lock().unwrap();
        partitions.iter().for_each(|tp| {
            owned.remove(tp);
        });
        eprintln!("{}: lost {partitions:?}", self.name);
    }
}

/// A rouse member on its own thread: subscribes, polls until `stop`, then
/// closes; returns what it consumed and its last assignment.
struct Member {
    stop: Arc<AtomicBool>,
    owned: Arc<Mutex<BTreeSet<TopicPartition>>>,
    returned: Arc<AtomicUsize>,
    thread: JoinHandle<Vec<Rec>>,
}

fn member(name: &str, config: ConsumerConfig) -> Member {
    let stop = Arc::new(AtomicBool::new(false));
    let owned = Arc::new(Mutex::new(BTreeSet::new()));
    let returned = Arc::new(AtomicUsize::new(0));
    let (name, flag, mine) = (name.to_owned(), Arc::clone(&stop), Arc::clone(&owned));
    let back = Arc::clone(&returned);
    let thread = std::thread::spawn(move || {
        let consumer = Consumer::new(config).expect("consumer");
        let listener = Changes {
            name: name.clone(),
            owned: mine,
            revoked: BTreeSet::new(),
            returned: back,
        };
        consumer.subscribe([TOPIC], listener).expect("subscribe");
        let mut got = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            match consumer.poll(Duration::from_millis(200)) {
                Ok(records) => got.extend(records.into_iter().map(|r| {
                    let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
                    (r.partition, r.offset, value.into_owned())
                })),
                Err(e) => panic!("{name}: poll failed: {e}"),
            }
        }
        // A member closing while the others rebalance (after the first
        // one left) may have its final commit refused with
        // REBALANCE_IN_PROGRESS, as Java's would; nothing is consumed
        // after it here, so only other errors fail the test.
        match consumer.close(Duration::from_secs(10)) {
            Ok(()) => {}
            Err(e @ ConsumerError::Group { .. }) => eprintln!("{name}: close: {e}"),
            Err(e) => panic!("{name}: close: {e}"),
        }
        got
    });
    Member {
        stop,
        owned,
        returned,
        thread,
    }
}

impl Member {
    fn stop(self) -> Vec<Rec> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("member thread")
    }
}

/// Produces `n` records (values `tag-i`) from a thread, spread over
/// `over`; returns every acknowledged (partition, offset, value).
fn produce(bootstrap: &str, tag: &'static str, n: usize, over: Duration) -> JoinHandle<Vec<Rec>> {
    let bootstrap = bootstrap.to_owned();
    std::thread::spawn(move || {
        let producer = Producer::new(
            ProducerConfig::from_pairs([
                ("bootstrap.servers", bootstrap.as_str()),
                ("linger.ms", "5"),
                ("max.block.ms", "30000"),
            ])
            .expect("config"),
        )
        .expect("producer");
        let chunks = 20;
        let mut futures = Vec::with_capacity(n);
        for chunk in 0..chunks {
            for i in (chunk * n / chunks)..((chunk + 1) * n / chunks) {
                let value = format!("{tag}-{i}");
                let record = Record::key_value(TOPIC, format!("k{i}"), value.clone());
                futures.push((value, producer.send(record).expect("send")));
            }
            std::thread::sleep(over / chunks as u32);
        }
        futures
            .into_iter()
            .map(|(value, future)| {
                let meta = future
                    .wait_timeout(Duration::from_secs(60))
                    .expect("an outcome")
                    .expect("delivered");
                (meta.partition, meta.offset, value)
            })
            .collect()
    })
}

/// Waits until `count()` reaches `want` or `within` passes.
fn wait_for(want: usize, within: Duration, count: impl Fn() -> usize) {
    let deadline = Instant::now() + within;
    while count() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A broker with the 12-partition topic: tansu, or the mock.
enum Broker {
    Tansu(common::tansu::Tansu),
    Mock(MockCluster),
}

impl Broker {
    fn tansu() -> Broker {
        let port = free_port().expect("a free port");
        Broker::Tansu(start_on(port, port, &[(TOPIC, PARTITIONS)]))
    }

    fn mock() -> Broker {
        let cluster = MockCluster::start(ClusterConfig::new(1)).expect("mock starts");
        cluster
            .create_topic(TOPIC, PARTITIONS as i32)
            .expect("topic");
        Broker::Mock(cluster)
    }

    fn bootstrap(&self) -> String {
        match self {
            Broker::Tansu(t) => t.bootstrap(),
            Broker::Mock(m) => m.bootstrap_servers(),
        }
    }
}

/// How many times each produced record was consumed; records consumed
/// that were never produced fail the test.
fn tally(produced: &[Rec], consumed: &[Rec]) -> BTreeMap<(i32, i64), usize> {
    let mut seen: BTreeMap<(i32, i64), usize> = produced.iter().map(|r| ((r.0, r.1), 0)).collect();
    for r in consumed {
        *seen
            .get_mut(&(r.0, r.1))
            .unwrap_or_else(|| panic!("consumed {r:?}, which was never produced")) += 1;
    }
    seen
}

fn three_members_exactly_once(broker: impl Fn() -> Broker) {
    for strategy in STRATEGIES {
        let broker = broker();
        let bootstrap = broker.bootstrap();
        let group = format!("three-{strategy}");
        let config = || {
            member_config(
                &bootstrap,
                &group,
                &[("partition.assignment.strategy", strategy)],
            )
        };
        let n = 20_000;
        let producing = produce(&bootstrap, "once", n, Duration::from_secs(6));
        let a = member("a", config());
        std::thread::sleep(Duration::from_secs(2));
        let b = member("b", config());
        std::thread::sleep(Duration::from_secs(2));
        let c = member("c", config());
        let produced = producing.join().expect("producer");
        assert_eq!(produced.len(), n);
        // Every member owns some partitions once the group settled.
        wait_for(3, Duration::from_secs(60), || {
            [&a, &b, &c]
                .iter()
                .filter(|m| !m.owned.lock().unwrap().is_empty())
                .count()
        });
        let owned: Vec<BTreeSet<TopicPartition>> = [&a, &b, &c]
            .iter()
            .map(|m| m.owned.lock().unwrap().clone())
            .collect();
        std::thread::sleep(Duration::from_secs(5)); // let them drain
        let returned: usize = [&a, &b, &c]
            .iter()
            .map(|m| m.returned.load(Ordering::Relaxed))
            .sum();
        if *strategy == "cooperative-sticky" {
            assert_eq!(
                returned, 0,
                "cooperative: a partition that stays is never revoked"
            );
        }
        let mut consumed = a.stop();
        consumed.extend(b.stop());
        consumed.extend(c.stop());
        let seen = tally(&produced, &consumed);
        let missing = seen.values().filter(|n| **n == 0).count();
        let twice = seen.values().filter(|n| **n > 1).count();
        assert_eq!(
            (missing, twice),
            (0, 0),
            "{strategy}: every record exactly once ({} consumed)",
            consumed.len()
        );
        let all: BTreeSet<&TopicPartition> = owned.iter().flatten().collect();
        assert_eq!(all.len(), PARTITIONS as usize, "{strategy}: {owned:?}");
        assert!(
            owned.iter().all(|o| o.len() == 4),
            "{strategy}: 4 each: {owned:?}"
        );
    }
}

#[test]
fn three_members_consume_every_record_exactly_once_while_they_join() {
    three_members_exactly_once(Broker::mock);
}

#[test]
#[ignore = "needs ROUSE_TANSU; cargo xtask ci sets it"]
fn against_tansu_three_members_consume_every_record_exactly_once_while_they_join() {
    three_members_exactly_once(Broker::tansu);
}

/// The child process's side of the next test: a rouse member that prints
/// every record it consumes ("partition offset value") until killed.
#[test]
#[ignore = "run by the killed-member tests as a child process"]
fn child_member() {
    let Ok(bootstrap) = std::env::var("ROUSE_GROUP_CHILD") else {
        return;
    };
    let consumer = Consumer::new(member_config(&bootstrap, "kill", &[])).expect("consumer");
    consumer.subscribe([TOPIC], ()).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        for r in consumer.poll(Duration::from_millis(200)).expect("poll") {
            let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
            println!("{} {} {value}", r.partition, r.offset);
        }
    }
}

/// Starts `child_member` in a process of its own; its lines go to a thread.
fn child(bootstrap: &str) -> (Child, JoinHandle<Vec<Rec>>) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "child_member",
            "--include-ignored",
            "--nocapture",
        ])
        .env("ROUSE_GROUP_CHILD", bootstrap)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the child member starts");
    let out = child.stdout.take().expect("stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                let partition = parts.next()?.parse().ok()?;
                let offset = parts.next()?.parse().ok()?;
                Some((partition, offset, parts.next()?.to_owned()))
            })
            .collect()
    });
    (child, lines)
}

#[test]
fn a_killed_member_and_a_late_joiner_lose_nothing() {
    killed_and_late(Broker::mock());
}

#[test]
#[ignore = "needs ROUSE_TANSU; cargo xtask ci sets it"]
fn against_tansu_a_killed_member_and_a_late_joiner_lose_nothing() {
    killed_and_late(Broker::tansu());
}

fn killed_and_late(broker: Broker) {
    let bootstrap = broker.bootstrap();
    let config = || member_config(&bootstrap, "kill", &[]);
    let n = 20_000;
    let producing = produce(&bootstrap, "kill", n, Duration::from_secs(12));
    let a = member("a", config());
    let b = member("b", config());
    let (mut victim, victim_lines) = child(&bootstrap);
    std::thread::sleep(Duration::from_secs(5));
    victim.kill().expect("SIGKILL the member"); // no commit, no LeaveGroup
    let _ = victim.wait();
    std::thread::sleep(Duration::from_secs(2));
    let d = member("d", config());
    let produced = producing.join().expect("producer");
    // The victim's partitions come back after session.timeout.ms (6 s).
    std::thread::sleep(Duration::from_secs(15));
    let mut consumed = victim_lines.join().expect("the child's output");
    let by_victim = consumed.len();
    consumed.extend(a.stop());
    consumed.extend(b.stop());
    consumed.extend(d.stop());
    let seen = tally(&produced, &consumed);
    let missing: Vec<_> = seen
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| k)
        .collect();
    let twice = seen.values().filter(|n| **n > 1).count();
    eprintln!(
        "killed member consumed {by_victim}; {} consumed in all, {twice} twice",
        consumed.len()
    );
    assert!(by_victim > 0, "the victim took part before it was killed");
    assert!(
        missing.is_empty(),
        "every record at least once; missing {missing:?}"
    );
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn a_kafka_python_member_and_a_rouse_member_split_the_partitions() {
    mixed(Broker::tansu());
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn on_the_mock_a_kafka_python_member_and_a_rouse_member_split_the_partitions() {
    mixed(Broker::mock());
}

fn mixed(broker: Broker) {
    let bootstrap = broker.bootstrap();
    let python = env_path("ROUSE_PYTHON", "a python with kafka-python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/group_member.py");
    let py = Command::new(python)
        .args([script, &bootstrap, TOPIC, "mixed", "25"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("kafka-python runs");
    std::thread::sleep(Duration::from_secs(3));
    let rouse = member("rouse", member_config(&bootstrap, "mixed", &[]));
    // Nothing is produced until the two split the partitions, so neither
    // reads a partition it owned only before the split.
    wait_for(1, Duration::from_secs(20), || {
        let n = rouse.owned.lock().unwrap().len();
        usize::from(n > 0 && n < PARTITIONS as usize)
    });
    let produced = produce(&bootstrap, "mixed", 2_000, Duration::ZERO)
        .join()
        .expect("producer");
    // Read rouse's assignment while the kafka-python member is still in
    // the group: its close rebalances (and an eager member revokes all).
    std::thread::sleep(Duration::from_secs(4));
    let rouse_owned = rouse.owned.lock().unwrap().clone();
    let out = py.wait_with_output().expect("kafka-python ends");
    assert!(out.status.success(), "the kafka-python member failed");
    let rouse_records = rouse.stop();
    let mut py_owned = BTreeSet::new();
    let mut py_records = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        if let Some(parts) = v["assignment"].as_array() {
            py_owned = parts.iter().map(|p| p.as_i64().unwrap() as i32).collect();
        } else {
            py_records.push(v["partition"].as_i64().unwrap() as i32);
        }
    }
    let rouse_parts: BTreeSet<i32> = rouse_owned.iter().map(|tp| tp.partition).collect();
    assert!(
        !rouse_parts.is_empty() && !py_owned.is_empty(),
        "both own some: rouse {rouse_parts:?}, python {py_owned:?}"
    );
    assert!(
        rouse_parts.is_disjoint(&py_owned),
        "rouse {rouse_parts:?}, python {py_owned:?}"
    );
    assert_eq!(rouse_parts.len() + py_owned.len(), PARTITIONS as usize);
    assert!(
        rouse_records.iter().all(|r| rouse_parts.contains(&r.0)),
        "rouse read only its own"
    );
    assert!(
        py_records.iter().all(|p| py_owned.contains(p)),
        "python read only its own"
    );
    assert_eq!(
        rouse_records.len() + py_records.len(),
        produced.len(),
        "each record once"
    );
}

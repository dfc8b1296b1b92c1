//! Mixed-client consumer groups on 127.0.0.1, against the embedded mock
//! and against tansu (a real Kafka-compatible broker): a rouse member
//! shares one group with a confluent-kafka (librdkafka 2.16) member and a
//! kafka-python member (tests/python/group_member.py), once per assignor
//! the clients share: `range` with librdkafka leading (all three), and
//! `cooperative-sticky` with rouse leading (rouse and librdkafka;
//! kafka-python has no cooperative assignor). They split the 12
//! partitions, each reads only its own, and every record produced once
//! the group settled is consumed exactly once.
//!
//! Needs ROUSE_PYTHON (a python with kafka-python and confluent-kafka)
//! and, for tansu, ROUSE_TANSU; `cargo xtask ci` sets both. Every wait is
//! bounded.

#![allow(clippy::print_stderr)] // assignment changes go to the test log

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;

use common::group::{member, member_config, produce, Broker, Member, PARTITIONS, TOPIC};
use common::tansu::env_path;

/// A Python member's bound: the test stops it well before (stdin "stop").
const PYTHON_SECONDS: &str = "120";
/// How long the group may take to settle after the last member starts.
const SETTLE: Duration = Duration::from_secs(60);
const RECORDS: usize = 3_000;

/// What a Python member reported so far.
#[derive(Default)]
struct Seen {
    owned: BTreeSet<i32>,
    records: Vec<(i32, i64)>,
}

/// A kafka-python or confluent-kafka member in a process of its own.
struct Python {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    seen: Arc<Mutex<Seen>>,
    reader: Option<JoinHandle<()>>,
}

/// A test that fails part-way must not leave members running.
impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python(bootstrap: &str, group: &str, client: &'static str, strategy: &str) -> Python {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/group_member.py");
    let mut child = Command::new(env_path("ROUSE_PYTHON", "a python with kafka-python"))
        .args([
            script,
            bootstrap,
            TOPIC,
            group,
            PYTHON_SECONDS,
            client,
            strategy,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the python member starts");
    let stdin = child.stdin.take().expect("stdin");
    let out = child.stdout.take().expect("stdout");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let into = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            let mut seen = into.lock().unwrap();
            if let Some(parts) = v["assignment"].as_array() {
                seen.owned = parts.iter().map(|p| p.as_i64().unwrap() as i32).collect();
                eprintln!("{client}: assigned {:?}", seen.owned);
            } else {
                let partition = v["partition"].as_i64().unwrap() as i32;
                seen.records
                    .push((partition, v["offset"].as_i64().unwrap()));
            }
        }
    });
    Python {
        name: client,
        child,
        stdin: Some(stdin),
        seen,
        reader: Some(reader),
    }
}

impl Python {
    /// Asks it to close, waits (bounded by its own SECONDS) and checks it
    /// ended well; what it reported.
    fn stop(mut self) -> Seen {
        self.ask_to_stop();
        drop(self.stdin.take());
        let status = self.child.wait().expect("the python member ends");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("reader");
        }
        assert!(status.success(), "the {} member failed", self.name);
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn ask_to_stop(&self) {
        if let Some(stdin) = &self.stdin {
            let _ = writeln!(&*stdin, "stop");
        }
    }
}

/// Every member's assignment now: rouse's first.
fn assignments(rouse: &Member, pythons: &[Python]) -> Vec<BTreeSet<i32>> {
    let mine = rouse
        .owned
        .lock()
        .unwrap()
        .iter()
        .map(|tp| tp.partition)
        .collect();
    let theirs = pythons.iter().map(|p| p.seen.lock().unwrap().owned.clone());
    std::iter::once(mine).chain(theirs).collect()
}

/// Each member owns some partitions, every partition exactly one member.
fn split(owned: &[BTreeSet<i32>]) -> bool {
    let union: BTreeSet<&i32> = owned.iter().flatten().collect();
    owned.iter().all(|o| !o.is_empty())
        && union.len() == PARTITIONS as usize
        && owned.iter().map(BTreeSet::len).sum::<usize>() == PARTITIONS as usize
}

/// Waits until the members split the partitions and keep that split for
/// 2 s (a cooperative group settles in two rebalances); the split.
fn settled(rouse: &Member, pythons: &[Python]) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + SETTLE;
    let (mut last, mut since) = (Vec::new(), Instant::now());
    loop {
        let now = assignments(rouse, pythons);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if split(&last) && since.elapsed() >= Duration::from_secs(2) {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not settle: {last:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `clients` (Python members, in join order, with their strategy) and a
/// rouse member with `rouse_strategy` (None: its default list), rouse
/// joining first or last.
fn mixed(
    broker: Broker,
    clients: &[&'static str],
    strategy: &str,
    rouse_strategy: Option<&str>,
    rouse_first: bool,
) {
    let bootstrap = broker.bootstrap();
    let group = format!("mixed-{strategy}");
    let extra: Vec<(&str, &str)> = rouse_strategy
        .map(|s| ("partition.assignment.strategy", s))
        .into_iter()
        .collect();
    let rouse_config = member_config(&bootstrap, &group, &extra);
    let gap = Duration::from_secs(3);
    let mut rouse = rouse_first.then(|| member("rouse", rouse_config.clone()));
    let mut pythons = Vec::new();
    for client in clients {
        if !pythons.is_empty() || rouse.is_some() {
            std::thread::sleep(gap);
        }
        pythons.push(python(&bootstrap, &group, client, strategy));
    }
    if rouse.is_none() {
        std::thread::sleep(gap);
        rouse = Some(member("rouse", rouse_config));
    }
    let rouse = rouse.expect("started");
    // Nothing is produced until they split the partitions, so none reads
    // a partition it owned only before the split.
    let owned = settled(&rouse, &pythons);
    let produced = produce(&bootstrap, "mixed", RECORDS, Duration::ZERO)
        .join()
        .expect("producer");
    let consumed = || {
        rouse.consumed.load(std::sync::atomic::Ordering::Relaxed)
            + pythons
                .iter()
                .map(|p| p.seen.lock().unwrap().records.len())
                .sum::<usize>()
    };
    common::group::wait_for(RECORDS, Duration::from_secs(60), consumed);
    let still = assignments(&rouse, &pythons);
    assert_eq!(owned, still, "{strategy}: no rebalance while consuming");
    pythons.iter().for_each(Python::ask_to_stop);
    let mut got: Vec<(usize, (i32, i64))> = rouse
        .stop()
        .into_iter()
        .map(|(p, o, _)| (0, (p, o)))
        .collect();
    for (i, p) in pythons.into_iter().enumerate() {
        got.extend(p.stop().records.into_iter().map(|r| (i + 1, r)));
    }
    eprintln!("{strategy}: split {owned:?}");
    let strays: Vec<_> = got
        .iter()
        .filter(|(who, (p, _))| !owned[*who].contains(p))
        .collect();
    assert!(
        strays.is_empty(),
        "{strategy}: each reads only its own: {strays:?}"
    );
    let want: BTreeSet<(i32, i64)> = produced.iter().map(|r| (r.0, r.1)).collect();
    let once: BTreeSet<(i32, i64)> = got.iter().map(|(_, r)| *r).collect();
    assert_eq!(got.len(), once.len(), "{strategy}: no record twice");
    assert_eq!(once, want, "{strategy}: every record, none other");
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn on_the_mock_librdkafka_kafka_python_and_rouse_split_the_partitions_with_range() {
    let clients = ["confluent-kafka", "kafka-python"];
    mixed(Broker::mock(), &clients, "range", None, false);
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn librdkafka_kafka_python_and_rouse_split_the_partitions_with_range() {
    let clients = ["confluent-kafka", "kafka-python"];
    mixed(Broker::tansu(), &clients, "range", None, false);
}

#[test]
#[ignore = "needs ROUSE_PYTHON; cargo xtask ci sets it"]
fn on_the_mock_librdkafka_and_rouse_split_the_partitions_with_cooperative_sticky() {
    let sticky = "cooperative-sticky";
    mixed(
        Broker::mock(),
        &["confluent-kafka"],
        sticky,
        Some(sticky),
        true,
    );
}

#[test]
#[ignore = "needs ROUSE_TANSU and ROUSE_PYTHON; cargo xtask ci sets them"]
fn librdkafka_and_rouse_split_the_partitions_with_cooperative_sticky() {
    let sticky = "cooperative-sticky";
    mixed(
        Broker::tansu(),
        &["confluent-kafka"],
        sticky,
        Some(sticky),
        true,
    );
}

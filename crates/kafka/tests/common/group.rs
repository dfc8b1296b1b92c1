//! What the consumer-group tests share: a member's settings, rouse members
//! on threads of their own recording their assignment changes, a producer
//! thread, the broker (tansu or the mock) with the 12-partition topic, and
//! the tally of what was consumed against what was produced.

#![allow(clippy::print_stderr)] // assignment changes and close errors go to the test log

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rouse_kafka::{
    Consumer, ConsumerConfig, ConsumerError, ConsumerRebalanceListener, Producer, ProducerConfig,
    Record, TopicPartition,
};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

use super::tansu::{free_port, start_on};

pub(crate) const TOPIC: &str = "group-events";
pub(crate) const PARTITIONS: u32 = 12;

/// (partition, offset, value) of one record.
pub(crate) type Rec = (i32, i64, String);

pub(crate) fn member_config(
    bootstrap: &str,
    group: &str,
    extra: &[(&str, &str)],
) -> ConsumerConfig {
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
    /// Every partition this member revoked, with the partitions it owned
    /// at that moment and still owns after it: a cooperative rebalance
    /// revokes none of those while no member leaves.
    revoked: Arc<Mutex<Vec<TopicPartition>>>,
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
        self.revoked
            .lock()
            .unwrap()
            .extend(partitions.iter().cloned());
        eprintln!("{}: revoked {partitions:?}", self.name);
    }
    fn on_partitions_assigned(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        let revoked = self.revoked.lock().unwrap();
        let back = partitions.iter().filter(|tp| revoked.contains(*tp));
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
/// closes; returns what it consumed.
pub(crate) struct Member {
    stop: Arc<AtomicBool>,
    /// Its assignment now.
    pub(crate) owned: Arc<Mutex<BTreeSet<TopicPartition>>>,
    /// Every partition it revoked so far, in order.
    pub(crate) revoked: Arc<Mutex<Vec<TopicPartition>>>,
    /// How many partitions came back to it after it revoked them.
    pub(crate) returned: Arc<AtomicUsize>,
    /// How many records it consumed so far.
    pub(crate) consumed: Arc<AtomicUsize>,
    thread: JoinHandle<Vec<Rec>>,
}

pub(crate) fn member(name: &str, config: ConsumerConfig) -> Member {
    let stop = Arc::new(AtomicBool::new(false));
    let owned = Arc::new(Mutex::new(BTreeSet::new()));
    let revoked = Arc::new(Mutex::new(Vec::new()));
    let returned = Arc::new(AtomicUsize::new(0));
    let consumed = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&consumed);
    let (name, flag, mine) = (name.to_owned(), Arc::clone(&stop), Arc::clone(&owned));
    let (back, gone) = (Arc::clone(&returned), Arc::clone(&revoked));
    let thread = std::thread::spawn(move || {
        let consumer = Consumer::new(config).expect("consumer");
        let listener = Changes {
            name: name.clone(),
            owned: mine,
            revoked: gone,
            returned: back,
        };
        consumer.subscribe([TOPIC], listener).expect("subscribe");
        let mut got = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            match consumer.poll(Duration::from_millis(200)) {
                Ok(records) => {
                    count.fetch_add(records.len(), Ordering::Relaxed);
                    got.extend(records.into_iter().map(|r| {
                        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
                        (r.partition, r.offset, value.into_owned())
                    }));
                }
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
        revoked,
        returned,
        consumed,
        thread,
    }
}

impl Member {
    /// Stops polling, closes, and returns every record it consumed.
    pub(crate) fn stop(self) -> Vec<Rec> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("member thread")
    }
}

/// Produces `n` records (values `tag-i`) from a thread, spread over
/// `over`; returns every acknowledged (partition, offset, value).
pub(crate) fn produce(
    bootstrap: &str,
    tag: &'static str,
    n: usize,
    over: Duration,
) -> JoinHandle<Vec<Rec>> {
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
        // Small chunks, so members consume steadily, and a member killed
        // at any moment has records consumed since its last commit.
        let chunks = 100;
        let mut futures = Vec::with_capacity(n);
        for chunk in 0..chunks {
            for i in (chunk * n / chunks)..((chunk + 1) * n / chunks) {
                let value = format!("{tag}-{i}");
                let record = Record::key_value(TOPIC, format!("k{i}"), value.clone());
                futures.push((value, producer.send(record).expect("send")));
            }
            std::thread::sleep(over / chunks as u32);
        }
        super::acknowledged(futures, Duration::from_secs(60))
    })
}

/// Waits until `count()` reaches `want` or `within` passes.
pub(crate) fn wait_for(want: usize, within: Duration, count: impl Fn() -> usize) {
    let deadline = Instant::now() + within;
    while count() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A broker with the 12-partition topic: tansu, or the mock.
pub(crate) enum Broker {
    Tansu(super::tansu::Tansu),
    Mock(MockCluster),
}

impl Broker {
    pub(crate) fn tansu() -> Broker {
        let port = free_port().expect("a free port");
        Broker::Tansu(start_on(port, port, &[(TOPIC, PARTITIONS)]))
    }

    pub(crate) fn mock() -> Broker {
        let cluster = MockCluster::start(ClusterConfig::new(1)).expect("mock starts");
        cluster
            .create_topic(TOPIC, PARTITIONS as i32)
            .expect("topic");
        Broker::Mock(cluster)
    }

    pub(crate) fn bootstrap(&self) -> String {
        match self {
            Broker::Tansu(t) => t.bootstrap(),
            Broker::Mock(m) => m.bootstrap_servers(),
        }
    }
}

/// How many times each produced record was consumed; records consumed
/// that were never produced fail the test.
pub(crate) fn tally(produced: &[Rec], consumed: &[Rec]) -> BTreeMap<(i32, i64), usize> {
    let mut seen: BTreeMap<(i32, i64), usize> = produced.iter().map(|r| ((r.0, r.1), 0)).collect();
    for r in consumed {
        *seen
            .get_mut(&(r.0, r.1))
            .unwrap_or_else(|| panic!("consumed {r:?}, which was never produced")) += 1;
    }
    seen
}

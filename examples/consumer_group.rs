//! Members of one consumer group joining and leaving while records are
//! produced, each change of a member's assignment printed as it happens
//! (from its `ConsumerRebalanceListener`, on the member's own thread
//! inside `poll`).
//!
//! `cargo run --release --example consumer_group` runs against an embedded
//! `rouse-kafka-mock` cluster (a group coordinator too); `--bootstrap
//! HOST:PORT` uses a real broker (the topic must exist there with
//! `--partitions` partitions). `--strategy cooperative-sticky` shows the
//! incremental protocol: only the partitions that move are revoked.
#![allow(clippy::print_stdout, clippy::print_stderr)] // an example: printing is its output

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;

use rouse_kafka::{
    Consumer, ConsumerConfig, ConsumerRebalanceListener, Producer, ProducerConfig, Record,
    TopicPartition,
};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

#[derive(Parser, Debug)]
#[command(about = "Consumer-group members joining and leaving, assignments printed as they change")]
struct Args {
    /// A broker to use instead of the embedded mock cluster.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic.
    #[arg(long, default_value = "group-demo")]
    topic: String,
    /// Its partitions (created on the mock).
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// The group.
    #[arg(long, default_value = "demo")]
    group: String,
    /// `partition.assignment.strategy`.
    #[arg(long, default_value = "range")]
    strategy: String,
    /// Seconds between the script's steps.
    #[arg(long, default_value_t = 3)]
    step_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("consumer_group: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a member's assignment changes, with the time since the start.
struct Printer {
    name: String,
    start: Instant,
}

impl Printer {
    fn print(&self, what: &str, partitions: &[TopicPartition]) {
        let list: Vec<i32> = partitions.iter().map(|tp| tp.partition).collect();
        println!(
            "{:>7.3} s  {:<9} {what:<8} {list:?}",
            self.start.elapsed().as_secs_f64(),
            self.name
        );
    }
}

impl ConsumerRebalanceListener for Printer {
    fn on_partitions_revoked(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.print("revoked", partitions);
    }
    fn on_partitions_assigned(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        self.print("assigned", partitions);
        self.print("owns", &consumer.assignment());
    }
    fn on_partitions_lost(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.print("lost", partitions);
    }
}

/// One member on its own thread, polling until told to stop.
struct Member {
    name: String,
    stop: Arc<AtomicBool>,
    records: Arc<AtomicUsize>,
    thread: JoinHandle<Result<(), String>>,
}

fn member(args: &Args, bootstrap: &str, name: &str, start: Instant) -> Member {
    let config = ConsumerConfig::from_pairs([
        ("bootstrap.servers", bootstrap),
        ("group.id", args.group.as_str()),
        ("client.id", name),
        ("auto.offset.reset", "earliest"),
        ("partition.assignment.strategy", args.strategy.as_str()),
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "1000"),
        ("fetch.max.wait.ms", "100"),
    ]);
    let (stop, records) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (flag, count, topic) = (Arc::clone(&stop), Arc::clone(&records), args.topic.clone());
    let label = name.to_owned();
    let thread = std::thread::spawn(move || -> Result<(), String> {
        let consumer =
            Consumer::new(config.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let printer = Printer {
            name: label.clone(),
            start,
        };
        consumer
            .subscribe([topic], printer)
            .map_err(|e| e.to_string())?;
        while !flag.load(Ordering::Relaxed) {
            let got = consumer
                .poll(Duration::from_millis(200))
                .map_err(|e| e.to_string())?;
            count.fetch_add(got.len(), Ordering::Relaxed);
        }
        consumer
            .close(Duration::from_secs(10))
            .map_err(|e| e.to_string())
    });
    Member {
        name: name.to_owned(),
        stop,
        records,
        thread,
    }
}

impl Member {
    fn leave(self, start: Instant) -> Result<usize, Box<dyn std::error::Error>> {
        println!(
            "{:>7.3} s  {:<9} leaves (close)",
            start.elapsed().as_secs_f64(),
            self.name
        );
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| "a member panicked")??;
        Ok(self.records.load(Ordering::Relaxed))
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mock = match &args.bootstrap {
        Some(_) => None,
        None => {
            let cluster = MockCluster::start(ClusterConfig::new(1))?;
            cluster.create_topic(&args.topic, args.partitions)?;
            Some(cluster)
        }
    };
    let bootstrap = match (&args.bootstrap, &mock) {
        (Some(b), _) => b.clone(),
        (None, Some(cluster)) => cluster.bootstrap_servers(),
        (None, None) => return Err("no broker".into()),
    };
    let producer = Producer::new(ProducerConfig::from_pairs([
        ("bootstrap.servers", bootstrap.as_str()),
        ("linger.ms", "5"),
    ])?)?;
    let start = Instant::now();
    let step = Duration::from_secs(args.step_secs);
    let producing = Arc::new(AtomicBool::new(true));
    let produced = {
        let (flag, topic) = (Arc::clone(&producing), args.topic.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            while flag.load(Ordering::Relaxed) {
                let record = Record::key_value(topic.as_str(), format!("k{n}"), format!("v{n}"));
                if producer.send(record).is_ok() {
                    n += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = producer.flush(Duration::from_secs(10));
            n
        })
    };
    println!(
        "group {:?} on {bootstrap}, topic {:?}, strategy {}",
        args.group, args.topic, args.strategy
    );
    let one = member(args, &bootstrap, "member-1", start);
    std::thread::sleep(step);
    let two = member(args, &bootstrap, "member-2", start);
    std::thread::sleep(step);
    let three = member(args, &bootstrap, "member-3", start);
    std::thread::sleep(step);
    let mut consumed = two.leave(start)?;
    std::thread::sleep(step);
    producing.store(false, Ordering::Relaxed);
    let produced = produced.join().map_err(|_| "the producer panicked")?;
    std::thread::sleep(step);
    consumed += one.leave(start)?;
    consumed += three.leave(start)?;
    println!("produced {produced}, consumed {consumed} (records consumed twice after a member left are possible: at least once)");
    Ok(())
}

//! A consumer blocked in `poll(30 s)` on an idle topic is woken twice by
//! another thread: once by a record it produces (the poll returns as soon
//! as the poller has fetched it, not at the timeout), once by
//! `Consumer::wakeup()` (the poll returns `Wakeup` at once). Each row is
//! one round; the times are from the producer's acknowledgment, or from
//! the `wakeup()` call, to `poll` returning.
//!
//! `cargo run --release --example consumer_wakeup` runs against an embedded
//! `rouse-kafka-mock` cluster; `--bootstrap HOST:PORT` uses a real broker
//! (the topic must exist there). Both hold an empty fetch up to
//! `fetch.max.wait.ms` and answer it as soon as a record arrives.
#![allow(clippy::print_stdout, clippy::print_stderr)] // an example: printing is its output

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use rouse_kafka::{
    Consumer, ConsumerConfig, ConsumerError, Producer, ProducerConfig, Record, TopicPartition,
};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

#[derive(Parser, Debug)]
#[command(about = "A consumer's blocked poll woken by a record and by wakeup()")]
struct Args {
    /// A broker to use instead of the embedded mock cluster.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic (partition 0 is read).
    #[arg(long, default_value = "wakeup")]
    topic: String,
    /// Rounds of (record, wakeup).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// The consumer's `fetch.max.wait.ms`.
    #[arg(long, default_value_t = 500)]
    fetch_max_wait_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("consumer_wakeup: {error}");
            ExitCode::FAILURE
        }
    }
}

fn micros(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let _mock = match &args.bootstrap {
        Some(_) => None,
        None => {
            let cluster = MockCluster::start(ClusterConfig::new(1))?;
            cluster.create_topic(&args.topic, 1)?;
            Some(cluster)
        }
    };
    let bootstrap = match (&args.bootstrap, &_mock) {
        (Some(b), _) => b.clone(),
        (None, Some(cluster)) => cluster.bootstrap_servers(),
        (None, None) => unreachable!("a mock when no bootstrap is given"),
    };
    let producer = Producer::new(ProducerConfig::from_pairs([
        ("bootstrap.servers", bootstrap.as_str()),
        ("linger.ms", "0"),
    ])?)?;
    let wait = args.fetch_max_wait_ms.to_string();
    let consumer = Consumer::new(ConsumerConfig::from_pairs([
        ("bootstrap.servers", bootstrap.as_str()),
        ("auto.offset.reset", "latest"),
        ("fetch.max.wait.ms", wait.as_str()),
    ])?)?;
    let tp = TopicPartition::new(args.topic.as_str(), 0);
    consumer.assign([tp.clone()])?;
    consumer.position(&tp, Duration::from_secs(10))?;

    println!("round  event    poll returned after");
    let (mut records, mut wakeups) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let (polled, sent) = std::thread::scope(|s| {
            let other = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                let record = Record::key_value(args.topic.as_str(), "k", format!("r{round}"))
                    .with_partition(0);
                producer.send(record)?.wait()?;
                Ok::<Instant, Box<dyn std::error::Error + Send + Sync>>(Instant::now())
            });
            let polled = consumer.poll(Duration::from_secs(30));
            (polled.map(|r| (r.len(), Instant::now())), other.join())
        });
        let (count, returned) = polled?;
        let acked = sent
            .map_err(|_| "the producing thread panicked")?
            .map_err(|e| e.to_string())?;
        let after = returned.saturating_duration_since(acked);
        println!("{round:>5}  record   {} ({count} record)", micros(after));
        records.push(after);

        let (polled, called) = std::thread::scope(|s| {
            let other = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                let at = Instant::now();
                consumer.wakeup();
                at
            });
            let polled = consumer.poll(Duration::from_secs(30));
            (polled.map(|r| r.len()), (Instant::now(), other.join()))
        });
        let (returned, called) = (
            called.0,
            called.1.map_err(|_| "the waking thread panicked")?,
        );
        match polled {
            Err(ConsumerError::Wakeup) => {}
            other => return Err(format!("expected Wakeup, got {other:?}").into()),
        }
        let after = returned.saturating_duration_since(called);
        println!("{round:>5}  wakeup   {}", micros(after));
        wakeups.push(after);
    }
    records.sort();
    wakeups.sort();
    println!(
        "median: record {} after its ack, Wakeup {} after wakeup(); {:?}",
        micros(records[records.len() / 2]),
        micros(wakeups[wakeups.len() / 2]),
        consumer.stats()
    );
    consumer.close(Duration::from_secs(5))?;
    producer.close(Duration::from_secs(5))?;
    Ok(())
}

//! Several application threads share one `Producer`; each `send` appends
//! and wakes the one poller thread that owns the broker connections (the
//! architecture of ../shared/seeds/000, kafka-python's, without its wakeup
//! bugs). With `linger.ms=0` every record asks for a wake; the waker
//! coalesces them, and the stats printed at the end show how many cost a
//! syscall.
//!
//! `cargo run --release --example producer_poller -- --threads 4 --records 20000`
//! runs against an embedded `rouse-kafka-mock` cluster; `--bootstrap
//! HOST:PORT` uses a real broker (the topic must exist there), and `-X
//! key=value` (repeatable, as kcat's) passes any client setting, such as
//! `-X security.protocol=SSL -X ssl.ca.location=ca.pem`.
#![allow(clippy::print_stdout, clippy::print_stderr)] // an example: printing is its output

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

#[path = "common/client_settings.rs"]
mod client_settings;
use rouse_kafka::{Producer, ProducerConfig, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

#[derive(Parser, Debug)]
#[command(about = "Producer threads sharing one Producer and its poller thread")]
struct Args {
    /// Application threads sending at once.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Records each thread sends.
    #[arg(long, default_value_t = 20_000)]
    records: usize,
    /// `linger.ms`: 0 makes every record wake the poller.
    #[arg(long, default_value_t = 0)]
    linger_ms: u64,
    /// A broker to use instead of the embedded mock cluster.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic (created on the mock; must exist on a real broker).
    #[arg(long, default_value = "producer-poller")]
    topic: String,
    /// A client setting, as key=value (repeatable, as kcat's -X), given to
    /// the producer as is after the example's own.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = client_settings::parse)]
    client_settings: Vec<(String, String)>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mock = match &args.bootstrap {
        Some(_) => None,
        None => match MockCluster::start(ClusterConfig::new(3)) {
            Ok(cluster) => Some(cluster),
            Err(e) => {
                eprintln!("producer_poller: the embedded mock cluster failed: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if let Some(cluster) = &mock {
        if let Err(e) = cluster.create_topic(&args.topic, 6) {
            eprintln!("producer_poller: {e}");
            return ExitCode::FAILURE;
        }
    }
    let bootstrap = args
        .bootstrap
        .clone()
        .or_else(|| mock.as_ref().map(MockCluster::bootstrap_servers))
        .unwrap_or_default();
    let linger = args.linger_ms.to_string();
    let own = [
        ("bootstrap.servers", bootstrap.as_str()),
        ("linger.ms", linger.as_str()),
        ("client.id", "producer-poller-example"),
    ];
    let given = args
        .client_settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let config = ProducerConfig::from_pairs(own.into_iter().chain(given));
    let producer = match config
        .map_err(|e| e.to_string())
        .and_then(|c| Producer::new(c).map_err(|e| e.to_string()))
    {
        Ok(producer) => producer,
        Err(e) => {
            eprintln!("producer_poller: {e}");
            return ExitCode::FAILURE;
        }
    };

    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..args.threads)
        .map(|t| {
            let (producer, failed, topic, n) = (
                producer.clone(),
                Arc::clone(&failed),
                args.topic.clone(),
                args.records,
            );
            std::thread::spawn(move || {
                for i in 0..n {
                    let record = Record::key_value(
                        topic.as_str(),
                        format!("thread-{t}-key-{}", i % 64),
                        format!("record {i} from thread {t}"),
                    );
                    let counter = Arc::clone(&failed);
                    let sent = producer.send_with_callback(record, move |outcome| {
                        if outcome.is_err() {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                    if let Err(e) = sent {
                        eprintln!("thread {t}: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    let flushed = producer.flush(Duration::from_secs(30));
    let elapsed = started.elapsed();
    let stats = producer.stats();
    let total = (args.threads * args.records) as f64;
    println!(
        "{} threads x {} records to {bootstrap} in {:.2} s: {:.0} records/s",
        args.threads,
        args.records,
        elapsed.as_secs_f64(),
        total / elapsed.as_secs_f64()
    );
    println!(
        "delivered {}, failed {}, retries {}",
        stats.delivered,
        stats.failed + failed.load(Ordering::Relaxed),
        stats.retries
    );
    println!(
        "batches {}, mean {:.1} records per batch",
        stats.batches,
        stats.mean_batch_records()
    );
    println!(
        "poller wakes requested {}, wake syscalls {} ({:.4} per record; the rest were coalesced)",
        stats.wakes_requested,
        stats.wake_syscalls,
        stats.wake_syscalls as f64 / total
    );
    for broker in producer.broker_latency() {
        println!(
            "broker {}: {} produce requests, p50 {:?}, p99 {:?}",
            broker.broker, broker.requests, broker.p50, broker.p99
        );
    }
    let closed = producer.close(Duration::from_secs(10));
    match flushed.and(closed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("producer_poller: {e}");
            ExitCode::FAILURE
        }
    }
}

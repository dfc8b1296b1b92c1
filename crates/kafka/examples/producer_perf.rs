//! A producer load test in the manner of Kafka's `kafka-producer-perf-test`,
//! with its flags and its output, so numbers can be compared line for line:
//!
//! ```text
//! cargo xtask perf producer --topic t --num-records 500000 --record-size 100 \
//!     --throughput 100000 --producer-props bootstrap.servers=127.0.0.1:9092 linger.ms=5
//! ```
//!
//! Every 5 s it prints the window's records/s, MB/s, and average and
//! maximum send-to-acknowledgement latency; at the end the whole run's, with
//! the 50th, 95th, 99th and 99.9th percentiles. `--throughput -1` sends as
//! fast as the producer takes records; a rate paces sends as Java's
//! throttler does. Without `bootstrap.servers` in `--producer-props` it runs
//! against an embedded mock cluster (`--partitions`).

// A command-line tool: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use parking_lot::Mutex;
use rouse_kafka::{Producer, ProducerConfig, ProducerError, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

#[derive(Parser, Debug)]
#[command(
    name = "producer_perf",
    about = "Kafka producer load test (kafka-producer-perf-test's flags and output)"
)]
struct Args {
    /// The topic to produce to.
    #[arg(long)]
    topic: String,
    /// How many records to send.
    #[arg(long = "num-records")]
    num_records: u64,
    /// The size of each record's value in bytes.
    #[arg(long = "record-size")]
    record_size: usize,
    /// Records per second to aim for; -1 for no limit.
    #[arg(long, allow_hyphen_values = true)]
    throughput: f64,
    /// Producer settings as key=value (bootstrap.servers, linger.ms, ...).
    #[arg(long = "producer-props", num_args = 1..)]
    producer_props: Vec<String>,
    /// Partitions of the topic in the embedded mock (used only without
    /// bootstrap.servers).
    #[arg(long, default_value_t = 1)]
    partitions: i32,
}

/// Latencies and counts, for a 5 s window and for the whole run.
#[derive(Default)]
struct Window {
    records: u64,
    bytes: u64,
    total_latency_ms: f64,
    max_latency_ms: f64,
}

impl Window {
    fn record(&mut self, bytes: usize, latency_ms: f64) {
        self.records += 1;
        self.bytes += bytes as u64;
        self.total_latency_ms += latency_ms;
        self.max_latency_ms = self.max_latency_ms.max(latency_ms);
    }
}

struct Stats {
    started: Instant,
    window_started: Instant,
    window: Window,
    total: Window,
    /// Every latency in ms, for the percentiles.
    latencies: Vec<u32>,
    errors: u64,
}

impl Stats {
    fn new(capacity: u64) -> Stats {
        let now = Instant::now();
        Stats {
            started: now,
            window_started: now,
            window: Window::default(),
            total: Window::default(),
            latencies: Vec::with_capacity(capacity.min(50_000_000) as usize),
            errors: 0,
        }
    }

    fn acknowledged(&mut self, bytes: usize, latency: Duration) {
        let ms = latency.as_secs_f64() * 1000.0;
        self.window.record(bytes, ms);
        self.total.record(bytes, ms);
        self.latencies.push(ms as u32);
        if self.window_started.elapsed() >= Duration::from_secs(5) {
            print_window(&self.window, self.window_started.elapsed());
            self.window = Window::default();
            self.window_started = Instant::now();
        }
    }
}

fn print_window(w: &Window, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
        w.records,
        w.records as f64 / secs,
        w.bytes as f64 / secs / (1024.0 * 1024.0),
        if w.records == 0 { 0.0 } else { w.total_latency_ms / w.records as f64 },
        w.max_latency_ms
    );
}

fn print_total(stats: &mut Stats) {
    let secs = stats.started.elapsed().as_secs_f64();
    let t = &stats.total;
    stats.latencies.sort_unstable();
    let at = |q: f64| {
        let n = stats.latencies.len();
        if n == 0 {
            0
        } else {
            stats.latencies[((n as f64 * q) as usize).min(n - 1)]
        }
    };
    println!(
        "{} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        t.records,
        t.records as f64 / secs,
        t.bytes as f64 / secs / (1024.0 * 1024.0),
        if t.records == 0 { 0.0 } else { t.total_latency_ms / t.records as f64 },
        t.max_latency_ms,
        at(0.5),
        at(0.95),
        at(0.99),
        at(0.999)
    );
}

/// Java's `ThroughputThrottler`: sleep while ahead of the target rate.
fn throttle(started: Instant, sent: u64, target: f64) {
    if target <= 0.0 {
        return;
    }
    let due = started + Duration::from_secs_f64(sent as f64 / target);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut props: Vec<(String, String)> = Vec::new();
    for prop in &args.producer_props {
        let (k, v) = prop
            .split_once('=')
            .ok_or_else(|| format!("--producer-props {prop:?}: expected key=value"))?;
        props.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut _mock = None;
    if !props.iter().any(|(k, _)| k == "bootstrap.servers") {
        let cluster = MockCluster::start(ClusterConfig::new(1))?;
        cluster.create_topic(&args.topic, args.partitions)?;
        eprintln!(
            "no bootstrap.servers given: producing to an embedded mock cluster at {}",
            cluster.bootstrap_servers()
        );
        props.push(("bootstrap.servers".into(), cluster.bootstrap_servers()));
        _mock = Some(cluster);
    }
    let producer = Producer::new(ProducerConfig::from_pairs(props)?)?;
    let payload = vec![b'x'; args.record_size];
    let stats = Arc::new(Mutex::new(Stats::new(args.num_records)));
    let started = Instant::now();
    for sent in 0..args.num_records {
        throttle(started, sent, args.throughput);
        let stats = Arc::clone(&stats);
        let at = Instant::now();
        let size = payload.len();
        let record = Record::value(args.topic.as_str(), payload.clone());
        let callback = move |result: rouse_kafka::DeliveryResult| {
            let mut stats = stats.lock();
            match result {
                Ok(_) => stats.acknowledged(size, at.elapsed()),
                Err(error) => {
                    stats.errors += 1;
                    if stats.errors <= 10 {
                        eprintln!("error: {error}");
                    }
                }
            }
        };
        match producer.send_with_callback(record, callback) {
            Ok(()) => {}
            Err(error @ ProducerError::Fatal { .. }) => return Err(error.into()),
            Err(error) => eprintln!("send refused: {error}"),
        }
    }
    producer.flush(Duration::from_secs(600))?;
    let mut stats = stats.lock();
    print_total(&mut stats);
    if stats.errors > 0 {
        eprintln!("{} record(s) failed", stats.errors);
    }
    producer.close(Duration::from_secs(10))?;
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("producer_perf: {error}");
            ExitCode::FAILURE
        }
    }
}

//! A producer load test in the manner of Kafka's `kafka-producer-perf-test`,
//! with its flags and its output, so numbers can be compared line for line:
//!
//! ```text
//! cargo xtask perf producer --topic t --num-records 500000 --record-size 100 \
//!     --throughput 100000 --producer-props bootstrap.servers=127.0.0.1:9092 linger.ms=5
//! ```
//!
//! `--producer-props` takes any producer setting (`key=value`, the names of
//! `ProducerConfig::from_pairs`); settings not given keep rouse's defaults.
//! `-X key=value` (repeatable, as kcat's) adds to the same list, so
//! `-X security.protocol=SSL -X ssl.ca.location=ca.pem` runs it over TLS;
//! a key or value the config refuses stops it with the config's error.
//! Every 5 s it prints the window's records/s, MB/s, and average and
//! maximum send-to-acknowledgement latency; at the end the whole run's, with
//! the 50th, 95th, 99th and 99.9th percentiles. `--throughput -1` sends as
//! fast as the producer takes records; a rate paces sends as Java's
//! throttler does. `--threads N` sends from N threads sharing the one
//! producer. Without `bootstrap.servers` it runs against an embedded mock
//! cluster (`--partitions`).
//!
//! This is also the rouse peer of `cargo xtask bench producer`, which runs
//! it once per row with `--summary` (a row's exact command is in the
//! bench's output), so any row can be reproduced against another broker.

// A command-line tool: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use rouse_bench_support::perf::{self, PerfArgs, Recorder};
use rouse_kafka::{Producer, ProducerConfig, ProducerError, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

#[derive(Parser, Debug)]
#[command(
    name = "producer_perf",
    about = "Kafka producer load test (kafka-producer-perf-test's flags and output)"
)]
struct Args {
    #[command(flatten)]
    perf: PerfArgs,
    /// Partitions of the topic in the embedded mock (used only without
    /// bootstrap.servers).
    #[arg(long, default_value_t = 1)]
    partitions: i32,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let perf_args = &args.perf;
    let mut props = perf_args.props()?;
    let mut _mock = None;
    if !props.iter().any(|(k, _)| k == "bootstrap.servers") {
        let cluster = MockCluster::start(ClusterConfig::new(1))?;
        cluster.create_topic(&perf_args.topic, args.partitions)?;
        eprintln!(
            "no bootstrap.servers given: producing to an embedded mock cluster at {}",
            cluster.bootstrap_servers()
        );
        props.push(("bootstrap.servers".into(), cluster.bootstrap_servers()));
        _mock = Some(cluster);
    }
    let config = ProducerConfig::from_pairs(props)?;
    let (batch_size, buffer_memory) = (config.batch_size(), config.buffer_memory());
    let producer = Producer::new(config)?;
    let payload = Bytes::from(perf_args.payload());
    let recorder = Recorder::new(perf_args.num_records, perf_args.record_size);
    let windows = recorder.print_windows();
    let fatal = parking_lot::Mutex::new(None);
    let started = Instant::now();
    let sent = perf::drive(perf_args, |seq| {
        let record = Record::value(perf_args.topic.as_str(), payload.clone());
        let (reports, sent_at) = (Arc::clone(&recorder), recorder.stamp());
        let callback = move |result: rouse_kafka::DeliveryResult| match result {
            Ok(_) => reports.acked(seq, sent_at),
            Err(error) => reports.failed(&error),
        };
        match producer.send_with_callback(record, callback) {
            Ok(()) => {}
            Err(error @ ProducerError::Fatal { .. }) => *fatal.lock() = Some(error),
            Err(error) => recorder.failed(&error),
        }
    });
    if let Some(error) = fatal.into_inner() {
        return Err(error.into());
    }
    producer.flush(Duration::from_secs(600))?;
    // The last callbacks may still be running on the poller thread.
    recorder.wait_for(sent, Duration::from_secs(10));
    let elapsed = started.elapsed();
    drop(windows);
    // How the records went out: fewer, larger requests cost the broker less.
    let stats = producer.stats();
    perf::finish(
        perf_args,
        &recorder,
        sent,
        elapsed,
        &[
            ("batch.size", batch_size.to_string()),
            ("buffer.memory", buffer_memory.to_string()),
            ("batches", stats.batches.to_string()),
            ("produce_requests", stats.produce_requests.to_string()),
        ],
    );
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

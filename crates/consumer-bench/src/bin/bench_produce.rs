//! The producer of `cargo xtask bench consumer`: fills a topic before the
//! throughput runs (as fast as rouse's producer takes records), or sends at
//! a steady rate during a latency run, each value starting with its send
//! time (`rouse_bench_support::consume::stamp`). Both consumer peers read
//! what this one process wrote, so the producer is the same for both.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rouse_bench_support::consume::stamp;
use rouse_bench_support::perf::Pacer;
use rouse_kafka::{Producer, ProducerConfig, Record};

#[derive(Parser)]
#[command(
    name = "bench-produce",
    about = "fills or paces a topic for the consumer bench"
)]
struct Args {
    /// The broker, `host:port`.
    #[arg(long)]
    bootstrap: String,
    /// The topic (it must exist).
    #[arg(long)]
    topic: String,
    /// Records to send.
    #[arg(long)]
    num_records: u64,
    /// Bytes per value.
    #[arg(long)]
    record_size: usize,
    /// Records/s; -1 sends as fast as the producer takes them.
    #[arg(long, default_value_t = -1.0, allow_hyphen_values = true)]
    throughput: f64,
    /// `key=value` producer settings after the defaults.
    #[arg(long = "producer-props", num_args = 0.., value_name = "KEY=VALUE")]
    producer_props: Vec<String>,
}

fn run(args: &Args) -> Result<(), String> {
    let mut pairs = vec![("bootstrap.servers".to_string(), args.bootstrap.clone())];
    for pair in &args.producer_props {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--producer-props {pair:?}: expected key=value"))?;
        pairs.push((k.to_string(), v.to_string()));
    }
    let config = ProducerConfig::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| format!("producer settings: {e}"))?;
    let producer = Producer::new(config).map_err(|e| format!("producer: {e}"))?;
    let pacer = Pacer::new(args.throughput);
    let started = Instant::now();
    // Varied bytes (not zeros), so lz4 has something to do, as real values
    // do; the first 8 are the stamp.
    let mut value: Vec<u8> = (0..args.record_size).map(|i| (i * 7 % 251) as u8).collect();
    let mut futures = Vec::new();
    for seq in 0..args.num_records {
        pacer.wait(seq);
        stamp(&mut value);
        let record = Record::new(args.topic.as_str()).with_value(value.clone());
        futures.push(producer.send(record).map_err(|e| format!("send: {e}"))?);
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| format!("flush: {e}"))?;
    let mut failed = 0;
    for future in futures {
        if !matches!(future.wait_timeout(Duration::from_secs(10)), Some(Ok(_))) {
            failed += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bench-produce: {} records of {} B to {} in {secs:.1} s, {failed} failed",
        args.num_records, args.record_size, args.topic
    );
    if failed > 0 {
        return Err(format!("{failed} records were not acknowledged"));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-produce: {error}");
            ExitCode::FAILURE
        }
    }
}

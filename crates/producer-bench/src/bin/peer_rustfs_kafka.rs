//! The rustfs-kafka peer of `cargo xtask bench producer`: its
//! `BatchProducer`, which is synchronous — a `send` that fills the batch
//! (16384 records or `max_bytes`) or finds it older than the linger sends
//! it and waits for the acknowledgement on the calling thread. Threads share
//! it behind a mutex, as they must (`send` takes `&mut self`). A record is
//! acknowledged when the send or flush that carried it returns.
//!
//! `--producer-props`: `bootstrap.servers`, `acks`, `linger.ms` (its default
//! 5 ms when absent), `batch.size` (its per-request `max_bytes`, default
//! 1 MiB), `client.id`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rouse_bench_support::perf::{self, PerfArgs, Recorder};
use rustfs_kafka::producer::{BatchProducer, Record, RequiredAcks};

#[derive(Parser)]
#[command(
    name = "peer-rustfs-kafka",
    about = "rustfs-kafka load test (kafka-producer-perf-test's flags and output)"
)]
struct Args {
    #[command(flatten)]
    perf: PerfArgs,
}

fn producer(args: &PerfArgs) -> Result<BatchProducer, String> {
    let mut hosts = Vec::new();
    let mut settings: Vec<(String, String)> = Vec::new();
    for (key, value) in args.props()? {
        match key.as_str() {
            "bootstrap.servers" => hosts = value.split(',').map(str::to_owned).collect(),
            "acks" | "linger.ms" | "batch.size" | "client.id" => settings.push((key, value)),
            _ => return Err(format!("--producer-props {key}: rustfs-kafka has no such setting (known: bootstrap.servers, acks, linger.ms, batch.size, client.id)")),
        }
    }
    if hosts.is_empty() {
        return Err("--producer-props bootstrap.servers=HOST:PORT is required".into());
    }
    let mut builder = BatchProducer::from_hosts(hosts);
    for (key, value) in settings {
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("--producer-props {key}={value}: expected a whole number"))
        };
        builder = match key.as_str() {
            "acks" => builder.with_required_acks(match value.as_str() {
                "0" => RequiredAcks::None,
                "1" => RequiredAcks::One,
                "all" | "-1" => RequiredAcks::All,
                _ => {
                    return Err(format!(
                        "--producer-props acks={value}: expected 0, 1 or all"
                    ))
                }
            }),
            "linger.ms" => builder.with_linger(number()?),
            "batch.size" => builder.with_max_batch_bytes(number()? as usize),
            _ => builder.with_client_id(value),
        };
    }
    builder
        .create()
        .map_err(|e| format!("rustfs-kafka producer: {e}"))
}

/// The producer and the records it holds unacknowledged (seq, stamp).
struct Shared {
    producer: BatchProducer,
    pending: Vec<(u64, u64)>,
}

impl Shared {
    /// The producer sent everything it held: acknowledged, or failed.
    fn settle(&mut self, recorder: &Recorder, outcome: Result<(), String>) {
        for (seq, sent_at) in self.pending.drain(..) {
            match &outcome {
                Ok(()) => recorder.acked(seq, sent_at),
                Err(error) => recorder.failed(error),
            }
        }
        if outcome.is_err() {
            // It keeps a failed batch until told: drop it, as the records
            // are counted failed.
            self.producer.clear();
        }
    }
}

fn run(args: &PerfArgs) -> Result<(), String> {
    let shared = std::sync::Mutex::new(Shared {
        producer: producer(args)?,
        pending: Vec::new(),
    });
    let recorder = Recorder::new(args.num_records, args.record_size);
    let payload = args.payload();
    let windows = recorder.print_windows();
    let started = Instant::now();
    let sent = perf::drive(args, |seq| {
        // Stamped before the lock: waiting for another thread's send is
        // part of this record's latency, as a blocking send is elsewhere.
        let sent_at = recorder.stamp();
        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.pending.push((seq, sent_at));
        match shared
            .producer
            .send(&Record::from_value(&args.topic, &payload[..]))
        {
            Ok(false) => {}
            Ok(true) => shared.settle(&recorder, Ok(())),
            Err(error) => shared.settle(&recorder, Err(error.to_string())),
        }
    });
    let mut shared = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    let flushed = shared
        .producer
        .flush()
        .map_err(|e| e.to_string())
        .and_then(|confirms| {
            // flush reports a partition's error in its confirmation, not as Err.
            let failed = confirms
                .iter()
                .flat_map(|c| &c.partition_confirms)
                .find_map(|p| p.offset.err());
            failed.map_or(Ok(()), |code| Err(format!("partition error {code:?}")))
        });
    shared.settle(&recorder, flushed);
    recorder.wait_for(sent, Duration::from_secs(10));
    let elapsed = started.elapsed();
    drop(windows);
    perf::finish(args, &recorder, sent, elapsed, &[]);
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse().perf) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peer-rustfs-kafka: {error}");
            ExitCode::FAILURE
        }
    }
}

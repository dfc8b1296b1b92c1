//! The rskafka peer of `cargo xtask bench producer`: rskafka's
//! `BatchProducer` (one per partition, as rskafka's producer is) on a tokio
//! multi-thread runtime, as `#[tokio::main]` makes it. Each record is
//! produced by a task spawned from the sending thread; keyless records go
//! to the partitions in turn (rskafka has no partitioner).
//!
//! `--producer-props`: `bootstrap.servers`, `linger.ms` (rskafka's default
//! 5 ms when absent), `batch.size` (the `RecordAggregator`'s byte limit,
//! which rskafka requires; 16384 when absent, Java's default), `acks`
//! (rskafka always asks for acks=all: `acks=1` is accepted and reported as
//! `note=acks-all` in the summary), `client.id`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rouse_bench_support::perf::{self, PerfArgs, Recorder};
use rskafka::chrono::{DateTime, Utc};
use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::client::producer::{BatchProducer, BatchProducerBuilder};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;

/// The aggregator's byte limit when `batch.size` is not given.
const DEFAULT_BATCH_BYTES: usize = 16 * 1024;

#[derive(Parser)]
#[command(
    name = "peer-rskafka",
    about = "rskafka load test (kafka-producer-perf-test's flags and output)"
)]
struct Args {
    #[command(flatten)]
    perf: PerfArgs,
}

struct Settings {
    bootstrap: Vec<String>,
    linger: Option<Duration>,
    batch_bytes: usize,
    acks_all_only: bool,
    client_id: Option<String>,
}

fn settings(args: &PerfArgs) -> Result<Settings, String> {
    let mut s = Settings {
        bootstrap: Vec::new(),
        linger: None,
        batch_bytes: DEFAULT_BATCH_BYTES,
        acks_all_only: false,
        client_id: None,
    };
    let number = |key: &str, value: &str| {
        value
            .parse::<u64>()
            .map_err(|_| format!("--producer-props {key}={value}: expected a whole number"))
    };
    for (key, value) in args.props()? {
        match key.as_str() {
            "bootstrap.servers" => s.bootstrap = value.split(',').map(str::to_owned).collect(),
            "linger.ms" => s.linger = Some(Duration::from_millis(number(&key, &value)?)),
            "batch.size" => s.batch_bytes = number(&key, &value)? as usize,
            "acks" => s.acks_all_only = !matches!(value.as_str(), "all" | "-1"),
            "client.id" => s.client_id = Some(value),
            _ => return Err(format!("--producer-props {key}: rskafka has no such setting (known: bootstrap.servers, linger.ms, batch.size, acks, client.id)")),
        }
    }
    if s.bootstrap.is_empty() {
        return Err("--producer-props bootstrap.servers=HOST:PORT is required".into());
    }
    Ok(s)
}

async fn producers(
    args: &PerfArgs,
    s: &Settings,
) -> Result<Vec<Arc<BatchProducer<RecordAggregator>>>, String> {
    let mut builder = ClientBuilder::new(s.bootstrap.clone());
    if let Some(id) = &s.client_id {
        builder = builder.client_id(id.as_str());
    }
    let client = builder
        .build()
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let topics = client
        .list_topics()
        .await
        .map_err(|e| format!("metadata: {e}"))?;
    let partitions: Vec<i32> = topics
        .iter()
        .find(|t| t.name == args.topic)
        .map(|t| t.partitions.iter().copied().collect())
        .ok_or_else(|| {
            format!(
                "topic {} does not exist (rskafka does not create topics)",
                args.topic
            )
        })?;
    let mut out = Vec::new();
    for partition in partitions {
        let client = client
            .partition_client(args.topic.as_str(), partition, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| format!("partition {partition}: {e}"))?;
        let mut builder = BatchProducerBuilder::new(Arc::new(client));
        if let Some(linger) = s.linger {
            builder = builder.with_linger(linger);
        }
        out.push(Arc::new(
            builder.build(RecordAggregator::new(s.batch_bytes)),
        ));
    }
    Ok(out)
}

/// The wall-clock time a record is stamped with (chrono's `Utc::now`
/// needs a feature rskafka does not turn on).
fn now() -> DateTime<Utc> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    DateTime::from_timestamp_millis(since_epoch.as_millis() as i64).unwrap_or_default()
}

fn run(args: &PerfArgs) -> Result<(), String> {
    let s = settings(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let producers = runtime.block_on(producers(args, &s))?;
    let recorder = Recorder::new(args.num_records, args.record_size);
    let payload = args.payload();
    let windows = recorder.print_windows();
    let handle = runtime.handle();
    let started = Instant::now();
    let sent = perf::drive(args, |seq| {
        let record = Record {
            key: None,
            value: Some(payload.clone()),
            headers: BTreeMap::new(),
            timestamp: now(),
        };
        let producer = Arc::clone(&producers[seq as usize % producers.len()]);
        let (recorder, sent_at) = (Arc::clone(&recorder), recorder.stamp());
        handle.spawn(async move {
            match producer.produce(record).await {
                Ok(_) => recorder.acked(seq, sent_at),
                Err(error) => recorder.failed(&error),
            }
        });
    });
    runtime.block_on(async {
        for producer in &producers {
            if let Err(error) = producer.flush().await {
                eprintln!("flush: {error}");
            }
        }
    });
    recorder.wait_for(sent, Duration::from_secs(600));
    let elapsed = started.elapsed();
    drop(windows);
    let note = [("note", "acks-all".to_string())];
    perf::finish(
        args,
        &recorder,
        sent,
        elapsed,
        if s.acks_all_only { &note } else { &[] },
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse().perf) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peer-rskafka: {error}");
            ExitCode::FAILURE
        }
    }
}

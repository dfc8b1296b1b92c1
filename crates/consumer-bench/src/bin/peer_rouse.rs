//! rouse's peer of `cargo xtask bench consumer`: a `rouse_kafka::Consumer`
//! at its defaults (plus the `--consumer-props` the driver gives every
//! peer), assigned every partition of the topic (or, with `--subscribe`, a
//! member of its `group.id` subscribed to the topic), polling until it has
//! `--num-records` or `--max-seconds` pass; one `summary:` line at the end.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rouse_bench_support::consume::{now_us, ConsumeArgs, Tally};
use rouse_kafka::{Consumer, ConsumerConfig, TopicPartition};

#[derive(Parser)]
#[command(name = "peer-rouse", about = "rouse consumer load test")]
struct Cli {
    #[command(flatten)]
    args: ConsumeArgs,
}

fn run(args: &ConsumeArgs) -> Result<(), String> {
    let mut tally = Tally::new(args);
    let mut pairs = vec![("bootstrap.servers".to_string(), args.bootstrap.clone())];
    pairs.extend(args.props()?);
    let config = ConsumerConfig::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| format!("consumer settings: {e}"))?;
    let consumer = Consumer::new(config).map_err(|e| format!("consumer: {e}"))?;
    if args.subscribe {
        tally.subscribing();
        consumer
            .subscribe([args.topic.as_str()], ())
            .map_err(|e| format!("subscribe: {e}"))?;
    } else {
        consumer
            .assign((0..args.partitions).map(|p| TopicPartition::new(args.topic.as_str(), p)))
            .map_err(|e| format!("assign: {e}"))?;
    }
    let deadline = args.deadline();
    while tally.records < args.num_records && Instant::now() < deadline {
        let records = consumer
            .poll(Duration::from_millis(100))
            .map_err(|e| format!("poll: {e}"))?;
        let now = if tally.wants_clock() { now_us() } else { 0 };
        tally.polled(
            now,
            records
                .iter()
                .map(|r| r.value.as_deref().unwrap_or_default()),
        );
    }
    tally.finish(args);
    let _ = consumer.close(Duration::from_secs(5));
    Ok(())
}

fn main() -> ExitCode {
    if let Ok(path) = std::env::var("ROUSE_PEER_LOG") {
        let file =
            std::fs::File::create(format!("{path}.{}", std::process::id())).expect("log file");
        tracing_subscriber::fmt()
            .with_env_filter(
                std::env::var("ROUSE_PEER_LOG_FILTER")
                    .unwrap_or_else(|_| "rouse_kafka=debug".into()),
            )
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    }
    match run(&Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peer-rouse: {error}");
            ExitCode::FAILURE
        }
    }
}

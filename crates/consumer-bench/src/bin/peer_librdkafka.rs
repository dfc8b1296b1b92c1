//! librdkafka's peer of `cargo xtask bench consumer`: the `rdkafka` crate's
//! `BaseConsumer` at librdkafka's defaults (plus the `--consumer-props` the
//! driver gives every peer), assigned every partition of the topic at its
//! stored offset (none: `auto.offset.reset`) or, with `--subscribe`, a
//! member of its `group.id` subscribed to the topic (the crate's default
//! context runs the rebalances, incremental ones for cooperative-sticky,
//! inside `poll`), polling until it has `--num-records` or `--max-seconds`
//! pass; one `summary:` line at the end. `BaseConsumer::poll` hands out
//! one message per call from librdkafka's queue.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use rouse_bench_support::consume::{now_us, ConsumeArgs, Tally};

#[derive(Parser)]
#[command(
    name = "peer-librdkafka-consumer",
    about = "librdkafka consumer load test"
)]
struct Cli {
    #[command(flatten)]
    args: ConsumeArgs,
}

fn run(args: &ConsumeArgs) -> Result<(), String> {
    let mut tally = Tally::new(args);
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.bootstrap);
    for (key, value) in args.props()? {
        config.set(key, value);
    }
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| format!("librdkafka refused the settings: {e}"))?;
    if args.subscribe {
        tally.subscribing();
        consumer
            .subscribe(&[args.topic.as_str()])
            .map_err(|e| format!("subscribe: {e}"))?;
    } else {
        let mut assignment = TopicPartitionList::new();
        for p in 0..args.partitions {
            assignment
                .add_partition_offset(&args.topic, p, Offset::Stored)
                .map_err(|e| format!("partition {p}: {e}"))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| format!("assign: {e}"))?;
    }
    let deadline = args.deadline();
    while tally.records < args.num_records && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                let now = if tally.wants_clock() { now_us() } else { 0 };
                tally.polled(now, [message.payload().unwrap_or_default()]);
            }
            Some(Err(error)) => return Err(format!("poll: {error}")),
        }
    }
    tally.finish(args);
    Ok(())
}

fn main() -> ExitCode {
    match run(&Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peer-librdkafka-consumer: {error}");
            ExitCode::FAILURE
        }
    }
}

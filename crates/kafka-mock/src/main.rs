//! `cargo run -p rouse-kafka-mock -- --brokers 3 --topic t:6`: a mock Kafka
//! cluster on 127.0.0.1 for other programs' tests. Prints
//! `bootstrap.servers=...` once it listens, then serves until killed
//! (Ctrl-C).
#![allow(clippy::print_stdout, clippy::print_stderr)] // a program: printing is its output

use std::process::ExitCode;

use clap::Parser;
use rouse_kafka_mock::{ClusterConfig, MockCluster, MAX_BROKERS};

#[derive(Parser, Debug)]
#[command(
    name = "rouse-kafka-mock",
    about = "An in-memory Kafka mock cluster on 127.0.0.1"
)]
struct Args {
    /// Number of brokers, each on its own ephemeral port.
    #[arg(long, default_value_t = 1)]
    brokers: usize,
    /// A topic to create, as name:partitions (repeatable).
    #[arg(long = "topic", value_parser = parse_topic)]
    topics: Vec<(String, i32)>,
    /// Create unknown topics on first use (Metadata or Produce).
    #[arg(long)]
    auto_create: bool,
}

fn parse_topic(spec: &str) -> Result<(String, i32), String> {
    let (name, partitions) = spec.split_once(':').unwrap_or((spec, "1"));
    match partitions.parse::<i32>() {
        Ok(p) if p > 0 && !name.is_empty() => Ok((name.to_string(), p)),
        _ => Err(format!(
            "{spec:?}: write a topic as name:partitions, as in orders:6"
        )),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "rouse_kafka_mock=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !(1..=MAX_BROKERS).contains(&args.brokers) {
        eprintln!(
            "rouse-kafka-mock: --brokers must be 1 to {MAX_BROKERS}, not {}",
            args.brokers
        );
        return ExitCode::from(2);
    }
    let config = ClusterConfig::new(args.brokers).with_auto_create_topics(args.auto_create);
    let cluster = match MockCluster::start(config) {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("rouse-kafka-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (name, partitions) in &args.topics {
        if let Err(e) = cluster.create_topic(name, *partitions) {
            eprintln!("rouse-kafka-mock: --topic {name}:{partitions}: {e}");
            return ExitCode::from(2);
        }
    }
    println!("bootstrap.servers={}", cluster.bootstrap_servers());
    loop {
        // The cluster serves on its own thread; this one only keeps it alive.
        std::thread::park();
    }
}

//! Project tasks, run as `cargo xtask <task>` (an alias in .cargo/config.toml).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_consumer;
mod bench_driver;
mod bench_producer;
mod broker;
mod ci;
mod cmd;
mod demo;
mod pyenv;
/// The tansu launcher the integration tests use: one std-only source file,
/// compiled here too so xtask needs no dependency on the mock crate.
#[allow(unreachable_pub, dead_code)]
#[path = "../../crates/kafka-mock/src/tansu.rs"]
mod tansu;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rouse's project tasks.
#[derive(Parser)]
#[command(name = "cargo xtask", about = "Rouse's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// fmt, clippy, tests, docs and loom models: everything CI checks.
    Ci,
    /// The producer/poller wakeup experiment (the project's main job).
    DemoWakeup {
        /// Flags passed to the demo (try --help).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Start tansu, a real Kafka-compatible broker, on a free 127.0.0.1 port.
    Broker {
        /// Topics to create, as name:partitions (repeatable).
        #[arg(long = "topic", value_parser = broker::parse_topic)]
        topics: Vec<(String, u32)>,
    },
    /// A load test with kafka-producer-perf-test's flags and output:
    /// `cargo xtask perf producer --topic t --num-records N --record-size B
    /// --throughput R --producer-props bootstrap.servers=HOST:PORT k=v ...`
    /// (without bootstrap.servers: an embedded mock cluster).
    Perf {
        /// What to load-test.
        #[arg(value_parser = ["producer"])]
        what: String,
        /// The tool's flags (try --help).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a benchmark and write its section of docs/benchmarks.md.
    Bench {
        /// Which benchmark.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(
            bench::BENCHES.iter().map(|(n, _, _)| *n)))]
        name: String,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        Task::Ci => ci::run(),
        Task::DemoWakeup { args } => demo::run(args),
        Task::Bench { name } => bench::run(&name),
        Task::Perf { what: _, args } => cmd::Step::cargo(&[
            "run",
            "--release",
            "-p",
            "rouse-kafka",
            "--example",
            "producer_perf",
            "--",
        ])
        .args(args)
        .run(),
        Task::Broker { topics } => broker::run(topics),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => {
            eprintln!(
                "\nxtask: failed: {} (exit code {})",
                failed.what, failed.code
            );
            failed.exit_code()
        }
    }
}

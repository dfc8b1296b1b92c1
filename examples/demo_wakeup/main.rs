//! `cargo xtask demo-wakeup`: the experiment of ../shared/seeds/000 (the
//! kafka-python socketpair wakeup) with the real Rouse producer.
//!
//! A producer's poller thread blocks in its poll with a long timeout; the
//! main thread sends one record every `--interval`. With wakeups off
//! (`rouse.wakeups=false`) each record waits in the accumulator until the
//! poll times out; with them on, `send` wakes the poller at once. Each send
//! prints a row as it is acknowledged, then a summary compares the phases.
//!
//! A third phase turns it round (`--no-consumer` skips it): the main thread
//! blocks in a `Consumer::poll` with the same timeout while another thread
//! produces a record (the poll returns once the consumer's poller has
//! fetched it) or calls `Consumer::wakeup()` (the poll returns `Wakeup` at
//! once); a row per event, the time from the acknowledgement or the call to
//! `poll`'s return, and the summary's consumer lines.
//!
//! By default it runs against an embedded `rouse-kafka-mock` cluster, so it
//! needs nothing installed; `--bootstrap HOST:PORT` uses any broker (the
//! topic must exist), and `cargo xtask demo-wakeup --broker tansu` starts a
//! local tansu for it. `-X key=value` (repeatable, as kcat's) passes any
//! client setting to the producer, so the demo runs against a secured
//! broker: `-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-256 ...`.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a program: printing is its output

#[path = "../common/client_settings.rs"]
mod client_settings;
mod consumer;
mod experiment;
mod report;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use experiment::{Progress, Send, Settings};

#[derive(Parser, Debug)]
#[command(
    name = "demo-wakeup",
    about = "A producer's poller blocked in a long poll, with and without wakeups"
)]
struct Args {
    /// The poller's poll timeout, in seconds.
    #[arg(long, default_value_t = 2.0, value_parser = seconds)]
    poll_timeout: f64,
    /// Seconds between two sends.
    #[arg(long, default_value_t = 0.6, value_parser = seconds)]
    interval: f64,
    /// Sends per phase.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    sends: u32,
    /// The seed article's timings: a 10 s poll timeout, a send every 3 s.
    #[arg(long)]
    seed_timing: bool,
    /// A broker to use (HOST:PORT[,...]) instead of the embedded mock cluster.
    #[arg(long)]
    bootstrap: Option<String>,
    /// The topic (created on the mock; must exist on a real broker).
    #[arg(long, default_value = "rouse-demo")]
    topic: String,
    /// A client setting for the producer, as key=value (repeatable, as
    /// kcat's -X), given to it as is after the demo's own: for example
    /// -X security.protocol=SASL_SSL -X ssl.ca.location=ca.pem. The
    /// consumer phase's consumer gets the security.*, ssl.* and sasl.* ones.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = client_settings::parse)]
    client_settings: Vec<(String, String)>,
    /// Skip the consumer phase.
    #[arg(long)]
    no_consumer: bool,
    /// Also write the results as JSON to this file (`-` for stdout, which
    /// then carries only the JSON).
    #[arg(long)]
    json: Option<String>,
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 3600, as in 0.6"
        )),
    }
}

/// Prints rows as they come and a live line while a send waits.
struct Console {
    rows: bool,
    live: bool,
}

impl Progress for Console {
    fn row(&mut self, wakeups: bool, send: &Send) {
        if self.live {
            eprint!("\r\x1b[K");
        }
        if self.rows {
            println!("{}", report::row(wakeups, send));
        }
    }

    fn waiting(&mut self, wakeups: bool, seq: u32, waited: Duration) {
        if self.live {
            eprint!(
                "\r\x1b[K{} send {seq}: waiting for the ack... {:.1} s",
                report::phase_name(wakeups),
                waited.as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn consumer_row(&mut self, event: &consumer::Event) {
        if self.rows {
            println!("{}", report::consumer_row(event));
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (poll_timeout, interval) = if args.seed_timing {
        (10.0, 3.0)
    } else {
        (args.poll_timeout, args.interval)
    };
    let settings = Settings {
        poll_timeout: Duration::from_secs_f64(poll_timeout),
        interval: Duration::from_secs_f64(interval),
        sends: args.sends,
        topic: args.topic,
        bootstrap: args.bootstrap,
        client_settings: args.client_settings,
        consumer: !args.no_consumer,
    };
    let json_on_stdout = args.json.as_deref() == Some("-");
    if !json_on_stdout {
        println!(
            "poller poll timeout {poll_timeout} s, a send every {interval} s, {} sends per phase, \
             broker: {}",
            settings.sends,
            settings
                .bootstrap
                .as_deref()
                .unwrap_or("embedded rouse-kafka-mock")
        );
    }
    let mut console = Console {
        rows: !json_on_stdout,
        live: std::io::stderr().is_terminal(),
    };
    let report = match experiment::run(&settings, &mut console) {
        Ok(report) => report,
        Err(error) => {
            if console.live {
                eprint!("\r\x1b[K");
            }
            eprintln!("demo-wakeup: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json = serde_json::to_string_pretty(&report::to_json(&report)).unwrap_or_default();
    match args.json.as_deref() {
        Some("-") => println!("{json}"),
        Some(path) => {
            if let Err(e) = std::fs::write(path, json + "\n") {
                eprintln!("demo-wakeup: cannot write {path}: {e}; pass a writable path to --json");
                return ExitCode::FAILURE;
            }
        }
        None => {}
    }
    if !json_on_stdout {
        println!("\n{}", report::summary(&report));
    }
    ExitCode::SUCCESS
}

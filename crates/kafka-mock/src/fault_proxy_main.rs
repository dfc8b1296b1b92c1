//! `cargo run -p rouse-kafka-mock --bin rouse-fault-proxy -- --upstream
//! 127.0.0.1:9092 --seed 7 --delay-ms 0-150 --outage-at-ms 3000:6000`: a
//! seeded TCP fault proxy on 127.0.0.1 (see `rouse_kafka_mock::proxy`).
//! Prints `route listen=... upstream=...` per route and then
//! `bootstrap.servers=...` once it listens, then serves until killed.
//!
//! Note for Kafka: clients reconnect to the addresses Metadata advertises,
//! so the brokers must advertise the proxy's ports (bind them with
//! `--listen`, then set the brokers' advertised listeners to them).
#![allow(clippy::print_stdout, clippy::print_stderr)] // a program: printing is its output

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use rouse_kafka_mock::proxy::{FaultKind, FaultPlan, FaultProxy, Refusal};

#[derive(Parser, Debug)]
#[command(
    name = "rouse-fault-proxy",
    about = "A seeded TCP fault proxy on 127.0.0.1: delays, split writes, cuts, refusals"
)]
struct Args {
    /// An address to forward to (repeatable: one route each).
    #[arg(long = "upstream", required = true)]
    upstreams: Vec<SocketAddr>,
    /// The 127.0.0.1 address for the route of the same position (repeatable;
    /// routes without one get an ephemeral port).
    #[arg(long = "listen")]
    listens: Vec<SocketAddr>,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Delay per chunk in ms, uniform: `MAX` (from 0) or `MIN-MAX`.
    #[arg(long, value_parser = parse_range)]
    delay_ms: Option<(u64, u64)>,
    /// Split writes into pieces of 1 to this many bytes.
    #[arg(long)]
    split_max: Option<usize>,
    /// Pause between the pieces of a split write, in ms.
    #[arg(long, default_value_t = 0)]
    split_pause_ms: u64,
    /// Cut every connection about this often (jittered 0.5-1.5x), in ms.
    #[arg(long)]
    cut_every_ms: Option<u64>,
    /// Cut every connection at this offset in ms (repeatable).
    #[arg(long = "cut-at-ms")]
    cuts: Vec<u64>,
    /// Refuse new connections at AT for FOR ms, as `AT:FOR` (repeatable).
    #[arg(long = "refuse-at-ms", value_parser = parse_spell)]
    refusals: Vec<(u64, u64)>,
    /// Cut everything at AT and refuse for FOR ms, as `AT:FOR` (repeatable).
    #[arg(long = "outage-at-ms", value_parser = parse_spell)]
    outages: Vec<(u64, u64)>,
    /// How refusal looks to clients.
    #[arg(long, value_enum, default_value_t = RefusalArg::ClosePort)]
    refusal: RefusalArg,
    /// Print the counters to stderr this often, in ms (0: never).
    #[arg(long, default_value_t = 0)]
    stats_every_ms: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum RefusalArg {
    /// Close the listening port: connect() fails with "connection refused".
    ClosePort,
    /// Accept and close at once: the client reads end-of-stream.
    AcceptClose,
}

fn parse_range(spec: &str) -> Result<(u64, u64), String> {
    let (lo, hi) = spec.split_once('-').unwrap_or(("0", spec));
    match (lo.trim().parse::<u64>(), hi.trim().parse::<u64>()) {
        (Ok(lo), Ok(hi)) if lo <= hi => Ok((lo, hi)),
        _ => Err(format!("{spec:?}: write MAX or MIN-MAX in ms, as in 0-150")),
    }
}

fn parse_spell(spec: &str) -> Result<(u64, u64), String> {
    let parsed = spec
        .split_once(':')
        .map(|(at, dur)| (at.trim().parse::<u64>(), dur.trim().parse::<u64>()));
    match parsed {
        Some((Ok(at), Ok(dur))) => Ok((at, dur)),
        _ => Err(format!("{spec:?}: write AT:FOR in ms, as in 3000:6000")),
    }
}

fn plan(args: &Args) -> FaultPlan {
    let ms = Duration::from_millis;
    let mut plan = FaultPlan::new(args.seed)
        .with_split_writes(args.split_max.unwrap_or(0))
        .with_split_pause(ms(args.split_pause_ms))
        .with_cuts_every(ms(args.cut_every_ms.unwrap_or(0)))
        .with_refusal(match args.refusal {
            RefusalArg::ClosePort => Refusal::ClosePort,
            RefusalArg::AcceptClose => Refusal::AcceptAndClose,
        });
    if let Some((lo, hi)) = args.delay_ms {
        plan = plan.with_delay(ms(lo), ms(hi));
    }
    for &at in &args.cuts {
        plan = plan.with_cut_at(ms(at));
    }
    for &(at, dur) in &args.refusals {
        plan = plan.with_fault(ms(at), FaultKind::Refuse(ms(dur)));
    }
    for &(at, dur) in &args.outages {
        plan = plan.with_fault(ms(at), FaultKind::Outage(ms(dur)));
    }
    plan
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
    if args.listens.len() > args.upstreams.len() {
        eprintln!("rouse-fault-proxy: more --listen than --upstream addresses");
        return ExitCode::from(2);
    }
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let routes: Vec<(SocketAddr, SocketAddr)> = args
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, &up)| (args.listens.get(i).copied().unwrap_or(any), up))
        .collect();
    let proxy = match FaultProxy::start_on(&routes, plan(&args)) {
        Ok(proxy) => proxy,
        Err(e) => {
            eprintln!("rouse-fault-proxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    for route in proxy.routes() {
        println!("route listen={} upstream={}", route.listen, route.upstream);
    }
    println!("bootstrap.servers={}", proxy.bootstrap_servers());
    loop {
        // The proxy serves on its own threads; this one only keeps it alive.
        if args.stats_every_ms == 0 {
            std::thread::park();
        } else {
            std::thread::sleep(Duration::from_millis(args.stats_every_ms));
            eprintln!("rouse-fault-proxy: {:?}", proxy.stats());
        }
    }
}

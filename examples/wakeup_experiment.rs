//! The experiment of the kafka-python article (shared/seeds/000), in Rust: a
//! poller thread blocks in `poll` with a long timeout while the main thread
//! hands it a message every few seconds. Without a wake, each message waits
//! for the poll to time out; with one, the poller sees it at once.
//!
//! `cargo run --example wakeup_experiment -- --help` lists the flags;
//! `--seed-timing` uses the article's 10 s poll timeout and 3 s interval.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use crossbeam_channel::{unbounded, Receiver, TryRecvError};
use mio::{Events, Interest, Poll, Token};
use rouse::waker::{Waker, WakerStats};

/// Flags of the experiment.
#[derive(Parser, Debug)]
#[command(about = "A blocked poller, woken or not by the thread that hands it work")]
struct Args {
    /// The poller's poll timeout, in seconds.
    #[arg(long, default_value_t = 2.0)]
    poll_timeout: f64,
    /// Seconds between two messages.
    #[arg(long, default_value_t = 0.6)]
    interval: f64,
    /// Messages per phase.
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// The article's timings: 10 s poll timeout, a message every 3 s.
    #[arg(long)]
    seed_timing: bool,
}

/// What the poller saw for one message.
struct Seen {
    latency: Duration,
}

fn poller(
    waker: Arc<Waker>,
    mut poll: Poll,
    rx: Receiver<Instant>,
    timeout: Duration,
    label: &str,
) -> Vec<Seen> {
    let mut events = Events::with_capacity(8);
    let mut seen = Vec::new();
    loop {
        let started = Instant::now();
        poll.poll(&mut events, Some(timeout)).expect("poll failed");
        let poll_lasted = started.elapsed();
        waker.reset();
        loop {
            match rx.try_recv() {
                Ok(sent) => {
                    let latency = sent.elapsed();
                    seen.push(Seen { latency });
                    println!(
                        "  [{label}] message {}: poll lasted {:>7.1} ms, seen {:>8.3} ms after hand-over",
                        seen.len(),
                        poll_lasted.as_secs_f64() * 1e3,
                        latency.as_secs_f64() * 1e3
                    );
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return seen,
            }
        }
    }
}

fn phase(args: &Args, wake: bool) -> (Vec<Seen>, WakerStats) {
    let timeout = Duration::from_secs_f64(args.poll_timeout);
    let interval = Duration::from_secs_f64(args.interval);
    let poll = Poll::new().expect("creating the poller failed");
    let mut waker = Waker::new().expect("creating the waker failed");
    poll.registry()
        .register(&mut waker, Token(0), Interest::READABLE)
        .expect("registering the waker failed");
    let waker = Arc::new(waker);
    let (tx, rx) = unbounded();
    let label = if wake { "wake on" } else { "wake off" };
    let thread = {
        let waker = Arc::clone(&waker);
        thread::spawn(move || poller(waker, poll, rx, timeout, label))
    };
    for i in 1..=args.count {
        thread::sleep(interval);
        tx.send(Instant::now()).expect("poller thread ended early");
        if wake {
            waker.wake().expect("wake failed");
        }
        println!("  [{label}] message {i}/{} handed over", args.count);
    }
    // Let the last message arrive the way the others did before stopping.
    thread::sleep(if wake { interval } else { timeout });
    drop(tx);
    waker.wake().expect("wake failed");
    let seen = thread.join().expect("poller thread panicked");
    (seen, waker.stats())
}

fn median_ms(seen: &[Seen]) -> f64 {
    let mut v: Vec<f64> = seen.iter().map(|s| s.latency.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let mut args = Args::parse();
    if args.seed_timing {
        (args.poll_timeout, args.interval) = (10.0, 3.0);
    }
    if !(args.poll_timeout > 0.0 && args.interval > 0.0 && args.count > 0) {
        eprintln!("error: --poll-timeout, --interval and --count must be positive");
        std::process::exit(2);
    }
    println!(
        "Poller blocks up to {:.1} s; a message every {:.1} s, {} per phase.\n",
        args.poll_timeout, args.interval, args.count
    );
    println!("Phase 1: no wakeup (kafka-python without its socketpair)");
    let (off, _) = phase(&args, false);
    println!("\nPhase 2: wake the poller after each hand-over");
    let (on, stats) = phase(&args, true);
    let (m_off, m_on) = (median_ms(&off), median_ms(&on));
    println!("\n| phase    | median hand-over to seen |\n|----------|--------------------------|");
    println!("| wake off | {m_off:>21.3} ms |\n| wake on  | {m_on:>21.3} ms |");
    println!(
        "\nWakes requested: {}, wake syscalls: {}. Waking made messages {:.0}x faster to reach the poller: \
         without it each one waits for the poll to time out.",
        stats.wakes_requested,
        stats.wake_syscalls,
        m_off / m_on.max(1e-6)
    );
}

//! The load generator every producer peer shares, in the manner of Kafka's
//! `kafka-producer-perf-test`: its flags ([`PerfArgs`]), its pacing
//! ([`drive`]), its output ([`finish`]), plus what a bench needs on top —
//! sender threads sharing one producer, a time cap, and one `summary:` line
//! a driver parses. Each client's binary only maps the flags onto its own
//! producer and calls [`Recorder::acked`] from its delivery report, so
//! every peer is measured by the same code.

// The output of a command-line load tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// kafka-producer-perf-test's flags, and the bench's few more.
#[derive(clap::Args, Debug, Clone)]
pub struct PerfArgs {
    /// The topic to produce to.
    #[arg(long)]
    pub topic: String,
    /// How many records to send.
    #[arg(long = "num-records")]
    pub num_records: u64,
    /// The size of each record's value in bytes.
    #[arg(long = "record-size")]
    pub record_size: usize,
    /// Records per second to aim for (all threads together); -1 for no limit.
    #[arg(long, allow_hyphen_values = true)]
    pub throughput: f64,
    /// Producer settings as key=value (bootstrap.servers, linger.ms, ...);
    /// `-X key=value` (repeatable, as kcat's) is the same list.
    #[arg(short = 'X', long = "producer-props", num_args = 1..)]
    pub producer_props: Vec<String>,
    /// Application threads sending through the one producer.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Stop sending after this many seconds even if records remain (0: no
    /// cap), then wait for the sent ones; bounds a bench row's time.
    #[arg(long = "max-seconds", default_value_t = 0.0)]
    pub max_seconds: f64,
    /// Also print one `summary: key=value ...` line (µs latencies) for a
    /// bench driver to parse.
    #[arg(long)]
    pub summary: bool,
}

impl PerfArgs {
    /// `--producer-props` as (key, value) pairs.
    ///
    /// # Errors
    ///
    /// A prop without `=`, named in the message.
    pub fn props(&self) -> Result<Vec<(String, String)>, String> {
        self.producer_props
            .iter()
            .map(|prop| {
                prop.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| format!("--producer-props/-X {prop:?}: expected key=value"))
            })
            .collect()
    }

    /// The value every record carries (`--record-size` bytes).
    pub fn payload(&self) -> Vec<u8> {
        vec![b'x'; self.record_size]
    }
}

/// Send-to-acknowledgement latencies, one slot per record, and the running
/// counts the 5 s window lines print; shared by the senders and whatever
/// thread the client reports deliveries on.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    record_size: u64,
    /// Latency in µs + 1 per sequence number; 0 while not acknowledged.
    slots: Box<[AtomicU32]>,
    acked: AtomicU64,
    failed: AtomicU64,
    latency_sum_us: AtomicU64,
    latency_max_us: AtomicU64,
}

impl Recorder {
    /// A recorder for up to `records` records of `record_size` bytes.
    pub fn new(records: u64, record_size: usize) -> Arc<Recorder> {
        Arc::new(Recorder {
            start: Instant::now(),
            record_size: record_size as u64,
            slots: (0..records).map(|_| AtomicU32::new(0)).collect(),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency_sum_us: AtomicU64::new(0),
            latency_max_us: AtomicU64::new(0),
        })
    }

    /// Now, in µs since the recorder was made: stamp a record at send.
    pub fn stamp(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Record `seq`, stamped `sent_at`, was acknowledged now.
    pub fn acked(&self, seq: u64, sent_at: u64) {
        let latency = self.stamp().saturating_sub(sent_at);
        if let Some(slot) = self.slots.get(seq as usize) {
            slot.store(
                latency.min(u32::MAX as u64 - 1) as u32 + 1,
                Ordering::Relaxed,
            );
        }
        self.latency_sum_us.fetch_add(latency, Ordering::Relaxed);
        self.latency_max_us.fetch_max(latency, Ordering::Relaxed);
        self.acked.fetch_add(1, Ordering::Release);
    }

    /// A record failed; the first ten errors are printed to stderr.
    pub fn failed(&self, error: &dyn Display) {
        if self.failed.fetch_add(1, Ordering::Release) < 10 {
            eprintln!("error: {error}");
        }
    }

    /// Records acknowledged or failed so far.
    pub fn completed(&self) -> u64 {
        self.acked.load(Ordering::Acquire) + self.failed.load(Ordering::Acquire)
    }

    /// Waits until `records` have completed; false at `timeout`. For clients
    /// whose flush does not wait for the delivery reports themselves.
    pub fn wait_for(&self, records: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.completed() < records {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Prints kafka-producer-perf-test's window line every 5 s until the
    /// returned guard is dropped.
    pub fn print_windows(self: &Arc<Self>) -> WindowPrinter {
        let stop = Arc::new(AtomicBool::new(false));
        let (recorder, flag) = (Arc::clone(self), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let (mut last_count, mut last_sum, mut since) = (0, 0, Instant::now());
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if since.elapsed() < Duration::from_secs(5) {
                    continue;
                }
                let count = recorder.acked.load(Ordering::Acquire);
                let sum = recorder.latency_sum_us.load(Ordering::Relaxed);
                let max = recorder.latency_max_us.swap(0, Ordering::Relaxed);
                let secs = since.elapsed().as_secs_f64();
                let records = count - last_count;
                println!(
                    "{records} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
                    records as f64 / secs,
                    (records * recorder.record_size) as f64 / secs / (1024.0 * 1024.0),
                    (sum - last_sum) as f64 / records.max(1) as f64 / 1000.0,
                    max as f64 / 1000.0,
                );
                (last_count, last_sum, since) = (count, sum, Instant::now());
            }
        });
        WindowPrinter {
            stop,
            thread: Some(thread),
        }
    }
}

/// Stops the window lines when dropped.
#[derive(Debug)]
pub struct WindowPrinter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WindowPrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Paces one sender at `rate` records/s, as Java's `ThroughputThrottler`:
/// it sleeps only once it is at least [`Pacer::QUANTUM`] ahead, so a steady
/// rate is sent in small bursts instead of spinning a core between slots.
#[derive(Debug)]
pub struct Pacer {
    started: Instant,
    rate: f64,
}

impl Pacer {
    /// The smallest sleep: a burst is about `rate * QUANTUM` records.
    pub const QUANTUM: Duration = Duration::from_millis(1);

    /// A pacer starting now; `rate <= 0` never waits.
    pub fn new(rate: f64) -> Pacer {
        Pacer {
            started: Instant::now(),
            rate,
        }
    }

    /// Waits until record number `sent` (0-based) of this sender is due.
    pub fn wait(&self, sent: u64) {
        if self.rate <= 0.0 {
            return;
        }
        let due = self.started + Duration::from_secs_f64(sent as f64 / self.rate);
        if let Some(ahead) = due.checked_duration_since(Instant::now()) {
            if ahead >= Self::QUANTUM {
                std::thread::sleep(ahead);
            }
        }
    }
}

/// Sends `args.num_records` records from `args.threads` threads, each
/// paced at its share of `--throughput`: thread `t` sends sequence numbers
/// `t, t + threads, ...` by calling `send(seq)`. Stops early at
/// `--max-seconds`. Returns how many were sent.
pub fn drive<F: Fn(u64) + Sync>(args: &PerfArgs, send: F) -> u64 {
    let threads = args.threads.max(1) as u64;
    let per_thread_rate = if args.throughput > 0.0 {
        args.throughput / threads as f64
    } else {
        -1.0
    };
    let deadline = (args.max_seconds > 0.0)
        .then(|| Instant::now() + Duration::from_secs_f64(args.max_seconds));
    let sent = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (send, sent) = (&send, &sent);
            scope.spawn(move || {
                let pacer = Pacer::new(per_thread_rate);
                let mut mine = 0;
                let mut seq = thread;
                while seq < args.num_records {
                    // Checked every 64 records: Instant::now is cheap, not free.
                    if mine % 64 == 0 && deadline.is_some_and(|d| Instant::now() > d) {
                        break;
                    }
                    pacer.wait(mine);
                    send(seq);
                    mine += 1;
                    seq += threads;
                }
                sent.fetch_add(mine, Ordering::Relaxed);
            });
        }
    });
    sent.into_inner()
}

/// Prints the run's kafka-producer-perf-test line (records/s, MB/s, avg,
/// max and percentile latencies in ms) for the `elapsed` from first send to
/// last acknowledgement and, with `--summary`, the `summary:` line with µs
/// percentiles and `extra` key=value pairs (values without spaces).
pub fn finish(
    args: &PerfArgs,
    recorder: &Recorder,
    sent: u64,
    elapsed: Duration,
    extra: &[(&str, String)],
) {
    let mut latencies: Vec<u32> = recorder
        .slots
        .iter()
        .map(|slot| slot.load(Ordering::Relaxed))
        .filter(|&l| l > 0)
        .map(|l| l - 1)
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| {
        if latencies.is_empty() {
            0
        } else {
            crate::percentile(&latencies, q)
        }
    };
    let acked = latencies.len() as u64;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let avg_us = latencies.iter().map(|&l| l as u64).sum::<u64>() as f64 / acked.max(1) as f64;
    let ms = |us: u32| us / 1000;
    println!(
        "{acked} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        acked as f64 / secs,
        (acked * recorder.record_size) as f64 / secs / (1024.0 * 1024.0),
        avg_us / 1000.0,
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        ms(at(0.50)),
        ms(at(0.95)),
        ms(at(0.99)),
        ms(at(0.999)),
    );
    let failed = recorder.failed.load(Ordering::Acquire);
    if failed > 0 {
        eprintln!("{failed} record(s) failed");
    }
    if args.summary {
        let mut line = format!(
            "summary: sent={sent} acked={acked} failed={failed} elapsed_us={} p50_us={} p99_us={}",
            elapsed.as_micros(),
            at(0.50),
            at(0.99)
        );
        for (key, value) in extra {
            line.push_str(&format!(" {key}={value}"));
        }
        println!("{line}");
    }
}

/// Parses a `summary:` line back into (key, value) pairs; `None` if `line`
/// is not one.
pub fn parse_summary(line: &str) -> Option<Vec<(&str, &str)>> {
    let rest = line.strip_prefix("summary: ")?;
    Some(
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        perf: PerfArgs,
    }

    fn args(extra: &[&str]) -> PerfArgs {
        let base = [
            "x",
            "--topic",
            "t",
            "--num-records",
            "100",
            "--record-size",
            "10",
        ];
        Cli::parse_from(base.iter().chain(extra)).perf
    }

    #[test]
    fn threads_send_every_sequence_number_once() {
        let args = args(&["--throughput", "-1", "--threads", "4"]);
        let seen: Vec<AtomicU32> = (0..100).map(|_| AtomicU32::new(0)).collect();
        let sent = drive(&args, |seq| {
            seen[seq as usize].fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(sent, 100);
        assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn a_rate_is_kept_without_running_ahead() {
        // 100 records at 1000/s: about 0.1 s, not at once.
        let args = args(&["--throughput", "1000", "--threads", "2"]);
        let started = Instant::now();
        drive(&args, |_| {});
        assert!(
            started.elapsed() >= Duration::from_millis(95),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn max_seconds_stops_sending() {
        let args = args(&["--throughput", "100", "--max-seconds", "0.05"]);
        let sent = drive(&args, |_| {});
        assert!(sent < 100, "sent {sent}");
    }

    #[test]
    fn props_need_an_equals_sign() {
        let ok = args(&[
            "--throughput",
            "-1",
            "--producer-props",
            "acks=all",
            "linger.ms=5",
        ]);
        assert_eq!(ok.props().unwrap()[1], ("linger.ms".into(), "5".into()));
        let bad = args(&["--throughput", "-1", "--producer-props", "acks"]);
        assert!(bad.props().unwrap_err().contains("\"acks\""));
    }

    #[test]
    fn dash_x_adds_to_the_same_props() {
        let both = args(&[
            "--throughput",
            "-1",
            "-X",
            "security.protocol=SSL",
            "-X",
            "ssl.ca.location=/tmp/ca.pem",
            "--producer-props",
            "acks=all",
        ]);
        let props = both.props().unwrap();
        assert_eq!(props.len(), 3, "{props:?}");
        assert_eq!(props[0], ("security.protocol".into(), "SSL".into()));
        assert_eq!(props[2], ("acks".into(), "all".into()));
    }

    #[test]
    fn acknowledgements_count_and_summaries_parse() {
        let recorder = Recorder::new(3, 10);
        let at = recorder.stamp();
        recorder.acked(0, at);
        recorder.acked(2, at);
        recorder.failed(&"boom");
        assert_eq!(recorder.completed(), 3);
        assert!(recorder.wait_for(3, Duration::from_millis(10)));
        assert!(!recorder.wait_for(4, Duration::from_millis(10)));
        let pairs = parse_summary("summary: sent=3 p50_us=7").unwrap();
        assert_eq!(pairs, vec![("sent", "3"), ("p50_us", "7")]);
        assert!(parse_summary("3 records sent").is_none());
    }
}

//! Running one peer as its own process against the broker and measuring
//! it: the peer's `summary:` line (records, bytes, time to its last record,
//! latency percentiles), its CPU time and peak RSS from `wait4`, and the
//! broker's CPU time over the run from /proc. Also the producer process
//! that fills and paces the topics.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rouse_bench_support::broker::Broker;
use rouse_bench_support::child::{process_cpu_of, run_measured, ChildRun};
use rouse_bench_support::perf::parse_summary;

/// A peer or producer that runs past this is killed and its run failed.
const TIMEOUT: Duration = Duration::from_secs(180);

/// The two consumers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Rouse,
    Librdkafka,
}

impl Peer {
    pub(crate) const ALL: [Peer; 2] = [Peer::Rouse, Peer::Librdkafka];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Rouse => "rouse",
            Peer::Librdkafka => "librdkafka",
        }
    }

    pub(crate) fn binary(self) -> &'static str {
        match self {
            Peer::Rouse => "peer-rouse",
            Peer::Librdkafka => "peer-librdkafka-consumer",
        }
    }
}

/// A row: record size and the codec the topic was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) record_size: usize,
    pub(crate) compression: &'static str,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} B {}", self.record_size, self.compression)
    }
}

/// How one peer did on one row in one round.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) records_per_s: f64,
    pub(crate) mb_per_s: f64,
    /// Client CPU (whole process, start-up included) per record.
    pub(crate) cpu_us_per_record: f64,
    pub(crate) peak_rss_mib: f64,
    /// Broker CPU over the run per record.
    pub(crate) broker_us_per_record: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Group table: the first member's time from `subscribe` to its first
    /// record (a fresh group, a pre-filled topic).
    pub(crate) first_record_ms: f64,
    /// Group table: the joining member's time from `subscribe` to its
    /// first record.
    pub(crate) join_first_record_ms: f64,
    /// Group table: the first member's longest interval between polls
    /// that returned records while the stream ran (the join's pause).
    pub(crate) pause_ms: f64,
    /// Group table: the first member's largest produce-to-poll latency.
    pub(crate) member1_max_ms: f64,
    /// Group table: the largest produce-to-poll latency of any record.
    pub(crate) max_ms: f64,
    /// Group table: records read by both members together beyond those
    /// produced (read again after the rebalance).
    pub(crate) reread: f64,
}

/// One consumer run's parameters.
pub(crate) struct Job<'a> {
    pub(crate) peer: Peer,
    pub(crate) topic: &'a str,
    pub(crate) partitions: i32,
    pub(crate) records: u64,
    /// Read stamps and report latency, leaving this many records out.
    pub(crate) latency_warmup: Option<u64>,
    /// The group (fresh per run, so nothing is committed yet).
    pub(crate) group: String,
    /// Join the group (`subscribe`) rather than assign every partition.
    pub(crate) subscribe: bool,
    /// Latencies only of records stamped from this time (µs since the
    /// epoch; 0: all).
    pub(crate) latency_since_us: u64,
    /// Stop after this long (None: the peers' default).
    pub(crate) max_seconds: Option<f64>,
    /// Settings after the common ones.
    pub(crate) props: Vec<String>,
}

impl<'a> Job<'a> {
    /// A job with the throughput and latency tables' settings: `assign`,
    /// every latency counted, the peers' default time limit.
    pub(crate) fn new(peer: Peer, topic: &'a str, partitions: i32, records: u64) -> Job<'a> {
        Job {
            peer,
            topic,
            partitions,
            records,
            latency_warmup: None,
            group: String::new(),
            subscribe: false,
            latency_since_us: 0,
            max_seconds: None,
            props: Vec::new(),
        }
    }
}

/// A peer's `summary:` line, parsed.
pub(crate) struct Summary {
    name: &'static str,
    pairs: Vec<(String, String)>,
}

impl Summary {
    /// The number under `key`, or an error naming the peer and the key.
    pub(crate) fn get(&self, key: &str) -> Result<f64, String> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| format!("{}'s summary has no {key}", self.name))
    }
}

/// The consumer's flags (also what a user runs to reproduce a run).
pub(crate) fn consumer_args(job: &Job<'_>, bootstrap: &str) -> Vec<String> {
    let mut args = vec![
        "--bootstrap".to_string(),
        bootstrap.to_string(),
        "--topic".into(),
        job.topic.to_string(),
        "--partitions".into(),
        job.partitions.to_string(),
        "--num-records".into(),
        job.records.to_string(),
    ];
    if let Some(warmup) = job.latency_warmup {
        args.extend(["--latency".into(), "--warmup".into(), warmup.to_string()]);
    }
    if job.latency_since_us > 0 {
        args.extend([
            "--latency-since-us".into(),
            job.latency_since_us.to_string(),
        ]);
    }
    if let Some(seconds) = job.max_seconds {
        args.extend(["--max-seconds".into(), format!("{seconds:.1}")]);
    }
    if job.subscribe {
        args.push("--subscribe".into());
    }
    // The only settings: a group of its own (librdkafka's default
    // enable.auto.commit needs one; both then commit as at their defaults)
    // and the start of the log.
    args.extend([
        "--consumer-props".into(),
        format!("group.id={}", job.group),
        "auto.offset.reset=earliest".into(),
    ]);
    args.extend(job.props.iter().cloned());
    args
}

/// Runs `job`'s peer to its end and measures it.
pub(crate) fn consume(broker: &Broker, bin_dir: &Path, job: &Job<'_>) -> Result<Sample, String> {
    let broker_before = process_cpu_of(broker.pid).map_err(|e| format!("broker CPU: {e}"))?;
    let (child, summary) = run_peer(broker, bin_dir, job)?;
    let broker_after = process_cpu_of(broker.pid).map_err(|e| format!("broker CPU: {e}"))?;
    let name = job.peer.name();
    let get = |key: &str| summary.get(key);
    let (records, missing) = (get("records")?, get("missing")?);
    if missing > 0.0 {
        return Err(format!(
            "{name} got {records} records, {missing} short of {}",
            job.records
        ));
    }
    let elapsed_s = (get("elapsed_us")? / 1e6).max(1e-9);
    let per_record = |d: Duration| d.as_secs_f64() * 1e6 / records.max(1.0);
    Ok(Sample {
        records_per_s: records / elapsed_s,
        mb_per_s: get("bytes")? / elapsed_s / 1e6,
        cpu_us_per_record: per_record(child.cpu),
        peak_rss_mib: child.max_rss_bytes as f64 / (1024.0 * 1024.0),
        broker_us_per_record: per_record(broker_after.saturating_sub(broker_before)),
        p50_ms: get("p50_us")? / 1000.0,
        p99_ms: get("p99_us")? / 1000.0,
        ..Sample::default()
    })
}

/// Runs `job`'s peer to its end: its process as the kernel counted it and
/// its summary line. A run that timed out, failed, printed no summary or
/// read a value without a stamp is an error naming the peer.
pub(crate) fn run_peer(
    broker: &Broker,
    bin_dir: &Path,
    job: &Job<'_>,
) -> Result<(ChildRun, Summary), String> {
    let binary = bin_dir.join(job.peer.binary());
    let mut command = Command::new(&binary);
    command.args(consumer_args(job, &broker.bootstrap));
    let child = run_measured(&mut command, TIMEOUT)
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    let name = job.peer.name();
    if child.timed_out {
        return Err(format!("{name} ran past {TIMEOUT:?}"));
    }
    if child.exit_code != 0 {
        return Err(format!("{name} exited with {}", child.exit_code));
    }
    let pairs = child
        .stdout
        .lines()
        .find_map(parse_summary)
        .ok_or_else(|| format!("{name} printed no summary line"))?
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let summary = Summary { name, pairs };
    if summary.get("unstamped")? > 0.0 {
        return Err(format!("{name} read values without a stamp"));
    }
    Ok((child, summary))
}

/// Sends `records` of `row` to `topic` with bench-produce: as fast as it
/// can (`rate` None) or at `rate` records/s.
pub(crate) fn produce(
    broker: &Broker,
    bin_dir: &Path,
    topic: &str,
    row: Row,
    records: u64,
    rate: Option<f64>,
) -> Result<(), String> {
    let binary = bin_dir.join("bench-produce");
    let mut command = Command::new(&binary);
    command
        .args(["--bootstrap", &broker.bootstrap, "--topic", topic])
        .args(["--num-records", &records.to_string()])
        .args(["--record-size", &row.record_size.to_string()])
        .arg(format!("--throughput={}", rate.unwrap_or(-1.0)))
        .arg("--producer-props")
        .arg(format!("compression.type={}", row.compression));
    if rate.is_some() {
        // Each record on its way at once: the latency measured is the
        // consumer's, not a batch's wait.
        command.arg("linger.ms=0");
    }
    let child = run_measured(&mut command, TIMEOUT)
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    if child.exit_code != 0 || child.timed_out {
        return Err(format!(
            "bench-produce failed on {topic} (exit {}, timed out: {})",
            child.exit_code, child.timed_out
        ));
    }
    Ok(())
}

//! Running one peer on one row as its own process against the broker, on a
//! fresh topic, and measuring it: the peer's own figures from its
//! `summary:` line, its CPU time and peak RSS from `wait4`, and the
//! broker's CPU time over the run from /proc.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rouse_bench_support::child::{process_cpu_of, run_measured};
use rouse_bench_support::perf::parse_summary;

pub(crate) use rouse_bench_support::broker::Broker;

use crate::matrix::{Peer, Row, Settings};

/// A peer that runs past this is killed and its run counted failed.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// How one peer did on one row in one round.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) records_per_s: f64,
    pub(crate) mb_per_s: f64,
    /// Client CPU (whole process, user + system) per acknowledged record.
    pub(crate) cpu_us_per_record: f64,
    pub(crate) peak_rss_mib: f64,
    /// Broker CPU over the run per acknowledged record.
    pub(crate) broker_us_per_record: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Records not acknowledged (failed, or never sent because the run
    /// failed).
    pub(crate) failed: u64,
    /// Extra summary pairs the peer printed (buffer.memory, note).
    pub(crate) extra: Vec<(String, String)>,
}

/// One peer run's parameters.
pub(crate) struct Job<'a> {
    pub(crate) peer: Peer,
    pub(crate) row: &'a Row,
    pub(crate) settings: Settings,
    pub(crate) records: u64,
    /// Records/s to pace at; `None` floods.
    pub(crate) rate: Option<f64>,
    /// Send phase cap in seconds.
    pub(crate) max_seconds: f64,
    /// More `--producer-props` after the table's (key=value).
    pub(crate) extra_props: Vec<String>,
}

/// Runs a job; `Err` says why the run gave no figures.
pub(crate) fn run(
    broker: &Broker,
    bin_dir: &Path,
    job: &Job<'_>,
    topic: &str,
) -> Result<Sample, String> {
    broker.create_topic(topic, job.row.partitions)?;
    let result = measure(broker, bin_dir, job, topic);
    broker.delete_topic(topic);
    result
}

/// The peer's command line (also what a user runs to reproduce a row).
pub(crate) fn command_line(job: &Job<'_>, topic: &str, bootstrap: &str) -> Vec<String> {
    let mut args = vec![
        "--topic".to_string(),
        topic.to_string(),
        "--num-records".into(),
        job.records.to_string(),
        "--record-size".into(),
        job.row.record_size.to_string(),
        "--throughput".into(),
        job.rate.map_or("-1".into(), |r| format!("{r:.0}")),
        "--threads".into(),
        job.row.threads.to_string(),
        "--max-seconds".into(),
        job.max_seconds.to_string(),
        "--producer-props".into(),
    ];
    args.extend(job.settings.props(job.peer, job.row, bootstrap));
    args.extend(job.extra_props.iter().cloned());
    args
}

fn measure(broker: &Broker, bin_dir: &Path, job: &Job<'_>, topic: &str) -> Result<Sample, String> {
    let binary = bin_dir.join(job.peer.binary());
    let mut command = Command::new(&binary);
    // --summary goes first: --producer-props takes every argument after it.
    command
        .arg("--summary")
        .args(command_line(job, topic, &broker.bootstrap));
    let broker_before = process_cpu_of(broker.pid).map_err(|e| format!("broker CPU: {e}"))?;
    let child = run_measured(&mut command, PEER_TIMEOUT)
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    let broker_after = process_cpu_of(broker.pid).map_err(|e| format!("broker CPU: {e}"))?;
    if child.timed_out {
        return Err(format!("{} ran past {PEER_TIMEOUT:?}", job.peer.name()));
    }
    if child.exit_code != 0 {
        return Err(format!(
            "{} exited with {}",
            job.peer.name(),
            child.exit_code
        ));
    }
    let pairs = child
        .stdout
        .lines()
        .find_map(parse_summary)
        .ok_or_else(|| format!("{} printed no summary line", job.peer.name()))?;
    let get = |key: &str| -> Result<f64, String> {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| format!("{}'s summary has no {key}", job.peer.name()))
    };
    let (sent, acked, failed) = (get("sent")?, get("acked")?, get("failed")?);
    let elapsed_s = get("elapsed_us")? / 1e6;
    let per_record = |d: Duration| d.as_secs_f64() * 1e6 / acked.max(1.0);
    Ok(Sample {
        records_per_s: acked / elapsed_s.max(1e-9),
        mb_per_s: acked * job.row.record_size as f64 / elapsed_s.max(1e-9) / 1e6,
        cpu_us_per_record: per_record(child.cpu),
        peak_rss_mib: child.max_rss_bytes as f64 / (1024.0 * 1024.0),
        broker_us_per_record: per_record(broker_after.saturating_sub(broker_before)),
        p50_ms: get("p50_us")? / 1000.0,
        p99_ms: get("p99_us")? / 1000.0,
        failed: (failed as u64).max((sent - acked).max(0.0) as u64),
        extra: pairs
            .iter()
            .filter(|(k, _)| matches!(*k, "buffer.memory" | "batch.size" | "note"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

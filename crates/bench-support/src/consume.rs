//! What every consumer peer of `cargo xtask bench consumer` shares, so each
//! client's binary only maps the flags onto its own consumer and hands each
//! `poll`'s values to a [`Tally`]: the flags ([`ConsumeArgs`]), the
//! produce-time stamp a latency run's records carry ([`stamp`],
//! [`read_stamp`]), and the one `summary:` line the driver parses
//! ([`Tally::finish`], read back with [`crate::perf::parse_summary`]).
//!
//! A stamp is the wall-clock time (CLOCK_REALTIME, µs since the Unix
//! epoch) in a value's first 8 bytes, little-endian: the producing and the
//! consuming process run on one machine, so their clocks agree.

// The summary line on stdout is the peers' output.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The consumer peers' flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ConsumeArgs {
    /// The broker, `host:port`.
    #[arg(long)]
    pub bootstrap: String,
    /// The topic to read from its beginning.
    #[arg(long)]
    pub topic: String,
    /// Its partitions (all are assigned, 0..N).
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Stop after this many records.
    #[arg(long)]
    pub num_records: u64,
    /// Give up (and report what came) after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub max_seconds: f64,
    /// Read each value's produce-time stamp and report produce-to-poll
    /// latency percentiles.
    #[arg(long)]
    pub latency: bool,
    /// Leave the first N records out of the latency percentiles (start-up).
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// `key=value` settings for the client, after which its defaults hold.
    #[arg(long = "consumer-props", num_args = 0.., value_name = "KEY=VALUE")]
    pub consumer_props: Vec<String>,
}

impl ConsumeArgs {
    /// `--consumer-props` split into pairs.
    ///
    /// # Errors
    ///
    /// A pair without `=`, named.
    pub fn props(&self) -> Result<Vec<(String, String)>, String> {
        self.consumer_props
            .iter()
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| format!("--consumer-props {pair:?}: expected key=value"))
            })
            .collect()
    }

    /// When the run gives up.
    pub fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs_f64(self.max_seconds.max(0.0))
    }
}

/// Now, as a stamp: µs since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Writes the current time into `value`'s first 8 bytes (a shorter value
/// gets as many as fit).
pub fn stamp(value: &mut [u8]) {
    let bytes = now_us().to_le_bytes();
    let n = value.len().min(8);
    value[..n].copy_from_slice(&bytes[..n]);
}

/// The stamp in `value`, if it holds one.
pub fn read_stamp(value: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = value.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Counts what a peer's polls returned, and with `--latency` each record's
/// produce-to-poll latency.
#[derive(Debug)]
pub struct Tally {
    latency: bool,
    warmup: u64,
    started: Instant,
    /// Records handed out so far.
    pub records: u64,
    /// Their value bytes.
    pub bytes: u64,
    last: Option<Instant>,
    latencies_us: Vec<u64>,
    unstamped: u64,
}

impl Tally {
    /// A tally starting now (the peer calls it before creating its client,
    /// so records/s includes connecting and finding the first offsets).
    pub fn new(args: &ConsumeArgs) -> Tally {
        Tally {
            latency: args.latency,
            warmup: args.warmup,
            started: Instant::now(),
            records: 0,
            bytes: 0,
            last: None,
            latencies_us: Vec::with_capacity(if args.latency {
                args.num_records as usize
            } else {
                0
            }),
            unstamped: 0,
        }
    }

    /// One poll's values, at `now_us` (one clock reading per poll return).
    pub fn polled<'a>(&mut self, now_us: u64, values: impl IntoIterator<Item = &'a [u8]>) {
        for value in values {
            self.records += 1;
            self.bytes += value.len() as u64;
            if self.latency && self.records > self.warmup {
                match read_stamp(value) {
                    Some(at) => self.latencies_us.push(now_us.saturating_sub(at)),
                    None => self.unstamped += 1,
                }
            }
        }
        self.last = Some(Instant::now());
    }

    /// Whether the latencies are measured (each poll then reads the clock).
    pub fn wants_clock(&self) -> bool {
        self.latency
    }

    /// Prints the `summary:` line: records, value bytes, µs from the start
    /// to the last record, and with `--latency` p50/p99 in µs.
    pub fn finish(mut self, args: &ConsumeArgs) {
        let elapsed = self
            .last
            .map_or(Duration::ZERO, |l| l.duration_since(self.started));
        self.latencies_us.sort_unstable();
        let at = |q: f64| {
            if self.latencies_us.is_empty() {
                0
            } else {
                crate::percentile(&self.latencies_us, q)
            }
        };
        let missing = args.num_records.saturating_sub(self.records);
        println!(
            "summary: records={} bytes={} missing={missing} elapsed_us={} p50_us={} p99_us={} unstamped={}",
            self.records,
            self.bytes,
            elapsed.as_micros(),
            at(0.50),
            at(0.99),
            self.unstamped,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ConsumeArgs,
    }

    fn args(extra: &[&str]) -> ConsumeArgs {
        let base = [
            "peer",
            "--bootstrap",
            "h:1",
            "--topic",
            "t",
            "--num-records",
            "4",
        ];
        Cli::parse_from(base.iter().chain(extra)).args
    }

    #[test]
    fn a_stamp_reads_back_and_short_values_have_none() {
        let mut value = vec![0u8; 100];
        let before = now_us();
        stamp(&mut value);
        let at = read_stamp(&value).expect("stamped");
        assert!(at >= before && at <= now_us());
        assert_eq!(read_stamp(&value[..7]), None);
    }

    #[test]
    fn latencies_leave_out_the_warmup_and_count_unstamped_values() {
        let a = args(&[
            "--latency",
            "--warmup",
            "1",
            "--consumer-props",
            "x=1",
            "y=2",
        ]);
        assert_eq!(
            a.props().unwrap(),
            [("x".into(), "1".into()), ("y".into(), "2".into())]
        );
        let mut tally = Tally::new(&a);
        let stamped = |us: u64| us.to_le_bytes().to_vec();
        let values = [stamped(0), stamped(900), stamped(990), vec![1, 2]];
        tally.polled(1000, values.iter().map(Vec::as_slice));
        assert_eq!((tally.records, tally.bytes), (4, 26));
        assert_eq!(tally.latencies_us, [100, 10], "the first is warm-up");
        assert_eq!(tally.unstamped, 1);
    }

    #[test]
    fn a_pair_without_equals_is_named() {
        let error = args(&["--consumer-props", "oops"]).props().unwrap_err();
        assert!(error.contains("oops"), "{error}");
    }
}

//! What every consumer peer of `cargo xtask bench consumer` shares, so each
//! client's binary only maps the flags onto its own consumer and hands each
//! `poll`'s values to a [`Tally`]: the flags ([`ConsumeArgs`]), the
//! produce-time stamp a latency run's records carry ([`stamp`],
//! [`read_stamp`]), and the one `summary:` line the driver parses
//! ([`Tally::finish`], read back with [`crate::perf::parse_summary`]).
//! With `--subscribe` a peer joins the group of its `group.id` instead of
//! assigning itself every partition, and the tally also keeps what the
//! group table needs: the time from `subscribe` to the first record, the
//! longest interval between polls that returned records, the largest
//! produce-to-poll latency.
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
    /// Count latencies only of records stamped at or after this time (µs
    /// since the Unix epoch; 0: all): records written before the run began
    /// waited for the run, not for the consumer.
    #[arg(long, default_value_t = 0)]
    pub latency_since_us: u64,
    /// Join the group of `group.id` (`subscribe`) rather than assigning
    /// every partition.
    #[arg(long)]
    pub subscribe: bool,
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

/// `now_us` when the caller read the clock, else a reading of it: peers
/// pass 0 when they do not measure latency.
fn now_us_or(now_us: u64) -> u64 {
    if now_us == 0 {
        self::now_us()
    } else {
        now_us
    }
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
    since_us: u64,
    started: Instant,
    subscribed: Option<Instant>,
    /// The first poll that returned records: when (monotonic) and at what
    /// wall-clock time (µs since the epoch, for the driver to compare with
    /// its own events).
    first: Option<(Instant, u64)>,
    /// The last poll that returned a counted record (µs), and the longest
    /// interval between two such polls.
    last_counted_us: Option<u64>,
    max_gap_us: u64,
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
            since_us: args.latency_since_us,
            started: Instant::now(),
            subscribed: None,
            first: None,
            last_counted_us: None,
            max_gap_us: 0,
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

    /// The peer is about to call `subscribe`: the group table's time to
    /// the first record starts here.
    pub fn subscribing(&mut self) {
        self.subscribed = Some(Instant::now());
    }

    /// One poll's values, at `now_us` (one clock reading per poll return).
    pub fn polled<'a>(&mut self, now_us: u64, values: impl IntoIterator<Item = &'a [u8]>) {
        let before = self.records;
        let mut counted = false;
        for value in values {
            self.records += 1;
            self.bytes += value.len() as u64;
            if self.latency && self.records > self.warmup {
                match read_stamp(value) {
                    Some(at) if at >= self.since_us => {
                        self.latencies_us.push(now_us.saturating_sub(at));
                        counted = true;
                    }
                    Some(_) => {}
                    None => self.unstamped += 1,
                }
            }
        }
        if self.records == before {
            return;
        }
        let now = Instant::now();
        if self.first.is_none() {
            self.first = Some((now, now_us_or(now_us)));
        }
        // Gaps are measured between polls that returned counted records
        // only: before the first of them the consumer waited for records
        // that did not exist yet, which is no pause of its own.
        if counted {
            if let Some(previous) = self.last_counted_us {
                self.max_gap_us = self.max_gap_us.max(now_us.saturating_sub(previous));
            }
            self.last_counted_us = Some(now_us);
        }
        self.last = Some(now);
    }

    /// Whether the latencies are measured (each poll then reads the clock).
    pub fn wants_clock(&self) -> bool {
        self.latency
    }

    /// Prints the `summary:` line: records, value bytes, µs from the start
    /// to the last record, with `--latency` p50/p99/max in µs and the
    /// longest interval between polls that returned counted records, and
    /// after `--subscribe` the µs from `subscribe` to the first record and
    /// that record's wall-clock time (0 when none came).
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
        let (first_us, first_at_us) = match (self.subscribed, self.first) {
            (Some(subscribed), Some((first, at))) => {
                (first.duration_since(subscribed).as_micros(), at)
            }
            _ => (0, 0),
        };
        println!(
            "summary: records={} bytes={} missing={missing} elapsed_us={} p50_us={} p99_us={} unstamped={} \
             max_us={} max_gap_us={} first_us={first_us} first_at_us={first_at_us}",
            self.records,
            self.bytes,
            elapsed.as_micros(),
            at(0.50),
            at(0.99),
            self.unstamped,
            at(1.0),
            self.max_gap_us,
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
    fn gaps_count_only_polls_with_records_stamped_since_the_run_began() {
        let a = args(&["--latency", "--latency-since-us", "500", "--subscribe"]);
        let mut tally = Tally::new(&a);
        tally.subscribing();
        let stamped = |us: u64| us.to_le_bytes().to_vec();
        // A record written before the run: read, but neither a latency nor
        // the start of a gap (the wait after it is for records to exist).
        tally.polled(1_000, [stamped(100).as_slice()]);
        tally.polled(9_000, [stamped(8_990).as_slice()]);
        tally.polled(9_100, std::iter::empty());
        tally.polled(9_500, [stamped(9_400).as_slice()]);
        tally.polled(12_000, [stamped(9_600).as_slice()]);
        assert_eq!(tally.records, 4);
        assert_eq!(tally.latencies_us, [10, 100, 2_400]);
        assert_eq!(tally.max_gap_us, 2_500, "9 500 to 12 000");
        let (first, first_at) = tally.first.expect("a first record");
        assert!(first >= tally.subscribed.expect("subscribed"));
        assert_eq!(first_at, 1_000, "the first poll with records, stale or not");
    }

    #[test]
    fn a_pair_without_equals_is_named() {
        let error = args(&["--consumer-props", "oops"]).props().unwrap_err();
        assert!(error.contains("oops"), "{error}");
    }
}

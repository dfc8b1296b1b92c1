//! `cargo xtask bench consumer`: rouse's `Consumer` against librdkafka's
//! (the `rdkafka` crate's `BaseConsumer`), each at its own defaults, each
//! run as its own process against one tansu on 127.0.0.1, so the client
//! CPU time and peak RSS are its own and the broker's CPU over the run is
//! the cost it puts on the broker.
//!
//! Two tables:
//! * **throughput**: per row (100 B or 1 KiB values, uncompressed or lz4)
//!   one topic of [`PARTITIONS`] partitions is filled once by
//!   `bench-produce` (rouse's producer), then every peer reads all of it
//!   from the beginning, under a group of its own, in turns;
//! * **latency**: per row a fresh topic per run; the peer starts, and after
//!   [`SETTLE`] `bench-produce` sends at [`LATENCY_RATE`] records/s, each
//!   value stamped with its send time; the peer reports produce-to-poll
//!   latency percentiles (the first [`LATENCY_WARMUP`] records left out);
//! * **group**: per row (each client's default assignors, and
//!   cooperative-sticky for both) a fresh topic and group per run: one
//!   member subscribes and reads a pre-filled topic (time from `subscribe`
//!   to its first record), then while `bench-produce` streams stamped
//!   records at a fixed rate a second member of the same client joins: the
//!   first member's longest pause, the second's time to its first record,
//!   the largest produce-to-poll latency (module [`group`]).
//!
//! Within a round every peer runs once per row, who goes first rotating by
//! row and round; tables give each metric's median over the rounds, its
//! ratio to librdkafka's median and the range.
//!
//! Environment: ROUSE_BENCH_BOOTSTRAP, ROUSE_TANSU, ROUSE_BENCH_BROKER_PID
//! (else found in /proc), ROUSE_BENCH_BIN_DIR (else this binary's),
//! ROUSE_BENCH_ROUNDS (3), ROUSE_BENCH_SCALE (records per run, x1),
//! ROUSE_BENCH_FILTER (only runs whose "table row peer" contains it, as
//! "throughput 100 B lz4 rouse" or "group cooperative-sticky"), ROUSE_BENCH_MD (where xtask reads the
//! Markdown).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod group;
mod report;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use group::Strategy;
use report::{Entry, Table};
use rouse_bench_support::broker::Broker;
use run::{Job, Peer, Row};

/// Partitions of every topic.
pub(crate) const PARTITIONS: i32 = 3;
/// The rows of both tables.
const ROWS: [Row; 4] = [
    Row {
        record_size: 100,
        compression: "none",
    },
    Row {
        record_size: 100,
        compression: "lz4",
    },
    Row {
        record_size: 1024,
        compression: "none",
    },
    Row {
        record_size: 1024,
        compression: "lz4",
    },
];
/// The latency table's produce rate, records/s.
const LATENCY_RATE: f64 = 10_000.0;
/// Records of a latency run: two seconds at the rate.
const LATENCY_RECORDS: u64 = 20_000;
/// Records at the start of a latency run left out of its percentiles.
const LATENCY_WARMUP: u64 = 1_000;
/// How long a latency run's peer gets to connect and find its offsets
/// before the producer starts.
const SETTLE: Duration = Duration::from_secs(2);

/// Records a throughput run reads: about 20 MB of 100 B values, 50 MB of
/// 1 KiB ones.
fn throughput_records(row: Row, scale: f64) -> u64 {
    let base = if row.record_size <= 100 {
        200_000.0
    } else {
        50_000.0
    };
    ((base * scale) as u64).max(1000)
}

struct Bench {
    broker: Broker,
    bin_dir: PathBuf,
    rounds: usize,
    scale: f64,
    filter: String,
    topics: u64,
    entries: Vec<Entry>,
}

impl Bench {
    fn from_env() -> Result<Bench, String> {
        let bin_dir = rouse_bench_support::bin_dir_from_env()?;
        let binaries = Peer::ALL.map(Peer::binary);
        for binary in binaries.iter().chain(&["bench-produce"]) {
            if !bin_dir.join(binary).exists() {
                return Err(format!("{} is missing in {}: build it with the `peers` feature (cargo xtask bench consumer does), or set ROUSE_BENCH_BIN_DIR", binary, bin_dir.display()));
            }
        }
        Ok(Bench {
            broker: Broker::from_env()?,
            bin_dir,
            rounds: rouse_bench_support::env_or("ROUSE_BENCH_ROUNDS", 3usize)?.max(1),
            scale: rouse_bench_support::env_or("ROUSE_BENCH_SCALE", 1.0f64)?,
            filter: std::env::var("ROUSE_BENCH_FILTER").unwrap_or_default(),
            topics: 0,
            entries: Vec::new(),
        })
    }

    fn topic(&mut self) -> String {
        self.topics += 1;
        format!("rouse-cbench-{}-{}", std::process::id(), self.topics)
    }

    /// The peers this row of `table` runs, with their entries' indexes.
    fn entries_for(&mut self, table: Table, row: &str) -> Vec<(Peer, usize)> {
        let mut out = Vec::new();
        for peer in Peer::ALL {
            let name = format!("{} {row} {}", table.label(), peer.name());
            if !name.contains(&self.filter) {
                continue;
            }
            out.push((peer, self.entries.len()));
            self.entries.push(Entry {
                table,
                row: row.to_string(),
                peer,
                samples: Vec::new(),
                errors: Vec::new(),
            });
        }
        out
    }

    fn record(&mut self, index: usize, result: Result<run::Sample, String>) {
        let entry = &mut self.entries[index];
        match result {
            Ok(sample) => entry.samples.push(sample),
            Err(error) => {
                eprintln!(
                    "{:?} {} {}: {error}",
                    entry.table,
                    entry.row,
                    entry.peer.name()
                );
                entry.errors.push(error);
            }
        }
    }

    fn throughput(&mut self, index: usize, row: Row) {
        let peers = self.entries_for(Table::Throughput, &row.to_string());
        if peers.is_empty() {
            return;
        }
        let topic = self.topic();
        let records = throughput_records(row, self.scale);
        let filled = self
            .broker
            .create_topic(&topic, PARTITIONS as u32)
            .and_then(|()| run::produce(&self.broker, &self.bin_dir, &topic, row, records, None));
        if let Err(error) = filled {
            for &(_, slot) in &peers {
                self.record(slot, Err(format!("filling {topic}: {error}")));
            }
            self.broker.delete_topic(&topic);
            return;
        }
        for round in 0..self.rounds {
            for k in 0..peers.len() {
                let (peer, slot) = peers[(k + index + round) % peers.len()];
                let job = Job {
                    group: format!("{topic}-{}-{round}", peer.name()),
                    ..Job::new(peer, &topic, PARTITIONS, records)
                };
                let result = run::consume(&self.broker, &self.bin_dir, &job);
                self.record(slot, result);
            }
        }
        self.broker.delete_topic(&topic);
        self.print(Table::Throughput, &row.to_string());
    }

    fn latency(&mut self, index: usize, row: Row) {
        self.in_turns(
            Table::Latency,
            &row.to_string(),
            index,
            |bench, peer, topic| bench.latency_run(peer, row, topic),
        );
    }

    fn group(&mut self, index: usize, strategy: Strategy) {
        self.in_turns(
            Table::Group,
            strategy.label(),
            index,
            |bench, peer, topic| group::run(&bench.broker, &bench.bin_dir, peer, strategy, topic),
        );
    }

    /// Every round, each peer of this row of `table` runs once on a fresh
    /// topic (deleted after it), who goes first rotating by row and round.
    fn in_turns(
        &mut self,
        table: Table,
        row: &str,
        index: usize,
        run: impl Fn(&Bench, Peer, &str) -> Result<run::Sample, String>,
    ) {
        let peers = self.entries_for(table, row);
        for round in 0..self.rounds {
            for k in 0..peers.len() {
                let (peer, slot) = peers[(k + index + round) % peers.len()];
                let topic = self.topic();
                let result = run(self, peer, &topic);
                self.broker.delete_topic(&topic);
                self.record(slot, result);
            }
        }
        if !peers.is_empty() {
            self.print(table, row);
        }
    }

    /// One latency run: the peer waits on an empty topic, then the
    /// producer sends at the fixed rate while it reads.
    fn latency_run(&self, peer: Peer, row: Row, topic: &str) -> Result<run::Sample, String> {
        self.broker.create_topic(topic, PARTITIONS as u32)?;
        let job = Job {
            latency_warmup: Some(LATENCY_WARMUP),
            group: format!("{topic}-{}", peer.name()),
            ..Job::new(peer, topic, PARTITIONS, LATENCY_RECORDS)
        };
        std::thread::scope(|scope| {
            let consumer = scope.spawn(|| run::consume(&self.broker, &self.bin_dir, &job));
            std::thread::sleep(SETTLE);
            let produced = run::produce(
                &self.broker,
                &self.bin_dir,
                topic,
                row,
                LATENCY_RECORDS,
                Some(LATENCY_RATE),
            );
            let consumed = consumer
                .join()
                .unwrap_or_else(|_| Err("the measuring thread panicked".into()));
            produced.and(consumed)
        })
    }

    fn print(&self, table: Table, row: &str) {
        let line: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.table == table && e.row == row)
            .map(|e| {
                let rps = e.stat(|s| s.records_per_s).map_or(0.0, |s| s.0);
                let cpu = e.stat(|s| s.cpu_us_per_record).map_or(0.0, |s| s.0);
                let p50 = e.stat(|s| s.p50_ms).map_or(0.0, |s| s.0);
                let p99 = e.stat(|s| s.p99_ms).map_or(0.0, |s| s.0);
                let ms = |metric: fn(&run::Sample) -> f64| e.stat(metric).map_or(0.0, |s| s.0);
                match table {
                    Table::Throughput => {
                        format!("{} {:.0}k/s {cpu:.2} µs/record", e.peer.name(), rps / 1e3)
                    }
                    Table::Latency => {
                        format!("{} p50 {p50:.2} ms p99 {p99:.2} ms", e.peer.name())
                    }
                    Table::Group => format!(
                        "{} first record {:.0} ms, joiner's {:.0} ms, pause {:.0} ms",
                        e.peer.name(),
                        ms(|s| s.first_record_ms),
                        ms(|s| s.join_first_record_ms),
                        ms(|s| s.pause_ms)
                    ),
                }
            })
            .collect();
        println!("{table:?} {row}: {}", line.join(", "));
    }
}

fn markdown(bench: &Bench, load: (String, String), minutes: f64) -> String {
    let example = run::consumer_args(
        &Job {
            group: "GROUP".into(),
            ..Job::new(
                Peer::Rouse,
                "TOPIC",
                PARTITIONS,
                throughput_records(ROWS[0], bench.scale),
            )
        },
        "HOST:PORT",
    )
    .join(" ");
    format!(
        "## Consumer

Command: `cargo xtask bench consumer` (ROUSE_BENCH_ROUNDS={rounds}, ROUSE_BENCH_SCALE={scale}, ROUSE_BENCH_FILTER={filter:?}); commit {commit}; {minutes:.1} min.
Machine: {machine}; load average {load0} at the start, {load1} at the end (other engineers' builds share the cores); the broker is one tansu on 127.0.0.1 (in-memory storage) on the same cores.

Peers: rouse's `Consumer` (this commit; crates/consumer-bench's `peer-rouse`) and librdkafka 2.12.1 through the `rdkafka` crate 0.38's `BaseConsumer` (`peer-librdkafka-consumer`), each its own process, each at its defaults but for `group.id` (a fresh group per run: librdkafka's default auto-commit needs one; both commit as their defaults say) and `auto.offset.reset=earliest`; every partition assigned (rouse: `assign`; librdkafka: `assign` at the stored offset). A run: `peer-rouse {example}`. The topics ({PARTITIONS} partitions) are written by `bench-produce`, rouse's producer at its defaults with the row's `compression.type`; values of the row's size, varied bytes, the first 8 the send time. Each cell: median of {rounds} rounds, **ratio to librdkafka's median**, (lowest-highest); who goes first rotates by row and round.

### Reading a pre-filled topic

Per row one topic is filled once ({small} records of 100 B, {large} of 1 KiB) and every run reads all of it from the beginning. records/s and MB/s (values): records over the time from the peer's start (before its client exists: connecting and finding offsets included) to its last record; client CPU: the peer process's user+system time (wait4) per record; peak RSS: its ru_maxrss; broker CPU: tansu's CPU time over the run (its threads' /proc schedstat) per record.

{throughput}
### Produce-to-poll latency at {rate} records/s

Per run a fresh, empty topic; the peer starts, and {settle} s later `bench-produce` sends {latency_records} records at {rate} records/s (`linger.ms=0`). Latency: the time `poll` returned a record minus the send time stamped in its value (one clock, one machine), the first {warmup} records left out. CPU per record as above (start-up and the idle wait included).

{latency}
### Joining a group

{group_text}

{group}",
        rounds = bench.rounds,
        scale = bench.scale,
        filter = bench.filter,
        commit = rouse_bench_support::git_commit(),
        machine = rouse_bench_support::machine(),
        load0 = load.0,
        load1 = load.1,
        small = throughput_records(ROWS[0], bench.scale),
        large = throughput_records(ROWS[2], bench.scale),
        throughput = report::table(&bench.entries, Table::Throughput),
        rate = LATENCY_RATE,
        settle = SETTLE.as_secs(),
        latency_records = LATENCY_RECORDS,
        warmup = LATENCY_WARMUP,
        latency = report::table(&bench.entries, Table::Latency),
        group_text = group::describe(),
        group = report::table(&bench.entries, Table::Group),
    )
}

fn main() -> ExitCode {
    let mut bench = match Bench::from_env() {
        Ok(bench) => bench,
        Err(error) => {
            eprintln!("bench consumer: {error}");
            return ExitCode::from(2);
        }
    };
    let (started, load_before) = (Instant::now(), rouse_bench_support::load_average());
    for (index, row) in ROWS.into_iter().enumerate() {
        bench.throughput(index, row);
    }
    for (index, row) in ROWS.into_iter().enumerate() {
        bench.latency(index, row);
    }
    for (index, strategy) in Strategy::ALL.into_iter().enumerate() {
        bench.group(index, strategy);
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let md = markdown(
        &bench,
        (load_before, rouse_bench_support::load_average()),
        minutes,
    );
    println!("\n{md}");
    rouse_bench_support::write_section(&md);
    ExitCode::SUCCESS
}

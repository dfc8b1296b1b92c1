//! `cargo xtask bench producer`: rouse's producer against librdkafka,
//! rskafka and rustfs-kafka, each at its own defaults (the headline table),
//! then all with `batch.size` 256 KiB, then at a steady rate of half
//! librdkafka's maximum. Every peer runs as its own process on a fresh
//! topic of the broker xtask starts (tansu on 127.0.0.1), so the client CPU
//! time and peak RSS are its own and the broker's CPU over the run is the
//! cost it puts on the cluster.
//!
//! The peers are kafka-producer-perf-test clones sharing one load generator
//! (`rouse_bench_support::perf`): rouse's is the `producer_perf` example of
//! rouse-kafka, the others this crate's `peer-*` binaries (feature `peers`).
//! Within a round every peer runs once per row, who goes first rotating by
//! row and round; tables give each metric's median over the rounds, its
//! ratio to librdkafka's median, and the range.
//!
//! Environment: ROUSE_BENCH_BOOTSTRAP, ROUSE_TANSU (topics are created and
//! deleted with it), ROUSE_BENCH_BROKER_PID (else found in /proc),
//! ROUSE_BENCH_BIN_DIR (the release directory; else this binary's),
//! ROUSE_BENCH_ROUNDS (3), ROUSE_BENCH_SCALE (records per run, x1),
//! ROUSE_BENCH_FILTER (`a|b`: only runs whose "table row peer" contains a
//! or b; tables are named "defaults", "equal", "steady", "flood" and "tls"
//! (whose runs add the transport, "SSL" or "plaintext"); a steady row needs
//! its "defaults" librdkafka run), ROUSE_BENCH_MD (where xtask reads the
//! Markdown). The TLS table runs `rouse-kafka-mock` from the release
//! directory (see tls.rs).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod matrix;
mod report;
mod runner;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use matrix::{matches_any, Peer, Row, Settings};
use report::{Entry, Table};
use runner::{Broker, Job};

/// A flood run stops sending after this many seconds (a slow peer on a
/// slow row would otherwise take minutes).
const FLOOD_MAX_SECONDS: f64 = 1.0;
/// A steady-rate run sends for about this long.
const STEADY_SECONDS: f64 = 0.5;
/// Records in the flood table's run: 100 MB of 100 B values, three times
/// rouse's default buffer.memory (32 MiB, Java's), so the buffer fills.
const FLOOD_RECORDS: u64 = 1_000_000;
/// The flood table's row.
const FLOOD_ROW: Row = Row {
    record_size: 100,
    partitions: 1,
    acks: "1",
    linger_ms: 5,
    threads: 1,
};

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
        for peer in Peer::ALL {
            let path = bin_dir.join(peer.binary());
            if !path.exists() {
                return Err(format!("{} is missing: build it (cargo xtask bench producer does), or set ROUSE_BENCH_BIN_DIR", path.display()));
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

    /// Runs every (filtered) peer `rounds` times on one row of `table`.
    fn row(&mut self, table: Table, index: usize, row: Row, rate: Option<f64>) {
        let (settings, label) = match table {
            Table::Defaults => (Settings::Defaults, "defaults"),
            Table::EqualBatch => (Settings::EqualBatch, "equal"),
            Table::Steady => (Settings::Defaults, "steady"),
            Table::Flood => (Settings::Defaults, "flood"),
            Table::Tls => (Settings::Defaults, "tls"),
        };
        let peers: Vec<Peer> = Peer::ALL
            .into_iter()
            .filter(|p| matches_any(&self.filter, &format!("{label} {row} {}", p.name())))
            .collect();
        if peers.is_empty() {
            return;
        }
        let (records, max_seconds) = match rate {
            Some(rate) => (
                (rate * STEADY_SECONDS).max(1000.0) as u64,
                2.0 * STEADY_SECONDS,
            ),
            None => (row.records(self.scale), FLOOD_MAX_SECONDS),
        };
        let first = self.entries.len();
        for &peer in &peers {
            self.entries.push(Entry {
                table,
                row,
                peer,
                variant: String::new(),
                rate,
                samples: Vec::new(),
                errors: Vec::new(),
            });
        }
        for round in 0..self.rounds {
            for k in 0..peers.len() {
                let slot = (k + index + round) % peers.len();
                let job = Job {
                    peer: peers[slot],
                    row: &row,
                    settings,
                    records,
                    rate,
                    max_seconds,
                    extra_props: Vec::new(),
                };
                self.run(&job, first + slot, label);
            }
        }
        let line: Vec<String> = self.entries[first..]
            .iter()
            .map(|e| {
                let rps = e.stat(|s| s.records_per_s).map_or(0.0, |s| s.0);
                let p50 = e.stat(|s| s.p50_ms).map_or(0.0, |s| s.0);
                format!("{} {:.0}k/s p50 {:.1} ms", e.peer.name(), rps / 1e3, p50)
            })
            .collect();
        println!("{label} {row}: {}", line.join(", "));
    }

    /// Runs `job` on a fresh topic into entry `index`.
    fn run(&mut self, job: &Job<'_>, index: usize, label: &str) {
        self.run_on(None, job, index, label);
    }

    /// [`Bench::run`] on `broker` (tansu when `None`).
    fn run_on(&mut self, broker: Option<&Broker>, job: &Job<'_>, index: usize, label: &str) {
        self.topics += 1;
        let topic = format!("rouse-bench-{}-{}", std::process::id(), self.topics);
        let broker = broker.unwrap_or(&self.broker);
        match runner::run(broker, &self.bin_dir, job, &topic) {
            Ok(sample) => self.entries[index].samples.push(sample),
            Err(error) => {
                eprintln!("{label} {} {}: {error}", job.row, job.peer.name());
                self.entries[index].errors.push(error);
            }
        }
    }

    /// The flood table: rouse at its defaults and with a smaller buffer,
    /// librdkafka at its defaults, each sending more than rouse's default
    /// buffer holds, in turns.
    fn flood(&mut self) {
        let variants = [
            (Peer::Rouse, "(defaults)", None),
            (
                Peer::Rouse,
                "buffer.memory=8388608",
                Some("buffer.memory=8388608"),
            ),
            (Peer::Librdkafka, "(defaults)", None),
        ];
        let first = self.entries.len();
        let kept: Vec<usize> = (0..variants.len())
            .filter(|&i| {
                let (peer, variant, _) = variants[i];
                matches_any(
                    &self.filter,
                    &format!("flood {FLOOD_ROW} {} {variant}", peer.name()),
                )
            })
            .collect();
        for &i in &kept {
            let (peer, variant, _) = variants[i];
            self.entries.push(Entry {
                table: Table::Flood,
                row: FLOOD_ROW,
                peer,
                variant: variant.to_string(),
                rate: None,
                samples: Vec::new(),
                errors: Vec::new(),
            });
        }
        for round in 0..self.rounds {
            for k in 0..kept.len() {
                let slot = (k + round) % kept.len();
                let (peer, _, extra) = variants[kept[slot]];
                let job = Job {
                    peer,
                    row: &FLOOD_ROW,
                    settings: Settings::Defaults,
                    records: FLOOD_RECORDS,
                    rate: None,
                    max_seconds: 10.0,
                    extra_props: extra.map(String::from).into_iter().collect(),
                };
                self.run(&job, first + slot, "flood");
            }
        }
        if !kept.is_empty() {
            println!("flood {FLOOD_ROW}: done");
        }
    }

    /// Half librdkafka's median records/s at its defaults on `row`.
    fn steady_rate(&self, row: &Row) -> Option<f64> {
        self.entries
            .iter()
            .find(|e| e.table == Table::Defaults && e.row == *row && e.peer == Peer::Librdkafka)
            .and_then(|e| e.stat(|s| s.records_per_s))
            .map(|(median, _, _)| median / 2.0)
    }
}

fn markdown(bench: &Bench, load: (String, String), minutes: f64) -> String {
    let rouse_cmd = runner::command_line(
        &Job {
            peer: Peer::Rouse,
            row: &Row::all()[0],
            settings: Settings::Defaults,
            records: Row::all()[0].records(bench.scale),
            rate: None,
            max_seconds: FLOOD_MAX_SECONDS,
            extra_props: Vec::new(),
        },
        "TOPIC",
        "HOST:PORT",
    )
    .join(" ");
    format!(
        "## Producer

Command: `cargo xtask bench producer` (ROUSE_BENCH_ROUNDS={rounds}, ROUSE_BENCH_SCALE={scale}, ROUSE_BENCH_FILTER={filter:?}); commit {commit}; {minutes:.1} min.
Machine: {machine}; load average {load0} at the start, {load1} at the end (other engineers' builds share the cores); the broker is one tansu on 127.0.0.1 (in-memory storage) on the same cores.

Every peer runs as its own process, a kafka-producer-perf-test clone (rouse's is `cargo run --release -p rouse-kafka --example producer_perf -- {rouse_cmd}`; the others are crates/producer-bench's `peer-*` binaries with the same flags), on a fresh topic created before and deleted after the run. Keyless records of the row's size; with 4 threads, four application threads share one producer. A flood run sends {small} records of 100 B or {large} of 1 KiB as fast as the client takes them (stopping after {FLOOD_MAX_SECONDS} s), then flushes. records/s and MB/s: acknowledged records from first send to last acknowledgement; ack p50/p99: send to delivery report; client CPU: the peer process's user+system time (wait4, start-up included) per acknowledged record; peak RSS: its ru_maxrss; broker CPU: tansu's CPU time over the run (its threads' /proc schedstat) per record. Each cell: median of {rounds} rounds, **ratio to librdkafka's median**, (lowest-highest); who goes first rotates by row and round.

Peers: rouse (this commit); librdkafka {rdkafka} through the `rdkafka` crate 0.38; rskafka 0.6 (`BatchProducer` per partition on tokio's multi-thread runtime, a task per record; it has no default batch size, so its aggregator gets 16384 bytes, Java's default; it always asks for acks=all); rustfs-kafka 1.4 (its synchronous `BatchProducer` behind a mutex: a send that fills a batch, or finds it older than linger.ms, sends it and waits on the calling thread; linger 0 is one request per record).

### At each client's defaults (the headline)

Only bootstrap.servers, acks and linger.ms are set, plus librdkafka's `queue.buffering.max.messages={queue}` (its default, 100000, refuses sends in a flood).

{defaults}
### Equal batch.size ({equal} bytes for every client that has one)

rustfs-kafka's is its `max_bytes` per request; librdkafka keeps `queue.buffering.max.messages={queue}`.

{equal_table}
### Latency at a steady rate

Each peer at its defaults sends for about {STEADY_SECONDS} s at half librdkafka's median records/s on that row in the defaults table above (paced in bursts of about 1 ms of records, sleeping between them). Every peer is paced at the same rate; the records/s achieved column counts to the last acknowledgement after the final flush, and librdkafka's flush (through the `rdkafka` crate's `ThreadedProducer`) returns about 100 ms after its last delivery (a one-record run takes 100 ms), so its figure reads about 0.83x the rate it sent at.

{steady}
### Latency in a flood

The flood runs above send less than rouse's buffer holds. Here each client sends {flood_records} records of 100 B ({flood_row}; 100 MB, three times rouse's default buffer.memory) as fast as it takes them. Once rouse's buffer is full, `send` blocks and every record waits behind a full buffer: send-to-ack latency is bounded by about buffer.memory / throughput (records carry some overhead in the buffer, so the bound is approximate), and a smaller buffer.memory lowers it. librdkafka at its defaults (with the queue raised to {queue} messages, as above) bounds it only by its queue.

{flood}{tls}",
        rounds = bench.rounds,
        scale = bench.scale,
        filter = bench.filter,
        commit = rouse_bench_support::git_commit(),
        machine = rouse_bench_support::machine(),
        load0 = load.0,
        load1 = load.1,
        small = Row::all()[0].records(bench.scale),
        large = Row::all()[31].records(bench.scale),
        rdkafka = "2.12.1",
        queue = matrix::LIBRDKAFKA_QUEUE_MESSAGES,
        equal = matrix::EQUAL_BATCH_SIZE,
        defaults = report::table(&bench.entries, Table::Defaults),
        equal_table = report::table(&bench.entries, Table::EqualBatch),
        steady = report::table(&bench.entries, Table::Steady),
        flood = report::flood(&bench.entries),
        flood_records = FLOOD_RECORDS,
        flood_row = FLOOD_ROW,
        tls = tls_section(&bench.entries, bench.scale),
    )
}

/// The TLS table under its heading, or nothing when it did not run.
fn tls_section(entries: &[Entry], scale: f64) -> String {
    let table = tls::section(entries);
    if table.is_empty() {
        return table;
    }
    format!(
        "
### Over TLS

rouse and librdkafka over SSL to the same TLS endpoint, a `rouse-kafka-mock --tls` process (release build; rustls serves, with a CA and certificate it generates at start; both clients get `security.protocol=SSL` and `ssl.ca.location` = that CA, host names checked), and over plaintext to a second `rouse-kafka-mock` process without TLS: the ratios compare clients over the same transport, and the second table is each client's own cost of TLS. The mock auto-creates each run's topic; mock CPU is that mock process's CPU over the run. librdkafka's TLS is OpenSSL (the `rdkafka` crate's `ssl` feature links the system's OpenSSL, so building the bench needs its headers, Debian's `libssl-dev`; the bench is not part of `cargo xtask ci`, whose build stays free of OpenSSL), rouse's is rustls on ring. Flood runs at each client's defaults (as in the headline table; librdkafka's queue raised as there), {factor} times longer than there ({small} records of 100 B, {large} of 1 KiB, stopping after {max} s) so that start-up and the handshake weigh little; fresh mocks for each row.

{table}",
        factor = tls::RECORDS_FACTOR,
        small = tls::ROWS[0].records(scale * tls::RECORDS_FACTOR),
        large = tls::ROWS[1].records(scale * tls::RECORDS_FACTOR),
        max = tls::MAX_SECONDS,
    )
}

fn main() -> ExitCode {
    let mut bench = match Bench::from_env() {
        Ok(bench) => bench,
        Err(error) => {
            eprintln!("bench producer: {error}");
            return ExitCode::from(2);
        }
    };
    let (started, load_before) = (Instant::now(), rouse_bench_support::load_average());
    let rows = Row::all();
    for table in [Table::Defaults, Table::EqualBatch] {
        for (index, &row) in rows.iter().enumerate() {
            bench.row(table, index, row, None);
        }
    }
    for (index, &row) in rows.iter().enumerate() {
        match bench.steady_rate(&row) {
            Some(rate) => bench.row(Table::Steady, index, row, Some(rate)),
            None if matches_any(&bench.filter, &format!("steady {row}")) => {
                eprintln!("steady {row}: no librdkafka maximum measured, row skipped");
            }
            None => {}
        }
    }
    bench.flood();
    tls::run(&mut bench);
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

//! `cargo xtask bench producer`: rouse's producer against librdkafka (through
//! the `rdkafka` crate), side by side in one process, against one local
//! tansu broker that xtask starts (its address in ROUSE_BENCH_BOOTSTRAP).
//!
//! For every combination of value size (100 B, 1 KiB), `linger.ms` (0, 5)
//! and `acks` (1, all), each peer sends the same records from one
//! application thread as fast as its buffer lets it, then flushes. Measured
//! per peer: records/s and MB/s (first send to last acknowledgement),
//! send-to-ack p50/p99 (stamped at send, read in the delivery callback),
//! process CPU time (user+sys, getrusage) per record while the peer ran,
//! and rouse's wake syscalls per record. Peers alternate per combination,
//! so a slow phase of the shared machine hurts both alike.
//!
//! Built only with `--features rdkafka-bench` (librdkafka compiles from
//! source in about a minute and a half): xtask passes it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::ClientContext;
use rouse_bench_support::process_cpu_time;
use rouse_kafka::{Producer, ProducerConfig, Record};

const TOPIC: &str = "rouse-bench";
/// `batch.size` for both peers. Their defaults differ 64-fold (Java's
/// 16 KiB, which rouse keeps, against librdkafka's 1 MiB), and tansu
/// answers a few thousand Produce requests a second whatever their size, so
/// with defaults the comparison would measure batch sizes, not clients.
const BATCH_SIZE: &str = "262144";
/// Records per run, by value size: about 3 s of work each on the dev VM.
const RECORDS_100B: usize = 200_000;
const RECORDS_1K: usize = 60_000;

/// One combination of the matrix.
#[derive(Clone, Copy)]
struct Case {
    value: usize,
    linger_ms: u64,
    acks: &'static str,
}

impl Case {
    fn records(self) -> usize {
        if self.value <= 100 {
            RECORDS_100B
        } else {
            RECORDS_1K
        }
    }

    fn label(self) -> String {
        format!(
            "{} B, linger {} ms, acks {}",
            self.value, self.linger_ms, self.acks
        )
    }
}

/// What one peer did in one case.
#[derive(Default, Clone)]
struct Outcome {
    records_per_s: f64,
    mb_per_s: f64,
    p50_us: u32,
    p99_us: u32,
    cpu_ns_per_record: f64,
    wake_syscalls_per_record: Option<f64>,
    failed: u64,
}

/// Send-to-ack latencies, one slot per record, written by the delivery
/// callback on the client's thread (the same cost for both peers).
struct Latencies {
    start: Instant,
    micros: Vec<AtomicU32>,
    acked: AtomicU64,
    failed: AtomicU64,
}

impl Latencies {
    fn new(n: usize) -> Arc<Latencies> {
        Arc::new(Latencies {
            start: Instant::now(),
            micros: (0..n).map(|_| AtomicU32::new(0)).collect(),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    fn stamp(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn record(&self, seq: usize, sent_at: u64, ok: bool) {
        let now = self.stamp();
        self.micros[seq].store(now.saturating_sub(sent_at).max(1) as u32, Ordering::Relaxed);
        let counter = if ok { &self.acked } else { &self.failed };
        counter.fetch_add(1, Ordering::Release);
    }

    fn percentiles(&self) -> (u32, u32) {
        let mut all: Vec<u32> = self
            .micros
            .iter()
            .map(|m| m.load(Ordering::Relaxed))
            .filter(|m| *m > 0)
            .collect();
        all.sort_unstable();
        let at = |q: f64| {
            all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        (at(0.50), at(0.99))
    }
}

fn run_rouse(bootstrap: &str, case: Case, values: &[Vec<u8>]) -> Outcome {
    let n = case.records();
    let linger = case.linger_ms.to_string();
    let config = ProducerConfig::from_pairs([
        ("bootstrap.servers", bootstrap),
        ("acks", case.acks),
        ("linger.ms", linger.as_str()),
        ("client.id", "rouse-bench"),
        ("batch.size", BATCH_SIZE),
    ])
    .expect("bench config is valid");
    let producer = Producer::new(config).expect("producer starts");
    warm_up_rouse(&producer);
    let latencies = Latencies::new(n);
    let before = producer.stats();
    let (cpu0, t0) = (process_cpu_time(), Instant::now());
    for seq in 0..n {
        let record = Record::key_value(TOPIC, key(seq), values[seq % values.len()].clone());
        let sent_at = latencies.stamp();
        let lat = latencies.clone();
        producer
            .send_with_callback(record, move |result| {
                lat.record(seq, sent_at, result.is_ok())
            })
            .expect("send accepted (it blocks while the buffer is full)");
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("flush within 60 s");
    let (elapsed, cpu) = (t0.elapsed(), process_cpu_time() - cpu0);
    let after = producer.stats();
    let _ = producer.close(Duration::from_secs(10));
    let syscalls = after.wake_syscalls - before.wake_syscalls;
    finish(
        case,
        &latencies,
        elapsed,
        cpu,
        Some(syscalls as f64 / n as f64),
    )
}

fn warm_up_rouse(producer: &Producer) {
    let future = producer
        .send(Record::key_value(TOPIC, "warm-up", "x"))
        .expect("warm-up send");
    future
        .wait()
        .expect("warm-up record acknowledged: is the broker up?");
}

/// librdkafka's delivery reports, into the same latency table.
struct Reports(Arc<Latencies>);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<(usize, u64)>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Self::DeliveryOpaque) {
        let (seq, sent_at) = *opaque;
        self.0.record(seq, sent_at, result.is_ok());
    }
}

fn run_librdkafka(bootstrap: &str, case: Case, values: &[Vec<u8>]) -> Outcome {
    let n = case.records();
    let latencies = Latencies::new(n);
    let producer: ThreadedProducer<Reports> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", case.acks)
        .set("linger.ms", case.linger_ms.to_string())
        .set("client.id", "librdkafka-bench")
        .set("batch.size", BATCH_SIZE)
        .create_with_context(Reports(latencies.clone()))
        .expect("librdkafka producer starts");
    // Warm-up: metadata and connection, outside the measurement.
    let warm = Latencies::new(1);
    let _ = warm;
    producer
        .send(
            BaseRecord::with_opaque_to(TOPIC, Box::new((0, latencies.stamp())))
                .key("warm-up")
                .payload("x"),
        )
        .map_err(|(e, _)| e)
        .expect("warm-up send");
    producer
        .flush(Duration::from_secs(30))
        .expect("warm-up acknowledged: is the broker up?");
    latencies.micros[0].store(0, Ordering::Relaxed);
    latencies.acked.store(0, Ordering::Relaxed);

    let (cpu0, t0) = (process_cpu_time(), Instant::now());
    for seq in 0..n {
        let key = key(seq);
        let value = &values[seq % values.len()];
        let mut record = BaseRecord::with_opaque_to(TOPIC, Box::new((seq, latencies.stamp())))
            .key(&key)
            .payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: wait for deliveries, as an
                    // application must (its `send` never blocks).
                    record = back;
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err((e, _)) => panic!("librdkafka refused a record: {e}"),
            }
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("flush within 60 s");
    let (elapsed, cpu) = (t0.elapsed(), process_cpu_time() - cpu0);
    drop(producer);
    finish(case, &latencies, elapsed, cpu, None)
}

fn finish(
    case: Case,
    latencies: &Latencies,
    elapsed: Duration,
    cpu: Duration,
    wakes: Option<f64>,
) -> Outcome {
    let n = case.records() as f64;
    let (p50_us, p99_us) = latencies.percentiles();
    Outcome {
        records_per_s: n / elapsed.as_secs_f64(),
        mb_per_s: n * case.value as f64 / elapsed.as_secs_f64() / 1e6,
        p50_us,
        p99_us,
        cpu_ns_per_record: cpu.as_nanos() as f64 / n,
        wake_syscalls_per_record: wakes,
        failed: latencies.failed.load(Ordering::Acquire),
    }
}

fn key(seq: usize) -> Vec<u8> {
    format!("key-{:08}", seq % 10_000).into_bytes()
}

fn main() {
    let Ok(bootstrap) = std::env::var("ROUSE_BENCH_BOOTSTRAP") else {
        eprintln!("bench producer: set ROUSE_BENCH_BOOTSTRAP to a broker with topic {TOPIC}, or run `cargo xtask bench producer`, which starts tansu");
        std::process::exit(2);
    };
    let mut table = String::from(
        "| case | peer | records/s | MB/s | p50 µs | p99 µs | CPU ns/record | wake syscalls/record | failed | throughput vs librdkafka | CPU vs librdkafka |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for value in [100, 1024] {
        let values: Vec<Vec<u8>> = (0..16u8).map(|i| vec![b'a' + i; value]).collect();
        for linger_ms in [0, 5] {
            for acks in ["1", "all"] {
                let case = Case {
                    value,
                    linger_ms,
                    acks,
                };
                let theirs = run_librdkafka(&bootstrap, case, &values);
                let ours = run_rouse(&bootstrap, case, &values);
                for (peer, o) in [("rouse", &ours), ("librdkafka", &theirs)] {
                    let _ = writeln!(
                        table,
                        "| {} | {peer} | {:.0} | {:.1} | {} | {} | {:.0} | {} | {} | {:.2}x | {:.2}x |",
                        case.label(),
                        o.records_per_s,
                        o.mb_per_s,
                        o.p50_us,
                        o.p99_us,
                        o.cpu_ns_per_record,
                        o.wake_syscalls_per_record.map_or("n/a".into(), |w| format!("{w:.4}")),
                        o.failed,
                        o.records_per_s / theirs.records_per_s,
                        o.cpu_ns_per_record / theirs.cpu_ns_per_record,
                    );
                }
                println!(
                    "{}: rouse {:.0}/s, librdkafka {:.0}/s",
                    case.label(),
                    ours.records_per_s,
                    theirs.records_per_s
                );
            }
        }
    }
    println!("\n{table}");
    rouse_bench_support::write_section(&format!(
        "## Producer\n\nCommand: `cargo xtask bench producer` (release build, one process, peers alternating per case, one local tansu broker on 127.0.0.1 started by xtask, topic with 1 partition, batch.size {BATCH_SIZE} for both, other settings each client's default).\nMachine: {}; the broker runs on the same cores as both clients.\n\n{table}\n",
        rouse_bench_support::machine(),
    ));
}

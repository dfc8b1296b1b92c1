//! The librdkafka peer of `cargo xtask bench producer` (through the
//! `rdkafka` crate): kafka-producer-perf-test's flags, every
//! `--producer-props` pair handed to librdkafka as is, so settings not given
//! keep librdkafka's defaults. Keyless records, as the perf test sends.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::ClientContext;
use rouse_bench_support::perf::{self, PerfArgs, Recorder};

#[derive(Parser)]
#[command(
    name = "peer-librdkafka",
    about = "librdkafka load test (kafka-producer-perf-test's flags and output)"
)]
struct Args {
    #[command(flatten)]
    perf: PerfArgs,
}

/// Delivery reports (on librdkafka's polling thread) into the recorder,
/// and, when the user passes `debug=protocol`, a count of the Produce
/// requests librdkafka logs as sent (the count rouse's peer prints from its
/// own statistics): a diagnostic, since the protocol log costs CPU.
struct Reports {
    recorder: Arc<Recorder>,
    produce_requests: AtomicU64,
}

impl ClientContext for Reports {
    fn log(&self, _level: RDKafkaLogLevel, _fac: &str, log_message: &str) {
        if log_message.contains(": Sent ProduceRequest ") {
            self.produce_requests.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<(u64, u64)>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Self::DeliveryOpaque) {
        let (seq, sent_at) = *opaque;
        match result {
            Ok(_) => self.recorder.acked(seq, sent_at),
            Err((error, _)) => self.recorder.failed(error),
        }
    }
}

fn run(args: &PerfArgs) -> Result<(), String> {
    let mut config = ClientConfig::new();
    let mut protocol_debug = false;
    for (key, value) in args.props()? {
        protocol_debug |= key == "debug" && value.split(',').any(|v| v == "protocol" || v == "all");
        config.set(key, value);
    }
    if protocol_debug {
        // The rdkafka crate derives librdkafka's log level from the `log`
        // crate's, which is off here: without this no debug line arrives.
        config.set_log_level(RDKafkaLogLevel::Debug);
    }
    let recorder = Recorder::new(args.num_records, args.record_size);
    let producer: ThreadedProducer<Reports> = config
        .create_with_context(Reports {
            recorder: Arc::clone(&recorder),
            produce_requests: AtomicU64::new(0),
        })
        .map_err(|e| format!("librdkafka refused the settings: {e}"))?;
    let payload = args.payload();
    let windows = recorder.print_windows();
    let started = Instant::now();
    let sent = perf::drive(args, |seq| {
        let mut record = BaseRecord::<(), [u8], _>::with_opaque_to(
            &args.topic,
            Box::new((seq, recorder.stamp())),
        )
        .payload(&payload[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's send never blocks: an application waits
                    // for deliveries to make room, as here.
                    record = back;
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err((error, _)) => {
                    recorder.failed(&error);
                    break;
                }
            }
        }
    });
    producer
        .flush(Duration::from_secs(600))
        .map_err(|e| format!("flush: {e}"))?;
    recorder.wait_for(sent, Duration::from_secs(10));
    let elapsed = started.elapsed();
    drop(windows);
    let requests = producer.context().produce_requests.load(Ordering::Relaxed);
    let extra = [("produce_requests", requests.to_string())];
    perf::finish(
        args,
        &recorder,
        sent,
        elapsed,
        if protocol_debug { &extra } else { &[] },
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse().perf) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("peer-librdkafka: {error}");
            ExitCode::FAILURE
        }
    }
}

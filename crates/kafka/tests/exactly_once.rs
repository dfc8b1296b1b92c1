//! Many senders, one stand-in poller that completes, fails and retries
//! batches at random: every record must get exactly one outcome, every batch
//! must decode to the records that went in, and all memory must come back.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use rouse_kafka::batching::{Accumulator, OnDelivery};
use rouse_kafka::{
    BrokerId, Compression, DefaultPartitioner, DeliveryError, Partitions, ProducerConfig, Record,
};

const SENDERS: usize = 4;
const PER_SENDER: usize = 1500;
const PARTITIONS: i32 = 6;
const MAX_ATTEMPTS: u32 = 3;

/// A small deterministic generator for the poller's choices.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn record_id(value: &[u8]) -> usize {
    usize::from_be_bytes(value[..8].try_into().unwrap())
}

#[test]
fn every_record_gets_exactly_one_outcome() {
    let config = ProducerConfig::builder()
        .bootstrap_servers(["127.0.0.1:9092"])
        .linger(Duration::from_millis(1))
        .batch_size(600)
        .buffer_memory(8 * 1024)
        .max_block(Duration::from_secs(20))
        .retry_backoff(Duration::from_millis(1))
        .retry_backoff_max(Duration::from_millis(2))
        .build()
        .unwrap();
    let accumulator = Arc::new(Accumulator::new(&config));
    let partitioner = Arc::new(DefaultPartitioner::with_seed(99));
    let total = SENDERS * PER_SENDER;
    let outcomes: Arc<Vec<AtomicU8>> = Arc::new((0..total).map(|_| AtomicU8::new(0)).collect());
    let senders_done = Arc::new(AtomicBool::new(false));

    let poller = {
        let accumulator = Arc::clone(&accumulator);
        let senders_done = Arc::clone(&senders_done);
        thread::spawn(move || {
            let mut rng = Lcg(7);
            let mut decoded_records = 0usize;
            let give_up = Instant::now() + Duration::from_secs(60);
            loop {
                assert!(Instant::now() < give_up, "the poller never finished");
                let done = senders_done.load(Ordering::SeqCst);
                let drained =
                    accumulator.drain_ready(Instant::now(), |tp| Some(BrokerId(tp.partition % 2)));
                let idle = drained.is_empty();
                for mut batch in drained.batches.into_values().flatten() {
                    let codec = if batch.topic_partition().partition % 2 == 0 {
                        Compression::Lz4
                    } else {
                        Compression::None
                    };
                    let mut bytes = batch.encode(None, codec).unwrap();
                    let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
                    assert_eq!(set.records.len(), batch.record_count());
                    for r in &set.records {
                        assert!(record_id(r.value.as_deref().unwrap()) < SENDERS * PER_SENDER);
                    }
                    decoded_records += set.records.len();
                    let attempts = batch.attempts();
                    match rng.next() % 10 {
                        0 | 1 if attempts < MAX_ATTEMPTS => {
                            accumulator.reenqueue(batch, Instant::now())
                        }
                        2 => batch.fail(DeliveryError::broker(6, attempts + 1)),
                        _ => batch.complete(1000, None),
                    }
                }
                if done && idle && !accumulator.has_queued() {
                    return decoded_records;
                }
                if idle {
                    thread::sleep(Duration::from_micros(200));
                }
            }
        })
    };

    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let accumulator = Arc::clone(&accumulator);
            let partitioner = Arc::clone(&partitioner);
            let outcomes = Arc::clone(&outcomes);
            thread::spawn(move || {
                let mut futures = Vec::new();
                for i in 0..PER_SENDER {
                    let id = s * PER_SENDER + i;
                    let mut value = id.to_be_bytes().to_vec();
                    value.extend_from_slice(&[b'x'; 40]);
                    let mut record = Record::value("t", Bytes::from(value));
                    if i % 3 == 0 {
                        record = record.with_key(format!("key-{}", i % 17));
                    }
                    let on_delivery = if i % 2 == 0 {
                        let outcomes = Arc::clone(&outcomes);
                        OnDelivery::Callback(Box::new(move |_result| {
                            outcomes[id].fetch_add(1, Ordering::SeqCst);
                        }))
                    } else {
                        OnDelivery::Future
                    };
                    let appended = accumulator
                        .append(
                            record,
                            &*partitioner,
                            Partitions::all(PARTITIONS),
                            on_delivery,
                            Instant::now(),
                        )
                        .unwrap();
                    if let Some(future) = appended.future {
                        futures.push((id, future));
                    }
                }
                futures
            })
        })
        .collect();
    let futures: Vec<_> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    senders_done.store(true, Ordering::SeqCst);
    let decoded = poller.join().unwrap();

    for (id, future) in &futures {
        let result = future
            .wait_timeout(Duration::from_secs(10))
            .expect("every future resolves");
        if let Ok(meta) = result {
            assert!((0..PARTITIONS).contains(&meta.partition));
            assert!(meta.offset >= 1000);
        }
        outcomes[*id].fetch_add(1, Ordering::SeqCst);
    }
    for (id, count) in outcomes.iter().enumerate() {
        assert_eq!(count.load(Ordering::SeqCst), 1, "record {id}");
    }
    let stats = accumulator.stats();
    assert_eq!(stats.records_sent as usize, total);
    assert_eq!((stats.delivered + stats.failed) as usize, total);
    assert!(
        stats.failed > 0 && stats.retries > 0,
        "the run must exercise failures and retries: {stats:?}"
    );
    assert_eq!(
        (
            stats.queued_records,
            stats.queued_bytes,
            stats.in_flight_batches,
            stats.buffer_used
        ),
        (0, 0, 0, 0)
    );
    assert!(decoded >= total, "every record was encoded at least once");
    assert!(
        stats.mean_batch_records() > 1.0,
        "batching happened: {stats:?}"
    );
}

//! loom models of the accumulator's hand-offs between threads, run on the
//! production code (`crate::sync` gives it loom's locks): memory handed from
//! a finishing batch to blocked senders in ticket order, a close that frees
//! a blocked sender, a flush waiting for a batch another thread ends, and a
//! blocked sender served by the oldest batch sent early.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p rouse-kafka --lib --release loom`
//! (`cargo xtask ci` runs them in target/loom).

use std::time::{Duration, Instant};

use crate::BrokerId;
use loom::sync::Arc;
use loom::thread;

use super::pool::{BufferPool, ReserveError};
use super::Accumulator;
use crate::config::ProducerConfig;
use crate::delivery::OnDelivery;
use crate::partitioner::{DefaultPartitioner, Partitions};
use crate::record::Record;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn loom_freed_memory_reaches_blocked_senders_in_ticket_order() {
    loom::model(|| {
        let pool = Arc::new(BufferPool::new(10));
        let held = pool.reserve(10, WAIT, || {}).unwrap().keep();
        let first = Arc::clone(&pool);
        let big = thread::spawn(move || first.reserve(6, WAIT, || {}).map(|r| r.keep()));
        let second = Arc::clone(&pool);
        let small = thread::spawn(move || second.reserve(4, WAIT, || {}).map(|r| r.keep()));
        pool.release(held);
        let (big, small) = (big.join().unwrap(), small.join().unwrap());
        assert_eq!((big, small), (Ok(6), Ok(4)), "both served, nothing lost");
        pool.release(6);
        pool.release(4);
        assert_eq!(pool.used(), 0);
        assert!(!pool.has_waiters());
    });
}

#[test]
fn loom_close_frees_a_blocked_sender() {
    loom::model(|| {
        let pool = Arc::new(BufferPool::new(4));
        let held = pool.reserve(4, WAIT, || {}).unwrap().keep();
        let waiter = Arc::clone(&pool);
        let blocked = thread::spawn(move || waiter.reserve(4, WAIT, || {}).map(|r| r.keep()));
        pool.close();
        assert_eq!(blocked.join().unwrap(), Err(ReserveError::Closed));
        pool.release(held);
    });
}

#[test]
fn loom_flush_returns_once_another_thread_ends_the_batch() {
    loom::model(|| {
        let config = ProducerConfig::from_pairs([("bootstrap.servers", "127.0.0.1:9092")]).unwrap();
        let accumulator = Arc::new(Accumulator::new(&config));
        let record = Record::value("t", "v").with_partition(0);
        let partitioner = DefaultPartitioner::with_seed(1);
        let callback = OnDelivery::Callback(Box::new(|result| assert!(result.is_ok())));
        accumulator
            .append(
                record,
                &partitioner,
                Partitions::all(1),
                callback,
                Instant::now(),
            )
            .unwrap();
        let flush = accumulator.begin_flush();
        let poller = Arc::clone(&accumulator);
        let ender = thread::spawn(move || {
            let drained = poller.drain_ready(Instant::now(), |_| Some(BrokerId(1)));
            for batch in drained.batches.into_values().flatten() {
                batch.complete(0, None);
            }
        });
        assert!(flush.wait(None), "the flush saw the batch end");
        drop(flush);
        ender.join().unwrap();
        assert_eq!(accumulator.stats().delivered, 1);
    });
}

#[test]
fn loom_a_blocked_sender_gets_the_memory_of_the_oldest_batch_sent_early() {
    loom::model(|| {
        // Two lingering batches fill buffer.memory; a third sender blocks.
        let config = ProducerConfig::builder()
            .bootstrap_servers(["127.0.0.1:9092"])
            .linger(WAIT)
            .batch_size(100)
            .buffer_memory(200)
            .max_block(WAIT)
            .build()
            .unwrap();
        let accumulator = Arc::new(Accumulator::new(&config));
        let t0 = Instant::now();
        let partitioner = DefaultPartitioner::with_seed(1);
        for p in 0..2 {
            let record = Record::value("t", "v").with_partition(p);
            let appended = accumulator.append(
                record,
                &partitioner,
                Partitions::all(3),
                OnDelivery::Future,
                t0,
            );
            assert!(appended.is_ok());
        }
        let sender = Arc::clone(&accumulator);
        let blocked = thread::spawn(move || {
            let record = Record::value("t", "v").with_partition(2);
            let partitioner = DefaultPartitioner::with_seed(1);
            sender
                .append(
                    record,
                    &partitioner,
                    Partitions::all(3),
                    OnDelivery::Future,
                    t0,
                )
                .map(|appended| appended.partition)
                .map_err(|e| e.to_string())
        });
        // The poller drains before any linger runs out: nothing until the
        // sender is blocked, then the oldest batch and only that one.
        let early = loop {
            let drained = accumulator.drain_ready(t0, |_| Some(BrokerId(1)));
            let early: Vec<_> = drained.batches.into_values().flatten().collect();
            if !early.is_empty() {
                break early;
            }
            thread::yield_now();
        };
        let partitions: Vec<_> = early
            .iter()
            .map(|b| b.topic_partition().partition)
            .collect();
        assert_eq!(partitions, [0], "only the oldest batch goes early");
        for batch in early {
            batch.complete(0, None);
        }
        assert_eq!(blocked.join().unwrap(), Ok(2));
        assert_eq!(accumulator.stats().buffer_used, 200);
    });
}

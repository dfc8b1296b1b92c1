//! The idempotent producer's recovery against `rouse-kafka-mock`: a broker
//! that lost the producer's state or finds a sequence gap makes it renew
//! its producer id and deliver on, each record once and in order; what
//! cannot be recovered is a fatal error, at once, never a retry loop.

use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use rouse_kafka::{DeliveryErrorKind, ProducerError, Record};

mod common;

use common::{assert_stored_exactly_once, cluster, producer, send_all, TOPIC};

#[test]
fn unknown_producer_id_renews_the_id_and_delivers_once_in_order() {
    let cluster = cluster(1, 3);
    let producer = producer(&cluster, &[("linger.ms", "0")]);
    let first = send_all(&producer, 50, "before");
    let handle = cluster.handle();
    assert_eq!(handle.request_count(None, ApiKey::InitProducerId), 1);
    handle.fail_next(ApiKey::Produce, None, ResponseError::UnknownProducerId, 2);
    let second = send_all(&producer, 200, "after");
    // Each refused batch costs at most one renewal (two, if the second
    // refusal lands on the first batch under the renewed id).
    let asked = handle.request_count(None, ApiKey::InitProducerId);
    assert!((2..=3).contains(&asked), "{asked} InitProducerId requests");
    let all: Vec<_> = first.into_iter().chain(second).collect();
    assert_stored_exactly_once(&cluster, &all, 3);
    assert!(producer.fatal_error().is_none());
    assert!(producer.stats().retries >= 2, "{:?}", producer.stats());
}

#[test]
fn an_out_of_order_gap_at_the_head_renews_the_id() {
    let cluster = cluster(1, 1);
    let producer = producer(&cluster, &[("linger.ms", "0")]);
    let first = send_all(&producer, 20, "before");
    let handle = cluster.handle();
    handle.fail_next(
        ApiKey::Produce,
        None,
        ResponseError::OutOfOrderSequenceNumber,
        1,
    );
    let second = send_all(&producer, 100, "after");
    assert_eq!(handle.request_count(None, ApiKey::InitProducerId), 2);
    let all: Vec<_> = first.into_iter().chain(second).collect();
    assert_stored_exactly_once(&cluster, &all, 1);
}

#[test]
fn a_broker_that_keeps_refusing_fresh_ids_is_a_fatal_error_not_a_loop() {
    let cluster = cluster(1, 2);
    let producer = producer(&cluster, &[("linger.ms", "0")]);
    send_all(&producer, 5, "warm");
    cluster.handle().fail_next(
        ApiKey::Produce,
        None,
        ResponseError::UnknownProducerId,
        1000,
    );
    let started = Instant::now();
    let futures: Vec<_> = (0..20)
        .map(|i| {
            producer
                .send(Record::value(TOPIC, format!("doomed-{i}")))
                .unwrap()
        })
        .collect();
    for future in futures {
        let error = future
            .wait_timeout(Duration::from_secs(10))
            .expect("an outcome within 10 s")
            .expect_err("no record can be written");
        assert_eq!(error.kind(), DeliveryErrorKind::Fatal, "{error}");
        assert!(error.message().contains("create a new one"), "{error}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let fatal = producer
        .fatal_error()
        .expect("the producer says it is dead");
    assert!(
        fatal.message().contains("new producer ids in a row"),
        "{fatal}"
    );
    match producer.send(Record::value(TOPIC, "later")) {
        Err(error @ ProducerError::Fatal { .. }) => {
            assert!(
                error.to_string().contains("create a new producer"),
                "{error}"
            );
            assert_eq!(
                error.into_record().unwrap().value.as_deref(),
                Some(&b"later"[..])
            );
        }
        other => panic!("a later send is refused at once, got {other:?}"),
    }
    producer
        .flush(Duration::from_secs(1))
        .expect("nothing pending");
}

#[test]
fn explicit_idempotence_without_a_producer_id_is_fatal_the_default_falls_back() {
    let cluster = cluster(1, 1);
    let refuse = || {
        cluster.handle().fail_next(
            ApiKey::InitProducerId,
            None,
            ResponseError::ClusterAuthorizationFailed,
            1,
        )
    };
    refuse();
    let explicit = producer(&cluster, &[("enable.idempotence", "true")]);
    // The refusal may come before the send or while its record waits.
    let message = match explicit.send(Record::value(TOPIC, "x")) {
        Err(error @ ProducerError::Fatal { .. }) => error.to_string(),
        Err(other) => panic!("expected a fatal error, got {other:?}"),
        Ok(future) => {
            let error = future
                .wait_timeout(Duration::from_secs(10))
                .expect("an outcome within 10 s")
                .unwrap_err();
            assert_eq!(error.kind(), DeliveryErrorKind::Fatal, "{error}");
            error.to_string()
        }
    };
    assert!(message.contains("enable.idempotence=true"), "{message}");
    assert!(explicit.fatal_error().is_some());

    refuse();
    let default = producer(&cluster, &[]);
    let acked = send_all(&default, 30, "fallback");
    assert_eq!(acked.len(), 30);
    assert!(default.fatal_error().is_none());
}

#[test]
fn a_failed_first_batch_is_not_overtaken_by_the_next() {
    // A broker takes a new producer's first batch at any sequence. If the
    // first batch fails while the next is pipelined behind it, the next must
    // not be written first: until one batch is acknowledged, one at a time.
    let cluster = cluster(1, 1);
    let handle = cluster.handle();
    handle.delay_responses(ApiKey::Produce, None, Duration::from_millis(30));
    handle.fail_next(ApiKey::Produce, None, ResponseError::NotEnoughReplicas, 1);
    let producer = producer(&cluster, &[("linger.ms", "0")]);
    let futures: Vec<_> = (0..40)
        .map(|i| {
            let value = format!("first-{i}");
            (
                value.clone(),
                producer.send(Record::value(TOPIC, value)).unwrap(),
            )
        })
        .collect();
    let acked: Vec<_> = futures
        .into_iter()
        .map(|(value, future)| {
            let meta = future
                .wait_timeout(Duration::from_secs(10))
                .expect("an outcome within 10 s")
                .unwrap_or_else(|e| panic!("{value}: {e}"));
            (meta.partition, meta.offset, value)
        })
        .collect();
    assert_stored_exactly_once(&cluster, &acked, 1);
    assert!(producer.stats().retries >= 1, "the first batch was retried");
}

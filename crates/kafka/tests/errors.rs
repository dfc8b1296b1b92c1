//! Honest errors: what a user sees when the brokers cannot be reached, each
//! naming the address and what went wrong, within a stated bound.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rouse_kafka::{Producer, ProducerConfig, ProducerError, Record};

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> Producer {
    let mut pairs = vec![("bootstrap.servers", bootstrap), ("max.block.ms", "1500")];
    pairs.extend_from_slice(extra);
    Producer::new(ProducerConfig::from_pairs(pairs).expect("valid config")).expect("starts")
}

/// The `cause` of the MetadataTimeout a send gets, checked to come within
/// max.block.ms and a second.
fn metadata_timeout_cause(producer: &Producer) -> String {
    let started = Instant::now();
    let error = producer
        .send(Record::value("t", "v"))
        .expect_err("no broker, no metadata");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    match &error {
        ProducerError::MetadataTimeout { cause, .. } => {
            let cause = cause.clone().expect("the timeout says why");
            assert!(error.to_string().contains(&cause), "{error}");
            cause
        }
        other => panic!("expected MetadataTimeout, got {other:?}"),
    }
}

#[test]
fn a_bootstrap_host_that_does_not_resolve_says_so() {
    // RFC 6761: .invalid names never resolve.
    let producer = producer("no-such-broker.invalid:9092", &[]);
    let cause = metadata_timeout_cause(&producer);
    assert!(
        cause.contains("no-such-broker.invalid:9092") && cause.contains("does not resolve"),
        "{cause}"
    );
}

#[test]
fn a_closed_port_says_connection_refused_with_the_address() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let producer = producer(&address, &[]);
    let cause = metadata_timeout_cause(&producer).to_lowercase();
    assert!(
        cause.contains(&address) && cause.contains("refused"),
        "{cause}"
    );
}

/// Counts connections a broker that hangs up at once receives in `window`.
fn connects_within(window: Duration, extra: &[(&str, &str)]) -> usize {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let deadline = Instant::now() + window;
    let acceptor = std::thread::spawn(move || {
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    counter.fetch_add(1, Ordering::SeqCst);
                    drop(stream); // hang up before ApiVersions
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    let producer = producer(&address, extra);
    let _ = producer.send(Record::value("t", "v"));
    acceptor.join().unwrap();
    accepted.load(Ordering::SeqCst)
}

#[test]
fn reconnects_back_off_exponentially() {
    // reconnect.backoff.ms 50 doubling to reconnect.backoff.max.ms 1000:
    // dials at about 0, 0.05, 0.15, 0.35, 0.75, 1.55 s (±20%) in 2 s; a
    // fixed 50 ms backoff would dial about 40 times.
    let dials = connects_within(Duration::from_secs(2), &[]);
    assert!((4..=9).contains(&dials), "{dials} connections in 2 s");
    let slow = connects_within(
        Duration::from_secs(2),
        &[
            ("reconnect.backoff.ms", "800"),
            ("reconnect.backoff.max.ms", "800"),
        ],
    );
    assert!(
        (2..=4).contains(&slow),
        "{slow} connections in 2 s at 800 ms"
    );
}

#[test]
fn close_frees_a_sender_waiting_for_metadata_at_once() {
    // Nothing listens: the sender would wait max.block.ms (here 60 s).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let producer = producer(&format!("127.0.0.1:{port}"), &[("max.block.ms", "60000")]);
    let sender = producer.clone();
    let waiting = std::thread::spawn(move || sender.send(Record::value("t", "v")));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    producer
        .close(Duration::from_secs(1))
        .expect("nothing was queued");
    let refused = waiting.join().expect("sender thread");
    assert!(
        matches!(refused, Err(ProducerError::Closed { .. })),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

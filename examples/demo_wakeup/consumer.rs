//! The consumer phase: the wakeup idea in the other direction. The main
//! thread blocks in `Consumer::poll(poll timeout)` on an idle partition;
//! another thread, once `interval` has passed, either produces a record
//! (the poll returns as soon as the consumer's poller has fetched it, not at
//! the timeout) or calls `Consumer::wakeup()` (the poll returns `Wakeup` at
//! once). Each event is a row: the time from the record's acknowledgement,
//! or from the `wakeup()` call, to `poll` returning.

use std::time::{Duration, Instant};

use rouse_kafka::{Consumer, ConsumerConfig, ConsumerError, Producer, Record, TopicPartition};

use super::experiment::{DemoError, Progress, Settings};

/// What woke the blocked poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// A record another thread produced.
    Record,
    /// `wakeup()` from another thread.
    Wakeup,
}

impl Wake {
    /// Its name in rows and JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Wake::Record => "record",
            Wake::Wakeup => "wakeup()",
        }
    }
}

/// One event of the consumer phase.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// 1-based number of its kind.
    pub(crate) seq: u32,
    /// What woke the poll.
    pub(crate) wake: Wake,
    /// From the acknowledgement (record) or the call (wakeup) to `poll`'s
    /// return.
    pub(crate) returned_after: Duration,
    /// How long `poll` had been blocked when it returned.
    pub(crate) blocked: Duration,
}

/// The consumer phase's events and its poller's waker counts.
#[derive(Clone, Debug)]
pub(crate) struct ConsumerPhase {
    /// Records and wakeups, alternating.
    pub(crate) events: Vec<Event>,
    /// The consumer's `fetch.max.wait.ms`.
    pub(crate) fetch_max_wait: Duration,
    /// Wakes of the consumer's poller asked for over the events.
    pub(crate) wakes_requested: u64,
    /// Of those, the ones that cost a syscall.
    pub(crate) wake_syscalls: u64,
}

impl ConsumerPhase {
    /// The median time to `poll`'s return for events woken by `wake`.
    pub(crate) fn median(&self, wake: Wake) -> Duration {
        let mut times: Vec<Duration> = self
            .events
            .iter()
            .filter(|e| e.wake == wake)
            .map(|e| e.returned_after)
            .collect();
        times.sort();
        times.get(times.len() / 2).copied().unwrap_or_default()
    }
}

/// Security settings among the `-X` ones: the producer and the consumer
/// share them (other keys are the producer's and the consumer would refuse
/// them).
fn shared_settings(settings: &Settings) -> impl Iterator<Item = (&str, &str)> {
    settings
        .client_settings
        .iter()
        .filter(|(k, _)| {
            ["security.", "ssl.", "sasl."]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Runs the phase with `producer` (the last producer phase's, awake and
/// connected) producing to partition 0 of the topic.
pub(crate) fn run(
    settings: &Settings,
    bootstrap: &str,
    producer: &Producer,
    progress: &mut dyn Progress,
) -> Result<ConsumerPhase, DemoError> {
    // The consumer's defaults (fetch.max.wait.ms 500 ms, as Java's): the
    // mock, like a broker, answers a held fetch as soon as a record arrives.
    let own = [
        ("bootstrap.servers", bootstrap),
        ("client.id", "rouse-demo-wakeup"),
        ("auto.offset.reset", "latest"),
    ];
    let config = ConsumerConfig::from_pairs(own.into_iter().chain(shared_settings(settings)))
        .map_err(|e| DemoError::Consumer(e.to_string()))?;
    let fetch_max_wait = config.fetch_max_wait();
    let consumer = Consumer::new(config).map_err(|e| DemoError::Consumer(e.to_string()))?;
    let tp = TopicPartition::new(settings.topic.as_str(), 0);
    consumer
        .assign([tp.clone()])
        .map_err(|e| DemoError::Consumer(e.to_string()))?;
    // The end of the partition, so the phase starts from a consumer that
    // knows where it reads and has nothing buffered.
    consumer
        .position(&tp, Duration::from_secs(15))
        .map_err(|e| DemoError::Consumer(format!("finding the end of {tp}: {e}")))?;
    let before = consumer.stats().waker;
    let mut events = Vec::new();
    for seq in 1..=settings.sends {
        for wake in [Wake::Record, Wake::Wakeup] {
            let event = one_event(settings, &consumer, producer, wake, seq)?;
            progress.consumer_row(&event);
            events.push(event);
        }
    }
    let after = consumer.stats().waker;
    let _ = consumer.close(Duration::from_secs(5));
    Ok(ConsumerPhase {
        events,
        fetch_max_wait,
        wakes_requested: after.wakes_requested - before.wakes_requested,
        wake_syscalls: after.wake_syscalls - before.wake_syscalls,
    })
}

/// Blocks in `poll` while another thread, after `interval`, produces a
/// record or calls `wakeup()`.
fn one_event(
    settings: &Settings,
    consumer: &Consumer,
    producer: &Producer,
    wake: Wake,
    seq: u32,
) -> Result<Event, DemoError> {
    let (polled, other) = std::thread::scope(|s| {
        let other = s.spawn(|| -> Result<Instant, DemoError> {
            std::thread::sleep(settings.interval);
            match wake {
                Wake::Wakeup => {
                    let at = Instant::now();
                    consumer.wakeup();
                    Ok(at)
                }
                Wake::Record => {
                    let record = Record::key_value(
                        settings.topic.as_str(),
                        format!("consumer-{seq}"),
                        format!("record {seq} for the blocked poll"),
                    )
                    .with_partition(0);
                    let future = producer
                        .send(record)
                        .map_err(|e| DemoError::Producer(e.to_string()))?;
                    match future.wait_timeout(settings.poll_timeout * 3 + Duration::from_secs(30)) {
                        Some(Ok(_)) => Ok(Instant::now()),
                        Some(Err(e)) => Err(DemoError::Delivery(e.to_string())),
                        None => Err(DemoError::Delivery("no acknowledgement".into())),
                    }
                }
            }
        });
        let started = Instant::now();
        let polled = consumer.poll(settings.poll_timeout);
        let returned = Instant::now();
        let other = other
            .join()
            .unwrap_or_else(|_| Err(DemoError::Consumer("the other thread panicked".into())));
        ((polled, started, returned), other)
    });
    let (polled, started, returned) = polled;
    let cause = other?;
    let got = match (wake, polled) {
        (Wake::Record, Ok(records)) if !records.is_empty() => Ok(()),
        (Wake::Record, Ok(_)) => Err(format!(
            "poll({:.1} s) returned no record although one was acknowledged",
            settings.poll_timeout.as_secs_f64()
        )),
        (Wake::Wakeup, Err(ConsumerError::Wakeup)) => Ok(()),
        (_, other) => Err(format!("{} event: poll returned {other:?}", wake.name())),
    };
    got.map_err(DemoError::Consumer)?;
    Ok(Event {
        seq,
        wake,
        returned_after: returned.saturating_duration_since(cause),
        blocked: returned - started,
    })
}

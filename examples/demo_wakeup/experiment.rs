//! The experiment itself, free of printing so the integration test can run
//! it: a producer whose poller blocks with a long poll timeout, and a sender
//! that sends one record every `interval`, once with wakeups off and once on;
//! then (unless turned off) the consumer phase of `consumer.rs`: a consumer
//! blocked in `poll` woken by a record and by `wakeup()`.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use rouse_kafka::{Producer, ProducerConfig, Record};
use rouse_kafka_mock::{ClusterConfig, MockCluster};

use super::consumer::{self, ConsumerPhase, Event};

/// The experiment's settings.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The poller's poll timeout (`rouse.poll.timeout.ms`).
    pub(crate) poll_timeout: Duration,
    /// Time between two sends.
    pub(crate) interval: Duration,
    /// Sends per phase.
    pub(crate) sends: u32,
    /// The topic records go to.
    pub(crate) topic: String,
    /// A broker to use instead of the embedded mock cluster.
    pub(crate) bootstrap: Option<String>,
    /// `-X key=value` settings, given to the producer after the demo's own
    /// (so they win): security settings for a secured broker, say.
    pub(crate) client_settings: Vec<(String, String)>,
    /// Run the consumer phase after the producer's two.
    pub(crate) consumer: bool,
}

/// One send, as measured.
#[derive(Clone, Debug)]
pub(crate) struct Send {
    /// 1-based number within its phase.
    pub(crate) seq: u32,
    /// How long the poller's poll had lasted when it saw the record.
    pub(crate) poll: Option<Duration>,
    /// From `send` to the broker's acknowledgement.
    pub(crate) ack: Duration,
    /// Where the record landed.
    pub(crate) partition: i32,
    /// Its offset.
    pub(crate) offset: i64,
}

/// One phase: every send with wakeups off, or every send with them on.
#[derive(Clone, Debug)]
pub(crate) struct Phase {
    /// Whether senders woke the poller.
    pub(crate) wakeups: bool,
    /// The sends, in order.
    pub(crate) sends: Vec<Send>,
    /// Wakes the producer asked for.
    pub(crate) wakes_requested: u64,
    /// Of those, the ones that cost a syscall.
    pub(crate) wake_syscalls: u64,
}

impl Phase {
    /// Median send-to-ack time.
    pub(crate) fn median_ack(&self) -> Duration {
        let mut acks: Vec<Duration> = self.sends.iter().map(|s| s.ack).collect();
        acks.sort();
        acks.get(acks.len() / 2).copied().unwrap_or_default()
    }

    /// Largest send-to-ack time.
    pub(crate) fn max_ack(&self) -> Duration {
        self.sends.iter().map(|s| s.ack).max().unwrap_or_default()
    }
}

/// The whole run.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    /// What was asked for.
    pub(crate) settings: Settings,
    /// Where it ran: the bootstrap address and whether it was the mock.
    pub(crate) bootstrap: String,
    /// True when the embedded mock cluster served the run.
    pub(crate) embedded_mock: bool,
    /// Wakeups off, then on.
    pub(crate) phases: Vec<Phase>,
    /// The consumer phase, when it ran.
    pub(crate) consumer: Option<ConsumerPhase>,
}

/// What a newcomer can hit, each with the one thing to do about it.
#[derive(Debug)]
pub(crate) enum DemoError {
    /// Nothing listens at the bootstrap address.
    Unreachable(String),
    /// The embedded cluster could not start.
    Mock(String),
    /// The producer refused its configuration or a record.
    Producer(String),
    /// The consumer refused its configuration, or its poll did not return
    /// what the event should have made it return.
    Consumer(String),
    /// A record was not acknowledged.
    Delivery(String),
}

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DemoError::Unreachable(what) => write!(
                f,
                "{what}: start a broker (`cargo xtask broker --topic rouse-demo:1`) or drop \
                 --bootstrap to use the embedded mock cluster"
            ),
            DemoError::Mock(what) => write!(f, "the embedded mock cluster failed: {what}"),
            DemoError::Producer(what) => write!(f, "{what}"),
            DemoError::Consumer(what) => write!(f, "the consumer phase: {what}"),
            DemoError::Delivery(what) => write!(
                f,
                "a record was not delivered: {what}; check that the broker is up and the topic \
                 exists"
            ),
        }
    }
}

/// Live progress while a send waits for its acknowledgement.
pub(crate) trait Progress {
    /// A row finished.
    fn row(&mut self, wakeups: bool, send: &Send);
    /// Still waiting on `seq` for `waited`.
    fn waiting(&mut self, wakeups: bool, seq: u32, waited: Duration);
    /// A consumer-phase event finished.
    fn consumer_row(&mut self, _event: &Event) {}
}

/// Runs both phases; `progress` sees every row as it happens.
pub(crate) fn run(settings: &Settings, progress: &mut dyn Progress) -> Result<Report, DemoError> {
    let (_mock, bootstrap) = match &settings.bootstrap {
        Some(address) => {
            check_reachable(address)?;
            (None, address.clone())
        }
        None => {
            let cluster = MockCluster::start(ClusterConfig::new(1))
                .map_err(|e| DemoError::Mock(e.to_string()))?;
            cluster
                .create_topic(&settings.topic, 1)
                .map_err(|e| DemoError::Mock(e.to_string()))?;
            let bootstrap = cluster.bootstrap_servers();
            (Some(cluster), bootstrap)
        }
    };
    let phases = [false, true]
        .into_iter()
        .map(|wakeups| run_phase(settings, &bootstrap, wakeups, progress))
        .collect::<Result<_, _>>()?;
    let embedded_mock = settings.bootstrap.is_none();
    let consumer = if settings.consumer {
        let producer = producer(settings, &bootstrap, true)?;
        deliver(&producer, settings, true, 0, &mut NoProgress)?;
        let phase = consumer::run(settings, &bootstrap, &producer, progress);
        let _ = producer.close(Duration::from_secs(5));
        Some(phase?)
    } else {
        None
    };
    Ok(Report {
        settings: settings.clone(),
        bootstrap,
        embedded_mock,
        phases,
        consumer,
    })
}

/// The demo's producer, with wakeups on or off.
fn producer(settings: &Settings, bootstrap: &str, wakeups: bool) -> Result<Producer, DemoError> {
    let poll_ms = settings.poll_timeout.as_millis().to_string();
    let own = [
        ("bootstrap.servers", bootstrap),
        ("client.id", "rouse-demo-wakeup"),
        ("acks", "all"),
        ("linger.ms", "0"),
        ("max.block.ms", "10000"),
        ("rouse.wakeups", if wakeups { "true" } else { "false" }),
        ("rouse.poll.timeout.ms", poll_ms.as_str()),
    ];
    let given = settings
        .client_settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let config = ProducerConfig::from_pairs(own.into_iter().chain(given))
        .map_err(|e| DemoError::Producer(e.to_string()))?;
    Producer::new(config).map_err(|e| DemoError::Producer(e.to_string()))
}

/// One phase with its own producer, so the two cannot share state.
fn run_phase(
    settings: &Settings,
    bootstrap: &str,
    wakeups: bool,
    progress: &mut dyn Progress,
) -> Result<Phase, DemoError> {
    let producer = producer(settings, bootstrap, wakeups)?;
    // A first record, not measured, so connection set-up and metadata are
    // out of the way: both phases then start from a poller that is asleep.
    deliver(&producer, settings, wakeups, 0, &mut NoProgress)?;
    let before = producer.stats();
    let mut sends = Vec::new();
    for seq in 1..=settings.sends {
        std::thread::sleep(settings.interval);
        let send = deliver(&producer, settings, wakeups, seq, progress)?;
        progress.row(wakeups, &send);
        sends.push(send);
    }
    let after = producer.stats();
    let _ = producer.close(Duration::from_secs(5));
    Ok(Phase {
        wakeups,
        sends,
        wakes_requested: after.wakes_requested - before.wakes_requested,
        wake_syscalls: after.wake_syscalls - before.wake_syscalls,
    })
}

/// Sends one record and waits for its acknowledgement, reporting progress.
fn deliver(
    producer: &Producer,
    settings: &Settings,
    wakeups: bool,
    seq: u32,
    progress: &mut dyn Progress,
) -> Result<Send, DemoError> {
    let value = format!(
        "send {seq} with wakeups {}",
        if wakeups { "on" } else { "off" }
    );
    let record = Record::key_value(settings.topic.as_str(), format!("demo-{seq}"), value);
    let started = Instant::now();
    let future = producer
        .send(record)
        .map_err(|e| DemoError::Producer(e.to_string()))?;
    // Never wait forever: a record unacknowledged after a few poll timeouts
    // means something is broken, and the producer's own timeouts say what.
    let give_up = started + settings.poll_timeout * 3 + Duration::from_secs(30);
    let metadata = loop {
        if let Some(outcome) = future.wait_timeout(Duration::from_millis(100)) {
            break outcome.map_err(|e| DemoError::Delivery(e.to_string()))?;
        }
        if Instant::now() > give_up {
            return Err(DemoError::Delivery(format!(
                "no acknowledgement after {:.1} s",
                started.elapsed().as_secs_f64()
            )));
        }
        progress.waiting(wakeups, seq, started.elapsed());
    };
    Ok(Send {
        seq,
        poll: metadata.poll_duration,
        ack: started.elapsed(),
        partition: metadata.partition,
        offset: metadata.offset,
    })
}

/// Fails fast, with the address, when nothing listens there.
fn check_reachable(bootstrap: &str) -> Result<(), DemoError> {
    let first = bootstrap.split(',').next().unwrap_or(bootstrap).trim();
    let addresses: Vec<SocketAddr> = first
        .to_socket_addrs()
        .map_err(|e| DemoError::Unreachable(format!("cannot resolve {first:?} ({e})")))?
        .collect();
    let reachable = addresses
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(3)).is_ok());
    if reachable {
        Ok(())
    } else {
        Err(DemoError::Unreachable(format!(
            "no broker answers at {first}"
        )))
    }
}

/// Progress that shows nothing (the warm-up record).
struct NoProgress;

impl Progress for NoProgress {
    fn row(&mut self, _: bool, _: &Send) {}
    fn waiting(&mut self, _: bool, _: u32, _: Duration) {}
}

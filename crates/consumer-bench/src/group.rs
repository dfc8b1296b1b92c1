//! The group table of `cargo xtask bench consumer`: what joining a consumer
//! group costs, two members of one client (two processes) in a fresh group
//! on a fresh topic of [`PARTITIONS`] partitions.
//!
//! ```text
//!  time ─►  fill PREFILL records
//!           member 1 subscribes ── reads the PREFILL (its time to the first record)
//!           + SETTLE: bench-produce sends STREAM records at RATE/s, each stamped
//!           + JOIN_AFTER: member 2 subscribes ── the group rebalances ──
//!                member 1's longest pause, member 2's time to its first record,
//!                the largest produce-to-poll latency of any record
//!           both stop TAIL after the stream ends; together they must have
//!           read every record (more: read twice after the rebalance)
//! ```
//!
//! tansu's coordinator holds every JoinGroup for half the group's
//! `session.timeout.ms` (22.5 s at the clients' default of 45 s) before it
//! answers, whoever the members are; at that default every figure would be
//! tansu's wait. Both clients therefore run with
//! [`SESSION_TIMEOUT_MS`], every other setting at its default
//! (`heartbeat.interval.ms` 3000 for both).

use std::path::Path;
use std::time::Duration;

use rouse_bench_support::broker::Broker;
use rouse_bench_support::consume::now_us;

use crate::run::{self, Job, Peer, Row, Sample};
use crate::PARTITIONS;

/// A row of the group table: the assignors both members ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Each client's default `partition.assignment.strategy`: rouse's
    /// (Java's) `range,cooperative-sticky`, librdkafka's
    /// `range,roundrobin`; both groups choose `range`, eager.
    Defaults,
    /// `cooperative-sticky` for both: incremental rebalancing.
    CooperativeSticky,
}

impl Strategy {
    /// The rows, in order.
    pub(crate) const ALL: [Strategy; 2] = [Strategy::Defaults, Strategy::CooperativeSticky];

    /// The row's label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Strategy::Defaults => "defaults",
            Strategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The settings both members get beyond `group.id` and
    /// `auto.offset.reset`.
    pub(crate) fn props(self) -> Vec<String> {
        let mut props = vec![format!("session.timeout.ms={SESSION_TIMEOUT_MS}")];
        if self == Strategy::CooperativeSticky {
            props.push("partition.assignment.strategy=cooperative-sticky".into());
        }
        props
    }
}

/// Both members' `session.timeout.ms` (see the module's note on tansu).
pub(crate) const SESSION_TIMEOUT_MS: u32 = 6000;
/// Records in the topic before member 1 subscribes.
pub(crate) const PREFILL: u64 = 1000;
/// From member 1's start to the stream's: it must have joined and read
/// the prefill by then (a run where it has not fails, saying so).
pub(crate) const SETTLE: Duration = Duration::from_secs(6);
/// The stream's rate, records/s.
pub(crate) const RATE: f64 = 1000.0;
/// Records in the stream: 15 s at the rate.
pub(crate) const STREAM: u64 = 15_000;
/// From the stream's start to member 2's.
pub(crate) const JOIN_AFTER: Duration = Duration::from_secs(3);
/// How long both members go on after the stream's end.
pub(crate) const TAIL: Duration = Duration::from_secs(3);
/// The records: 100 B, uncompressed.
const ROW: Row = Row {
    record_size: 100,
    compression: "none",
};

/// One run of the group table for `peer`'s client on a fresh `topic`.
pub(crate) fn run(
    broker: &Broker,
    bin_dir: &Path,
    peer: Peer,
    strategy: Strategy,
    topic: &str,
) -> Result<Sample, String> {
    broker.create_topic(topic, PARTITIONS as u32)?;
    run::produce(broker, bin_dir, topic, ROW, PREFILL, None)
        .map_err(|e| format!("filling {topic}: {e}"))?;
    // Records stamped before now were waiting for the run, not for a
    // member: their latency is not counted.
    let since = now_us();
    let group = format!("{topic}-{}", peer.name());
    let stream_s = STREAM as f64 / RATE;
    let member = |max_seconds: f64| Job {
        group: group.clone(),
        subscribe: true,
        latency_warmup: Some(0),
        latency_since_us: since,
        max_seconds: Some(max_seconds),
        props: strategy.props(),
        ..Job::new(peer, topic, PARTITIONS, PREFILL + STREAM)
    };
    let first = member(SETTLE.as_secs_f64() + stream_s + TAIL.as_secs_f64());
    let second = member(stream_s - JOIN_AFTER.as_secs_f64() + TAIL.as_secs_f64());
    let (m1, stream_at, produced, m2) = std::thread::scope(|scope| {
        let m1 = scope.spawn(|| run::run_peer(broker, bin_dir, &first));
        std::thread::sleep(SETTLE);
        let stream_at = now_us();
        let producer =
            scope.spawn(|| run::produce(broker, bin_dir, topic, ROW, STREAM, Some(RATE)));
        std::thread::sleep(JOIN_AFTER);
        let m2 = run::run_peer(broker, bin_dir, &second);
        let panicked = "the measuring thread panicked".to_string();
        let m1 = m1.join().unwrap_or_else(|_| Err(panicked.clone()));
        let produced = producer.join().unwrap_or(Err(panicked));
        (m1, stream_at, produced, m2)
    });
    produced.map_err(|e| format!("the stream: {e}"))?;
    let (_, m1) = m1.map_err(|e| format!("member 1: {e}"))?;
    let (_, m2) = m2.map_err(|e| format!("member 2: {e}"))?;
    let first_at = m1.get("first_at_us")?;
    if first_at == 0.0 || first_at > stream_at as f64 {
        return Err(format!(
            "member 1 had no record within {SETTLE:?} of its start, when the stream began: \
             its join took longer (raise SETTLE)"
        ));
    }
    let (r1, r2) = (m1.get("records")?, m2.get("records")?);
    if r2 == 0.0 {
        return Err(format!(
            "member 2 got no record within {:.0} s of subscribing",
            second.max_seconds.unwrap_or_default()
        ));
    }
    let want = (PREFILL + STREAM) as f64;
    if r1 + r2 < want {
        return Err(format!(
            "the members read {r1} + {r2} records of {want}: records lost, or a member stopped \
             before it read them"
        ));
    }
    let ms = |us: f64| us / 1000.0;
    Ok(Sample {
        first_record_ms: ms(m1.get("first_us")?),
        join_first_record_ms: ms(m2.get("first_us")?),
        pause_ms: ms(m1.get("max_gap_us")?),
        member1_max_ms: ms(m1.get("max_us")?),
        max_ms: ms(m1.get("max_us")?.max(m2.get("max_us")?)),
        reread: r1 + r2 - want,
        ..Sample::default()
    })
}

/// The group table's description for the bench's Markdown.
pub(crate) fn describe() -> String {
    format!(
        "Per run a fresh topic ({PARTITIONS} partitions) and a fresh group; both members are the \
same client, each its own process (the peer with `--subscribe`). The topic is filled with \
{PREFILL} records (100 B); member 1 subscribes and reads them (**1st member: subscribe to 1st \
record**: from the `subscribe` call to the return of the first `poll` with records); {settle} s \
after member 1's start `bench-produce` sends {STREAM} records at {RATE} records/s (`linger.ms=0`, \
each stamped with its send time) and {join} s into the stream member 2 subscribes (**2nd member: \
subscribe to 1st record**). **1st member's longest pause**: the longest interval between two of \
member 1's polls that returned streamed records: at a steady {RATE} records/s over \
{PARTITIONS} partitions, the time it could not consume while the group rebalanced. **Max \
latency**: the largest produce-to-poll latency of a streamed record, member 1's and either \
member's (a record of a partition that moved waits for its new owner). Both members stop {tail} \
s after the stream ends and together must have read every record; **records read twice**: the \
surplus, records read again by the partition's new owner. Rows: each client's default \
`partition.assignment.strategy` (rouse: Java's `range,cooperative-sticky`; librdkafka: \
`range,roundrobin`; either group chooses `range`, an eager rebalance: every partition revoked, \
then assigned) and both with `cooperative-sticky` (incremental: member 1 keeps the partitions \
that stay; the one that moves is revoked, then assigned to member 2 by a second rebalance). \
Both clients run with `session.timeout.ms={SESSION_TIMEOUT_MS}`, their other settings at their \
defaults (`heartbeat.interval.ms` 3000 for both): tansu holds every JoinGroup for half the \
group's session timeout before answering (22.5 s at the 45 s default), which would make every \
figure tansu's wait.",
        settle = SETTLE.as_secs(),
        join = JOIN_AFTER.as_secs(),
        tail = TAIL.as_secs(),
    )
}

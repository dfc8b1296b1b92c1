//! A paced load through a producer and the bookkeeping that judges it: every
//! record's outcomes as they arrive, then, against what the broker stored,
//! the records lost, duplicated, reordered, and without exactly one outcome.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rouse_kafka::{DeliveryResult, Producer, Record};

/// One record sent: where it went and every outcome it got, with when.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) seq: usize,
    pub(crate) partition: i32,
    pub(crate) at: Instant,
    pub(crate) outcomes: Mutex<Vec<(Instant, Result<i64, String>)>>,
}

/// A record's value: the tag of its run and its sequence number.
pub(crate) fn value(tag: &str, seq: usize) -> String {
    format!("{tag}-{seq:08}")
}

/// Sends `rate` records a second for `duration`, record `seq` to partition
/// `seq % partitions`, each with a callback that notes its outcome. A send
/// the producer refuses counts as an outcome (an error) at once.
pub(crate) fn run(
    producer: &Producer,
    topic: &str,
    partitions: i32,
    rate: u32,
    duration: Duration,
    tag: &str,
) -> Vec<Arc<Sent>> {
    let started = Instant::now();
    let total = (f64::from(rate) * duration.as_secs_f64()) as usize;
    let mut sent = Vec::with_capacity(total);
    for seq in 0..total {
        let due = started + Duration::from_secs_f64(seq as f64 / f64::from(rate));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let partition = (seq % partitions as usize) as i32;
        let record = Sent {
            seq,
            partition,
            at: Instant::now(),
            outcomes: Mutex::new(Vec::new()),
        };
        let record = Arc::new(record);
        let noted = Arc::clone(&record);
        let kafka_record = Record::value(topic, value(tag, seq)).with_partition(partition);
        let callback = move |result: DeliveryResult| {
            let outcome = result
                .map(|meta| meta.offset)
                .map_err(|e| format!("{:?}", e.kind()));
            noted.outcomes.lock().push((Instant::now(), outcome));
        };
        if let Err(error) = producer.send_with_callback(kafka_record, callback) {
            let refused = format!("refused by send: {error}");
            record.outcomes.lock().push((Instant::now(), Err(refused)));
        }
        sent.push(record);
    }
    sent
}

/// Waits (bounded) until every record has an outcome.
pub(crate) fn wait_for_outcomes(sent: &[Arc<Sent>], within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if sent.iter().all(|s| !s.outcomes.lock().is_empty()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a run came to.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) sent: usize,
    pub(crate) delivered: usize,
    /// Failed records by error kind.
    pub(crate) failed: BTreeMap<String, usize>,
    /// Acknowledged, but not stored.
    pub(crate) lost: usize,
    /// Acknowledged and stored, but not at the offset the acknowledgement
    /// gave (the broker reported a wrong offset, e.g. for a duplicate).
    pub(crate) misplaced: usize,
    /// Acknowledged without an offset (-1: the broker gave none).
    pub(crate) no_offset: usize,
    /// Stored more than once.
    pub(crate) duplicated: usize,
    /// Stored after a later record of the same partition.
    pub(crate) reordered: usize,
    /// With no outcome, or more than one.
    pub(crate) without_one_outcome: usize,
    /// Failed, yet stored once (a timeout cannot know; not an error).
    pub(crate) failed_but_stored: usize,
    /// Records sent after `since` that were not delivered.
    pub(crate) undelivered_after: usize,
    /// From `since` to the first acknowledgement after it.
    pub(crate) first_delivery_after: Option<Duration>,
}

impl Report {
    /// Judges `sent` against `stored` (partition → values in offset order,
    /// with offsets). `since`: the end of an outage, for the records that
    /// must all be delivered and the time to the first delivery.
    pub(crate) fn new(
        sent: &[Arc<Sent>],
        stored: &HashMap<i32, Vec<(i64, String)>>,
        tag: &str,
        since: Option<Instant>,
    ) -> Report {
        let mut report = Report {
            sent: sent.len(),
            ..Report::default()
        };
        let mut copies: HashMap<&str, usize> = HashMap::new();
        let mut at: HashMap<(i32, i64), &str> = HashMap::new();
        for (partition, values) in stored {
            let mut last: Option<usize> = None;
            for (offset, value) in values {
                let Some(seq) = value
                    .strip_prefix(tag)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                *copies.entry(value).or_default() += 1;
                at.insert((*partition, *offset), value);
                if last.is_some_and(|l| l >= seq) {
                    report.reordered += 1;
                }
                last = Some(seq);
            }
        }
        report.duplicated = copies.values().filter(|n| **n > 1).count();
        for record in sent {
            let outcomes = record.outcomes.lock();
            if outcomes.len() != 1 {
                report.without_one_outcome += 1;
            }
            let want = value(tag, record.seq);
            let Some((when, outcome)) = outcomes.first() else {
                continue;
            };
            let after = since.is_some_and(|s| record.at >= s);
            match outcome {
                Ok(offset) => {
                    report.delivered += 1;
                    if !copies.contains_key(want.as_str()) {
                        report.lost += 1;
                    } else if *offset < 0 {
                        report.no_offset += 1;
                    } else if at.get(&(record.partition, *offset)) != Some(&want.as_str()) {
                        report.misplaced += 1;
                    }
                    if let Some(since) = since.filter(|s| when >= s) {
                        let took = *when - since;
                        report.first_delivery_after =
                            Some(report.first_delivery_after.map_or(took, |t| t.min(took)));
                    }
                }
                Err(kind) => {
                    *report.failed.entry(kind.clone()).or_default() += 1;
                    if copies.contains_key(want.as_str()) {
                        report.failed_but_stored += 1;
                    }
                    if after {
                        report.undelivered_after += 1;
                    }
                }
            }
        }
        report
    }

    /// Panics unless nothing was lost, acknowledged at a wrong offset,
    /// duplicated, reordered or left without exactly one outcome, and every
    /// record sent after the outage was delivered.
    pub(crate) fn assert_clean(&self, what: &str) {
        assert_eq!(
            (
                self.lost,
                self.misplaced,
                self.duplicated,
                self.reordered,
                self.without_one_outcome,
                self.undelivered_after
            ),
            (0, 0, 0, 0, 0, 0),
            "{what}: {self}"
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {} delivered {} failed {:?} (stored anyway {}) lost {} misplaced {} without offset {} duplicated {} \
             reordered {} without one outcome {} undelivered after the outage {} first delivery \
             after it {}",
            self.sent,
            self.delivered,
            self.failed,
            self.failed_but_stored,
            self.lost,
            self.misplaced,
            self.no_offset,
            self.duplicated,
            self.reordered,
            self.without_one_outcome,
            self.undelivered_after,
            self.first_delivery_after
                .map_or_else(|| "-".to_owned(), |d| format!("{} ms", d.as_millis())),
        )
    }
}

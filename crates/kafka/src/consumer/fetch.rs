//! Fetch, without I/O: the request per leader built from the partitions'
//! state, and what each partition of the answer means.
//!
//! ```text
//!   no error ───────────────────────────► Records (decoded, high watermark)
//!   NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION,
//!   LEADER_NOT_AVAILABLE, REPLICA_NOT_AVAILABLE, KAFKA_STORAGE_ERROR,
//!   OFFSET_NOT_AVAILABLE ───────────────► RefreshMetadata
//!   OFFSET_OUT_OF_RANGE ────────────────► OffsetOutOfRange (auto.offset.reset)
//!   other retriable errors, left out ───► Retry
//!   anything else ──────────────────────► Fatal (the partition stops)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::decode::{self, AbortedTxn, DecodeOptions, Decoded};
use super::positions::{Fetchable, Positions};
use crate::config::{ConsumerConfig, IsolationLevel};
use crate::record::{BrokerId, TopicPartition};

/// A partition's leader, as metadata names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leader {
    pub(crate) broker: BrokerId,
    /// The leader epoch metadata reported (Metadata v7+), sent with
    /// fetches so a stale leader answers FENCED_LEADER_EPOCH.
    pub(crate) epoch: Option<i32>,
}

/// One Fetch request to send, and what it asked for.
#[derive(Debug)]
pub(crate) struct PlannedFetch {
    pub(crate) broker: BrokerId,
    pub(crate) request: FetchRequest,
    pub(crate) sent: Vec<Fetchable>,
}

/// The fetches to send now.
#[derive(Debug, Default)]
pub(crate) struct FetchPlan {
    pub(crate) fetches: Vec<PlannedFetch>,
    /// Fetchable partitions with no known leader: metadata is needed.
    pub(crate) without_leader: Vec<TopicPartition>,
}

/// One Fetch per leader over every fetchable partition, at `version`
/// (per broker, so `version_of` answers for each); the partitions fetched
/// are marked in flight.
///
/// A broker answers one connection's requests in order, so a fetch that
/// waits out `fetch.max.wait.ms` on an idle partition holds back every
/// fetch sent after it to that broker. While some partition of a leader is
/// held back by a full buffer (the application is draining it, and it
/// will be fetchable within moments), that leader's fetch therefore does
/// not wait (`max_wait_ms` 0) and leaves out partitions that have caught
/// up with their log; if nothing else is left, no fetch is sent until the
/// buffer drains and every partition can go in one waiting fetch.
pub(crate) fn plan_fetches(
    positions: &mut Positions,
    leaders: &HashMap<TopicPartition, Leader>,
    config: &ConsumerConfig,
    version_of: impl Fn(BrokerId) -> i16,
) -> FetchPlan {
    let mut plan = FetchPlan::default();
    let held: BTreeSet<BrokerId> = positions
        .held_back()
        .filter_map(|tp| leaders.get(tp).map(|l| l.broker))
        .collect();
    let mut by_leader: BTreeMap<BrokerId, Vec<(Fetchable, Option<i32>)>> = BTreeMap::new();
    for fetchable in positions.fetchable() {
        match leaders.get(&fetchable.partition) {
            Some(leader) if held.contains(&leader.broker) && positions.caught_up(&fetchable) => {}
            Some(leader) => by_leader
                .entry(leader.broker)
                .or_default()
                .push((fetchable, leader.epoch)),
            None => plan.without_leader.push(fetchable.partition),
        }
    }
    for (broker, partitions) in by_leader {
        let max_wait = if held.contains(&broker) {
            0
        } else {
            config.fetch_max_wait().as_millis() as i32
        };
        let version = version_of(broker);
        let mut topics: Vec<FetchTopic> = Vec::new();
        for (f, epoch) in &partitions {
            positions.mark_fetching(&f.partition);
            let mut partition = FetchPartition::default()
                .with_partition(f.partition.partition)
                .with_fetch_offset(f.position.offset)
                .with_partition_max_bytes(config.max_partition_fetch_bytes() as i32);
            if version >= 9 {
                partition = partition.with_current_leader_epoch(epoch.unwrap_or(-1));
            }
            let name = &*f.partition.topic;
            match topics.last_mut() {
                Some(t) if &*t.topic.0 == name => t.partitions.push(partition),
                _ => topics.push(
                    FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(name.to_owned())))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        let mut request = FetchRequest::default()
            .with_max_wait_ms(max_wait)
            .with_min_bytes(config.fetch_min_bytes() as i32)
            .with_max_bytes(config.fetch_max_bytes() as i32)
            .with_isolation_level(config.isolation_level().wire_value())
            // No fetch session: every fetch is a full one (session 0, epoch -1).
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics);
        // KIP-392 (v11+): the broker may pick a replica in our rack.
        if version >= 11 {
            let rack = config.client_rack().unwrap_or_default();
            request.rack_id = StrBytes::from_string(rack.to_owned());
        }
        plan.fetches.push(PlannedFetch {
            broker,
            request,
            sent: partitions.into_iter().map(|(f, _)| f).collect(),
        });
    }
    plan
}

/// What one partition's answer means.
#[derive(Debug)]
pub(crate) enum FetchVerdict {
    /// Records (possibly none) to buffer, and where the log ends.
    Records {
        decoded: Decoded,
        high_watermark: i64,
        /// `max.partition.fetch.bytes`, for the error when not even one
        /// batch fitted.
        limit: usize,
    },
    /// The fetch offset is outside the log.
    OffsetOutOfRange,
    /// The leader may have moved; the error's name.
    RefreshMetadata(String),
    /// Try again after the backoff; why.
    Retry(String),
    /// The broker refused the partition for good: its error code.
    Fatal(i16),
}

/// The verdict for each partition `sent` asked for, in that order. Takes
/// the response by value so the records are sliced, not copied.
pub(crate) fn fetch_verdicts(
    response: FetchResponse,
    sent: &[Fetchable],
    config: &ConsumerConfig,
) -> Vec<FetchVerdict> {
    let top = response.error_code;
    let mut answers: HashMap<(String, i32), PartitionData> = HashMap::new();
    for topic in response.responses {
        let name = topic.topic.0.to_string();
        for p in topic.partitions {
            answers.insert((name.clone(), p.partition_index), p);
        }
    }
    let options = DecodeOptions {
        check_crcs: config.check_crcs(),
        read_committed: config.isolation_level() == IsolationLevel::ReadCommitted,
    };
    sent.iter()
        .map(|f| {
            if top != 0 {
                return by_code(top);
            }
            let key = (f.partition.topic.to_string(), f.partition.partition);
            let Some(answer) = answers.remove(&key) else {
                return FetchVerdict::Retry(format!("the Fetch response left out {}", f.partition));
            };
            if answer.error_code != 0 {
                return by_code(answer.error_code);
            }
            let aborted: Vec<AbortedTxn> = answer
                .aborted_transactions
                .unwrap_or_default()
                .iter()
                .map(|a| AbortedTxn {
                    first_offset: a.first_offset,
                    producer_id: a.producer_id.0,
                })
                .collect();
            let records = answer.records.unwrap_or_default();
            let decoded = decode::decode_partition(
                &f.partition,
                f.position.offset,
                records,
                &aborted,
                options,
            );
            FetchVerdict::Records {
                decoded,
                high_watermark: answer.high_watermark,
                limit: config.max_partition_fetch_bytes(),
            }
        })
        .collect()
}

fn by_code(code: i16) -> FetchVerdict {
    let Some(error) = ResponseError::try_from_code(code) else {
        return FetchVerdict::Fatal(code);
    };
    match error {
        ResponseError::OffsetOutOfRange => FetchVerdict::OffsetOutOfRange,
        ResponseError::NotLeaderOrFollower
        | ResponseError::FencedLeaderEpoch
        | ResponseError::UnknownTopicOrPartition
        | ResponseError::LeaderNotAvailable
        | ResponseError::ReplicaNotAvailable
        | ResponseError::KafkaStorageError
        | ResponseError::OffsetNotAvailable => FetchVerdict::RefreshMetadata(error.to_string()),
        e if e.is_retriable() => FetchVerdict::Retry(e.to_string()),
        _ => FetchVerdict::Fatal(code),
    }
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;

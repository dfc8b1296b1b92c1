//! ListOffsets, without I/O: the request per leader for the partitions
//! waiting for a reset (seek_to_beginning/end, `auto.offset.reset`), and
//! what each partition of the answer means.
//!
//! ```text
//!   no error, offset >= 0 ──────────────► Offset (the new position)
//!   NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
//!   UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, REPLICA_NOT_AVAILABLE,
//!   KAFKA_STORAGE_ERROR, OFFSET_NOT_AVAILABLE ──► RefreshMetadata
//!   other retriable errors, left out, offset -1 ► Retry
//!   anything else ──────────────────────► Fatal
//! ```

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::fetch::Leader;
use super::positions::{Position, Positions, ResetTo};
use crate::config::IsolationLevel;
use crate::record::{BrokerId, TopicPartition};

/// One reset asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentReset {
    pub(crate) partition: TopicPartition,
    pub(crate) to: ResetTo,
    pub(crate) generation: u64,
}

/// One ListOffsets request to send, and what it asked for.
#[derive(Debug)]
pub(crate) struct PlannedListOffsets {
    pub(crate) broker: BrokerId,
    pub(crate) request: ListOffsetsRequest,
    pub(crate) sent: Vec<SentReset>,
}

/// The ListOffsets requests to send now, and the resets whose partition
/// has no known leader (asked again after a metadata refresh).
#[derive(Debug, Default)]
pub(crate) struct ListOffsetsPlan {
    pub(crate) requests: Vec<PlannedListOffsets>,
    pub(crate) without_leader: Vec<SentReset>,
}

/// One ListOffsets per leader over the resets due; they are marked asked.
pub(crate) fn plan_list_offsets(
    positions: &mut Positions,
    leaders: &HashMap<TopicPartition, Leader>,
    isolation: IsolationLevel,
    version_of: impl Fn(BrokerId) -> i16,
) -> ListOffsetsPlan {
    let mut plan = ListOffsetsPlan::default();
    let mut by_leader: BTreeMap<BrokerId, Vec<(SentReset, Option<i32>)>> = BTreeMap::new();
    for (partition, to, generation) in positions.take_reset_requests() {
        let reset = SentReset {
            partition,
            to,
            generation,
        };
        match leaders.get(&reset.partition) {
            Some(leader) => by_leader
                .entry(leader.broker)
                .or_default()
                .push((reset, leader.epoch)),
            None => plan.without_leader.push(reset),
        }
    }
    for (broker, resets) in by_leader {
        let version = version_of(broker);
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (reset, epoch) in &resets {
            let mut partition = ListOffsetsPartition::default()
                .with_partition_index(reset.partition.partition)
                .with_timestamp(reset.to.timestamp());
            if version >= 4 {
                partition = partition.with_current_leader_epoch(epoch.unwrap_or(-1));
            }
            let name = &*reset.partition.topic;
            match topics.last_mut() {
                Some(t) if &*t.name.0 == name => t.partitions.push(partition),
                _ => topics.push(
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name.to_owned())))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        let mut request = ListOffsetsRequest::default().with_topics(topics);
        if version >= 2 {
            request = request.with_isolation_level(isolation.wire_value());
        }
        plan.requests.push(PlannedListOffsets {
            broker,
            request,
            sent: resets.into_iter().map(|(r, _)| r).collect(),
        });
    }
    plan
}

/// What one partition's ListOffsets answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListOffsetsVerdict {
    /// The new position.
    Offset(Position),
    /// The leader may have moved; the error's name.
    RefreshMetadata(String),
    /// Ask again after the backoff; why.
    Retry(String),
    /// The broker refused the partition for good: its error code.
    Fatal(i16),
}

/// The verdict for each reset `sent` asked for, in that order.
pub(crate) fn list_offsets_verdicts(
    response: &ListOffsetsResponse,
    sent: &[SentReset],
) -> Vec<ListOffsetsVerdict> {
    sent.iter()
        .map(|reset| {
            let answer = response
                .topics
                .iter()
                .filter(|t| *t.name.0 == *reset.partition.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == reset.partition.partition);
            let Some(answer) = answer else {
                return ListOffsetsVerdict::Retry(format!(
                    "the ListOffsets response left out {}",
                    reset.partition
                ));
            };
            if answer.error_code == 0 {
                if answer.offset < 0 {
                    return ListOffsetsVerdict::Retry(format!(
                        "the broker gave no offset for {}",
                        reset.partition
                    ));
                }
                return ListOffsetsVerdict::Offset(Position {
                    offset: answer.offset,
                    leader_epoch: (answer.leader_epoch >= 0).then_some(answer.leader_epoch),
                });
            }
            let code = answer.error_code;
            match ResponseError::try_from_code(code) {
                Some(
                    e @ (ResponseError::NotLeaderOrFollower
                    | ResponseError::FencedLeaderEpoch
                    | ResponseError::UnknownLeaderEpoch
                    | ResponseError::UnknownTopicOrPartition
                    | ResponseError::LeaderNotAvailable
                    | ResponseError::ReplicaNotAvailable
                    | ResponseError::KafkaStorageError
                    | ResponseError::OffsetNotAvailable),
                ) => ListOffsetsVerdict::RefreshMetadata(e.to_string()),
                Some(e) if e.is_retriable() => ListOffsetsVerdict::Retry(e.to_string()),
                _ => ListOffsetsVerdict::Fatal(code),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "list_offsets_tests.rs"]
mod tests;

//! The group coordinator's APIs for a consumer with manual assignment,
//! without I/O: FindCoordinator, OffsetCommit (generation -1, no member,
//! as Java commits for `assign`), OffsetFetch, and verdicts on each.
//!
//! ```text
//!   FindCoordinator: found ─► Found(broker) │ COORDINATOR_NOT_AVAILABLE,
//!                    COORDINATOR_LOAD_IN_PROGRESS, retriable ─► Retry │ else Fatal
//!   OffsetCommit / OffsetFetch, per partition (or the top-level error):
//!     no error ────────────────────────────► Committed / Offset
//!     NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE ─► FindCoordinator again
//!     COORDINATOR_LOAD_IN_PROGRESS, retriable ────► Retry
//!     anything else (unknown partition, authorization, …) ─► Fatal
//! ```

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::positions::Position;
use crate::record::{BrokerId, TopicPartition};

/// What a FindCoordinator answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CoordinatorVerdict {
    /// The group's coordinator and where to reach it.
    Found {
        broker: BrokerId,
        host: String,
        port: i32,
    },
    /// Ask again after the backoff; why.
    Retry(String),
    /// The group cannot be used: the broker's error code.
    Fatal(i16),
}

/// What one partition's OffsetCommit or OffsetFetch answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GroupVerdict<T> {
    /// Done: for a commit `()`, for a fetch the committed position (`None`
    /// when the group committed nothing for the partition).
    Done(T),
    /// The coordinator moved or is gone: find it again, then retry.
    FindCoordinator(String),
    /// Retry after the backoff; why.
    Retry(String),
    /// Failed for good: the broker's error code.
    Fatal(i16),
}

/// FindCoordinator for `group` at `version` (one key before v4, a list from).
pub(crate) fn find_coordinator(group: &str, version: i16) -> FindCoordinatorRequest {
    let key = StrBytes::from_string(group.to_owned());
    if version >= 4 {
        FindCoordinatorRequest::default().with_coordinator_keys(vec![key])
    } else {
        FindCoordinatorRequest::default().with_key(key)
    }
}

pub(crate) fn coordinator_verdict(
    response: &FindCoordinatorResponse,
    version: i16,
) -> CoordinatorVerdict {
    let (code, node, host, port) = if version >= 4 {
        match response.coordinators.first() {
            Some(c) => (c.error_code, c.node_id.0, c.host.to_string(), c.port),
            None => return CoordinatorVerdict::Retry("no coordinator in the answer".into()),
        }
    } else {
        let r = response;
        (r.error_code, r.node_id.0, r.host.to_string(), r.port)
    };
    if code == 0 && node >= 0 {
        return CoordinatorVerdict::Found {
            broker: BrokerId(node),
            host,
            port,
        };
    }
    match ResponseError::try_from_code(code) {
        None => CoordinatorVerdict::Retry("the answer named no coordinator".into()),
        Some(
            e @ (ResponseError::CoordinatorNotAvailable | ResponseError::CoordinatorLoadInProgress),
        ) => CoordinatorVerdict::Retry(e.to_string()),
        Some(e) if e.is_retriable() => CoordinatorVerdict::Retry(e.to_string()),
        Some(_) => CoordinatorVerdict::Fatal(code),
    }
}

/// OffsetCommit of `offsets` for `group`, outside any group generation.
pub(crate) fn offset_commit(
    group: &str,
    offsets: &[(TopicPartition, Position)],
    version: i16,
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (tp, position) in offsets {
        let mut partition = OffsetCommitRequestPartition::default()
            .with_partition_index(tp.partition)
            .with_committed_offset(position.offset)
            .with_committed_metadata(Some(StrBytes::default()));
        if version >= 6 {
            partition = partition.with_committed_leader_epoch(position.leader_epoch.unwrap_or(-1));
        }
        match topics.last_mut() {
            Some(t) if *t.name.0 == *tp.topic => t.partitions.push(partition),
            _ => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_string(tp.topic.to_string())))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(topics)
}

/// A subscribed member's commit: `request` (from [`offset_commit`]) with
/// the member's generation and id (and, from v7, its `group.instance.id`),
/// so the coordinator takes it only from the partitions' current owner.
pub(crate) fn in_generation(
    request: OffsetCommitRequest,
    generation: i32,
    member_id: &str,
    instance_id: Option<&str>,
    version: i16,
) -> OffsetCommitRequest {
    let instance = instance_id
        .filter(|_| version >= 7)
        .map(|id| StrBytes::from_string(id.to_owned()));
    request
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(StrBytes::from_string(member_id.to_owned()))
        .with_group_instance_id(instance)
}

pub(crate) fn offset_commit_verdicts(
    response: &OffsetCommitResponse,
    sent: &[(TopicPartition, Position)],
) -> Vec<GroupVerdict<()>> {
    sent.iter()
        .map(|(tp, _)| {
            let answer = response
                .topics
                .iter()
                .filter(|t| *t.name.0 == *tp.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == tp.partition);
            match answer {
                None => GroupVerdict::Retry(format!("the OffsetCommit answer left out {tp}")),
                Some(p) => by_code(p.error_code, ()),
            }
        })
        .collect()
}

/// OffsetFetch of `partitions` for `group`.
pub(crate) fn offset_fetch(group: &str, partitions: &[TopicPartition]) -> OffsetFetchRequest {
    let mut topics: Vec<OffsetFetchRequestTopic> = Vec::new();
    for tp in partitions {
        match topics.last_mut() {
            Some(t) if *t.name.0 == *tp.topic => t.partition_indexes.push(tp.partition),
            _ => topics.push(
                OffsetFetchRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_string(tp.topic.to_string())))
                    .with_partition_indexes(vec![tp.partition]),
            ),
        }
    }
    OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_topics(Some(topics))
}

pub(crate) fn offset_fetch_verdicts(
    response: &OffsetFetchResponse,
    sent: &[TopicPartition],
) -> Vec<GroupVerdict<Option<Position>>> {
    sent.iter()
        .map(|tp| {
            if response.error_code != 0 {
                return by_code(response.error_code, None);
            }
            let answer = response
                .topics
                .iter()
                .filter(|t| *t.name.0 == *tp.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == tp.partition);
            let Some(p) = answer else {
                return GroupVerdict::Retry(format!("the OffsetFetch answer left out {tp}"));
            };
            let committed = (p.committed_offset >= 0).then_some(Position {
                offset: p.committed_offset,
                leader_epoch: (p.committed_leader_epoch >= 0).then_some(p.committed_leader_epoch),
            });
            by_code(p.error_code, committed)
        })
        .collect()
}

fn by_code<T>(code: i16, done: T) -> GroupVerdict<T> {
    if code == 0 {
        return GroupVerdict::Done(done);
    }
    match ResponseError::try_from_code(code) {
        Some(e @ (ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable)) => {
            GroupVerdict::FindCoordinator(e.to_string())
        }
        // Retriable for Kafka, but a partition that does not exist will not
        // start to by retrying a commit (Java fails the commit too).
        Some(ResponseError::UnknownTopicOrPartition) => GroupVerdict::Fatal(code),
        Some(e) if e.is_retriable() => GroupVerdict::Retry(e.to_string()),
        _ => GroupVerdict::Fatal(code),
    }
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;

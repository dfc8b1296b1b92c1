//! OffsetFetch: a group's committed offsets, for the partitions asked or
//! (v2+, topics null) for every partition the group committed.
//!
//! A partition without a commit answers offset -1 and empty metadata with
//! no error, as Kafka does. Only the group's coordinator answers
//! (`NOT_COORDINATOR` elsewhere); errors go in the top-level error code
//! from v2 and in every partition. v8+ (several groups per request) is not
//! served.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::find_coordinator::group_error;
use super::{Ctx, Endpoint, Served};
use crate::state::offsets::Committed;
use crate::state::ClusterState;

pub(crate) struct OffsetFetch;

impl Endpoint for OffsetFetch {
    type Req = OffsetFetchRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: OffsetFetchRequest,
    ) -> Served<OffsetFetchResponse> {
        let group = req.group_id.0.to_string();
        if let Some(error) = group_error(state, ctx.broker, &group) {
            return Self::fail(state, ctx, &req, error);
        }
        let asked: Vec<(String, Vec<i32>)> = match &req.topics {
            Some(topics) => topics
                .iter()
                .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                .collect(),
            None => {
                let mut all: Vec<(String, Vec<i32>)> = Vec::new();
                for ((topic, partition), _) in state.offsets.all(&group) {
                    match all.last_mut() {
                        Some((t, partitions)) if t == topic => partitions.push(*partition),
                        _ => all.push((topic.clone(), vec![*partition])),
                    }
                }
                all
            }
        };
        let topics = asked
            .into_iter()
            .map(|(topic, partitions)| {
                let partitions = partitions
                    .into_iter()
                    .map(|p| answer(ctx, p, state.offsets.get(&group, &topic, p), 0))
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(partitions)
            })
            .collect();
        Served::Respond(OffsetFetchResponse::default().with_topics(topics))
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        req: &OffsetFetchRequest,
        error: ResponseError,
    ) -> Served<OffsetFetchResponse> {
        let topics = req
            .topics
            .iter()
            .flatten()
            .map(|t| {
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|&p| answer(ctx, p, None, error.code()))
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        let response = OffsetFetchResponse::default().with_topics(topics);
        Served::Respond(if ctx.version >= 2 {
            response.with_error_code(error.code())
        } else {
            response
        })
    }
}

fn answer(
    ctx: Ctx,
    partition: i32,
    committed: Option<&Committed>,
    code: i16,
) -> OffsetFetchResponsePartition {
    let (offset, epoch, metadata) = committed.map_or((-1, -1, String::new()), |c| {
        (
            c.offset,
            c.leader_epoch,
            c.metadata.clone().unwrap_or_default(),
        )
    });
    let answer = OffsetFetchResponsePartition::default()
        .with_partition_index(partition)
        .with_committed_offset(offset)
        .with_metadata(Some(StrBytes::from_string(metadata)))
        .with_error_code(code);
    if ctx.version >= 5 {
        answer.with_committed_leader_epoch(epoch)
    } else {
        answer
    }
}

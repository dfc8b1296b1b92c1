//! OffsetCommit: stores a group's committed offsets, per partition.
//!
//! Whether a commit is taken is the group coordinator's call
//! (`Groups::check_commit`, as Kafka's `doCommitOffsets`): a commit from
//! outside group management (generation -1, as a consumer with manual
//! assignment sends) is stored for a group with no members; a member's
//! commit must name a member of the current generation
//! (`UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, `FENCED_INSTANCE_ID` for a
//! replaced static member) and gets `REBALANCE_IN_PROGRESS` while the
//! group waits for its leader's assignment. Only the group's coordinator
//! takes commits (`NOT_COORDINATOR` elsewhere), and a partition that does
//! not exist gets `UNKNOWN_TOPIC_OR_PARTITION`.

use std::time::Instant;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::ResponseError;

use super::find_coordinator::group_error;
use super::{Ctx, Endpoint, Served};
use crate::state::offsets::Committed;
use crate::state::ClusterState;

pub(crate) struct OffsetCommit;

impl Endpoint for OffsetCommit {
    type Req = OffsetCommitRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: OffsetCommitRequest,
    ) -> Served<OffsetCommitResponse> {
        let group = req.group_id.0.to_string();
        if let Some(error) = group_error(state, ctx.broker, &group) {
            return Self::fail(state, ctx, &req, error);
        }
        let checked = state.groups.check_commit(
            &group,
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id_or_member_epoch,
            Instant::now(),
        );
        if let Err(error) = checked {
            return Self::fail(state, ctx, &req, error);
        }
        let topics = req
            .topics
            .iter()
            .map(|topic| {
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let known = state.partition(&topic.name.0, p.partition_index).is_ok();
                        let code = if known {
                            let committed = Committed {
                                offset: p.committed_offset,
                                leader_epoch: p.committed_leader_epoch,
                                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                            };
                            state.offsets.commit(
                                &group,
                                &topic.name.0,
                                p.partition_index,
                                committed,
                            );
                            0
                        } else {
                            ResponseError::UnknownTopicOrPartition.code()
                        };
                        partition(p.partition_index, code)
                    })
                    .collect();
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        tracing::debug!(group, "offsets committed");
        Served::Respond(OffsetCommitResponse::default().with_topics(topics))
    }

    fn fail(
        _: &ClusterState,
        _: Ctx,
        req: &OffsetCommitRequest,
        error: ResponseError,
    ) -> Served<OffsetCommitResponse> {
        let topics = req
            .topics
            .iter()
            .map(|topic| {
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| partition(p.partition_index, error.code()))
                    .collect();
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        Served::Respond(OffsetCommitResponse::default().with_topics(topics))
    }
}

fn partition(index: i32, code: i16) -> OffsetCommitResponsePartition {
    OffsetCommitResponsePartition::default()
        .with_partition_index(index)
        .with_error_code(code)
}

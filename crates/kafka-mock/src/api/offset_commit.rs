//! OffsetCommit: stores a group's committed offsets, per partition.
//!
//! Groups are not modelled (no JoinGroup): a commit from outside a group
//! generation (generation -1 and no member id: a consumer with manual
//! assignment, as Java and kafka-python send) is stored; one naming a
//! generation gets `ILLEGAL_GENERATION`, since the mock knows none. Only
//! the group's coordinator takes commits (`NOT_COORDINATOR` elsewhere), and
//! a partition that does not exist gets `UNKNOWN_TOPIC_OR_PARTITION`.

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
        if req.generation_id_or_member_epoch >= 0 || !req.member_id.is_empty() {
            return Self::fail(state, ctx, &req, ResponseError::IllegalGeneration);
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

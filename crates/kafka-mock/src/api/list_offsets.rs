//! ListOffsets: earliest (-2), latest (-1), max-timestamp (-3) and
//! by-timestamp offsets.
//!
//! Latest is the high watermark (the next offset to be written). A timestamp
//! search returns the first record at or after the timestamp, or offset -1
//! when there is none, as Kafka does. A `current_leader_epoch` (v4+) other
//! than the partition's is refused as Fetch refuses it.

use kafka_protocol::messages::list_offsets_request::ListOffsetsPartition;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use super::fetch::epoch_error;
use super::{partition_error, Ctx, Endpoint, Served};
use crate::state::ClusterState;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub(crate) struct ListOffsets;

impl Endpoint for ListOffsets {
    type Req = ListOffsetsRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: ListOffsetsRequest,
    ) -> Served<ListOffsetsResponse> {
        Served::Respond(respond(&req, ctx.version, |topic, p| {
            lookup(state, ctx, topic, p)
        }))
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        req: &ListOffsetsRequest,
        error: ResponseError,
    ) -> Served<ListOffsetsResponse> {
        Served::Respond(respond(req, ctx.version, |_, _| Err(error)))
    }
}

/// Builds the response, asking `answer` for each partition's
/// `(offset, timestamp, leader_epoch)`.
fn respond(
    req: &ListOffsetsRequest,
    version: i16,
    mut answer: impl FnMut(&str, &ListOffsetsPartition) -> Result<(i64, i64, i32), ResponseError>,
) -> ListOffsetsResponse {
    let topics = req
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    match answer(&topic.name.0, p) {
                        Ok((offset, timestamp, epoch)) => {
                            let response = response.with_offset(offset).with_timestamp(timestamp);
                            if version >= 4 {
                                response.with_leader_epoch(epoch)
                            } else {
                                response
                            }
                        }
                        Err(error) => response
                            .with_error_code(error.code())
                            .with_offset(-1)
                            .with_timestamp(-1),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

fn lookup(
    state: &ClusterState,
    ctx: Ctx,
    topic: &str,
    req: &ListOffsetsPartition,
) -> Result<(i64, i64, i32), ResponseError> {
    if let Some(error) = partition_error(state, ctx.broker, topic, req.partition_index) {
        return Err(error);
    }
    let partition = state
        .partition(topic, req.partition_index)
        .map_err(|_| ResponseError::UnknownTopicOrPartition)?;
    let epoch = partition.leader_epoch;
    if let Some(error) = epoch_error(epoch, req.current_leader_epoch) {
        return Err(error);
    }
    let log = &partition.log;
    let (offset, timestamp) = match req.timestamp {
        LATEST => (log.high_watermark(), -1),
        EARLIEST => (log.log_start(), -1),
        MAX_TIMESTAMP => log.max_timestamp().unwrap_or((-1, -1)),
        ts if ts >= 0 => log.offset_for_timestamp(ts).unwrap_or((-1, -1)),
        _ => return Err(ResponseError::InvalidRequest),
    };
    Ok((offset, timestamp, epoch))
}

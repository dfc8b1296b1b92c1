//! Produce: validate RecordBatch v2 sets and append them to partition logs.
//!
//! Per partition, in this order: unknown topic or partition →
//! `UNKNOWN_TOPIC_OR_PARTITION`; this broker not the leader →
//! `NOT_LEADER_OR_FOLLOWER`; a batch with a bad frame, magic or CRC-32C →
//! `CORRUPT_MESSAGE`; one that breaks a producer rule (no records, offsets
//! not numbered from 0, control batch) → `INVALID_RECORD`; idempotence
//! checks (see [`crate::state::producer`], including `UNKNOWN_PRODUCER_ID`
//! in strict mode); otherwise the batches are
//! appended and the first base offset is returned.
//!
//! `acks` 1 and -1 behave alike (there are no followers to wait for);
//! `acks=0` stores the same way but sends nothing back, even on error.

use bytes::Bytes;
use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::ResponseError;

use super::{partition_error, Ctx, Endpoint, Served};
use crate::batch::parse_record_set;
use crate::state::producer::UnknownProducer;
use crate::state::ClusterState;

pub(crate) struct Produce;

impl Endpoint for Produce {
    type Req = ProduceRequest;

    fn serve(state: &mut ClusterState, ctx: Ctx, req: ProduceRequest) -> Served<ProduceResponse> {
        if !(-1..=1).contains(&req.acks) {
            return Self::fail(state, ctx, &req, ResponseError::InvalidRequiredAcks);
        }
        let acks = req.acks;
        let responses = req
            .topic_data
            .into_iter()
            .map(|topic| {
                let name = topic.name.0.to_string();
                let partitions = topic
                    .partition_data
                    .into_iter()
                    .map(|p| {
                        let result = append(state, ctx, &name, p.index, p.records);
                        partition_response(state, ctx, &name, p.index, result)
                    })
                    .collect();
                TopicProduceResponse::default()
                    .with_name(topic.name)
                    .with_partition_responses(partitions)
            })
            .collect();
        if acks == 0 {
            return Served::Silent;
        }
        Served::Respond(ProduceResponse::default().with_responses(responses))
    }

    fn fail(
        state: &ClusterState,
        ctx: Ctx,
        req: &ProduceRequest,
        error: ResponseError,
    ) -> Served<ProduceResponse> {
        if req.acks == 0 {
            return Served::Silent;
        }
        let responses = req
            .topic_data
            .iter()
            .map(|topic| {
                let name = topic.name.0.to_string();
                let partitions = topic
                    .partition_data
                    .iter()
                    .map(|p| partition_response(state, ctx, &name, p.index, Err(error)))
                    .collect();
                topic_response(topic, ctx.version).with_partition_responses(partitions)
            })
            .collect();
        Served::Respond(ProduceResponse::default().with_responses(responses))
    }
}

fn topic_response(topic: &TopicProduceData, version: i16) -> TopicProduceResponse {
    let response = TopicProduceResponse::default();
    if version >= 13 {
        response.with_topic_id(topic.topic_id)
    } else {
        response.with_name(topic.name.clone())
    }
}

fn append(
    state: &mut ClusterState,
    ctx: Ctx,
    topic: &str,
    index: i32,
    records: Option<Bytes>,
) -> Result<i64, ResponseError> {
    if let Some(error) = partition_error(state, ctx.broker, topic, index) {
        return Err(error);
    }
    let records = records.ok_or(ResponseError::CorruptMessage)?;
    let batches = parse_record_set(records).map_err(|e| {
        tracing::warn!(topic, partition = index, error = %e, "produce rejected");
        e.code()
    })?;
    let unknown_producer = if state.config.strict_unknown_producer() {
        UnknownProducer::RequireSequenceZero
    } else {
        UnknownProducer::Accept
    };
    let partition = state
        .partition_mut(topic, index)
        .map_err(|_| ResponseError::UnknownTopicOrPartition)?;
    let result = partition
        .log
        .append(batches, partition.leader_epoch, unknown_producer);
    match result {
        Ok(base_offset) => tracing::debug!(topic, partition = index, base_offset, "appended"),
        Err(error) => tracing::debug!(topic, partition = index, %error, "append refused"),
    }
    result
}

fn partition_response(
    state: &ClusterState,
    ctx: Ctx,
    topic: &str,
    index: i32,
    result: Result<i64, ResponseError>,
) -> PartitionProduceResponse {
    let (error_code, base_offset) = match result {
        Ok(offset) => (0, offset),
        Err(error) => (error.code(), -1),
    };
    let mut response = PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(error_code)
        .with_base_offset(base_offset)
        .with_log_append_time_ms(-1);
    if ctx.version >= 5 {
        let log_start = state
            .partition(topic, index)
            .map_or(-1, |p| p.log.log_start());
        response = response.with_log_start_offset(log_start);
    }
    response
}

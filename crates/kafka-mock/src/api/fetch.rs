//! Fetch: stored batches from an offset, as the producer sent them.
//!
//! Batches are returned whole, starting with the one that holds the fetch
//! offset (the consumer skips records before it, as with a real broker).
//! Per partition at most `partition_max_bytes`, per response at most
//! `max_bytes`, except that the first batch of the response is sent even if
//! larger (KIP-74). Fetch sessions are declined (session id 0), so clients
//! keep sending full fetches; an incremental fetch naming a session gets
//! `FETCH_SESSION_ID_NOT_FOUND`.
//!
//! A fetch naming the partition's leader epoch (v9+) is checked against
//! it as Kafka does: an older epoch gets `FENCED_LEADER_EPOCH` (the client
//! missed a leader change), a newer one `UNKNOWN_LEADER_EPOCH` (this broker
//! is behind); -1 skips the check.
//!
//! A batch armed as corrupt (`ClusterHandle::corrupt_batch`) is served
//! with one bit flipped, so its CRC no longer matches.
//!
//! The mock models no transactions: the last stable offset is the high
//! watermark and no aborted transactions are listed, whatever the
//! isolation level.
//!
//! Long polling, as Kafka's purgatory does it: when fewer than
//! `min_bytes` are there (nothing, with the usual `min_bytes` of 1) the
//! request is parked as a [`HeldFetch`] for up to
//! `min(max_wait_ms, fetch_wait_cap)`. [`resume`] serves it again whenever
//! the network layer asks (at once after any Produce it serves, and every
//! few milliseconds meanwhile) and answers as soon as `min_bytes` are
//! there, or with what there is once the wait is over. So a record
//! produced to an idle partition reaches a waiting consumer at once, not
//! at the end of its `fetch.max.wait.ms`.
//!
//! An injected response delay is added to a parked fetch's answer once it
//! is ready, as to any other answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::ResponseError;

use super::{partition_error, Ctx, Endpoint, Served};
use crate::state::ClusterState;

pub(crate) struct Fetch;

impl Endpoint for Fetch {
    type Req = FetchRequest;

    fn serve(state: &mut ClusterState, ctx: Ctx, req: FetchRequest) -> Served<FetchResponse> {
        if ctx.version >= 7 && req.session_id != 0 {
            return Self::fail(state, ctx, &req, ResponseError::FetchSessionIdNotFound);
        }
        // The mock has one replica per partition, so the rack picks
        // nothing; it is kept so tests can see what clients send.
        if ctx.version >= 11 && !req.rack_id.is_empty() {
            state.fetch_racks.insert(req.rack_id.to_string());
        }
        let (response, returned) = answer(state, ctx, &req);
        let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
        if returned < min_bytes && req.max_wait_ms > 0 {
            let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0))
                .min(state.config.fetch_wait_cap());
            return Served::Hold(HeldFetch::new(req, wait));
        }
        Served::Respond(response)
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        req: &FetchRequest,
        error: ResponseError,
    ) -> Served<FetchResponse> {
        let session_error = matches!(
            error,
            ResponseError::FetchSessionIdNotFound | ResponseError::InvalidFetchSessionEpoch
        );
        if session_error && ctx.version >= 7 {
            return Served::Respond(FetchResponse::default().with_error_code(error.code()));
        }
        let responses = req
            .topics
            .iter()
            .map(|topic| {
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| errored_partition(ctx, p.partition, error))
                    .collect();
                topic_response(topic, ctx.version).with_partitions(partitions)
            })
            .collect();
        Served::Respond(FetchResponse::default().with_responses(responses))
    }
}

/// A fetch short of its `min_bytes`, parked until enough records arrive
/// or its wait is over.
#[derive(Debug, Clone)]
pub(crate) struct HeldFetch {
    request: Arc<FetchRequest>,
    deadline: Instant,
}

impl HeldFetch {
    fn new(request: FetchRequest, wait: Duration) -> HeldFetch {
        HeldFetch {
            request: Arc::new(request),
            deadline: Instant::now() + wait,
        }
    }

    /// When the fetch's wait is over: it is answered then, whatever it
    /// holds.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// The same parked request (it is never rebuilt, so identity is enough).
impl PartialEq for HeldFetch {
    fn eq(&self, other: &HeldFetch) -> bool {
        Arc::ptr_eq(&self.request, &other.request) && self.deadline == other.deadline
    }
}

impl Eq for HeldFetch {}

/// The answer to a parked fetch, or `None` while it should wait on:
/// served again from the logs as they are now, returned once it reaches
/// `min_bytes` or at its deadline, whatever it holds then.
pub(crate) fn resume(
    state: &ClusterState,
    broker: i32,
    version: i16,
    held: &HeldFetch,
    now: Instant,
) -> Option<FetchResponse> {
    let ctx = Ctx {
        broker,
        version,
        client_id: "",
    };
    let (response, returned) = answer(state, ctx, &held.request);
    let min_bytes = usize::try_from(held.request.min_bytes).unwrap_or(0);
    (returned >= min_bytes || now >= held.deadline).then_some(response)
}

/// The response from the logs as they are now, and how many record bytes
/// it carries.
fn answer(state: &ClusterState, ctx: Ctx, req: &FetchRequest) -> (FetchResponse, usize) {
    let mut budget = usize::try_from(req.max_bytes).unwrap_or(0);
    let mut returned = 0usize;
    let responses = req
        .topics
        .iter()
        .map(|topic| {
            let name = topic.topic.0.to_string();
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let limit = usize::try_from(p.partition_max_bytes)
                        .unwrap_or(0)
                        .min(budget);
                    let data = read(state, ctx, &name, p, limit, returned == 0);
                    let len = data.records.as_ref().map_or(0, Bytes::len);
                    returned += len;
                    budget = budget.saturating_sub(len);
                    data
                })
                .collect();
            topic_response(topic, ctx.version).with_partitions(partitions)
        })
        .collect();
    (FetchResponse::default().with_responses(responses), returned)
}

fn topic_response(topic: &FetchTopic, version: i16) -> FetchableTopicResponse {
    let response = FetchableTopicResponse::default();
    if version >= 13 {
        response.with_topic_id(topic.topic_id)
    } else {
        response.with_topic(topic.topic.clone())
    }
}

fn read(
    state: &ClusterState,
    ctx: Ctx,
    topic: &str,
    asked: &FetchPartition,
    max_bytes: usize,
    allow_oversized: bool,
) -> PartitionData {
    let (index, offset) = (asked.partition, asked.fetch_offset);
    if let Some(error) = partition_error(state, ctx.broker, topic, index) {
        return errored_partition(ctx, index, error);
    }
    let Ok(partition) = state.partition(topic, index) else {
        return errored_partition(ctx, index, ResponseError::UnknownTopicOrPartition);
    };
    if let Some(error) = epoch_error(partition.leader_epoch, asked.current_leader_epoch) {
        return errored_partition(ctx, index, error);
    }
    let log = &partition.log;
    let (start, end) = (log.log_start(), log.high_watermark());
    let mut data = PartitionData::default()
        .with_partition_index(index)
        .with_high_watermark(end)
        .with_last_stable_offset(end);
    if ctx.version >= 5 {
        data = data.with_log_start_offset(start);
    }
    if offset < start || offset > end {
        return data
            .with_error_code(ResponseError::OffsetOutOfRange.code())
            .with_records(Some(Bytes::new()));
    }
    let records = log.read(offset, max_bytes, allow_oversized);
    let records = state.faults.corrupt_fetched(topic, index, records);
    data.with_records(Some(records))
}

/// Kafka's leader-epoch check: the client's `current_leader_epoch`
/// against the partition's (-1: the client has none, no check).
pub(crate) fn epoch_error(current: i32, asked: i32) -> Option<ResponseError> {
    match asked {
        -1 => None,
        a if a < current => Some(ResponseError::FencedLeaderEpoch),
        a if a > current => Some(ResponseError::UnknownLeaderEpoch),
        _ => None,
    }
}

fn errored_partition(ctx: Ctx, index: i32, error: ResponseError) -> PartitionData {
    let data = PartitionData::default()
        .with_partition_index(index)
        .with_error_code(error.code())
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_records(Some(Bytes::new()));
    if ctx.version >= 5 {
        data.with_log_start_offset(-1)
    } else {
        data
    }
}

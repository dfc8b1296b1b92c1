//! The served APIs, one module each, behind one small trait.
//!
//! Each API says how to serve a decoded request and how to answer it with
//! an error everywhere (used for `UNSUPPORTED_VERSION` and injected
//! failures). The dispatcher does the rest: header, version checks, faults,
//! response header and framing.

pub(crate) mod api_versions;
pub(crate) mod create_topics;
pub(crate) mod describe_groups;
pub(crate) mod fetch;
pub(crate) mod find_coordinator;
pub(crate) mod heartbeat;
pub(crate) mod init_producer_id;
pub(crate) mod join_group;
pub(crate) mod leave_group;
pub(crate) mod list_groups;
pub(crate) mod list_offsets;
pub(crate) mod metadata;
pub(crate) mod offset_commit;
pub(crate) mod offset_fetch;
pub(crate) mod produce;
pub(crate) mod sasl;
pub(crate) mod sync_group;

use kafka_protocol::protocol::Request;
use kafka_protocol::ResponseError;

use crate::state::ClusterState;

/// Who is asking, and in which dialect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) broker: i32,
    pub(crate) version: i16,
    /// The request header's client id ("" when null): Kafka's member ids
    /// and DescribeGroups show it.
    pub(crate) client_id: &'a str,
}

/// How an API answers.
#[derive(Debug)]
pub(crate) enum Served<R> {
    Respond(R),
    /// A fetch short of its `min_bytes`: parked until records arrive or
    /// its wait is over (Kafka's long poll).
    Hold(fetch::HeldFetch),
    /// No answer at all (Produce with acks=0).
    Silent,
    /// Answered later, when the group coordinator completes this ticket
    /// (a JoinGroup in the join phase, a follower's SyncGroup).
    Wait(crate::state::groups::Ticket),
}

pub(crate) type ResponseOf<E> = <<E as Endpoint>::Req as Request>::Response;

pub(crate) trait Endpoint {
    type Req: Request;

    fn serve(state: &mut ClusterState, ctx: Ctx, req: Self::Req) -> Served<ResponseOf<Self>>;

    /// The same request answered with `error` wherever the response carries
    /// an error code; nothing is changed in the cluster.
    fn fail(
        state: &ClusterState,
        ctx: Ctx,
        req: &Self::Req,
        error: ResponseError,
    ) -> Served<ResponseOf<Self>>;
}

/// The error code of a partition the broker cannot serve, or `None` if it is
/// the partition's running leader.
pub(crate) fn partition_error(
    state: &ClusterState,
    broker: i32,
    topic: &str,
    partition: i32,
) -> Option<ResponseError> {
    match state.partition(topic, partition) {
        Err(_) => Some(ResponseError::UnknownTopicOrPartition),
        Ok(p) if p.leader != broker => Some(ResponseError::NotLeaderOrFollower),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod consumer_tests;
#[cfg(test)]
mod tests;

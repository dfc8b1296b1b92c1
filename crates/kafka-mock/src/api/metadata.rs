//! Metadata: running brokers, topics, partition leaders; creates unknown
//! topics when auto-creation is on.
//!
//! A stopped broker is left out of the broker list, and partitions it leads
//! report `LEADER_NOT_AVAILABLE` with leader -1 until it restarts or the
//! test moves their leader, as a replication-factor-1 Kafka topic would.
//! Topic ids are not tracked (they are all zero), which is why Fetch and
//! Produce stop below the versions that address topics by id.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{Ctx, Endpoint, Served};
use crate::state::{validate_topic_name, ClusterState};

pub(crate) struct Metadata;

impl Endpoint for Metadata {
    type Req = MetadataRequest;

    fn serve(state: &mut ClusterState, ctx: Ctx, req: MetadataRequest) -> Served<MetadataResponse> {
        let v = ctx.version;
        let topics = match requested(&req, v) {
            None => state
                .topics
                .keys()
                .map(|name| describe(state, v, name))
                .collect(),
            Some(names) => {
                let auto_create =
                    state.config.auto_create_topics() && (v < 4 || req.allow_auto_topic_creation);
                names
                    .into_iter()
                    .map(|name| match name {
                        None => errored_topic(None, ResponseError::UnknownTopicId),
                        Some(name) => lookup_or_create(state, v, &name, auto_create),
                    })
                    .collect()
            }
        };
        Served::Respond(response(state, v, topics))
    }

    fn fail(
        state: &ClusterState,
        ctx: Ctx,
        req: &MetadataRequest,
        error: ResponseError,
    ) -> Served<MetadataResponse> {
        let names: Vec<Option<String>> = match requested(req, ctx.version) {
            None => state.topics.keys().cloned().map(Some).collect(),
            Some(names) => names,
        };
        let topics = names
            .into_iter()
            .map(|n| errored_topic(n.as_deref(), error))
            .collect();
        // v13+ carry a top-level error too: a request for no topics still
        // learns what went wrong.
        let mut answer = response(state, ctx.version, topics);
        if ctx.version >= 13 {
            answer.error_code = error.code();
        }
        Served::Respond(answer)
    }
}

/// The topics asked for, or `None` for "all topics" (a null list, or at v0
/// an empty one). Topics named only by id come back as `None` names.
fn requested(req: &MetadataRequest, version: i16) -> Option<Vec<Option<String>>> {
    match &req.topics {
        None => None,
        Some(topics) if topics.is_empty() && version == 0 => None,
        Some(topics) => Some(
            topics
                .iter()
                .map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                .collect(),
        ),
    }
}

fn lookup_or_create(
    state: &mut ClusterState,
    v: i16,
    name: &str,
    auto_create: bool,
) -> MetadataResponseTopic {
    if state.topics.contains_key(name) {
        return describe(state, v, name);
    }
    if validate_topic_name(name).is_err() {
        return errored_topic(Some(name), ResponseError::InvalidTopicException);
    }
    if !auto_create {
        return errored_topic(Some(name), ResponseError::UnknownTopicOrPartition);
    }
    let partitions = state.config.default_partitions();
    match state.create_topic(name, partitions) {
        Ok(()) => {
            tracing::info!(topic = name, partitions, "auto-created topic");
            describe(state, v, name)
        }
        Err(_) => errored_topic(Some(name), ResponseError::InvalidTopicException),
    }
}

fn describe(state: &ClusterState, v: i16, name: &str) -> MetadataResponseTopic {
    let partitions = state.topics[name]
        .partitions
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let up = state.is_up(p.leader);
            let mut partition = MetadataResponsePartition::default()
                .with_partition_index(index as i32)
                .with_replica_nodes(vec![BrokerId(p.leader)])
                .with_isr_nodes(if up { vec![BrokerId(p.leader)] } else { vec![] });
            if up {
                partition = partition.with_leader_id(BrokerId(p.leader));
            } else {
                partition = partition
                    .with_error_code(ResponseError::LeaderNotAvailable.code())
                    .with_leader_id(BrokerId(-1));
                if v >= 5 {
                    partition = partition.with_offline_replicas(vec![BrokerId(p.leader)]);
                }
            }
            if v >= 7 {
                partition = partition.with_leader_epoch(p.leader_epoch);
            }
            partition
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
        .with_partitions(partitions)
}

/// A topic entry carrying only an error. A topic asked for by id alone gets
/// an empty name (names are not nullable before v12).
fn errored_topic(name: Option<&str>, error: ResponseError) -> MetadataResponseTopic {
    let name = StrBytes::from_string(name.unwrap_or_default().to_owned());
    MetadataResponseTopic::default()
        .with_error_code(error.code())
        .with_name(Some(TopicName(name)))
}

fn response(state: &ClusterState, v: i16, topics: Vec<MetadataResponseTopic>) -> MetadataResponse {
    let brokers = state
        .brokers
        .iter()
        .filter(|(_, b)| b.up)
        .map(|(&id, b)| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(StrBytes::from_string(b.host.clone()))
                .with_port(b.port)
        })
        .collect();
    let mut response = MetadataResponse::default()
        .with_brokers(brokers)
        .with_topics(topics);
    if v >= 1 {
        response = response.with_controller_id(BrokerId(state.controller()));
    }
    if v >= 2 {
        response = response.with_cluster_id(Some(StrBytes::from_string(
            state.config.cluster_id().to_owned(),
        )));
    }
    response
}

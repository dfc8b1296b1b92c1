//! CreateTopics: creates topics with a partition count (or the default) and
//! optionally a manual leader assignment.
//!
//! Replication factors up to the broker count are accepted but the mock
//! keeps one copy; with a manual assignment the first broker of each
//! partition's replica list becomes its leader. `validate_only` checks
//! without creating. Configs are ignored.

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{Ctx, Endpoint, Served};
use crate::error::ClusterError;
use crate::state::{validate_topic_name, ClusterState};

pub(crate) struct CreateTopics;

impl Endpoint for CreateTopics {
    type Req = CreateTopicsRequest;

    fn serve(
        state: &mut ClusterState,
        ctx: Ctx,
        req: CreateTopicsRequest,
    ) -> Served<CreateTopicsResponse> {
        let topics = req
            .topics
            .iter()
            .map(|topic| {
                let outcome = create(state, topic, req.validate_only);
                match &outcome {
                    Ok(partitions) => tracing::info!(topic = %topic.name.0, partitions, "topic created by request"),
                    Err((error, message)) => tracing::debug!(topic = %topic.name.0, %error, message, "topic not created"),
                }
                result(ctx.version, topic, outcome)
            })
            .collect();
        Served::Respond(CreateTopicsResponse::default().with_topics(topics))
    }

    fn fail(
        _: &ClusterState,
        ctx: Ctx,
        req: &CreateTopicsRequest,
        error: ResponseError,
    ) -> Served<CreateTopicsResponse> {
        let topics = req
            .topics
            .iter()
            .map(|topic| result(ctx.version, topic, Err((error, error.to_string()))))
            .collect();
        Served::Respond(CreateTopicsResponse::default().with_topics(topics))
    }
}

type Refusal = (ResponseError, String);

/// Creates (or with `validate_only` only checks) one topic; returns its
/// partition count.
fn create(
    state: &mut ClusterState,
    topic: &CreatableTopic,
    validate_only: bool,
) -> Result<i32, Refusal> {
    let name = topic.name.0.as_str();
    validate_topic_name(name).map_err(|e| (ResponseError::InvalidTopicException, e.to_string()))?;
    if state.topics.contains_key(name) {
        return Err((
            ResponseError::TopicAlreadyExists,
            format!("topic {name:?} exists already"),
        ));
    }
    let brokers = state.brokers.len() as i16;
    if topic.replication_factor != -1 && !(1..=brokers).contains(&topic.replication_factor) {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!(
                "replication factor {} with {brokers} brokers",
                topic.replication_factor
            ),
        ));
    }
    let leaders = manual_leaders(state, topic)?;
    let partitions = match (&leaders, topic.num_partitions) {
        (Some(leaders), _) => leaders.len() as i32,
        (None, -1) => state.config.default_partitions(),
        (None, n) if n >= 1 => n,
        (None, n) => return Err((ResponseError::InvalidPartitions, format!("{n} partitions"))),
    };
    if validate_only {
        return Ok(partitions);
    }
    state.create_topic(name, partitions).map_err(|e| match e {
        ClusterError::TopicExists(_) => (ResponseError::TopicAlreadyExists, e.to_string()),
        _ => (ResponseError::InvalidRequest, e.to_string()),
    })?;
    if let Some(leaders) = leaders {
        let created = state.topics.get_mut(name).map(|t| &mut t.partitions);
        for (partition, leader) in created.into_iter().flatten().zip(leaders) {
            partition.leader = leader;
        }
    }
    Ok(partitions)
}

/// The leaders a manual assignment asks for, in partition order.
fn manual_leaders(
    state: &ClusterState,
    topic: &CreatableTopic,
) -> Result<Option<Vec<i32>>, Refusal> {
    if topic.assignments.is_empty() {
        return Ok(None);
    }
    let invalid = |message: String| (ResponseError::InvalidReplicaAssignment, message);
    if topic.num_partitions != -1 || topic.replication_factor != -1 {
        return Err(invalid(
            "an assignment requires partitions and replication factor -1".into(),
        ));
    }
    let mut assignments: Vec<_> = topic.assignments.iter().collect();
    assignments.sort_by_key(|a| a.partition_index);
    let mut leaders = Vec::with_capacity(assignments.len());
    for (expected, assignment) in assignments.into_iter().enumerate() {
        if assignment.partition_index != expected as i32 {
            return Err(invalid(format!("partition {expected} has no assignment")));
        }
        let leader = *assignment
            .broker_ids
            .first()
            .ok_or_else(|| invalid(format!("partition {expected} has no replicas")))?;
        if !state.brokers.contains_key(&leader.0) {
            return Err(invalid(format!("broker {} does not exist", leader.0)));
        }
        leaders.push(leader.0);
    }
    Ok(Some(leaders))
}

fn result(
    version: i16,
    topic: &CreatableTopic,
    outcome: Result<i32, Refusal>,
) -> CreatableTopicResult {
    let response = CreatableTopicResult::default().with_name(topic.name.clone());
    match outcome {
        Ok(partitions) => {
            let response = response.with_error_message(None);
            if version >= 5 {
                response
                    .with_num_partitions(partitions)
                    .with_replication_factor(1)
                    .with_configs(Some(Vec::new()))
            } else {
                response
            }
        }
        Err((error, message)) => response
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(message))),
    }
}

//! The bytes of a subscription and an assignment, as Java's
//! `ConsumerProtocol` writes them: a big-endian int16 version, then the
//! `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` message of
//! that version (encoded by kafka-protocol).
//!
//! Decoding takes any version: older ones (kafka-python and librdkafka send
//! version 0) fill the fields they lack with Java's defaults, and newer ones
//! are read as the newest known version, as Java does, since versions only
//! append fields.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{Assignment, Subscription};
use crate::record::TopicPartition;

/// The subscription version Java 3.5 and later send (with the rack).
pub(crate) const SUBSCRIPTION_VERSION: i16 = 3;
/// The assignment version Java 3.5 and later send.
pub(crate) const ASSIGNMENT_VERSION: i16 = 3;
/// The newest version of either message this crate knows.
const NEWEST: i16 = 3;

/// Why a subscription or assignment could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AssignorDecodeError {
    /// The version header is negative (or missing).
    #[error("consumer-group {what} has version {version}; versions start at 0, so the member that sent it speaks another protocol: use a Kafka consumer client with the classic consumer protocol")]
    BadVersion {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// The version read, -1 when the bytes were too short to hold one.
        version: i16,
    },
    /// The message does not parse as its version.
    #[error("consumer-group {what} (version {version}) is malformed: {reason}; the member that sent it runs an incompatible or broken client")]
    Malformed {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// The version in the header.
        version: i16,
        /// What was wrong.
        reason: String,
    },
}

/// Why a subscription or assignment could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AssignorEncodeError {
    /// The version asked for does not exist.
    #[error("consumer-group {what} version {version} is not one of 0..=3; ask for {SUBSCRIPTION_VERSION} (what Java sends)")]
    UnknownVersion {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A field does not fit its wire type (a string over 32767 bytes).
    #[error("consumer-group {what} cannot be encoded: {reason}; topic names and client.rack must be under 32767 bytes")]
    TooLarge {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// kafka-protocol's reason.
        reason: String,
    },
}

const SUBSCRIPTION: &str = "subscription";
const ASSIGNMENT: &str = "assignment";

fn name(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Groups partitions by topic, topics in order of first appearance and
/// partitions in the order given, as the wire format wants them.
fn by_topic(partitions: &[TopicPartition]) -> Vec<(Arc<str>, Vec<i32>)> {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut grouped: Vec<(Arc<str>, Vec<i32>)> = Vec::new();
    for tp in partitions {
        let slot = *index.entry(&tp.topic).or_insert_with(|| {
            grouped.push((tp.topic.clone(), Vec::new()));
            grouped.len() - 1
        });
        grouped[slot].1.push(tp.partition);
    }
    grouped
}

fn with_version(
    what: &'static str,
    version: i16,
    encode: impl FnOnce(&mut BytesMut) -> Result<(), String>,
) -> Result<Bytes, AssignorEncodeError> {
    if !(0..=NEWEST).contains(&version) {
        return Err(AssignorEncodeError::UnknownVersion { what, version });
    }
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    encode(&mut buf).map_err(|reason| AssignorEncodeError::TooLarge { what, reason })?;
    Ok(buf.freeze())
}

/// Encodes `s` as Java's `ConsumerProtocol.serializeSubscription` does at
/// `version` (fields the version lacks are left out).
pub(crate) fn encode_subscription(
    s: &Subscription,
    version: i16,
) -> Result<Bytes, AssignorEncodeError> {
    with_version(SUBSCRIPTION, version, |buf| {
        let mut msg = ConsumerProtocolSubscription::default()
            .with_topics(s.topics.iter().map(|t| name(t)).collect())
            .with_user_data(s.user_data.clone());
        if version >= 1 {
            msg = msg.with_owned_partitions(
                by_topic(&s.owned)
                    .into_iter()
                    .map(|(topic, partitions)| {
                        OwnedTopic::default()
                            .with_topic(TopicName(name(&topic)))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        }
        if version >= 2 {
            msg = msg.with_generation_id(s.generation);
        }
        if version >= 3 {
            msg = msg.with_rack_id(s.rack.as_deref().map(name));
        }
        msg.encode(buf, version).map_err(|e| e.to_string())
    })
}

/// Encodes `a` as Java's `ConsumerProtocol.serializeAssignment` does.
pub(crate) fn encode_assignment(
    a: &Assignment,
    version: i16,
) -> Result<Bytes, AssignorEncodeError> {
    with_version(ASSIGNMENT, version, |buf| {
        ConsumerProtocolAssignment::default()
            .with_assigned_partitions(
                by_topic(&a.partitions)
                    .into_iter()
                    .map(|(topic, partitions)| {
                        AssignedTopic::default()
                            .with_topic(TopicName(name(&topic)))
                            .with_partitions(partitions)
                    })
                    .collect(),
            )
            .with_user_data(a.user_data.clone())
            .encode(buf, version)
            .map_err(|e| e.to_string())
    })
}

/// Reads the version header: the version to decode the body as (newer ones
/// as the newest known) and the body.
fn split_version<'b>(
    what: &'static str,
    b: &'b [u8],
) -> Result<(i16, i16, &'b [u8]), AssignorDecodeError> {
    let (head, body) = match b {
        [hi, lo, body @ ..] => (i16::from_be_bytes([*hi, *lo]), body),
        _ => return Err(AssignorDecodeError::BadVersion { what, version: -1 }),
    };
    if head < 0 {
        return Err(AssignorDecodeError::BadVersion {
            what,
            version: head,
        });
    }
    Ok((head, head.min(NEWEST), body))
}

/// Decodes a subscription of any version (Java's `deserializeSubscription`).
pub(crate) fn decode_subscription(b: &[u8]) -> Result<Subscription, AssignorDecodeError> {
    let (head, version, body) = split_version(SUBSCRIPTION, b)?;
    let malformed = |reason: String| AssignorDecodeError::Malformed {
        what: SUBSCRIPTION,
        version: head,
        reason,
    };
    super::codec_bounds::check_subscription(body, version).map_err(malformed)?;
    let mut buf = Bytes::copy_from_slice(body);
    let msg = ConsumerProtocolSubscription::decode(&mut buf, version)
        .map_err(|e| malformed(e.to_string()))?;
    let owned = msg
        .owned_partitions
        .iter()
        .flat_map(|t| {
            let topic: Arc<str> = Arc::from(t.topic.as_str());
            t.partitions
                .iter()
                .map(move |&p| TopicPartition::new(topic.clone(), p))
        })
        .collect();
    Ok(Subscription {
        topics: msg.topics.iter().map(|t| Arc::from(t.as_str())).collect(),
        user_data: msg.user_data,
        owned,
        // Absent before version 2: -1, Java's "no generation".
        generation: msg.generation_id,
        // Java reads an empty rack as no rack.
        rack: msg
            .rack_id
            .filter(|r| !r.is_empty())
            .map(|r| r.as_str().to_owned()),
    })
}

/// Decodes an assignment of any version (Java's `deserializeAssignment`).
pub(crate) fn decode_assignment(b: &[u8]) -> Result<Assignment, AssignorDecodeError> {
    let (head, version, body) = split_version(ASSIGNMENT, b)?;
    let malformed = |reason: String| AssignorDecodeError::Malformed {
        what: ASSIGNMENT,
        version: head,
        reason,
    };
    super::codec_bounds::check_assignment(body).map_err(malformed)?;
    let mut buf = Bytes::copy_from_slice(body);
    let msg = ConsumerProtocolAssignment::decode(&mut buf, version)
        .map_err(|e| malformed(e.to_string()))?;
    let partitions = msg
        .assigned_partitions
        .iter()
        .flat_map(|t| {
            let topic: Arc<str> = Arc::from(t.topic.as_str());
            t.partitions
                .iter()
                .map(move |&p| TopicPartition::new(topic.clone(), p))
        })
        .collect();
    Ok(Assignment {
        partitions,
        user_data: msg.user_data,
    })
}

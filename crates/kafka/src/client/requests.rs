//! The requests the producer sends, built from its state, and the version
//! each side supports.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, InitProducerIdRequest, MetadataRequest, ProduceRequest, ProducerId,
    SaslAuthenticateRequest, SaslHandshakeRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::connection::Versions;
use crate::accumulator::ProducerBatch;

/// The highest versions this producer speaks. Produce starts at v3, the
/// first with RecordBatch v2.
const PRODUCE: (i16, i16) = (3, 9);
const METADATA: (i16, i16) = (1, 12);
const INIT_PRODUCER_ID: (i16, i16) = (0, 4);
/// SaslHandshake v1 (KIP-152): the exchange then goes in SaslAuthenticate
/// requests. v1 needs SaslAuthenticate, v1 of which brings the session
/// lifetime (KIP-368).
const SASL_HANDSHAKE: (i16, i16) = (1, 1);
const SASL_AUTHENTICATE: (i16, i16) = (0, 2);
/// The ApiVersions version tried first; brokers that do not know it answer
/// UNSUPPORTED_VERSION at v0, and the request is repeated at v0.
pub(crate) const API_VERSIONS: i16 = 3;

/// Why a broker cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("broker does not support {api:?} in versions {min}..={max} (it offers {offered})")]
pub(crate) struct Unsupported {
    api: ApiKey,
    min: i16,
    max: i16,
    offered: String,
}

/// The highest version of each API both sides support.
pub(crate) fn negotiate(offered: &[ApiVersion]) -> Result<Versions, Unsupported> {
    let pick = |api: ApiKey, (min, max): (i16, i16)| {
        let theirs = offered.iter().find(|v| v.api_key == api as i16);
        match theirs {
            Some(v) if v.max_version >= min && v.min_version <= max => Ok(v.max_version.min(max)),
            _ => Err(Unsupported {
                api,
                min,
                max,
                offered: theirs.map_or("nothing".into(), |v| {
                    format!("{}..={}", v.min_version, v.max_version)
                }),
            }),
        }
    };
    Ok(Versions {
        produce: pick(ApiKey::Produce, PRODUCE)?,
        metadata: pick(ApiKey::Metadata, METADATA)?,
        init_producer_id: pick(ApiKey::InitProducerId, INIT_PRODUCER_ID).ok(),
        sasl_handshake: pick(ApiKey::SaslHandshake, SASL_HANDSHAKE).ok(),
        sasl_authenticate: pick(ApiKey::SaslAuthenticate, SASL_AUTHENTICATE).ok(),
    })
}

pub(crate) fn api_versions() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("rouse-kafka"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
}

pub(crate) fn sasl_handshake(mechanism: &'static str) -> SaslHandshakeRequest {
    SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism))
}

pub(crate) fn sasl_authenticate(auth_bytes: Vec<u8>) -> SaslAuthenticateRequest {
    SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(auth_bytes))
}

pub(crate) fn metadata(topics: &[String]) -> MetadataRequest {
    let topics = topics
        .iter()
        .map(|t| {
            MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
        })
        .collect();
    MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(true)
}

/// An idempotent producer's id request: `producer_id` and `epoch` are -1
/// for a fresh id, or the current ones to ask for a bump (KIP-360, v3+).
pub(crate) fn init_producer_id(
    timeout_ms: i32,
    producer_id: i64,
    epoch: i16,
) -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
}

/// A Produce request carrying each batch's encoded bytes.
pub(crate) fn produce(
    acks: i16,
    timeout_ms: i32,
    batches: &[(&ProducerBatch, Bytes)],
) -> ProduceRequest {
    let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
    for (batch, bytes) in batches {
        let tp = batch.topic_partition();
        topics.entry(&tp.topic).or_default().push(
            PartitionProduceData::default()
                .with_index(tp.partition)
                .with_records(Some(bytes.clone())),
        );
    }
    let topic_data = topics
        .into_iter()
        .map(|(name, partitions)| {
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(name.to_owned())))
                .with_partition_data(partitions)
        })
        .collect();
    ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(topic_data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(api: ApiKey, min: i16, max: i16) -> ApiVersion {
        ApiVersion::default()
            .with_api_key(api as i16)
            .with_min_version(min)
            .with_max_version(max)
    }

    #[test]
    fn picks_the_highest_common_version_and_refuses_old_produce() {
        let offered = [offer(ApiKey::Produce, 0, 11), offer(ApiKey::Metadata, 0, 7)];
        let v = negotiate(&offered).unwrap();
        assert_eq!((v.produce, v.metadata, v.init_producer_id), (9, 7, None));
        let old = [offer(ApiKey::Produce, 0, 2), offer(ApiKey::Metadata, 0, 7)];
        let error = negotiate(&old).unwrap_err().to_string();
        assert!(
            error.contains("Produce") && error.contains("0..=2"),
            "{error}"
        );
    }
}

//! The requests the connection layer sends for itself (ApiVersions, the
//! SASL steps), and Metadata, which every client asks for the same way.

use bytes::Bytes;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiVersionsRequest, MetadataRequest, SaslAuthenticateRequest, SaslHandshakeRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// ApiVersions, naming this client's software (KIP-511).
pub(crate) fn api_versions() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("rouse-kafka"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
}

/// SaslHandshake v1: does the broker take `mechanism`?
pub(crate) fn sasl_handshake(mechanism: &'static str) -> SaslHandshakeRequest {
    SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism))
}

/// One SASL round trip's bytes.
pub(crate) fn sasl_authenticate(auth_bytes: Vec<u8>) -> SaslAuthenticateRequest {
    SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(auth_bytes))
}

/// Metadata for `topics` (created on first use where the broker allows).
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

//! An in-process Kafka mock cluster with fault injection, for tests and
//! demos, as librdkafka's mock cluster and franz-go's kfake are.
//!
//! [`MockCluster::start`] binds one 127.0.0.1 listener per broker and
//! serves them from one `rouse-reactor` loop thread; real clients
//! (kafka-python, librdkafka, rouse-kafka) connect to
//! [`MockCluster::bootstrap_servers`] unchanged. Under it sits a socket-free
//! core: an incremental [frame decoder](frame), the cluster's in-memory
//! state, and a request handler that turns one request frame into one
//! [`Outcome`] (a response, no response, or "close this connection"). Tests
//! hold the cluster's [`ClusterHandle`] to stop brokers, move leaders,
//! inject errors and delays, and inspect stored records and request counts.
//! The `rouse-kafka-mock` binary (`cargo run -p rouse-kafka-mock --
//! --brokers 3 --topic t:6`) serves one for other programs' tests.
//!
//! Faults below the protocol (delayed and fragmented bytes, cut
//! connections, refused connections, outages) come from the seeded TCP
//! fault [`proxy`], which can stand in front of a [`MockCluster`] or any
//! other broker; the `rouse-fault-proxy` binary runs one on its own.
//!
//! The core alone, one frame in and one frame out:
//!
//! The wire protocol is the real one, decoded and encoded with the
//! `kafka-protocol` crate; [`versions`] lists the APIs and versions served.
//!
//! ```
//! use bytes::{BufMut, BytesMut};
//! use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader};
//! use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
//! use rouse_kafka_mock::frame::FrameDecoder;
//! use rouse_kafka_mock::{ClusterConfig, ClusterHandle, Outcome};
//!
//! let cluster = ClusterHandle::new(ClusterConfig::new(3))?;
//! cluster.create_topic("orders", 6)?;
//!
//! // A client's ApiVersions v3 request: header v2, then the body.
//! let mut frame = BytesMut::new();
//! RequestHeader::default()
//!     .with_request_api_key(ApiKey::ApiVersions as i16)
//!     .with_request_api_version(3)
//!     .with_correlation_id(7)
//!     .with_client_id(Some(StrBytes::from_static_str("doc")))
//!     .encode(&mut frame, 2)?;
//! ApiVersionsRequest::default()
//!     .with_client_software_name(StrBytes::from_static_str("doc"))
//!     .with_client_software_version(StrBytes::from_static_str("1.0"))
//!     .encode(&mut frame, 3)?;
//!
//! // What a broker's connection would do with the bytes.
//! let Outcome::Respond { bytes, delay } = cluster.handle(1, frame.freeze()) else {
//!     panic!("ApiVersions is always answered");
//! };
//! assert_eq!(delay, None);
//!
//! // The response is a whole frame; ApiVersions responses use header v0.
//! let mut wire = BytesMut::from(&bytes[..]);
//! let mut payload = FrameDecoder::default().decode(&mut wire)?.expect("one whole frame");
//! let header = ResponseHeader::decode(&mut payload, 0)?;
//! let response = ApiVersionsResponse::decode(&mut payload, 3)?;
//! assert_eq!(header.correlation_id, 7);
//! assert_eq!(response.error_code, 0);
//! let produce = response.api_keys.iter().find(|k| k.api_key == ApiKey::Produce as i16).unwrap();
//! assert_eq!((produce.min_version, produce.max_version), (3, 9));
//! assert_eq!(cluster.request_count(Some(1), ApiKey::ApiVersions), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is not modelled: replication (each partition has one copy, so
//! moving a leader loses nothing), transactions, consumer groups, fetch
//! sessions, topic ids, quotas, ACLs and retention.
//!
//! Listeners may be secured with TLS (rustls; certificates generated at
//! start or read from PEM files; optional mutual TLS) and SASL (PLAIN,
//! SCRAM-SHA-256, SCRAM-SHA-512): see [`ClusterConfig::with_tls`],
//! [`ClusterConfig::with_sasl`] and docs/mock-security.md.

#![forbid(unsafe_code)]

mod api;
mod batch;
mod config;
mod dispatch;
mod error;
pub mod frame;
mod handle;
mod handle_groups;
mod net;
mod outcome;
pub mod proxy;
mod record;
mod sasl;
mod security;
mod shape;
mod state;
pub mod tansu;
pub mod versions;

#[cfg(test)]
mod testkit;

pub use config::{ClusterConfig, BUFFER_SLACK, DEFAULT_MAX_BUFFERED_TOTAL, MAX_BROKERS};
pub use error::ClusterError;
pub use handle::{BrokerInfo, ClusterHandle, PartitionOffsets};
pub use net::MockCluster;
pub use outcome::{CloseReason, Deferred, Outcome};
pub use record::StoredRecord;
pub use security::{CertFiles, GeneratedCerts, SaslConfig, SaslMechanism, TlsConfig, TlsIdentity};
pub use state::groups::{GroupSettings, GroupSnapshot, MemberSnapshot};

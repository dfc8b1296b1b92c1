//! What the network layer should do with one request frame.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;

use crate::api::fetch::HeldFetch;

/// The result of [`ClusterHandle::handle`](crate::ClusterHandle::handle).
///
/// Kafka answers requests on one connection strictly in order, so a delayed
/// response must hold back the responses queued behind it on the same
/// connection; other connections carry on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Write `bytes` (a whole frame, length prefix included) to the
    /// connection, after waiting `delay` if it is set.
    Respond {
        /// The response frame, ready for the socket.
        bytes: Bytes,
        /// How long to hold the response back (an injected delay).
        delay: Option<Duration>,
    },
    /// Send nothing: a Produce with `acks=0`.
    NoResponse,
    /// Answer later: a group request (a JoinGroup in the join phase, a
    /// follower's SyncGroup) waits for other members, a Fetch short of its
    /// `min_bytes` for records (Kafka's long poll). Poll it with
    /// [`ClusterHandle::resume`](crate::ClusterHandle::resume) until that
    /// gives the outcome; responses queued behind it on the same connection
    /// wait too, as Kafka's do.
    Deferred(Deferred),
    /// Close the connection without answering; the reason has been logged.
    Close {
        /// Why.
        reason: CloseReason,
    },
}

/// A response the cluster owes (the group coordinator's, or a parked
/// Fetch's): which request, and how to frame the answer once there is
/// one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    pub(crate) ticket: u64,
    /// The broker the request reached: if it stops coordinating the group
    /// meanwhile, the request is answered NOT_COORDINATOR.
    pub(crate) broker: i32,
    pub(crate) api: ApiKey,
    pub(crate) version: i16,
    pub(crate) correlation_id: i32,
    /// A parked Fetch, served again on each poll; `None` for a group
    /// request.
    pub(crate) fetch: Option<HeldFetch>,
    /// An injected response delay, added once the answer is ready.
    pub(crate) delay: Option<Duration>,
}

impl Deferred {
    /// When a parked Fetch is due to be answered whatever it holds;
    /// `None` for a group request, which waits on other members.
    pub fn fetch_deadline(&self) -> Option<Instant> {
        self.fetch.as_ref().map(HeldFetch::deadline)
    }
}

/// Why a connection is to be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// The broker is stopped (a fault); connect to another one.
    #[error("broker {0} is stopped")]
    BrokerDown(i32),
    /// The network layer asked for a broker id the cluster does not have.
    #[error("no broker with id {0}")]
    UnknownBroker(i32),
    /// The frame could not be decoded.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The API key is not one Kafka defines.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// A Kafka API the mock does not serve (it is absent from ApiVersions).
    #[error("API {0:?} is not served by the mock")]
    UnsupportedApi(ApiKey),
    /// A version outside what the protocol crate can decode, so no answer,
    /// not even UNSUPPORTED_VERSION, can be encoded for it.
    #[error("{api:?} v{version} cannot be decoded, so cannot be answered")]
    UndecodableVersion {
        /// The API.
        api: ApiKey,
        /// The version asked for.
        version: i16,
    },
    /// A "drop connection" fault fired.
    #[error("connection dropped by an injected fault")]
    InjectedDrop,
    /// The mock failed to encode its own response (a bug in the mock).
    #[error("could not encode the response: {0}")]
    Internal(String),
}

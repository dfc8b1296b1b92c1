//! The connection layer every client shares (the producer now, the
//! consumer next): broker connections on a `rouse-reactor` loop, from the
//! DNS lookup to a Ready (TLS'd, authenticated, versions known) connection
//! and back to closed, with each request matched to its answer.
//!
//! | file | job |
//! | --- | --- |
//! | `transport.rs` | plain or TLS byte stream over one non-blocking socket |
//! | `wire.rs` | framing: size prefix, request/response headers (kafka-protocol) |
//! | `connection.rs` | one connection: phases, correlation ids, in-flight queue |
//! | `versions.rs` | the negotiated version table, for any ApiKey |
//! | `requests.rs` | ApiVersions, SASL and Metadata request bodies |
//! | `resolver.rs` | host names resolved off the loop's thread |
//! | `target.rs` | whom a connection is to: bootstrap, broker, or group coordinator |
//! | `manager.rs` | the connections of one client: dial, back off, close, time out |
//! | `serve.rs` | the reactor handler: read, write, hand answers to the client |
//! | `secure.rs` | the TLS handshake, ApiVersions, SASL, KIP-368 re-authentication |
//!
//! # How a client plugs in
//!
//! ```text
//!   EventLoop<D>  (D = the client's poller, e.g. the producer's Poller)
//!     │ owns each connection as a registered source: Link<D::Purpose>
//!     │
//!     ├─ I/O ready ─► serve::on_ready(el, &mut D, &mut Link, ready)
//!     │                 │ setup answers (ApiVersions, SASL): handled here
//!     │                 └─ the client's answers, in order ─► D::on_response
//!     │                    connection failed ─► D::on_unanswered per request
//!     │
//!     └─ prepare hook (D's pump) ─► d.connect / d.send_on / d.time_out /
//!                                   d.close / d.expire_sessions (re-auth) ...
//!
//!   D: Client  ── net_mut() ─► Net   (the layer's state, a field of D)
//!              ── hooks ─────► on_response, on_unanswered, on_written,
//!                              broker_address, brokers, reachable, metadata_stale,
//!                              failed
//! ```
//!
//! The client implements [`Client`]: it holds the layer's state ([`Net`])
//! as a field and answers a few hooks; the layer's operations
//! ([`Connections`], [`Serve`], [`Secure`]) are provided for every
//! `Client`, so the client calls them as its own methods (`self.connect`).
//! Why hooks rather than the layer returning events: the reactor calls a
//! connection's handler with `&mut D` and the connection (the loop owns
//! it), and an answer must be applied in order, while the connection is at
//! hand (a Metadata answer adopts the bootstrap connection, an answer may
//! send the next request on it). A hook does that in place; events would
//! have to be queued and re-matched to their connection by key after the
//! handler, a second pass and an allocation for every answer. Generic, not
//! `dyn`: one client per loop, so the hooks are static calls.
//!
//! What a request in flight carries for the client is `D::Purpose`; every
//! request the layer accepts ends exactly once: answered
//! ([`Client::on_response`]), written when no answer is expected
//! ([`Client::on_written`]), or lost with its connection or never sent
//! ([`Client::on_unanswered`]).

#[cfg(test)]
mod client_tests;
mod connection;
mod manager;
pub(crate) mod requests;
mod resolver;
mod secure;
mod serve;
mod target;
mod transport;
mod versions;
pub(crate) mod wire;

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use rouse_reactor::SourceKey;

use crate::BrokerId;

pub(crate) use connection::{Awaiting, Connection};
pub(crate) use manager::{Connections, Link, Net, NetSettings};
pub(crate) use secure::Secure;
pub(crate) use serve::{sync_interest, Serve};
pub(crate) use versions::{VersionTable, Want};

/// A client's request that was answered.
#[derive(Debug)]
pub(crate) struct Answered<P> {
    pub(crate) api: ApiKey,
    pub(crate) version: i16,
    /// When it was sent, for latency.
    pub(crate) sent: Instant,
    pub(crate) purpose: P,
}

/// Why a request will get no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lost {
    /// Its connection failed or closed (it may have been received).
    Network(String),
    /// It could not be encoded, so it was never sent.
    Encoding(String),
}

/// A connection failure the client cannot recover from by reconnecting:
/// the security settings are wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecurityFailure {
    /// TLS with a broker failed (the message names it and what to do).
    Tls(String),
    /// The broker refused the credentials.
    Authentication(String),
}

/// A client of the connection layer: the loop's data. See the module docs.
pub(crate) trait Client: Sized + 'static {
    /// What each of the client's requests in flight carries.
    type Purpose: 'static;

    /// The layer's state.
    fn net(&self) -> &Net;

    /// The layer's state, mutably.
    fn net_mut(&mut self) -> &mut Net;

    /// The answer to one of the client's requests on connection `key`;
    /// an error closes the connection (its other requests are then
    /// [`on_unanswered`](Client::on_unanswered)).
    fn on_response(
        &mut self,
        key: SourceKey,
        link: &mut Link<Self::Purpose>,
        request: Answered<Self::Purpose>,
        payload: Bytes,
        now: Instant,
    ) -> Result<(), String>;

    /// A request that will get no answer: never sent, or its connection
    /// died. Nothing may be dropped without an outcome.
    fn on_unanswered(&mut self, purpose: Self::Purpose, lost: Lost, now: Instant);

    /// A request that expects no answer (`acks=0`) was written.
    fn on_written(&mut self, purpose: Self::Purpose);

    /// Where `broker` listens, if the client's metadata knows.
    fn broker_address(&self, broker: BrokerId) -> Option<(String, u16)>;

    /// Every broker the client's metadata knows: id, host, port.
    fn brokers(&self) -> Vec<(BrokerId, String, u16)>;

    /// No broker can be reached (`Some(why)`, naming the server), or one
    /// can again (`None`): for callers waiting on metadata.
    fn reachable(&mut self, unreachable: Option<String>);

    /// The client's metadata should be refreshed (a connection was lost,
    /// or a broker's address is unknown).
    fn metadata_stale(&mut self);

    /// How long `purpose` may wait for its answer when not
    /// `request.timeout.ms` (Java's per-request timeout: JoinGroup waits
    /// for the whole group). `None`: `request.timeout.ms`.
    fn request_timeout(&self, purpose: &Self::Purpose) -> Option<Duration> {
        let _ = purpose;
        None
    }

    /// The security settings cannot work; the client decides how to fail.
    /// Called from inside a handler: the client raises it on its next pump.
    fn failed(&mut self, failure: SecurityFailure);
}

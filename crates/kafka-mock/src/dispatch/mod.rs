//! From one request frame to one [`Outcome`].
//!
//! ```text
//!  frame ─► broker up? ─► api key/version ─► count ─► drop fault?
//!        ─► ApiVersions at an unserved version? ─► v0 error answer
//!        ─► header ─► shape check ─► body ─► unserved version? / failure fault?
//!        ─► serve ─► response header + body ─► delay fault ─► Outcome
//! ```
//!
//! Every way out that is not a response closes only the connection that
//! sent the frame, with a `tracing` warning naming the reason.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message};
use kafka_protocol::ResponseError;

use crate::api::{self, Ctx, Endpoint, ResponseOf, Served};
use crate::outcome::{CloseReason, Deferred, Outcome};
use crate::shape;
use crate::state::groups::Completion;
use crate::state::ClusterState;
use crate::versions;

/// Serves one request frame (the payload after the length prefix) that
/// arrived at `broker`.
pub(crate) fn handle(state: &mut ClusterState, broker: i32, frame: Bytes) -> Outcome {
    let outcome = dispatch(state, broker, frame);
    if let Outcome::Close { reason } = &outcome {
        match reason {
            CloseReason::Internal(_) => tracing::error!(broker, %reason, "closing connection"),
            _ => tracing::warn!(broker, %reason, "closing connection"),
        }
    }
    outcome
}

fn dispatch(state: &mut ClusterState, broker: i32, frame: Bytes) -> Outcome {
    match state.brokers.get(&broker) {
        None => return close(CloseReason::UnknownBroker(broker)),
        Some(b) if !b.up => return close(CloseReason::BrokerDown(broker)),
        Some(_) => {}
    }
    let max = state.config.max_request_size();
    if frame.len() > max {
        return close(CloseReason::Malformed(format!(
            "{}-byte frame exceeds the {max}-byte request limit",
            frame.len()
        )));
    }
    let Some(prefix) = frame.get(..8) else {
        return close(CloseReason::Malformed(format!(
            "{} bytes cannot hold a request header",
            frame.len()
        )));
    };
    let raw_key = i16::from_be_bytes([prefix[0], prefix[1]]);
    let version = i16::from_be_bytes([prefix[2], prefix[3]]);
    let correlation_id = i32::from_be_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    let Ok(key) = ApiKey::try_from(raw_key) else {
        return close(CloseReason::UnknownApiKey(raw_key));
    };
    *state.counters.entry((broker, raw_key)).or_default() += 1;
    if state.faults.take_drop(broker) {
        tracing::info!(broker, api = ?key, "fault: dropping connection");
        return close(CloseReason::InjectedDrop);
    }
    let _span =
        tracing::debug_span!("request", broker, api = ?key, version, correlation_id).entered();
    let Some(served) = versions::supported(key) else {
        return close(CloseReason::UnsupportedApi(key));
    };
    if key == ApiKey::ApiVersions && !served.contains(version) {
        // Real brokers answer at v0 so any client can read the error and the
        // list, then retry at a version both sides know.
        tracing::debug!("ApiVersions at an unserved version: answering v0");
        let response = api::api_versions::response(ResponseError::UnsupportedVersion.code());
        return respond(correlation_id, 0, &response, None);
    }
    let request = Preamble {
        broker,
        key,
        version,
        correlation_id,
        served: served.contains(version),
    };
    match key {
        ApiKey::ApiVersions => process::<api::api_versions::ApiVersions>(state, request, frame),
        ApiKey::Metadata => process::<api::metadata::Metadata>(state, request, frame),
        ApiKey::Produce => process::<api::produce::Produce>(state, request, frame),
        ApiKey::Fetch => process::<api::fetch::Fetch>(state, request, frame),
        ApiKey::ListOffsets => process::<api::list_offsets::ListOffsets>(state, request, frame),
        ApiKey::InitProducerId => {
            process::<api::init_producer_id::InitProducerId>(state, request, frame)
        }
        ApiKey::CreateTopics => process::<api::create_topics::CreateTopics>(state, request, frame),
        ApiKey::SaslHandshake => process::<api::sasl::SaslHandshake>(state, request, frame),
        ApiKey::SaslAuthenticate => process::<api::sasl::SaslAuthenticate>(state, request, frame),
        ApiKey::OffsetCommit => process::<api::offset_commit::OffsetCommit>(state, request, frame),
        ApiKey::OffsetFetch => process::<api::offset_fetch::OffsetFetch>(state, request, frame),
        ApiKey::FindCoordinator => {
            process::<api::find_coordinator::FindCoordinator>(state, request, frame)
        }
        ApiKey::JoinGroup => process::<api::join_group::JoinGroup>(state, request, frame),
        ApiKey::SyncGroup => process::<api::sync_group::SyncGroup>(state, request, frame),
        ApiKey::Heartbeat => process::<api::heartbeat::Heartbeat>(state, request, frame),
        ApiKey::LeaveGroup => process::<api::leave_group::LeaveGroup>(state, request, frame),
        ApiKey::DescribeGroups => {
            process::<api::describe_groups::DescribeGroups>(state, request, frame)
        }
        ApiKey::ListGroups => process::<api::list_groups::ListGroups>(state, request, frame),
        _ => close(CloseReason::UnsupportedApi(key)),
    }
}

/// What the dispatcher learned from a frame's first eight bytes.
#[derive(Debug, Clone, Copy)]
struct Preamble {
    broker: i32,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    served: bool,
}

fn process<E: Endpoint>(state: &mut ClusterState, req: Preamble, frame: Bytes) -> Outcome {
    let Preamble {
        broker,
        key,
        version,
        correlation_id,
        ..
    } = req;
    let decodable = <E::Req as Message>::VERSIONS;
    if !(decodable.min..=decodable.max).contains(&version) {
        return close(CloseReason::UndecodableVersion { api: key, version });
    }
    let mut body = frame;
    let header = match RequestHeader::decode(&mut body, key.request_header_version(version)) {
        Ok(header) => header,
        Err(e) => return close(CloseReason::Malformed(format!("request header: {e:#}"))),
    };
    // Never decode unchecked: the crate's decoders size their allocations
    // from the wire (see `shape`).
    let Some(schema) = shape::schema::request_schema(key) else {
        return close(CloseReason::Internal(format!(
            "{key:?} is served but has no request schema"
        )));
    };
    if let Err(e) = shape::check(schema, version, &body) {
        return close(CloseReason::Malformed(format!(
            "{key:?} v{version} body: {e}"
        )));
    }
    let request = match E::Req::decode(&mut body, version) {
        Ok(request) => request,
        Err(e) => {
            return close(CloseReason::Malformed(format!(
                "{key:?} v{version} body: {e:#}"
            )))
        }
    };
    let ctx = Ctx {
        broker,
        version,
        client_id: header.client_id.as_deref().unwrap_or_default(),
    };
    let answer = if !req.served {
        tracing::debug!("unserved version: answering UNSUPPORTED_VERSION");
        E::fail(state, ctx, &request, ResponseError::UnsupportedVersion)
    } else if let Some(error) = state.faults.take_failure(key, broker) {
        tracing::info!(broker, api = ?key, %error, "fault: failing request");
        E::fail(state, ctx, &request, error)
    } else {
        E::serve(state, ctx, request)
    };
    let injected = state.faults.delay(key, broker);
    if let Some(delay) = injected {
        tracing::info!(broker, api = ?key, ?delay, "fault: delaying response");
    }
    match answer {
        Served::Silent => Outcome::NoResponse,
        Served::Wait(ticket) => Outcome::Deferred(Deferred {
            ticket,
            broker,
            api: key,
            version,
            correlation_id,
            fetch: None,
            delay: injected,
        }),
        Served::Respond(response) => {
            respond::<ResponseOf<E>>(correlation_id, version, &response, injected)
        }
        Served::Hold(held) => Outcome::Deferred(Deferred {
            ticket: 0,
            broker,
            api: key,
            version,
            correlation_id,
            fetch: Some(held),
            delay: injected,
        }),
    }
}

fn respond<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    response: &R,
    delay: Option<Duration>,
) -> Outcome {
    match encode_response(correlation_id, version, response) {
        Ok(bytes) => Outcome::Respond { bytes, delay },
        Err(message) => close(CloseReason::Internal(message)),
    }
}

/// Length prefix, response header (at the version the API dictates), body.
pub(crate) fn encode_response<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    response: &R,
) -> Result<Bytes, String> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0); // the length, filled in below
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, R::header_version(version))
        .map_err(|e| format!("response header: {e:#}"))?;
    response
        .encode(&mut buf, version)
        .map_err(|e| format!("response body v{version}: {e:#}"))?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| "response larger than 2 GiB".to_owned())?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// The outcome of a deferred request once the group coordinator has
/// answered it, or a parked Fetch has its bytes or has waited its time;
/// `None` while it still waits. Runs the coordinator's
/// timeouts first, so polling a waiting join is what ends its join phase
/// on time. A request still waiting at a broker that no longer
/// coordinates its group is answered NOT_COORDINATOR, as Kafka's
/// coordinator answers its waiting joins and syncs when it unloads a
/// group.
pub(crate) fn resume(state: &mut ClusterState, deferred: &Deferred) -> Option<Outcome> {
    let now = Instant::now();
    if let Some(held) = &deferred.fetch {
        let response = api::fetch::resume(state, deferred.broker, deferred.version, held, now)?;
        return Some(respond(
            deferred.correlation_id,
            deferred.version,
            &response,
            deferred.delay,
        ));
    }
    state.groups.tick(now);
    let completion = match state.groups.take(deferred.ticket) {
        Some(completion) => completion,
        None => {
            let group = state.groups.waiting_group(deferred.ticket)?;
            if state.coordinator(&group) == Some(deferred.broker) {
                return None;
            }
            tracing::info!(
                group,
                broker = deferred.broker,
                "no longer the coordinator: a waiting request gets NOT_COORDINATOR"
            );
            state.groups.withdraw(deferred.ticket, now)?
        }
    };
    let Deferred {
        api,
        version,
        correlation_id,
        ..
    } = *deferred;
    Some(match (api, completion) {
        (ApiKey::JoinGroup, Completion::Join(result)) => {
            let response = api::join_group::response(version, &result);
            respond(correlation_id, version, &response, deferred.delay)
        }
        (ApiKey::SyncGroup, Completion::Sync(result)) => {
            let response = api::sync_group::response(version, &result);
            respond(correlation_id, version, &response, deferred.delay)
        }
        (api, completion) => close(CloseReason::Internal(format!(
            "a {api:?} request was answered with {completion:?}"
        ))),
    })
}

fn close(reason: CloseReason) -> Outcome {
    Outcome::Close { reason }
}

#[cfg(test)]
mod tests;

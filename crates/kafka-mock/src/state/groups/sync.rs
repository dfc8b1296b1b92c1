//! SyncGroup, as Kafka's `handleSyncGroup` serves it: after a join phase
//! every member asks for its assignment; followers wait until the leader
//! sends everyone's, which makes the group Stable. In a Stable group the
//! current assignment is answered at once.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::group::{Completion, Group, Phase, SyncResult, Ticket};
use super::{Groups, Reply};

/// A decoded SyncGroup.
#[derive(Debug, Clone)]
pub(crate) struct SyncRequest {
    pub(crate) group: String,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) generation: i32,
    /// v5+: checked against the group's when given.
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    /// The leader's assignment, member id → bytes (empty from followers).
    pub(crate) assignments: Vec<(String, Bytes)>,
}

impl Groups {
    /// Serves a SyncGroup that reached the group's coordinator.
    pub(crate) fn sync(&mut self, req: SyncRequest, now: Instant) -> Reply<SyncResult> {
        self.tick(now);
        let ticket = self.ticket();
        let Some(group) = self.groups.get_mut(&req.group) else {
            return Reply::Now(SyncResult::error(ResponseError::UnknownMemberId));
        };
        let reply = match check(group, &req) {
            Some(error) => Reply::Now(SyncResult::error(error)),
            None => sync_member(group, req.clone(), ticket, now),
        };
        self.settle(&req.group, reply, now, |c| match c {
            Completion::Sync(result) => Some(result),
            Completion::Join(_) => None,
        })
    }
}

fn check(group: &Group, req: &SyncRequest) -> Option<ResponseError> {
    if let Some(error) = group.check_member(&req.member_id, req.instance_id.as_deref()) {
        return Some(error);
    }
    if req.generation != group.generation {
        return Some(ResponseError::IllegalGeneration);
    }
    let type_differs = req
        .protocol_type
        .as_ref()
        .is_some_and(|t| group.protocol_type.as_ref() != Some(t));
    let name_differs = req
        .protocol
        .as_ref()
        .is_some_and(|p| group.protocol.as_ref() != Some(p));
    if type_differs || name_differs {
        return Some(ResponseError::InconsistentGroupProtocol);
    }
    match group.phase {
        Phase::Empty => Some(ResponseError::UnknownMemberId),
        Phase::PreparingRebalance => Some(ResponseError::RebalanceInProgress),
        Phase::CompletingRebalance | Phase::Stable => None,
    }
}

fn synced(group: &mut Group, member_id: &str) {
    if let Some((waiting, _)) = &mut group.pending_sync {
        waiting.retain(|id| id != member_id);
        if waiting.is_empty() {
            group.pending_sync = None;
        }
    }
}

fn sync_member(
    group: &mut Group,
    req: SyncRequest,
    ticket: Ticket,
    now: Instant,
) -> Reply<SyncResult> {
    synced(group, &req.member_id);
    let answer = |group: &Group, assignment: Bytes| SyncResult {
        error: None,
        protocol_type: group.protocol_type.clone(),
        protocol: group.protocol.clone(),
        assignment,
    };
    if group.phase == Phase::Stable {
        let Some(member) = group.members.get_mut(&req.member_id) else {
            return Reply::Now(SyncResult::error(ResponseError::UnknownMemberId));
        };
        member.last_heartbeat = now;
        let assignment = member.assignment.clone();
        return Reply::Now(answer(group, assignment));
    }
    if let Some(member) = group.members.get_mut(&req.member_id) {
        member.awaiting_sync = Some(ticket);
        member.last_heartbeat = now;
    }
    if group.leader.as_deref() != Some(req.member_id.as_str()) {
        return Reply::Wait(ticket);
    }
    tracing::info!(
        group = group.id,
        generation = group.generation,
        "assignment received from the leader"
    );
    let mut given: BTreeMap<String, Bytes> = req.assignments.into_iter().collect();
    let mut done = Vec::new();
    for member in group.members.values_mut() {
        member.assignment = given.remove(&member.id).unwrap_or_default();
        member.last_heartbeat = now;
        if let Some(waiting) = member.awaiting_sync.take() {
            done.push((waiting, member.assignment.clone()));
        }
    }
    for (waiting, assignment) in done {
        let result = answer(group, assignment);
        group.done.push((waiting, Completion::Sync(result)));
    }
    group.phase = Phase::Stable;
    Reply::Wait(ticket)
}

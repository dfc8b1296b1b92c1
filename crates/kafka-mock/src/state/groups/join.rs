//! JoinGroup, as Kafka's `GroupCoordinator.handleJoinGroup` serves it:
//! a new member gets an id (and, from v4 without a group.instance.id,
//! MEMBER_ID_REQUIRED first: KIP-394), a known one rejoins; either waits in
//! the join phase, unless its join changes nothing and the current
//! generation can be answered at once. A static member (KIP-345) that
//! comes back with no member id takes its old slot: the old id is fenced
//! and, in a Stable group whose assignor stays the same, no rebalance
//! happens.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::group::{Completion, Group, JoinResult, Member, Phase, SyncResult, Ticket};
use super::{Groups, Reply};

/// A decoded JoinGroup.
#[derive(Debug, Clone)]
pub(crate) struct JoinRequest {
    pub(crate) group: String,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
    /// v4+: a member with no id must ask for one first (KIP-394).
    pub(crate) require_known_member_id: bool,
    /// v9+: a rejoining static leader may be told to skip the assignment
    /// (KIP-814).
    pub(crate) supports_skip_assignment: bool,
}

impl Groups {
    /// Serves a JoinGroup that reached the group's coordinator.
    pub(crate) fn join(&mut self, req: JoinRequest, now: Instant) -> Reply<JoinResult> {
        self.tick(now);
        let bounds = self.settings.min_session_timeout..=self.settings.max_session_timeout;
        if !bounds.contains(&req.session_timeout) {
            return Reply::Now(JoinResult::error(
                &req.member_id,
                ResponseError::InvalidSessionTimeout,
            ));
        }
        let unknown = req.member_id.is_empty();
        if !self.groups.contains_key(&req.group) {
            if !unknown {
                return Reply::Now(JoinResult::error(
                    &req.member_id,
                    ResponseError::UnknownMemberId,
                ));
            }
            self.groups
                .insert(req.group.clone(), Group::new(&req.group));
        }
        let ticket = self.ticket();
        let new_id = if unknown {
            // Kafka's GroupMetadata.generateMemberId: the instance id for
            // a static member, else the client id, then '-' and a UUID.
            let prefix = req
                .instance_id
                .as_deref()
                .unwrap_or(&req.client_id)
                .to_owned();
            self.member_id(&prefix)
        } else {
            String::new()
        };
        let initial_delay = self.settings.initial_rebalance_delay;
        let group_id = req.group.clone();
        let Some(group) = self.groups.get_mut(&group_id) else {
            return Reply::Now(JoinResult::error(
                &req.member_id,
                ResponseError::UnknownMemberId,
            ));
        };
        let names: Vec<&str> = req.protocols.iter().map(|(n, _)| n.as_str()).collect();
        let reply = if !group.supports(&req.protocol_type, &names) {
            Reply::Now(JoinResult::error(
                &req.member_id,
                ResponseError::InconsistentGroupProtocol,
            ))
        } else if unknown {
            join_new(group, req, new_id, ticket, now, initial_delay)
        } else {
            join_known(group, req, ticket, now, initial_delay)
        };
        group.try_complete_join(now);
        self.settle(&group_id, reply, now, |c| match c {
            Completion::Join(result) => Some(result),
            Completion::Sync(_) => None,
        })
    }
}

fn join_new(
    group: &mut Group,
    req: JoinRequest,
    new_id: String,
    ticket: Ticket,
    now: Instant,
    initial_delay: Duration,
) -> Reply<JoinResult> {
    if let Some(instance) = req.instance_id.clone() {
        if let Some(old_id) = group.statics.get(&instance).cloned() {
            return replace_static(group, req, &old_id, new_id, ticket, now, initial_delay);
        }
    } else if req.require_known_member_id {
        group
            .pending
            .insert(new_id.clone(), now + req.session_timeout);
        tracing::debug!(group = group.id, member = new_id, "member id required");
        return Reply::Now(JoinResult::error(&new_id, ResponseError::MemberIdRequired));
    }
    add_and_rebalance(group, req, new_id, ticket, now, initial_delay)
}

fn join_known(
    group: &mut Group,
    req: JoinRequest,
    ticket: Ticket,
    now: Instant,
    initial_delay: Duration,
) -> Reply<JoinResult> {
    if group.pending.contains_key(&req.member_id) {
        let id = req.member_id.clone();
        return add_and_rebalance(group, req, id, ticket, now, initial_delay);
    }
    if let Some(error) = group.check_member(&req.member_id, req.instance_id.as_deref()) {
        return Reply::Now(JoinResult::error(&req.member_id, error));
    }
    let is_leader = group.leader.as_deref() == Some(req.member_id.as_str());
    let same = group
        .members
        .get(&req.member_id)
        .is_some_and(|m| m.protocols == req.protocols);
    match group.phase {
        Phase::Empty => Reply::Now(JoinResult::error(
            &req.member_id,
            ResponseError::UnknownMemberId,
        )),
        Phase::CompletingRebalance | Phase::Stable
            if same && (group.phase == Phase::CompletingRebalance || !is_leader) =>
        {
            // A lost JoinGroup response, or a follower with nothing new:
            // the current generation, as it stands.
            if let Some(member) = group.members.get_mut(&req.member_id) {
                member.last_heartbeat = now;
            }
            Reply::Now(current_generation(group, &req.member_id, false))
        }
        _ => {
            update_member(group, &req, ticket, now);
            group.maybe_prepare_rebalance(now, initial_delay);
            Reply::Wait(ticket)
        }
    }
}

/// The current generation as a JoinGroup answer for `member_id`.
fn current_generation(group: &Group, member_id: &str, skip_assignment: bool) -> JoinResult {
    let is_leader = group.leader.as_deref() == Some(member_id);
    JoinResult {
        error: None,
        generation: group.generation,
        protocol_type: group.protocol_type.clone(),
        protocol: group.protocol.clone(),
        leader: group.leader.clone().unwrap_or_default(),
        skip_assignment,
        member_id: member_id.to_owned(),
        members: if is_leader && (skip_assignment || group.phase != Phase::Stable) {
            group.member_list()
        } else {
            Vec::new()
        },
    }
}

fn update_member(group: &mut Group, req: &JoinRequest, ticket: Ticket, now: Instant) {
    if let Some(member) = group.members.get_mut(&req.member_id) {
        member.protocols = req.protocols.clone();
        member.session_timeout = req.session_timeout;
        member.rebalance_timeout = req.rebalance_timeout;
        member.awaiting_join = Some(ticket);
        member.last_heartbeat = now;
    }
}

fn add_and_rebalance(
    group: &mut Group,
    req: JoinRequest,
    id: String,
    ticket: Ticket,
    now: Instant,
    initial_delay: Duration,
) -> Reply<JoinResult> {
    tracing::info!(
        group = group.id,
        member = id,
        instance = req.instance_id,
        "member joins"
    );
    let member = Member {
        id,
        instance_id: req.instance_id,
        client_id: req.client_id,
        session_timeout: req.session_timeout,
        rebalance_timeout: req.rebalance_timeout,
        protocols: req.protocols,
        assignment: Bytes::new(),
        awaiting_join: Some(ticket),
        awaiting_sync: None,
        last_heartbeat: now,
        is_new: true,
        order: 0,
    };
    group.add_member(member, &req.protocol_type);
    group.maybe_prepare_rebalance(now, initial_delay);
    Reply::Wait(ticket)
}

/// Kafka's `updateStaticMemberAndRebalance`: the member behind
/// `instance_id` gets `new_id`; whatever the old id was waiting for is
/// answered FENCED_INSTANCE_ID.
fn replace_static(
    group: &mut Group,
    req: JoinRequest,
    old_id: &str,
    new_id: String,
    ticket: Ticket,
    now: Instant,
    initial_delay: Duration,
) -> Reply<JoinResult> {
    let Some(mut member) = group.members.remove(old_id) else {
        return add_and_rebalance(group, req, new_id, ticket, now, initial_delay);
    };
    tracing::info!(
        group = group.id,
        old = old_id,
        new = new_id,
        "static member replaced"
    );
    if let Some(old) = member.awaiting_join.take() {
        let fenced = JoinResult::error(old_id, ResponseError::FencedInstanceId);
        group.done.push((old, Completion::Join(fenced)));
    }
    if let Some(old) = member.awaiting_sync.take() {
        let fenced = SyncResult::error(ResponseError::FencedInstanceId);
        group.done.push((old, Completion::Sync(fenced)));
    }
    member.id = new_id.clone();
    member.protocols = req.protocols;
    member.session_timeout = req.session_timeout;
    member.rebalance_timeout = req.rebalance_timeout;
    member.client_id = req.client_id;
    member.last_heartbeat = now;
    if let Some(instance) = &member.instance_id {
        group.statics.insert(instance.clone(), new_id.clone());
    }
    if group.leader.as_deref() == Some(old_id) {
        group.leader = Some(new_id.clone());
    }
    if let Some((waiting, _)) = &mut group.pending_sync {
        for id in waiting.iter_mut().filter(|id| id.as_str() == old_id) {
            id.clone_from(&new_id);
        }
    }
    group.members.insert(new_id.clone(), member);
    match group.phase {
        Phase::Stable if group.select_protocol() == group.protocol => {
            let is_leader = group.leader.as_deref() == Some(new_id.as_str());
            let skip = req.supports_skip_assignment && is_leader;
            Reply::Now(current_generation(group, &new_id, skip))
        }
        _ => {
            if let Some(m) = group.members.get_mut(&new_id) {
                m.awaiting_join = Some(ticket);
            }
            if group.phase != Phase::PreparingRebalance {
                group.prepare_rebalance(now, initial_delay);
            }
            Reply::Wait(ticket)
        }
    }
}

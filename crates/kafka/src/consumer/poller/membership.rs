//! The poller's side of group membership: it feeds the I/O-free member
//! (`consumer::membership`) the application's subscription, polls and
//! finished revocations, sends what the member asks for to the group
//! coordinator, and carries out its effects: rebalance steps for the
//! application's `poll`, partitions into and out of `Positions`, the
//! leader's assignment (the assignor over the members' subscriptions and
//! the partition counts metadata gave).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use rouse_reactor::SourceKey;

use super::{ConsumerPoller, Link, Loop, Purpose};
use crate::consumer::assignor::{
    assignor_by_name, decode_subscription, encode_assignment, encode_subscription, Assignment,
    Member, Subscription as Subscribed, ASSIGNMENT_VERSION, SUBSCRIPTION_VERSION,
};
use crate::consumer::membership::{
    heartbeat, join_group, leave_group, sync_group, Effect, Joined, Phase, PollClock, Send,
};
use crate::consumer::shared::{RebalanceEvent, Subscription};
use crate::consumer::versions::ConsumerVersions;
use crate::net::{Connections, Serve};
use crate::record::TopicPartition;

/// A leader's assignment waiting for metadata of its members' topics.
#[derive(Debug)]
pub(crate) struct Lead {
    epoch: u64,
    protocol: String,
    members: Vec<Joined>,
    /// Metadata asked after this covers every member's topics.
    since: Instant,
}

/// What a leader assigned over: its members' topics and, of those
/// metadata knew, the partition counts.
#[derive(Debug)]
pub(crate) struct AssignedOver {
    pub(super) topics: BTreeSet<String>,
    pub(super) counts: BTreeMap<String, i32>,
}

impl ConsumerPoller {
    /// The topics this member subscribes to now.
    pub(super) fn subscribed_topics(&self) -> BTreeSet<String> {
        match &self.subscription {
            Some(Subscription::Topics(topics)) => topics.clone(),
            Some(Subscription::Pattern(_)) => self.pattern_topics.clone(),
            None => BTreeSet::new(),
        }
    }

    /// One pass of membership work (see the module docs).
    pub(super) fn membership_work(&mut self, el: &mut Loop, now: Instant) {
        let Some(member) = self.member.as_mut() else {
            return;
        };
        let poll = {
            let mut state = self.shared.state.lock();
            let group = &mut state.group;
            if std::mem::take(&mut group.subscription_changed) {
                self.subscription = group.subscription.clone();
                self.metadata_stale = true;
                if self.subscription.is_some() {
                    member.subscribe(now);
                }
            }
            for ticket in group.revoked.drain(..) {
                member.revoked(ticket, now);
            }
            PollClock {
                last_poll: group.last_poll,
                in_poll: group.in_poll > 0,
            }
        };
        self.poll_clock = poll;
        self.lead(now);
        let conn = self.coordinator_conn(el, now);
        while let Some(send) = self
            .member
            .as_mut()
            .and_then(|m| m.next(now, conn.is_some(), poll))
        {
            match conn {
                Some((key, versions)) => self.send_member(el, key, versions, send, now),
                None => tracing::debug!(?send, "no coordinator to tell"),
            }
        }
        self.member_effects(now);
    }

    /// A ready connection to the coordinator (dialled, or found first,
    /// when there is none).
    pub(super) fn coordinator_conn(
        &mut self,
        el: &mut Loop,
        now: Instant,
    ) -> Option<(SourceKey, ConsumerVersions)> {
        let coordinator = self.coordinator?;
        let Some(key) = self.ready_coordinator(el, coordinator) else {
            self.connect_coordinator(el, coordinator, now);
            return None;
        };
        let versions = ConsumerVersions::of(&el.source::<Link>(key)?.conn.versions);
        Some((key, versions))
    }

    /// Whether the member needs a coordinator found.
    pub(super) fn member_wants_coordinator(&self) -> bool {
        self.member.as_ref().is_some_and(|m| {
            !matches!(
                m.phase(),
                Phase::Idle | Phase::Failed | Phase::PollExpired { .. }
            )
        }) || !self.leaving.is_empty()
    }

    fn send_member(
        &mut self,
        el: &mut Loop,
        key: SourceKey,
        v: ConsumerVersions,
        send: Send,
        now: Instant,
    ) {
        let group = self.shared.config.group_id().unwrap_or_default().to_owned();
        let config = &self.shared.config;
        let instance = config.group_instance_id();
        let (Some(join_v), Some(sync_v), Some(hb_v), Some(leave_v)) =
            (v.join_group, v.sync_group, v.heartbeat, v.leave_group)
        else {
            let why = "the group coordinator serves no usable JoinGroup/SyncGroup/Heartbeat/LeaveGroup version (Kafka 2.2 or later is needed to subscribe)";
            if let Some(m) = self.member.as_mut() {
                m.fail(why.to_owned());
            }
            return;
        };
        match &send {
            Send::Heartbeat { .. } => tracing::trace!(?send, "sending a group request"),
            _ => tracing::debug!(?send, "sending a group request"),
        }
        let sent = match send {
            Send::Join {
                epoch,
                member_id,
                owned,
                generation,
            } => {
                if instance.is_some() && join_v < 5 {
                    let why = "group.instance.id needs JoinGroup v5 (Kafka 2.3 or later)";
                    if let Some(m) = self.member.as_mut() {
                        m.fail(why.to_owned());
                    }
                    return;
                }
                let topics: Vec<Arc<str>> = self
                    .subscribed_topics()
                    .into_iter()
                    .map(Arc::from)
                    .collect();
                let protocols: Result<Vec<(String, Bytes)>, String> = self
                    .assignors
                    .iter()
                    .map(|a| {
                        let subscription = Subscribed {
                            topics: topics.clone(),
                            user_data: a.subscription_user_data(&owned, generation),
                            owned: owned.clone(),
                            generation,
                            rack: config.client_rack().map(str::to_owned),
                        };
                        let bytes = encode_subscription(&subscription, SUBSCRIPTION_VERSION)
                            .map_err(|e| format!("the subscription cannot be encoded: {e}"))?;
                        Ok((a.name().to_owned(), bytes))
                    })
                    .collect();
                // A new rebalance: what the last assignment saw is moot
                // (Java clears its assignment snapshot on join, too).
                self.assigned_over = None;
                let protocols = match protocols {
                    Ok(protocols) => protocols,
                    Err(why) => {
                        if let Some(m) = self.member.as_mut() {
                            m.fail(why);
                        }
                        return;
                    }
                };
                let body = join_group(
                    join_v,
                    &group,
                    &member_id,
                    instance,
                    config.session_timeout(),
                    config.max_poll_interval(),
                    protocols,
                );
                // JoinGroup waits for every member to join: bounded by
                // `join_timeout` (hooks.rs), as Java's. Past it the
                // connection closes and the member finds the coordinator
                // and joins again with the same member id.
                self.send_on(
                    el,
                    key,
                    ApiKey::JoinGroup,
                    join_v,
                    &body,
                    Purpose::Join(epoch),
                    now,
                    true,
                )
            }
            Send::Sync {
                epoch,
                generation,
                member_id,
                protocol,
                assignments,
            } => {
                let body = sync_group(
                    &group,
                    generation,
                    &member_id,
                    instance,
                    &protocol,
                    assignments,
                );
                self.send_on(
                    el,
                    key,
                    ApiKey::SyncGroup,
                    sync_v,
                    &body,
                    Purpose::Sync(epoch),
                    now,
                    true,
                )
            }
            Send::Heartbeat {
                epoch,
                generation,
                member_id,
            } => {
                let body = heartbeat(&group, generation, &member_id, instance);
                self.send_on(
                    el,
                    key,
                    ApiKey::Heartbeat,
                    hb_v,
                    &body,
                    Purpose::Heartbeat(epoch),
                    now,
                    true,
                )
            }
            Send::Leave { member_id } => {
                let body = leave_group(&group, &member_id, leave_v);
                let replies = std::mem::take(&mut self.leaving);
                self.send_on(
                    el,
                    key,
                    ApiKey::LeaveGroup,
                    leave_v,
                    &body,
                    Purpose::Leave(replies),
                    now,
                    true,
                )
            }
        };
        self.sent(el, key, sent, now);
    }

    /// `close` or `unsubscribe`: LeaveGroup (for a dynamic member), then
    /// `reply`; at once when there is nothing to leave.
    pub(super) fn leave(&mut self, reply: Option<super::LeaveReply>, el: &mut Loop, now: Instant) {
        self.subscription = None;
        self.pending_lead = None;
        let send = self.member.as_mut().and_then(|m| m.leave());
        self.leaving.extend(reply);
        match (send, self.coordinator_conn(el, now)) {
            (Some(send), Some((key, versions))) => self.send_member(el, key, versions, send, now),
            _ => {
                for reply in self.leaving.drain(..) {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    /// The member's effects, carried out.
    fn member_effects(&mut self, now: Instant) {
        let Some(member) = self.member.as_mut() else {
            return;
        };
        let effects = member.take_effects();
        if effects.is_empty() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        shared.rebalance(|state| {
            for effect in effects {
                tracing::debug!(?effect, "group membership");
                match effect {
                    Effect::FindCoordinator => self.coordinator = None,
                    Effect::Revoke { partitions, ticket } => state
                        .group
                        .events
                        .push_back(RebalanceEvent::Revoke { partitions, ticket }),
                    Effect::Assign { added, assignment } => {
                        tracing::info!(partitions = ?assignment, "assigned by the group");
                        let all: BTreeSet<TopicPartition> = state
                            .positions
                            .assignment()
                            .cloned()
                            .chain(added.iter().cloned())
                            .collect();
                        state.positions.assign(all);
                        state.assignment_changed = true;
                        state
                            .group
                            .events
                            .push_back(RebalanceEvent::Assigned(added));
                    }
                    Effect::Lost(lost) => {
                        let gone: BTreeSet<&TopicPartition> = lost.iter().collect();
                        let kept: Vec<TopicPartition> = state
                            .positions
                            .assignment()
                            .filter(|tp| !gone.contains(tp))
                            .cloned()
                            .collect();
                        state.positions.assign(kept);
                        state.assignment_changed = true;
                        state.group.events.push_back(RebalanceEvent::Lost(lost));
                    }
                    Effect::Lead {
                        epoch,
                        protocol,
                        members,
                    } => {
                        self.pending_lead = Some(Lead {
                            epoch,
                            protocol,
                            members,
                            since: now,
                        });
                        self.metadata_stale = true;
                    }
                    Effect::PollExpired => state.group.poll_expired = true,
                    Effect::Fatal(why) => {
                        state.fatal.get_or_insert(why);
                    }
                }
            }
        });
    }

    /// The topics the leader needs partition counts of: its members'
    /// while it assigns, then those it assigned over, watched for growth.
    pub(super) fn lead_topics(&self) -> BTreeSet<String> {
        match (&self.pending_lead, &self.assigned_over) {
            (Some(lead), _) => Self::lead_topics_of(lead),
            (None, Some(over)) => over.topics.clone(),
            (None, None) => BTreeSet::new(),
        }
    }

    fn lead_topics_of(lead: &Lead) -> BTreeSet<String> {
        lead.members
            .iter()
            .filter_map(|m| decode_subscription(&m.metadata).ok())
            .flat_map(|s| s.topics.into_iter().map(|t| t.to_string()))
            .collect()
    }

    /// The leader's assignment, once metadata newer than the join covers
    /// its members' topics (a topic metadata does not know gets none, as
    /// in Java).
    fn lead(&mut self, _now: Instant) {
        let fresh = match (&self.pending_lead, self.metadata_at) {
            (Some(lead), Some(at)) => at >= lead.since,
            _ => false,
        };
        if !fresh {
            return;
        }
        let Some(lead) = self.pending_lead.take() else {
            return;
        };
        match self.assign(&lead) {
            Ok(assignments) => {
                let topics = Self::lead_topics_of(&lead);
                let counts = topics
                    .iter()
                    .filter_map(|t| Some((t.clone(), *self.partition_counts.get(t)?)))
                    .collect();
                self.assigned_over = Some(AssignedOver { topics, counts });
                if let Some(m) = self.member.as_mut() {
                    m.leader_assigned(lead.epoch, assignments);
                }
            }
            Err(why) => {
                if let Some(m) = self.member.as_mut() {
                    m.fail(why);
                }
            }
        }
    }

    fn assign(&self, lead: &Lead) -> Result<Vec<(String, Bytes)>, String> {
        let assignor = assignor_by_name(&lead.protocol).ok_or_else(|| {
            format!(
                "the group chose assignor {:?}, which this consumer does not have",
                lead.protocol
            )
        })?;
        let mut members = Vec::with_capacity(lead.members.len());
        for m in &lead.members {
            let subscription = decode_subscription(&m.metadata).map_err(|e| {
                format!("member {}'s subscription cannot be read: {e}", m.member_id)
            })?;
            members.push(Member {
                member_id: m.member_id.clone(),
                group_instance_id: m.instance_id.clone(),
                subscription,
            });
        }
        let counts: BTreeMap<Arc<str>, i32> = members
            .iter()
            .flat_map(|m| m.subscription.topics.iter())
            .filter_map(|t| Some((t.clone(), *self.partition_counts.get(&**t)?)))
            .collect();
        let mut assigned = assignor
            .assign(&counts, &members)
            .map_err(|e| format!("the {} assignor failed: {e}", lead.protocol))?;
        tracing::info!(
            protocol = lead.protocol,
            members = members.len(),
            "assigning as the group's leader"
        );
        members
            .iter()
            .map(|m| {
                let assignment = assigned.remove(&m.member_id).unwrap_or(Assignment {
                    partitions: Vec::new(),
                    user_data: None,
                });
                let bytes = encode_assignment(&assignment, ASSIGNMENT_VERSION)
                    .map_err(|e| format!("the assignment cannot be encoded: {e}"))?;
                Ok((m.member_id.clone(), bytes))
            })
            .collect()
    }
}

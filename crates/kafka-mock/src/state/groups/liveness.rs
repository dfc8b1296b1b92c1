//! Staying in a group and leaving it: Heartbeat, LeaveGroup, and the
//! timeouts that drop members which stopped talking (session timeout,
//! KIP-394 ids never used, SyncGroup never sent), after Kafka's
//! `handleHeartbeat`, `handleLeaveGroup` and its heartbeat purgatory.

use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;

use super::group::{Group, Phase};
use super::rebalance::NEW_MEMBER_JOIN_TIMEOUT;
use super::Groups;

/// One member named in a LeaveGroup (v3+ name several).
#[derive(Debug, Clone)]
pub(crate) struct Leaving {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
}

impl Groups {
    /// Serves a Heartbeat; `None` is success.
    pub(crate) fn heartbeat(
        &mut self,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Option<ResponseError> {
        self.tick(now);
        let Some(g) = self.groups.get_mut(group) else {
            return Some(ResponseError::UnknownMemberId);
        };
        if let Some(error) = g.check_member(member_id, instance_id) {
            return Some(error);
        }
        if generation != g.generation {
            return Some(ResponseError::IllegalGeneration);
        }
        let phase = g.phase;
        if let Some(member) = g.members.get_mut(member_id) {
            member.last_heartbeat = now;
        }
        match phase {
            Phase::Empty => Some(ResponseError::UnknownMemberId),
            Phase::PreparingRebalance => Some(ResponseError::RebalanceInProgress),
            Phase::CompletingRebalance | Phase::Stable => None,
        }
    }

    /// Serves a LeaveGroup: one error (or `None`) per member named, or
    /// `Err` for the whole request.
    pub(crate) fn leave(
        &mut self,
        group: &str,
        leaving: &[Leaving],
        now: Instant,
    ) -> Vec<Option<ResponseError>> {
        self.tick(now);
        let Some(g) = self.groups.get_mut(group) else {
            return vec![Some(ResponseError::UnknownMemberId); leaving.len()];
        };
        let answers = leaving.iter().map(|l| leave_one(g, l, now)).collect();
        for (ticket, completion) in g.done.drain(..) {
            self.completions.insert(ticket, (completion, now));
        }
        answers
    }
}

fn leave_one(group: &mut Group, leaving: &Leaving, now: Instant) -> Option<ResponseError> {
    let (id, instance) = (&leaving.member_id, leaving.instance_id.as_deref());
    if !id.is_empty() && group.is_fenced(id, instance) {
        return Some(ResponseError::FencedInstanceId);
    }
    if group.pending.remove(id).is_some() {
        group.try_complete_join(now);
        return None;
    }
    let target = match instance.and_then(|i| group.statics.get(i)) {
        Some(owner) => owner.clone(),
        None if group.members.contains_key(id) => id.clone(),
        None => return Some(ResponseError::UnknownMemberId),
    };
    tracing::info!(group = group.id, member = target, "member leaves");
    group.remove_member_and_update(&target, now);
    None
}

impl Group {
    /// Drops whoever timed out by `now`, then ends the join phase if due.
    pub(crate) fn expire(&mut self, now: Instant) {
        let before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        if self.pending.len() != before {
            self.try_complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                let allowed = match (m.awaiting_join, m.awaiting_sync) {
                    (Some(_), _) if m.is_new => NEW_MEMBER_JOIN_TIMEOUT,
                    (Some(_), _) | (_, Some(_)) => Duration::MAX,
                    (None, None) => m.session_timeout,
                };
                now.saturating_duration_since(m.last_heartbeat) >= allowed
            })
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(
                group = self.id,
                member = id,
                "session expired; removing member"
            );
            self.remove_member_and_update(&id, now);
        }
        if let Some((waiting, deadline)) = self.pending_sync.clone() {
            let syncing = matches!(self.phase, Phase::CompletingRebalance | Phase::Stable);
            if syncing && deadline <= now && !waiting.is_empty() {
                self.pending_sync = None;
                for id in waiting {
                    tracing::info!(
                        group = self.id,
                        member = id,
                        "no SyncGroup in time; removing member"
                    );
                    if let Some(member) = self.members.remove(&id) {
                        self.forget(&member);
                    }
                }
                self.maybe_prepare_rebalance(now, Duration::ZERO);
            }
        }
        self.try_complete_join(now);
    }
}

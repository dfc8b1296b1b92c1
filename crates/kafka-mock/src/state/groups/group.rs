//! One classic consumer group: its members, phase and generation, and the
//! transitions every request shares (add, remove, prepare a rebalance,
//! complete the join phase), after Kafka's `GroupMetadata` and the
//! rebalance half of its `GroupCoordinator`.
//!
//! ```text
//!  Empty ──join──► PreparingRebalance ──all joined / timeout──► CompletingRebalance
//!    ▲                 ▲         ▲                                   │ leader's SyncGroup
//!    └─ last member ───┘         └──── join, leave, expiry ◄─── Stable ◄┘
//! ```
//!
//! Waiting requests (a JoinGroup in the join phase, a follower's SyncGroup
//! before the leader's) are [`Ticket`]s; finishing them pushes a
//! [`Completion`] onto `done`, which the coordinator hands to the network
//! layer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

/// A request waiting for the group, answered through a [`Completion`].
pub(crate) type Ticket = u64;

/// Kafka's group states (`DescribeGroups` and `ListGroups` spell them so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl Phase {
    /// The name Kafka reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Empty => "Empty",
            Phase::PreparingRebalance => "PreparingRebalance",
            Phase::CompletingRebalance => "CompletingRebalance",
            Phase::Stable => "Stable",
        }
    }
}

/// One member of a group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    /// (assignor name, subscription metadata), in the member's preference order.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    pub(crate) awaiting_join: Option<Ticket>,
    pub(crate) awaiting_sync: Option<Ticket>,
    pub(crate) last_heartbeat: Instant,
    /// Joined and not yet through a completed join phase: Kafka gives such
    /// a member five minutes, not its session timeout, to see its join out.
    pub(crate) is_new: bool,
    /// When it was added: the leader is the earliest-added member left.
    pub(crate) order: u64,
}

impl Member {
    pub(crate) fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// A finished wait: the answer for one ticket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Completion {
    Join(JoinResult),
    Sync(SyncResult),
}

/// What a JoinGroup answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JoinResult {
    pub(crate) error: Option<ResponseError>,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: String,
    pub(crate) skip_assignment: bool,
    pub(crate) member_id: String,
    /// (member id, group instance id, metadata): only the leader gets them.
    pub(crate) members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    /// Kafka's `joinError`: no generation, protocol or leader.
    pub(crate) fn error(member_id: &str, error: ResponseError) -> JoinResult {
        JoinResult {
            error: Some(error),
            generation: -1,
            protocol_type: None,
            protocol: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members: Vec::new(),
        }
    }
}

/// What a SyncGroup answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyncResult {
    pub(crate) error: Option<ResponseError>,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) assignment: Bytes,
}

impl SyncResult {
    pub(crate) fn error(error: ResponseError) -> SyncResult {
        SyncResult {
            error: Some(error),
            protocol_type: None,
            protocol: None,
            assignment: Bytes::new(),
        }
    }
}

/// The join phase's deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinTimer {
    pub(crate) deadline: Instant,
    /// Set while the phase is an empty group's initial delay
    /// (`group.initial.rebalance.delay.ms`).
    pub(crate) initial: Option<InitialDelay>,
}

/// Kafka's `InitialDelayedJoin`: it waits out its delay even when everyone
/// has joined, and extends itself by up to `delay` while new members keep
/// arriving, until the rebalance timeout is used up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InitialDelay {
    pub(crate) delay: Duration,
    pub(crate) remaining: Duration,
}

/// One group.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) phase: Phase,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    /// KIP-394: ids handed out with MEMBER_ID_REQUIRED, and until when the
    /// member may come back with one.
    pub(crate) pending: BTreeMap<String, Instant>,
    /// group.instance.id → member id (KIP-345).
    pub(crate) statics: BTreeMap<String, String>,
    pub(crate) join_timer: Option<JoinTimer>,
    /// Members that have not sent SyncGroup for this generation, and until
    /// when they may.
    pub(crate) pending_sync: Option<(Vec<String>, Instant)>,
    pub(crate) new_member_added: bool,
    pub(crate) done: Vec<(Ticket, Completion)>,
    next_order: u64,
}

impl Group {
    pub(crate) fn new(id: &str) -> Group {
        Group {
            id: id.to_owned(),
            phase: Phase::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            statics: BTreeMap::new(),
            join_timer: None,
            pending_sync: None,
            new_member_added: false,
            done: Vec::new(),
            next_order: 0,
        }
    }

    /// A static member whose instance id now belongs to another member id
    /// is fenced (an empty member id is never fenced).
    pub(crate) fn is_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        instance_id
            .and_then(|i| self.statics.get(i))
            .is_some_and(|owner| owner != member_id)
    }

    /// Kafka's `validateCurrentMember`.
    pub(crate) fn check_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Option<ResponseError> {
        if self.is_fenced(member_id, instance_id) {
            Some(ResponseError::FencedInstanceId)
        } else if !self.members.contains_key(member_id) {
            Some(ResponseError::UnknownMemberId)
        } else {
            None
        }
    }

    /// Assignors every member supports.
    fn candidates(&self) -> Vec<&str> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return Vec::new();
        };
        let rest: Vec<&Member> = members.collect();
        first
            .protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| {
                rest.iter()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
            .collect()
    }

    /// Kafka's `supportsProtocols`: an empty group takes any non-empty
    /// type and list; otherwise the type must match and one of `names`
    /// must be supported by every member.
    pub(crate) fn supports(&self, protocol_type: &str, names: &[&str]) -> bool {
        if self.phase == Phase::Empty {
            return !protocol_type.is_empty() && !names.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && self.candidates().iter().any(|c| names.contains(c))
    }

    /// Kafka's `selectProtocol`: each member votes for its first choice
    /// among the common assignors; most votes wins (ties: the one listed
    /// first by the earliest member).
    pub(crate) fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidates();
        let mut votes: Vec<(&str, usize)> = candidates.iter().map(|c| (*c, 0)).collect();
        for member in self.members.values() {
            let choice = member
                .protocols
                .iter()
                .find(|(n, _)| candidates.contains(&n.as_str()));
            if let Some((name, _)) = choice {
                if let Some(slot) = votes.iter_mut().find(|(c, _)| c == name) {
                    slot.1 += 1;
                }
            }
        }
        let best = votes.iter().map(|(_, v)| *v).max()?;
        votes
            .iter()
            .find(|(_, v)| *v == best)
            .map(|(c, _)| (*c).to_owned())
    }

    /// Kafka's `add`: the first member sets the group's protocol type and
    /// leads until it goes.
    pub(crate) fn add_member(&mut self, mut member: Member, protocol_type: &str) {
        if self.phase == Phase::PreparingRebalance && self.generation == 0 {
            self.new_member_added = true;
        }
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_owned());
        }
        member.order = self.next_order;
        self.next_order += 1;
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        if let Some(instance) = &member.instance_id {
            self.statics.insert(instance.clone(), member.id.clone());
        }
        self.pending.remove(&member.id);
        self.members.insert(member.id.clone(), member);
    }

    /// Removes a member, answering its waiting JoinGroup (if any) with
    /// UNKNOWN_MEMBER_ID so the client rejoins, and rebalances.
    pub(crate) fn remove_member_and_update(&mut self, member_id: &str, now: Instant) {
        let Some(member) = self.members.remove(member_id) else {
            return;
        };
        if let Some(ticket) = member.awaiting_join {
            let result = JoinResult::error("", ResponseError::UnknownMemberId);
            self.done.push((ticket, Completion::Join(result)));
        }
        self.forget(&member);
        match self.phase {
            Phase::Empty => {}
            Phase::Stable | Phase::CompletingRebalance => {
                self.prepare_rebalance(now, Duration::ZERO);
            }
            Phase::PreparingRebalance => self.try_complete_join(now),
        }
    }

    /// Drops what points at a removed member: its static slot, its pending
    /// sync, and the leadership (passed to the earliest member left).
    pub(crate) fn forget(&mut self, member: &Member) {
        if let Some(instance) = &member.instance_id {
            if self.statics.get(instance) == Some(&member.id) {
                self.statics.remove(instance);
            }
        }
        if let Some((waiting, _)) = &mut self.pending_sync {
            waiting.retain(|id| id != &member.id);
        }
        if self.leader.as_deref() == Some(member.id.as_str()) {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.order)
                .map(|m| m.id.clone());
        }
    }
}

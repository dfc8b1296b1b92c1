//! One consumer's membership of a group (the classic protocol), without
//! I/O and without a clock of its own: the poller tells it the time, what
//! the coordinator answered and when the application polled; it says what
//! to send next ([`Send`]) and what the rest of the consumer must do
//! ([`Effect`]).
//!
//! ```text
//!            subscribe / REBALANCE_IN_PROGRESS / a cooperative revocation done
//!   Idle ──────────────────────────────────────────────┐
//!                 eager and owning partitions:          ▼
//!   Stable ──► Revoking (the application's poll runs ─► NeedJoin ─► Joining
//!     ▲          the revocation, then acks its ticket)              │ JoinGroup
//!     │                          leader: Assigning (the poller runs │ answered
//!     │  SyncGroup answered       the assignor) ─► SyncReady ◄──────┘
//!     └──────────────────────────────────────────── Syncing ◄─┘
//!   any: UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION ─► partitions Lost ─► NeedJoin
//!   any: no poll within max.poll.interval.ms ─► Lost, LeaveGroup ─► PollExpired
//!        (until the application polls again) ─► NeedJoin
//!   any: FENCED_INSTANCE_ID or another fatal error ─► Failed
//! ```
//!
//! Eager rebalancing (KIP-429's "eager"): every owned partition is revoked
//! before JoinGroup. Cooperative: the member joins owning its partitions;
//! the assignment it gets back leaves out those that must move, which it
//! then revokes and joins again, so partitions that stay are never revoked.
//!
//! Every request sequence carries an `epoch`; an answer to an older one
//! (a heartbeat sent before a rejoin) is ignored.

mod answers;
mod errors;
mod rebalance;
mod requests;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub(crate) use errors::error_name;
pub(crate) use requests::{heartbeat, join_group, join_timeout, leave_group, sync_group};

use crate::record::TopicPartition;

/// The settings the member runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) heartbeat_interval: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) retry_backoff: Duration,
    pub(crate) instance_id: Option<String>,
    /// Every configured assignor supports the cooperative protocol.
    pub(crate) cooperative: bool,
}

/// Where the member stands (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    Revoking { ticket: u64 },
    NeedJoin,
    Joining,
    Assigning,
    SyncReady(Vec<(String, Bytes)>),
    Syncing,
    Stable,
    PollExpired { last_poll: Instant },
    Failed,
}

/// A request to send for the member, with the epoch its answer must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Send {
    Join {
        epoch: u64,
        member_id: String,
        /// Owned partitions and generation, for the subscription metadata.
        owned: Vec<TopicPartition>,
        generation: i32,
    },
    Sync {
        epoch: u64,
        generation: i32,
        member_id: String,
        protocol: String,
        assignments: Vec<(String, Bytes)>,
    },
    Heartbeat {
        epoch: u64,
        generation: i32,
        member_id: String,
    },
    Leave {
        member_id: String,
    },
}

/// A member of the group as JoinGroup named it to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) metadata: Bytes,
}

/// What the rest of the consumer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Find the coordinator again.
    FindCoordinator,
    /// The application must revoke `partitions` (commit, listener), drop
    /// them, then ack `ticket` ([`Membership::revoked`]).
    Revoke {
        partitions: Vec<TopicPartition>,
        ticket: u64,
    },
    /// New partitions (`added`) of the assignment (`assignment`, all of it).
    Assign {
        added: Vec<TopicPartition>,
        assignment: Vec<TopicPartition>,
    },
    /// Partitions owned no more, without a chance to commit them.
    Lost(Vec<TopicPartition>),
    /// This member leads: run the assignor over `members`, then
    /// [`Membership::leader_assigned`].
    Lead {
        epoch: u64,
        protocol: String,
        members: Vec<Joined>,
    },
    /// The application did not poll within `max.poll.interval.ms`.
    PollExpired,
    /// The member cannot go on; why.
    Fatal(String),
}

/// When the application last polled, as the poller sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollClock {
    pub(crate) last_poll: Instant,
    /// The application is inside `poll` right now.
    pub(crate) in_poll: bool,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Membership {
    settings: Settings,
    phase: Phase,
    member_id: String,
    generation: i32,
    protocol: Option<String>,
    owned: BTreeSet<TopicPartition>,
    epoch: u64,
    next_ticket: u64,
    /// Cooperative: the revocation whose ack starts the second rebalance.
    rejoin_after: Option<u64>,
    /// A rebalance was asked for while joining or syncing.
    rejoin_wanted: bool,
    not_before: Instant,
    next_heartbeat: Instant,
    heartbeat_in_flight: bool,
    effects: Vec<Effect>,
}

impl Membership {
    pub(crate) fn new(settings: Settings, now: Instant) -> Membership {
        Membership {
            settings,
            phase: Phase::Idle,
            member_id: String::new(),
            generation: -1,
            protocol: None,
            owned: BTreeSet::new(),
            epoch: 0,
            next_ticket: 0,
            rejoin_after: None,
            rejoin_wanted: false,
            not_before: now,
            next_heartbeat: now,
            heartbeat_in_flight: false,
            effects: Vec::new(),
        }
    }

    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Generation and member id for OffsetCommit, once the member has them.
    pub(crate) fn commit_identity(&self) -> Option<(i32, &str)> {
        (self.generation >= 0 && !self.member_id.is_empty())
            .then_some((self.generation, self.member_id.as_str()))
    }

    #[cfg(test)]
    pub(crate) fn instance_id(&self) -> Option<&str> {
        self.settings.instance_id.as_deref()
    }

    /// What the rest of the consumer must do, oldest first.
    pub(crate) fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Join (or, when already a member, rejoin: the subscription changed).
    pub(crate) fn subscribe(&mut self, now: Instant) {
        match self.phase {
            Phase::Idle | Phase::Failed => {
                self.phase = Phase::NeedJoin;
                self.not_before = now;
            }
            _ => self.request_rejoin(now),
        }
    }

    /// A rebalance is needed: start one, or after the one under way.
    pub(crate) fn request_rejoin(&mut self, now: Instant) {
        match self.phase {
            Phase::Stable => self.start_join(now),
            Phase::Joining | Phase::Assigning | Phase::SyncReady(_) | Phase::Syncing => {
                self.rejoin_wanted = true
            }
            _ => {}
        }
    }

    fn start_join(&mut self, now: Instant) {
        self.heartbeat_in_flight = false;
        if !self.settings.cooperative && !self.owned.is_empty() {
            let ticket = self.ticket();
            let partitions = self.owned.iter().cloned().collect();
            self.effects.push(Effect::Revoke { partitions, ticket });
            self.phase = Phase::Revoking { ticket };
        } else {
            self.phase = Phase::NeedJoin;
            self.not_before = now;
        }
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// The application revoked what [`Effect::Revoke`] with `ticket` named.
    pub(crate) fn revoked(&mut self, ticket: u64, now: Instant) {
        if self.phase == (Phase::Revoking { ticket }) {
            self.owned.clear();
            self.phase = Phase::NeedJoin;
            self.not_before = now;
        }
        if self.rejoin_after == Some(ticket) {
            self.rejoin_after = None;
            self.request_rejoin(now);
        }
    }

    /// The next request to send, if any (call until `None`). Checks the
    /// application's poll interval first.
    pub(crate) fn next(
        &mut self,
        now: Instant,
        coordinator_ready: bool,
        poll: PollClock,
    ) -> Option<Send> {
        if let Some(leave) = self.check_poll(now, poll) {
            return Some(leave);
        }
        if !coordinator_ready {
            return None;
        }
        match &mut self.phase {
            Phase::NeedJoin if now >= self.not_before => {
                self.epoch += 1;
                self.phase = Phase::Joining;
                Some(Send::Join {
                    epoch: self.epoch,
                    member_id: self.member_id.clone(),
                    owned: self.owned.iter().cloned().collect(),
                    generation: self.generation,
                })
            }
            Phase::SyncReady(assignments) => {
                let assignments = std::mem::take(assignments);
                self.phase = Phase::Syncing;
                Some(Send::Sync {
                    epoch: self.epoch,
                    generation: self.generation,
                    member_id: self.member_id.clone(),
                    protocol: self.protocol.clone().unwrap_or_default(),
                    assignments,
                })
            }
            Phase::Stable | Phase::Revoking { .. }
                if !self.heartbeat_in_flight && now >= self.next_heartbeat =>
            {
                self.heartbeat_in_flight = true;
                Some(Send::Heartbeat {
                    epoch: self.epoch,
                    generation: self.generation,
                    member_id: self.member_id.clone(),
                })
            }
            _ => None,
        }
    }

    /// `max.poll.interval.ms`: a member whose application stopped polling
    /// loses its partitions and leaves (a dynamic member sends LeaveGroup);
    /// it joins again once the application polls.
    fn check_poll(&mut self, now: Instant, poll: PollClock) -> Option<Send> {
        match self.phase {
            Phase::Idle | Phase::Failed => None,
            Phase::PollExpired { last_poll } => {
                if poll.in_poll || poll.last_poll > last_poll {
                    self.phase = Phase::NeedJoin;
                    self.not_before = now;
                }
                None
            }
            _ if !poll.in_poll && now >= poll.last_poll + self.settings.max_poll_interval => {
                tracing::warn!(
                    max_poll_interval_ms = self.settings.max_poll_interval.as_millis() as u64,
                    "poll was not called within max.poll.interval.ms: leaving the group"
                );
                self.lose_partitions();
                self.effects.push(Effect::PollExpired);
                self.phase = Phase::PollExpired {
                    last_poll: poll.last_poll,
                };
                self.forget_membership()
            }
            _ => None,
        }
    }

    /// The earliest time [`next`](Self::next) may have something new.
    pub(crate) fn deadline(&self, poll: PollClock) -> Option<Instant> {
        let poll_due = (!poll.in_poll).then(|| poll.last_poll + self.settings.max_poll_interval);
        let own = match self.phase {
            Phase::Idle | Phase::Failed | Phase::PollExpired { .. } => return None,
            Phase::NeedJoin => Some(self.not_before),
            Phase::Stable | Phase::Revoking { .. } if !self.heartbeat_in_flight => {
                Some(self.next_heartbeat)
            }
            _ => None,
        };
        [own, poll_due].into_iter().flatten().min()
    }

    /// Stops being a member (unsubscribe, close): partitions were revoked
    /// by the application already. A dynamic member with an id says so
    /// with LeaveGroup; a static one does not (as Java), so that it keeps
    /// its partitions if it comes back within `session.timeout.ms`.
    pub(crate) fn leave(&mut self) -> Option<Send> {
        self.owned.clear();
        self.phase = Phase::Idle;
        self.rejoin_after = None;
        self.rejoin_wanted = false;
        self.forget_membership()
    }

    /// Resets member id and generation; LeaveGroup for a dynamic member.
    fn forget_membership(&mut self) -> Option<Send> {
        self.heartbeat_in_flight = false;
        self.generation = -1;
        let member_id = std::mem::take(&mut self.member_id);
        (self.settings.instance_id.is_none() && !member_id.is_empty())
            .then_some(Send::Leave { member_id })
    }
}

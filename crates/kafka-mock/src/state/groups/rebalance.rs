//! The join phase of a rebalance: starting it, deciding when it ends, and
//! ending it with a new generation (Kafka's `prepareRebalance`,
//! `DelayedJoin`/`InitialDelayedJoin` and `onCompleteJoin`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::group::{Completion, Group, InitialDelay, JoinResult, JoinTimer, Phase, SyncResult};

/// Kafka's `NewMemberJoinTimeoutMs`: how long a member that has never
/// completed a join phase may wait in one before it is dropped.
pub(crate) const NEW_MEMBER_JOIN_TIMEOUT: Duration = Duration::from_secs(300);

impl Group {
    /// Starts a rebalance when the group can (not while one is preparing).
    pub(crate) fn maybe_prepare_rebalance(&mut self, now: Instant, initial_delay: Duration) {
        if self.phase != Phase::PreparingRebalance {
            self.prepare_rebalance(now, initial_delay);
        }
    }

    /// Kafka's `prepareRebalance`: members waiting on SyncGroup are told
    /// REBALANCE_IN_PROGRESS; an Empty group waits out the initial delay,
    /// any other until everyone rejoined or the longest rebalance timeout.
    pub(crate) fn prepare_rebalance(&mut self, now: Instant, initial_delay: Duration) {
        if self.phase == Phase::CompletingRebalance {
            self.reset_assignments(ResponseError::RebalanceInProgress);
        }
        let timeout = self.rebalance_timeout();
        self.join_timer = Some(if self.phase == Phase::Empty {
            JoinTimer {
                deadline: now + initial_delay,
                initial: Some(InitialDelay {
                    delay: initial_delay,
                    remaining: timeout.saturating_sub(initial_delay),
                }),
            }
        } else {
            JoinTimer {
                deadline: now + timeout,
                initial: None,
            }
        });
        self.pending_sync = None;
        self.phase = Phase::PreparingRebalance;
        tracing::info!(
            group = self.id,
            generation = self.generation,
            "preparing to rebalance"
        );
        self.try_complete_join(now);
    }

    /// Clears every assignment and answers waiting SyncGroups with `error`.
    fn reset_assignments(&mut self, error: ResponseError) {
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
            if let Some(ticket) = member.awaiting_sync.take() {
                self.done
                    .push((ticket, Completion::Sync(SyncResult::error(error))));
            }
        }
    }

    /// Everyone known is waiting in JoinGroup and no KIP-394 id is out.
    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    /// Ends the join phase if it may end now: the initial delay is over
    /// (and no new member extended it), or everyone joined, or the
    /// rebalance timeout passed.
    pub(crate) fn try_complete_join(&mut self, now: Instant) {
        if self.phase != Phase::PreparingRebalance {
            return;
        }
        let Some(timer) = self.join_timer else {
            return;
        };
        match timer.initial {
            Some(_) if now < timer.deadline => {}
            Some(initial) if self.new_member_added && !initial.remaining.is_zero() => {
                self.new_member_added = false;
                let delay = initial.delay.min(initial.remaining);
                self.join_timer = Some(JoinTimer {
                    deadline: now + delay,
                    initial: Some(InitialDelay {
                        delay: initial.delay,
                        remaining: initial.remaining.saturating_sub(delay),
                    }),
                });
            }
            Some(_) => self.complete_join(now),
            None if self.all_joined() || now >= timer.deadline => self.complete_join(now),
            None => {}
        }
    }

    /// Kafka's `onCompleteJoin`: dynamic members that did not rejoin are
    /// dropped (static ones keep their slot), then a new generation starts:
    /// Empty with no members, else CompletingRebalance with the assignor
    /// chosen, the leader given every member's subscription and everyone
    /// expected to SyncGroup within the rebalance timeout.
    fn complete_join(&mut self, now: Instant) {
        let missing: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in missing {
            if let Some(member) = self.members.remove(&id) {
                tracing::info!(
                    group = self.id,
                    member = id,
                    "member did not rejoin in time"
                );
                self.forget(&member);
            }
        }
        if !self.members.is_empty() && !self.elect_joined_leader() {
            // Nobody rejoined: wait another rebalance timeout, by which the
            // session timeouts have dropped the silent members.
            tracing::warn!(group = self.id, "no member rejoined; waiting again");
            self.join_timer = Some(JoinTimer {
                deadline: now + self.rebalance_timeout(),
                initial: None,
            });
            return;
        }
        self.join_timer = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol = None;
            self.phase = Phase::Empty;
            tracing::info!(
                group = self.id,
                generation = self.generation,
                "group is empty"
            );
            return;
        }
        self.protocol = self.select_protocol();
        self.phase = Phase::CompletingRebalance;
        tracing::info!(
            group = self.id,
            generation = self.generation,
            members = self.members.len(),
            protocol = self.protocol,
            "group stabilized; awaiting the leader's assignment"
        );
        let everyone = self.member_list();
        let leader = self.leader.clone().unwrap_or_default();
        let protocol_type = self.protocol_type.clone();
        let protocol = self.protocol.clone();
        let generation = self.generation;
        let mut timeout = Duration::ZERO;
        for member in self.members.values_mut() {
            timeout = timeout.max(member.rebalance_timeout);
            member.last_heartbeat = now;
            member.is_new = false;
            if let Some(ticket) = member.awaiting_join.take() {
                let result = JoinResult {
                    error: None,
                    generation,
                    protocol_type: protocol_type.clone(),
                    protocol: protocol.clone(),
                    leader: leader.clone(),
                    skip_assignment: false,
                    member_id: member.id.clone(),
                    members: if member.id == leader {
                        everyone.clone()
                    } else {
                        Vec::new()
                    },
                };
                self.done.push((ticket, Completion::Join(result)));
            }
        }
        let ids = self.members.keys().cloned().collect();
        self.pending_sync = Some((ids, now + timeout));
    }

    /// Kafka's `maybeElectNewJoinedLeader`: keeps a leader that rejoined,
    /// else picks the earliest member that did; false when none did.
    fn elect_joined_leader(&mut self) -> bool {
        let joined = |id: &str| {
            self.members
                .get(id)
                .is_some_and(|m| m.awaiting_join.is_some())
        };
        if self.leader.as_deref().is_some_and(joined) {
            return true;
        }
        let candidate = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_some())
            .min_by_key(|m| m.order)
            .map(|m| m.id.clone());
        match candidate {
            Some(id) => {
                self.leader = Some(id);
                true
            }
            None => false,
        }
    }

    /// Every member's (id, instance id, metadata for the chosen assignor),
    /// as the leader receives them.
    pub(crate) fn member_list(&self) -> Vec<(String, Option<String>, Bytes)> {
        let protocol = self.protocol.clone().unwrap_or_default();
        let mut members: Vec<_> = self.members.values().collect();
        members.sort_by_key(|m| m.order);
        members
            .into_iter()
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.metadata_for(&protocol),
                )
            })
            .collect()
    }

    /// The longest rebalance timeout of any member (Kafka's
    /// `rebalanceTimeoutMs`).
    pub(crate) fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }
}

//! How the member takes the coordinator's answers (JoinGroup, SyncGroup,
//! Heartbeat, a request lost with its connection) and reacts to their
//! errors as Java's `AbstractCoordinator` does (`errors.rs`).

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::JoinGroupResponse;

use super::errors::{reaction, Reaction};
use super::{rebalance, Effect, Joined, Membership, Phase};
use crate::record::TopicPartition;

impl Membership {
    /// The JoinGroup answer for `epoch`.
    pub(crate) fn on_join(&mut self, epoch: u64, response: &JoinGroupResponse, now: Instant) {
        if epoch != self.epoch || self.phase != Phase::Joining {
            return;
        }
        match reaction("JoinGroup", response.error_code) {
            Reaction::Fine => {
                self.member_id = response.member_id.to_string();
                self.generation = response.generation_id;
                let protocol = response.protocol_name.as_ref().map(|p| p.to_string());
                self.protocol = protocol.clone();
                if *response.leader == *response.member_id {
                    let members = response
                        .members
                        .iter()
                        .map(|m| Joined {
                            member_id: m.member_id.to_string(),
                            instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
                            metadata: m.metadata.clone(),
                        })
                        .collect();
                    self.phase = Phase::Assigning;
                    self.effects.push(Effect::Lead {
                        epoch,
                        protocol: protocol.unwrap_or_default(),
                        members,
                    });
                } else {
                    self.phase = Phase::SyncReady(Vec::new());
                }
            }
            Reaction::MemberIdRequired => {
                self.member_id = response.member_id.to_string();
                self.phase = Phase::NeedJoin;
                self.not_before = now;
            }
            other => self.react(other, now),
        }
    }

    /// The leader's assignments (member id, encoded) for `epoch`.
    pub(crate) fn leader_assigned(&mut self, epoch: u64, assignments: Vec<(String, Bytes)>) {
        if epoch == self.epoch && self.phase == Phase::Assigning {
            self.phase = Phase::SyncReady(assignments);
        }
    }

    /// The SyncGroup answer for `epoch`: this member's partitions, or the
    /// error code.
    pub(crate) fn on_sync(
        &mut self,
        epoch: u64,
        answer: Result<Vec<TopicPartition>, i16>,
        now: Instant,
    ) {
        if epoch != self.epoch || self.phase != Phase::Syncing {
            return;
        }
        match answer {
            Ok(partitions) => {
                self.phase = Phase::Stable;
                self.next_heartbeat = now + self.settings.heartbeat_interval;
                let new: BTreeSet<TopicPartition> = partitions.into_iter().collect();
                let change = rebalance::change(&self.owned, &new);
                if !change.revoked.is_empty() {
                    let ticket = self.ticket();
                    self.effects.push(Effect::Revoke {
                        partitions: change.revoked,
                        ticket,
                    });
                    // KIP-429: what moves is revoked first, then handed out
                    // in a second rebalance.
                    self.rejoin_after = Some(ticket);
                }
                self.effects.push(Effect::Assign {
                    added: change.added,
                    assignment: new.iter().cloned().collect(),
                });
                self.owned = new;
                if std::mem::take(&mut self.rejoin_wanted) {
                    self.request_rejoin(now);
                }
            }
            Err(code) => self.react(reaction("SyncGroup", code), now),
        }
    }

    /// The Heartbeat answer for `epoch`.
    pub(crate) fn on_heartbeat(&mut self, epoch: u64, code: i16, now: Instant) {
        if epoch != self.epoch {
            return;
        }
        self.heartbeat_in_flight = false;
        self.next_heartbeat = now + self.settings.heartbeat_interval;
        if !matches!(self.phase, Phase::Stable | Phase::Revoking { .. }) {
            return;
        }
        match reaction("Heartbeat", code) {
            Reaction::Fine => {}
            Reaction::Retry(why) => tracing::debug!(why, "heartbeat refused; sent again later"),
            other => self.react(other, now),
        }
    }

    /// A request of `epoch` got no answer (its connection closed).
    pub(crate) fn on_lost(&mut self, epoch: u64, now: Instant) {
        if epoch != self.epoch {
            return;
        }
        self.effects.push(Effect::FindCoordinator);
        match self.phase {
            Phase::Joining | Phase::Syncing | Phase::Assigning => {
                self.phase = Phase::NeedJoin;
                self.not_before = now + self.settings.retry_backoff;
            }
            _ => {
                self.heartbeat_in_flight = false;
                self.next_heartbeat = now + self.settings.retry_backoff;
            }
        }
    }

    /// The leader could not compute an assignment, or something else the
    /// member cannot recover from happened.
    pub(crate) fn fail(&mut self, why: String) {
        tracing::error!(why, "the consumer cannot stay in its group");
        self.phase = Phase::Failed;
        self.effects.push(Effect::Fatal(why));
    }

    fn react(&mut self, reaction: Reaction, now: Instant) {
        let joining = matches!(
            self.phase,
            Phase::Joining | Phase::Assigning | Phase::SyncReady(_) | Phase::Syncing
        );
        match reaction {
            Reaction::Fine | Reaction::MemberIdRequired => {}
            Reaction::Rediscover(why) => {
                tracing::debug!(why, "the group coordinator moved");
                self.effects.push(Effect::FindCoordinator);
                if joining {
                    self.phase = Phase::NeedJoin;
                    self.not_before = now;
                }
            }
            Reaction::Retry(why) => {
                tracing::debug!(why, "joining again after the backoff");
                self.phase = Phase::NeedJoin;
                self.not_before = now + self.settings.retry_backoff;
            }
            Reaction::Rejoin(why) => {
                tracing::debug!(why, "the group rebalances");
                if joining {
                    self.phase = Phase::NeedJoin;
                    self.not_before = now;
                } else {
                    self.start_join(now);
                }
            }
            Reaction::ResetMember(why) => self.reset(true, &why, now),
            Reaction::ResetGeneration(why) => self.reset(false, &why, now),
            Reaction::Fatal(why) => self.fail(why),
        }
    }

    /// The generation is over (and with `member`, the member id too): the
    /// partitions are lost, and the member joins again.
    fn reset(&mut self, member: bool, why: &str, now: Instant) {
        tracing::info!(
            why,
            "this member's generation is over: its partitions are lost"
        );
        if member {
            self.member_id.clear();
        }
        self.generation = -1;
        self.lose_partitions();
        self.phase = Phase::NeedJoin;
        self.not_before = now;
    }

    pub(super) fn lose_partitions(&mut self) {
        self.rejoin_after = None;
        self.rejoin_wanted = false;
        if !self.owned.is_empty() {
            let lost = std::mem::take(&mut self.owned).into_iter().collect();
            self.effects.push(Effect::Lost(lost));
        }
    }
}

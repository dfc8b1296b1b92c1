//! The group coordinator: every classic consumer group the cluster knows,
//! the requests that wait on them, and the coordinator faults.
//!
//! Kept with the cluster, not a broker (as committed offsets are), so a
//! group survives its coordinator moving: members told NOT_COORDINATOR
//! find the new coordinator and carry on in the same generation, as they
//! do when Kafka's `__consumer_offsets` leader moves and the new one loads
//! the group.
//!
//! Time is passed in (`now`), never read here, so the unit tests drive a
//! clock of their own. Timeouts (session, rebalance, initial delay,
//! KIP-394 pending ids, SyncGroup after a join phase) are checked by
//! [`Groups::tick`], which every group request and every poll of a waiting
//! request runs first.

mod commit;
mod describe;
mod group;
mod join;
mod liveness;
mod rebalance;
mod sync;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;

pub use describe::{GroupSnapshot, MemberSnapshot};
pub(crate) use group::{Completion, JoinResult, SyncResult, Ticket};
pub(crate) use join::JoinRequest;
pub(crate) use liveness::Leaving;
pub(crate) use sync::SyncRequest;

use group::Group;

/// How long an answered-but-never-collected completion is kept (its
/// connection closed while it waited).
const KEEP_UNCOLLECTED: Duration = Duration::from_secs(600);

/// The coordinator's timing settings (Kafka's `group.*` broker settings).
///
/// The defaults are Kafka's, except the initial rebalance delay: 100 ms
/// instead of 3 s, long enough for members started together to land in
/// one generation, short enough that tests do not wait on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSettings {
    /// `group.initial.rebalance.delay.ms`: how long a rebalance of an
    /// empty group waits for more members (extended by as much again while
    /// new ones arrive, up to the rebalance timeout).
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms`: shorter session timeouts get
    /// INVALID_SESSION_TIMEOUT.
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`: longer ones get
    /// INVALID_SESSION_TIMEOUT.
    pub max_session_timeout: Duration,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            initial_rebalance_delay: Duration::from_millis(100),
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(1800),
        }
    }
}

/// A request's answer now, or a ticket to collect it with later.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply<T> {
    Now(T),
    Wait(Ticket),
}

/// Every group, and what the coordinator owes waiting requests.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    pub(crate) settings: GroupSettings,
    groups: BTreeMap<String, Group>,
    completions: HashMap<Ticket, (Completion, Instant)>,
    next_ticket: Ticket,
    next_member: u64,
    /// Groups a fault moved to another broker.
    moved: BTreeMap<String, i32>,
    /// Groups whose coordinator is "loading" them (a fault) until then.
    loading: BTreeMap<String, Instant>,
}

impl Groups {
    /// Runs every timeout that is due: expired pending ids and sessions,
    /// members that never sent SyncGroup, join phases that may end.
    pub(crate) fn tick(&mut self, now: Instant) {
        for group in self.groups.values_mut() {
            group.expire(now);
            for (ticket, completion) in group.done.drain(..) {
                self.completions.insert(ticket, (completion, now));
            }
        }
        self.completions
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < KEEP_UNCOLLECTED);
        self.loading.retain(|_, until| *until > now);
    }

    /// The answer for `ticket`, once there is one.
    pub(crate) fn take(&mut self, ticket: Ticket) -> Option<Completion> {
        self.completions.remove(&ticket).map(|(c, _)| c)
    }

    fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// A new member id: Kafka's `prefix-UUID` shape (the prefix is the
    /// group.instance.id for static members, else the request's client id),
    /// numbered so runs are reproducible.
    fn member_id(&mut self, prefix: &str) -> String {
        self.next_member += 1;
        let n = self.next_member;
        format!(
            "{prefix}-{n:08x}-0000-4000-8000-{:012x}",
            n.wrapping_mul(0x9e37_79b9)
        )
    }

    /// Moves completions out of `group` after a request changed it; a
    /// `Wait` whose ticket is already answered becomes `Now`.
    fn settle<T>(
        &mut self,
        group: &str,
        reply: Reply<T>,
        now: Instant,
        unwrap: fn(Completion) -> Option<T>,
    ) -> Reply<T> {
        if let Some(g) = self.groups.get_mut(group) {
            for (ticket, completion) in g.done.drain(..) {
                self.completions.insert(ticket, (completion, now));
            }
        }
        match reply {
            Reply::Wait(ticket) => match self.completions.remove(&ticket) {
                Some((completion, _)) => match unwrap(completion) {
                    Some(answer) => Reply::Now(answer),
                    None => Reply::Wait(ticket),
                },
                None => Reply::Wait(ticket),
            },
            now_reply => now_reply,
        }
    }

    /// The group a still-waiting `ticket` (a JoinGroup or SyncGroup)
    /// belongs to.
    pub(crate) fn waiting_group(&self, ticket: Ticket) -> Option<String> {
        self.groups
            .values()
            .find(|g| {
                g.members
                    .values()
                    .any(|m| m.awaiting_join == Some(ticket) || m.awaiting_sync == Some(ticket))
            })
            .map(|g| g.id.clone())
    }

    /// Answers a waiting `ticket` NOT_COORDINATOR (its broker stopped
    /// coordinating the group) and stops counting it as waiting: the
    /// member must come back to the new coordinator, and its session
    /// timeout runs from now, as when Kafka's new coordinator loads the
    /// group.
    pub(crate) fn withdraw(&mut self, ticket: Ticket, now: Instant) -> Option<Completion> {
        for group in self.groups.values_mut() {
            for member in group.members.values_mut() {
                if member.awaiting_join == Some(ticket) {
                    member.awaiting_join = None;
                    member.last_heartbeat = now;
                    let error = ResponseError::NotCoordinator;
                    return Some(Completion::Join(JoinResult::error(&member.id, error)));
                }
                if member.awaiting_sync == Some(ticket) {
                    member.awaiting_sync = None;
                    member.last_heartbeat = now;
                    let error = ResponseError::NotCoordinator;
                    return Some(Completion::Sync(SyncResult::error(error)));
                }
            }
        }
        None
    }

    /// A broker a fault moved `group` to, if any.
    pub(crate) fn moved_to(&self, group: &str) -> Option<i32> {
        self.moved.get(group).copied()
    }

    /// Moves `group`'s coordinator to `broker` (a fault).
    pub(crate) fn move_coordinator(&mut self, group: &str, broker: i32) {
        self.moved.insert(group.to_owned(), broker);
    }

    /// Whether `group`'s coordinator is "loading" it (a fault).
    pub(crate) fn is_loading(&self, group: &str, now: Instant) -> bool {
        self.loading.get(group).is_some_and(|until| *until > now)
    }

    /// Makes `group`'s coordinator answer COORDINATOR_LOAD_IN_PROGRESS
    /// until `until` (a fault).
    pub(crate) fn start_loading(&mut self, group: &str, until: Instant) {
        self.loading.insert(group.to_owned(), until);
    }

    /// Starts a rebalance of `group` (a fault), as a member's new
    /// subscription would: heartbeats get REBALANCE_IN_PROGRESS and the
    /// generation goes up once the members rejoin. False when the group
    /// has no members or is already rebalancing.
    pub(crate) fn force_rebalance(&mut self, group: &str, now: Instant) -> bool {
        self.tick(now);
        let Some(g) = self.groups.get_mut(group) else {
            return false;
        };
        if g.members.is_empty() || g.phase == group::Phase::PreparingRebalance {
            return false;
        }
        tracing::info!(group, "fault: forcing a rebalance");
        g.prepare_rebalance(now, Duration::ZERO);
        self.settle::<()>(group, Reply::Now(()), now, |_| None);
        true
    }
}

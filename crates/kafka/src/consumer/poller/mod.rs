//! The consumer's poller thread (`rouse-kafka-consumer`): every broker
//! connection, metadata for the assigned topics, and one pass before each
//! poll that sends what the partitions' state asks for.
//!
//! ```text
//!  each loop iteration:  I/O handlers (crate::net: read answers;
//!                        apply.rs: verdicts into Positions, notify poll)
//!                        ──►  prepare hook: pump()
//!  pump():  commands from the application ─► DNS answers, timeouts ─►
//!           metadata if stale or old ─► group.rs: coordinator, OffsetFetch,
//!           commits ─► send.rs: ListOffsets and one Fetch per leader ─►
//!           one timer for the next deadline
//! ```
//!
//! The poller is the loop's data (`EventLoop<ConsumerPoller>`) and the
//! connection layer's [`Client`](crate::net::Client) (`hooks.rs`). The
//! application reaches it two ways, both followed by the loop handle's
//! coalescing wake: changes to `Positions` under the shared lock (seek,
//! pause, assign, a drain that freed a full buffer), and [`Command`]s on a
//! channel for what needs an answer (commits, committed offsets, close).
//! Nothing waits for a fetch's `fetch.max.wait.ms`: a seek's partition is
//! fetched on the next pump, and the older fetch's answer is dropped by
//! its generation.

mod apply;
mod group;
mod hooks;
mod membership;
mod metadata;
mod send;
mod spawn;

pub(crate) use spawn::spawn_poller;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use rouse_reactor::{EventLoop, TimerId};

use super::assignor::{assignor_by_name, Assignor, RebalanceProtocol};
use super::consumer_error::ConsumerError;
use super::fetch::{FetchVerdict, Leader};
use super::group::GroupVerdict;
use super::list_offsets::{ListOffsetsVerdict, SentReset};
use super::membership::{Membership, PollClock, Settings};
use super::positions::{Fetchable, FollowUp, Position};
use super::shared::{Shared, Subscription};
use super::versions::WANTS;
use crate::config::ConsumerConfig;
use crate::net::{Connections, Net, NetSettings, Secure};
use crate::record::{BrokerId, TopicPartition};

/// The poller thread's event loop.
pub(crate) type Loop = EventLoop<ConsumerPoller>;

/// A broker connection as the poller's loop owns it.
pub(crate) type Link = crate::net::Link<Purpose>;

/// The answer to a commit: `Ok` once every partition is committed.
pub(crate) type CommitReply = Sender<Result<(), ConsumerError>>;

/// The answer to `committed`: each partition's committed offset, if any.
pub(crate) type CommittedReply = Sender<Result<Vec<(TopicPartition, Option<i64>)>, ConsumerError>>;

/// The answer to a leave (`close`, `unsubscribe`): once LeaveGroup is
/// answered, or at once when there is nothing to leave.
pub(crate) type LeaveReply = Sender<Result<(), ConsumerError>>;

/// What the application asks of the poller beyond `Positions`.
#[derive(Debug)]
pub(crate) enum Command {
    /// Commit `offsets`; `reply` (none for `commit_async`) gets the outcome.
    Commit(Commit),
    /// Read the committed offsets of `partitions`.
    Committed(Committed),
    /// Leave the group (a subscribed consumer's `close` or `unsubscribe`).
    Leave(Option<LeaveReply>),
    /// Stop the loop.
    Close,
}

/// A commit waiting for, or in, an OffsetCommit request.
#[derive(Debug)]
pub(crate) struct Commit {
    pub(crate) offsets: Vec<(TopicPartition, Position)>,
    pub(crate) reply: Option<CommitReply>,
    /// Given up (and answered with a timeout) after this.
    pub(crate) deadline: Instant,
}

/// A `committed` lookup waiting for, or in, an OffsetFetch request.
#[derive(Debug)]
pub(crate) struct Committed {
    pub(crate) partitions: Vec<TopicPartition>,
    pub(crate) reply: CommittedReply,
    pub(crate) deadline: Instant,
}

/// What each of the consumer's requests in flight carries.
#[derive(Debug)]
pub(crate) enum Purpose {
    Metadata,
    FindCoordinator,
    Fetch(Vec<Fetchable>),
    ListOffsets(Vec<SentReset>),
    /// Committed offsets that partitions start from: (partition, generation).
    StartOffsets(Vec<(TopicPartition, u64)>),
    Commit(Commit),
    Committed(Committed),
    /// Group membership requests, with the member's epoch.
    Join(u64),
    Sync(u64),
    Heartbeat(u64),
    /// LeaveGroup, with whoever waits for it.
    Leave(Vec<LeaveReply>),
}

/// Everything the poller thread owns but its connections.
pub(crate) struct ConsumerPoller {
    shared: Arc<Shared>,
    commands: Receiver<Command>,
    net: Net,
    leaders: HashMap<TopicPartition, Leader>,
    brokers: Vec<(BrokerId, String, u16)>,
    metadata_stale: bool,
    metadata_in_flight: bool,
    metadata_at: Option<Instant>,
    metadata_not_before: Instant,
    /// After a retriable fetch or reset error: nothing is planned before.
    fetch_not_before: Instant,
    coordinator: Option<BrokerId>,
    coordinator_in_flight: bool,
    coordinator_not_before: Instant,
    /// Group requests waiting for the coordinator.
    group_queue: VecDeque<GroupOp>,
    timer: Option<(Instant, TimerId)>,
    /// The group member (`None` without a `group.id`).
    member: Option<Membership>,
    /// `partition.assignment.strategy`'s assignors, preferred first.
    assignors: Vec<Box<dyn Assignor>>,
    /// The subscription as the poller last read it.
    subscription: Option<Subscription>,
    /// A pattern subscription's matching topics, from the last metadata.
    pattern_topics: BTreeSet<String>,
    /// Partition counts of every topic the last metadata named.
    partition_counts: HashMap<String, i32>,
    /// A leader's assignment waiting for metadata.
    pending_lead: Option<membership::Lead>,
    /// The leader's view when it last assigned: every member's topics and
    /// the partition counts it assigned over (Java's `assignmentSnapshot`);
    /// a later metadata answer that differs rebalances the group.
    assigned_over: Option<membership::AssignedOver>,
    /// Leaves waiting for LeaveGroup to be sent.
    leaving: Vec<LeaveReply>,
    /// The application's polls, as last read.
    poll_clock: PollClock,
}

/// A commit or a lookup queued for the coordinator.
#[derive(Debug)]
pub(crate) enum GroupOp {
    Commit(Commit),
    Committed(Committed),
}

/// The group member and its assignors, with a `group.id`. A configured
/// assignor this build lacks is skipped with a warning; with none left the
/// member fails at once (`poll` says so).
fn member(config: &ConsumerConfig, now: Instant) -> (Option<Membership>, Vec<Box<dyn Assignor>>) {
    if config.group_id().is_none() {
        return (None, Vec::new());
    }
    let assignors: Vec<Box<dyn Assignor>> = config
        .assignment_strategy()
        .iter()
        .filter_map(|name| {
            let found = assignor_by_name(name);
            if found.is_none() {
                tracing::warn!(
                    name,
                    "partition.assignment.strategy: this assignor is not available; skipped"
                );
            }
            found
        })
        .collect();
    // Java: the cooperative protocol only when every assignor supports it.
    let cooperative = !assignors.is_empty()
        && assignors
            .iter()
            .all(|a| a.protocol() == RebalanceProtocol::Cooperative);
    let settings = Settings {
        heartbeat_interval: config.heartbeat_interval(),
        max_poll_interval: config.max_poll_interval(),
        retry_backoff: config.retry_backoff(),
        instance_id: config.group_instance_id().map(str::to_owned),
        cooperative,
    };
    let mut member = Membership::new(settings, now);
    if assignors.is_empty() {
        member.fail(format!(
            "none of partition.assignment.strategy's assignors ({}) is available",
            config.assignment_strategy().join(", ")
        ));
    }
    (Some(member), assignors)
}

fn net_settings(config: &ConsumerConfig) -> NetSettings {
    NetSettings {
        bootstrap_servers: config.bootstrap_servers.clone(),
        client_id: config.client_id.clone(),
        request_timeout: config.request_timeout(),
        reconnect_backoff: config.reconnect_backoff(),
        reconnect_backoff_max: config.reconnect_backoff_max(),
        max_idle: config.connections_max_idle(),
        security: config.security.clone(),
        wants: WANTS,
    }
}

impl ConsumerPoller {
    pub(crate) fn new(shared: Arc<Shared>, commands: Receiver<Command>, el: &Loop) -> Self {
        let now = el.now();
        let config = &shared.config;
        let (member, assignors) = member(config, now);
        ConsumerPoller {
            member,
            assignors,
            subscription: None,
            pattern_topics: BTreeSet::new(),
            partition_counts: HashMap::new(),
            pending_lead: None,
            assigned_over: None,
            leaving: Vec::new(),
            poll_clock: PollClock {
                last_poll: now,
                in_poll: false,
            },
            net: Net::new(net_settings(config), el),
            commands,
            leaders: HashMap::new(),
            brokers: Vec::new(),
            metadata_stale: true,
            metadata_in_flight: false,
            metadata_at: None,
            metadata_not_before: now,
            fetch_not_before: now,
            coordinator: None,
            coordinator_in_flight: false,
            coordinator_not_before: now,
            group_queue: VecDeque::new(),
            timer: None,
            shared,
        }
    }

    /// One pass before the loop sleeps; see the module docs.
    pub(crate) fn pump(&mut self, el: &mut Loop) {
        let now = el.now();
        if !self.take_commands(el) {
            return;
        }
        if self.shared.state.lock().fatal.is_some() {
            return; // every call refuses; close() stops the loop
        }
        self.net.take_answers();
        self.forget_removed(el);
        self.time_out(el, now);
        self.expire_sessions(el, now);
        // Membership first: a leader's assignment asks for metadata, which
        // must go out in this pass (nothing else would wake the loop).
        self.membership_work(el, now);
        self.refresh_metadata(el, now);
        self.group_work(el, now);
        self.send_resets_and_fetches(el, now);
        self.arm_timer(el, now);
    }

    /// Takes the application's commands; `false` once the loop must stop.
    fn take_commands(&mut self, el: &mut Loop) -> bool {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Commit(commit) => self.group_queue.push_back(GroupOp::Commit(commit)),
                Command::Committed(ask) => self.group_queue.push_back(GroupOp::Committed(ask)),
                Command::Leave(reply) => self.leave(reply, el, el.now()),
                Command::Close => {
                    el.stop();
                    return false;
                }
            }
        }
        true
    }

    /// What a verdict asks of the poller beyond `Positions`.
    fn follow(&mut self, follow: FollowUp, now: Instant) {
        match follow {
            FollowUp::Nothing => {}
            FollowUp::RefreshMetadata => self.metadata_stale = true,
            FollowUp::Backoff => {
                self.fetch_not_before = now + self.shared.config.retry_backoff();
            }
            FollowUp::FindCoordinator => self.coordinator = None,
        }
    }

    /// One timer for the earliest deadline that needs the loop awake.
    fn arm_timer(&mut self, el: &mut Loop, now: Instant) {
        let config = &self.shared.config;
        let mut next: Option<Instant> = None;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at.filter(|at| *at > now) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        consider(self.metadata_at.map(|at| at + config.metadata_max_age()));
        if self.metadata_stale {
            consider(Some(self.metadata_not_before));
        }
        consider(Some(self.fetch_not_before));
        consider(Some(self.coordinator_not_before));
        if let Some(member) = &self.member {
            consider(member.deadline(self.poll_clock));
        }
        for op in &self.group_queue {
            consider(Some(op.deadline()));
        }
        self.net.deadlines(el, &mut consider);
        match (next, self.timer) {
            (Some(at), Some((armed, _))) if armed == at => {}
            (next, armed) => {
                if let Some((_, timer)) = armed {
                    el.cancel(timer);
                }
                // The pump runs on the iteration the timer wakes.
                self.timer = next.map(|at| (at, el.call_at(at, |_, _| {})));
            }
        }
    }
}

impl GroupOp {
    fn deadline(&self) -> Instant {
        match self {
            GroupOp::Commit(c) => c.deadline,
            GroupOp::Committed(c) => c.deadline,
        }
    }
}

/// A lost fetch's verdict: fetched again from the same position.
fn lost_fetch(why: &str) -> FetchVerdict {
    FetchVerdict::Retry(why.to_owned())
}

/// A lost reset's verdict: asked again.
fn lost_reset(why: &str) -> ListOffsetsVerdict {
    ListOffsetsVerdict::Retry(why.to_owned())
}

/// A lost OffsetFetch's verdict: asked again, after finding the coordinator.
fn lost_committed(why: &str) -> GroupVerdict<Option<Position>> {
    GroupVerdict::FindCoordinator(why.to_owned())
}

//! The application's side of consumer groups: `subscribe` (topic names or
//! a pattern), `unsubscribe`, and the rebalance steps `poll` runs on the
//! application's thread (docs/consumer-groups.md).
//!
//! ```text
//!  poller (membership)                     application thread, inside poll
//!  ───────────────────                     ───────────────────────────────
//!  Revoke{partitions, ticket} ─► events ─► auto-commit them, listener.revoked,
//!                                          drop them from Positions, ack ticket
//!  ◄── wake ─────────────────────────────── (the poller then joins / rejoins)
//!  Assigned(partitions) ──────► events ─► listener.assigned (already fetching)
//!  Lost(partitions) ──────────► events ─► listener.lost (already dropped)
//! ```

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::client::{wait_reply, Consumer};
use super::consumer_error::ConsumerError;
use super::listener::ConsumerRebalanceListener;
use super::poller::Command;
use super::shared::{RebalanceEvent, Shared, Subscription};
use crate::record::TopicPartition;

/// Counts a `poll` in `GroupState` from its start to its end, for
/// `max.poll.interval.ms`.
pub(super) struct Polling<'a>(&'a Shared);

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock();
        state.group.in_poll -= 1;
        state.group.last_poll = Instant::now();
    }
}

impl Consumer {
    /// Joins the group of `group.id` for `topics`: the group's members
    /// share their partitions (by `partition.assignment.strategy`), and
    /// `listener` hears of every change, inside [`poll`](Consumer::poll).
    /// Subscribing again replaces the subscription (and rebalances); an
    /// empty list is [`unsubscribe`](Consumer::unsubscribe).
    ///
    /// # Errors
    ///
    /// [`ConsumerError::NoGroup`] without a `group.id`;
    /// [`ConsumerError::SubscriptionConflict`] after `assign`;
    /// [`ConsumerError::Closed`].
    pub fn subscribe<I, S>(
        &self,
        topics: I,
        listener: impl ConsumerRebalanceListener + 'static,
    ) -> Result<(), ConsumerError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.is_empty() {
            return self.unsubscribe();
        }
        self.set_subscription(Subscription::Topics(topics), Box::new(listener))
    }

    /// As [`subscribe`](Consumer::subscribe), for every topic whose whole
    /// name matches `pattern` (a regular expression, as Java's
    /// `subscribe(Pattern)`), checked against the cluster's topics at
    /// every metadata refresh (`metadata.max.age.ms`): a new matching
    /// topic joins the subscription and the group rebalances.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::InvalidPattern`], and as `subscribe`.
    pub fn subscribe_pattern(
        &self,
        pattern: &str,
        listener: impl ConsumerRebalanceListener + 'static,
    ) -> Result<(), ConsumerError> {
        let anchored = format!("^(?:{pattern})$");
        let regex = regex::Regex::new(&anchored).map_err(|e| ConsumerError::InvalidPattern {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        self.set_subscription(Subscription::Pattern(regex), Box::new(listener))
    }

    fn set_subscription(
        &self,
        subscription: Subscription,
        listener: Box<dyn ConsumerRebalanceListener>,
    ) -> Result<(), ConsumerError> {
        if self.shared.config.group_id().is_none() {
            return Err(ConsumerError::NoGroup);
        }
        let mut held = self.listener.lock();
        self.change(|state| {
            if state.group.subscription.is_none() && state.positions.assignment().next().is_some() {
                return Err(ConsumerError::SubscriptionConflict(
                    "subscribe() cannot be used after assign(): a consumer either chooses its \
                     partitions or lets its group choose them; call unsubscribe() first",
                ));
            }
            state.group.subscription = Some(subscription);
            state.group.subscription_changed = true;
            state.group.last_poll = Instant::now();
            Ok(())
        })?;
        *held = listener;
        Ok(())
    }

    /// Leaves the group (revoking the partitions through the listener
    /// first, after an auto-commit) or drops a manual assignment.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Closed`].
    pub fn unsubscribe(&self) -> Result<(), ConsumerError> {
        Shared::check_open(&self.shared.state.lock())?;
        self.leave_group(self.shared.config.request_timeout());
        self.change(|state| {
            state.positions.assign([]);
            state.assignment_changed = true;
            Ok(())
        })
    }

    /// Revokes the assignment (auto-commit, listener) and sends LeaveGroup
    /// through the poller, waiting for it up to `timeout`. Nothing to do
    /// when not subscribed.
    pub(super) fn leave_group(&self, timeout: Duration) {
        let assigned: Vec<TopicPartition> = {
            let mut state = self.shared.state.lock();
            if state.group.subscription.take().is_none() {
                return;
            }
            state.group.subscription_changed = true;
            state.group.events.clear();
            state.positions.assignment().cloned().collect()
        };
        let mut listener = self.listener.lock();
        if !assigned.is_empty() {
            listener.on_partitions_revoked(self, &assigned);
        }
        *listener = Box::new(());
        drop(listener);
        let (reply, answer) = crossbeam_channel::bounded(1);
        let wait = timeout.min(self.shared.config.request_timeout());
        if self.send(Command::Leave(Some(reply))).is_ok() {
            if let Err(error) = wait_reply(&answer, wait, "LeaveGroup") {
                tracing::warn!(%error, "the group will notice after session.timeout.ms");
            }
        }
    }

    /// Counts this `poll` (for `max.poll.interval.ms`); the first after
    /// the consumer left its group for not polling says so.
    pub(super) fn start_poll(&self) -> Result<Polling<'_>, ConsumerError> {
        let expired = {
            let mut state = self.shared.state.lock();
            state.group.in_poll += 1;
            state.group.last_poll = Instant::now();
            std::mem::take(&mut state.group.poll_expired)
        };
        let polling = Polling(&self.shared);
        if expired {
            self.handle.wake(); // the poller rejoins
            return Err(ConsumerError::PollIntervalExceeded {
                max: self.shared.config.max_poll_interval(),
            });
        }
        Ok(polling)
    }

    /// Runs the rebalance steps the poller queued, in order.
    pub(super) fn run_rebalance_events(&self) -> Result<(), ConsumerError> {
        let mut listener = self.listener.lock();
        loop {
            let event = {
                let mut state = self.shared.state.lock();
                Shared::check_open(&state)?;
                state.group.events.pop_front()
            };
            let Some(event) = event else {
                return Ok(());
            };
            match event {
                RebalanceEvent::Revoke { partitions, ticket } => {
                    self.auto_commit_before_revoking(&partitions);
                    if !partitions.is_empty() {
                        listener.on_partitions_revoked(self, &partitions);
                    }
                    self.change(|state| {
                        let gone: BTreeSet<&TopicPartition> = partitions.iter().collect();
                        let kept: Vec<TopicPartition> = state
                            .positions
                            .assignment()
                            .filter(|tp| !gone.contains(tp))
                            .cloned()
                            .collect();
                        state.positions.assign(kept);
                        state.assignment_changed = true;
                        state.group.revoked.push(ticket);
                        Ok(())
                    })?;
                }
                RebalanceEvent::Assigned(partitions) => {
                    listener.on_partitions_assigned(self, &partitions)
                }
                RebalanceEvent::Lost(partitions) => listener.on_partitions_lost(self, &partitions),
            }
        }
    }

    /// `enable.auto.commit`: the positions of partitions about to be
    /// revoked are committed first, so their next owner starts where this
    /// member stopped. A failure is logged: the next owner then reads
    /// from the last commit (records again, none lost).
    fn auto_commit_before_revoking(&self, partitions: &[TopicPartition]) {
        if !self.shared.config.enable_auto_commit() {
            return;
        }
        let offsets: Vec<(TopicPartition, i64)> = {
            let state = self.shared.state.lock();
            partitions
                .iter()
                .filter_map(|tp| Some((tp.clone(), state.positions.position(tp).ok()??)))
                .collect()
        };
        let timeout = self.shared.config.request_timeout();
        if let Err(error) = self.commit_offsets_sync(offsets, timeout) {
            tracing::warn!(%error, "the commit before revoking partitions failed");
        }
    }
}

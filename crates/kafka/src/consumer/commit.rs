//! Offsets: `commit_sync`, `commit_async`, `committed`, and
//! `enable.auto.commit` made from `poll` (see `auto_commit.rs`), each a
//! command to the poller, which sends it to the group's coordinator.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::client::{deadline_after, positions_to_commit, wait_reply, Consumer};
use super::consumer_error::ConsumerError;
use super::poller::{Command, Commit, Committed};
use super::positions::Position;
use super::shared::Shared;
use crate::record::TopicPartition;

impl Consumer {
    /// The positions of every assigned partition that has one.
    fn current_positions(&self) -> Result<Vec<(TopicPartition, Position)>, ConsumerError> {
        if self.shared.config.group_id().is_none() {
            return Err(ConsumerError::NoGroup);
        }
        let state = self.shared.state.lock();
        Shared::check_open(&state)?;
        Ok(positions_to_commit(&state.positions))
    }

    /// Commits every assigned partition's position (the next record
    /// `poll` hands out) to the group's coordinator and waits for it.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::NoGroup`] without a `group.id`;
    /// [`ConsumerError::Group`] naming a partition the coordinator
    /// refused; [`ConsumerError::Timeout`] (the commit may still land).
    pub fn commit_sync(&self, timeout: Duration) -> Result<(), ConsumerError> {
        let offsets = self.current_positions()?;
        self.commit_offsets_sync(offsets.into_iter().map(|(tp, p)| (tp, p.offset)), timeout)
    }

    /// Commits `offsets` (each the next offset to read) and waits.
    ///
    /// # Errors
    ///
    /// As [`commit_sync`](Consumer::commit_sync).
    pub fn commit_offsets_sync(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, i64)>,
        timeout: Duration,
    ) -> Result<(), ConsumerError> {
        if self.shared.config.group_id().is_none() {
            return Err(ConsumerError::NoGroup);
        }
        let offsets: Vec<(TopicPartition, Position)> = offsets
            .into_iter()
            .map(|(tp, o)| (tp, Position::at(o)))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Commit(Commit {
            offsets,
            reply: Some(reply),
            deadline: deadline_after(timeout),
        }))?;
        wait_reply(&answer, timeout, "the commit")
    }

    /// `enable.auto.commit`: an asynchronous commit of every position,
    /// once per `auto.commit.interval.ms`, as Java's `poll` makes it.
    pub(super) fn auto_commit_if_due(&self) -> Result<(), ConsumerError> {
        let Some(auto) = &self.auto_commit else {
            return Ok(());
        };
        let now = Instant::now();
        if !auto.take_due(now) {
            return Ok(());
        }
        self.commit_positions_async(now + auto.interval())
    }

    /// Queues a commit of every position, given up at `deadline`; an
    /// empty assignment commits nothing.
    fn commit_positions_async(&self, deadline: Instant) -> Result<(), ConsumerError> {
        let offsets = self.current_positions()?;
        if offsets.is_empty() {
            return Ok(());
        }
        self.send(Command::Commit(Commit {
            offsets,
            reply: None,
            deadline,
        }))
    }

    /// Commits every assigned partition's position without waiting; a
    /// failure is logged (`tracing`), and retried until
    /// `request.timeout.ms` when the coordinator moved.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::NoGroup`], [`ConsumerError::Closed`].
    pub fn commit_async(&self) -> Result<(), ConsumerError> {
        self.commit_positions_async(deadline_after(self.shared.config.request_timeout()))
    }

    /// The group's committed offset of each partition (`None`: nothing
    /// committed), asked of the coordinator.
    ///
    /// # Errors
    ///
    /// As [`commit_sync`](Consumer::commit_sync).
    pub fn committed(
        &self,
        partitions: &[TopicPartition],
        timeout: Duration,
    ) -> Result<HashMap<TopicPartition, Option<i64>>, ConsumerError> {
        if self.shared.config.group_id().is_none() {
            return Err(ConsumerError::NoGroup);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Committed(Committed {
            partitions: partitions.to_vec(),
            reply,
            deadline: deadline_after(timeout),
        }))?;
        wait_reply(&answer, timeout, "the committed offsets")
            .map(|found| found.into_iter().collect())
    }
}

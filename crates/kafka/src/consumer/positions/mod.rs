//! Per-partition fetch state, without I/O: what is assigned, where each
//! partition reads from, what is paused, which resets wait for a
//! ListOffsets answer, and the prefetch buffer `poll` drains.
//!
//! ```text
//!  assign ──► AwaitingCommitted (group.id set) ──OffsetFetch──┐
//!        └──► AwaitingReset(auto.offset.reset) ◄── none committed
//!                  │ ListOffsets                               │
//!  seek ─────────► At(position) ◄──────────────────────────────┘
//!                  │ Fetch: records → buffer, position moves on
//!                  ├─ OFFSET_OUT_OF_RANGE → AwaitingReset, or Failed (none)
//!                  └─ corrupt batch, refusal → Failed (until a seek)
//! ```
//!
//! Every seek, reset or re-assignment bumps the partition's generation; an
//! answer to a request sent under an older generation is dropped, so a
//! fetch that was in flight during a seek never delivers records from
//! before it. A partition is fetched only while it is `At` a position, not
//! paused, not already being fetched, and its buffer holds less than
//! `queued.max.messages.kbytes`.
//!
//! The verdicts on OffsetFetch, ListOffsets and Fetch answers are applied
//! in `apply.rs`.

mod apply;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use super::error::PartitionError;
use super::record::ConsumerRecord;
use super::stats::PartitionStats;
use crate::config::{AutoOffsetReset, ConsumerConfig};
use crate::record::TopicPartition;

/// A place in a partition: the next offset to fetch or hand out, and the
/// leader epoch of the record before it, if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: Option<i32>,
}

impl Position {
    pub(crate) fn at(offset: i64) -> Position {
        Position {
            offset,
            leader_epoch: None,
        }
    }
}

/// Which end of the log a reset asks ListOffsets for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetTo {
    Earliest,
    Latest,
}

impl ResetTo {
    /// ListOffsets' timestamp for this end.
    pub(crate) fn timestamp(self) -> i64 {
        match self {
            ResetTo::Earliest => -2,
            ResetTo::Latest => -1,
        }
    }
}

/// The application named a partition it has not assigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not assigned to this consumer; assign it first")]
pub(crate) struct NotAssigned(pub(crate) TopicPartition);

/// What the poller does after applying a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FollowUp {
    Nothing,
    /// The leader may have moved: refresh metadata before fetching again.
    RefreshMetadata,
    /// Try again after the retry backoff.
    Backoff,
    /// The group coordinator moved: find it again.
    FindCoordinator,
}

#[derive(Debug, Clone)]
enum Place {
    AwaitingCommitted {
        requested: bool,
    },
    AwaitingReset {
        to: ResetTo,
        requested: bool,
    },
    At(Position),
    /// Stopped at `at` until the application seeks.
    Failed {
        error: PartitionError,
        at: Position,
    },
}

#[derive(Debug)]
struct Partition {
    place: Place,
    paused: bool,
    generation: u64,
    fetching: bool,
    buffer: VecDeque<ConsumerRecord>,
    buffered_bytes: usize,
    high_watermark: Option<i64>,
    /// The (generation, offset) at which the last fetch brought nothing
    /// new: the partition has caught up with its log there.
    idle_at: Option<(u64, i64)>,
}

/// A partition ready to be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetchable {
    pub(crate) partition: TopicPartition,
    pub(crate) position: Position,
    pub(crate) generation: u64,
}

/// Every assigned partition's state; see the module docs.
#[derive(Debug)]
pub(crate) struct Positions {
    partitions: BTreeMap<TopicPartition, Partition>,
    reset: AutoOffsetReset,
    has_group: bool,
    max_poll_records: usize,
    prefetch_bytes: usize,
    /// Where the next drain starts, so every partition gets its turn.
    drain_from: usize,
    generations: u64,
}

impl Positions {
    pub(crate) fn new(config: &ConsumerConfig) -> Positions {
        Positions {
            partitions: BTreeMap::new(),
            reset: config.auto_offset_reset(),
            has_group: config.group_id().is_some(),
            max_poll_records: config.max_poll_records(),
            prefetch_bytes: config.prefetch_bytes_per_partition(),
            drain_from: 0,
            generations: 0,
        }
    }

    fn next_generation(&mut self) -> u64 {
        self.generations += 1;
        self.generations
    }

    /// The place a partition without a position starts from.
    fn unpositioned(&self, partition: &TopicPartition) -> Place {
        if self.has_group {
            return Place::AwaitingCommitted { requested: false };
        }
        self.reset_place(partition, Position::at(-1), None)
    }

    /// `auto.offset.reset` applied: a reset, or the error `none` asks for.
    fn reset_place(
        &self,
        partition: &TopicPartition,
        at: Position,
        out_of_range: Option<i64>,
    ) -> Place {
        let to = match self.reset {
            AutoOffsetReset::Earliest => ResetTo::Earliest,
            AutoOffsetReset::Latest => ResetTo::Latest,
            AutoOffsetReset::None => {
                let partition = partition.clone();
                let error = match out_of_range {
                    Some(offset) => PartitionError::OffsetOutOfRange { partition, offset },
                    None => PartitionError::NoOffset { partition },
                };
                return Place::Failed { error, at };
            }
        };
        Place::AwaitingReset {
            to,
            requested: false,
        }
    }

    /// Replaces the assignment. Partitions kept keep their state and
    /// buffer; new ones start without a position.
    pub(crate) fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) {
        let mut old = std::mem::take(&mut self.partitions);
        for tp in partitions {
            let state = match old.remove(&tp) {
                Some(state) => state,
                None => Partition {
                    place: self.unpositioned(&tp),
                    paused: false,
                    generation: self.next_generation(),
                    fetching: false,
                    buffer: VecDeque::new(),
                    buffered_bytes: 0,
                    high_watermark: None,
                    idle_at: None,
                },
            };
            self.partitions.insert(tp, state);
        }
    }

    /// The assigned partitions, in order.
    pub(crate) fn assignment(&self) -> impl Iterator<Item = &TopicPartition> {
        self.partitions.keys()
    }

    fn get_mut(&mut self, tp: &TopicPartition) -> Result<&mut Partition, NotAssigned> {
        self.partitions
            .get_mut(tp)
            .ok_or_else(|| NotAssigned(tp.clone()))
    }

    /// Moves `tp` to `place` under a new generation, dropping its buffer.
    fn restart(&mut self, tp: &TopicPartition, place: Place) -> Result<(), NotAssigned> {
        let generation = self.next_generation();
        let p = self.get_mut(tp)?;
        p.place = place;
        p.generation = generation;
        p.buffer.clear();
        p.buffered_bytes = 0;
        Ok(())
    }

    /// `seek`: the next record handed out is at `offset`.
    pub(crate) fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<(), NotAssigned> {
        self.restart(tp, Place::At(Position::at(offset)))
    }

    /// `seek_to_beginning` / `seek_to_end`: a ListOffsets request is due.
    pub(crate) fn seek_to(&mut self, tp: &TopicPartition, to: ResetTo) -> Result<(), NotAssigned> {
        let place = Place::AwaitingReset {
            to,
            requested: false,
        };
        self.restart(tp, place)
    }

    /// `pause` (true) or `resume` (false): a paused partition is not fetched
    /// and `poll` hands out none of its records; its buffer is kept.
    pub(crate) fn set_paused(
        &mut self,
        tp: &TopicPartition,
        paused: bool,
    ) -> Result<(), NotAssigned> {
        self.get_mut(tp)?.paused = paused;
        Ok(())
    }

    /// `position`: the offset of the next record `poll` hands out, once
    /// known.
    pub(crate) fn position(&self, tp: &TopicPartition) -> Result<Option<i64>, NotAssigned> {
        let p = self
            .partitions
            .get(tp)
            .ok_or_else(|| NotAssigned(tp.clone()))?;
        if let Some(first) = p.buffer.front() {
            return Ok(Some(first.offset));
        }
        Ok(match &p.place {
            Place::At(at) | Place::Failed { at, .. } if at.offset >= 0 => Some(at.offset),
            _ => None,
        })
    }

    /// High watermark minus position, once both are known.
    pub(crate) fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let hw = self.partitions.get(tp)?.high_watermark?;
        Some((hw - self.position(tp).ok()??).max(0))
    }

    /// Bytes of records waiting in every partition's buffer (the tests'
    /// shorthand; `Consumer::stats` sums `partition_stats`).
    #[cfg(test)]
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.partitions.values().map(|p| p.buffered_bytes).sum()
    }

    /// Every partition's figures for `Consumer::stats`, in order.
    pub(crate) fn partition_stats(&self) -> Vec<PartitionStats> {
        self.partitions
            .iter()
            .map(|(tp, p)| PartitionStats {
                partition: tp.clone(),
                position: self.position(tp).ok().flatten(),
                high_watermark: p.high_watermark,
                lag: self.lag(tp),
                buffered_records: p.buffer.len(),
                buffered_bytes: p.buffered_bytes,
                paused: p.paused,
            })
            .collect()
    }

    /// Partitions that need their committed offset (OffsetFetch), marked as
    /// asked.
    pub(crate) fn take_committed_requests(&mut self) -> Vec<(TopicPartition, u64)> {
        let mut out = Vec::new();
        for (tp, p) in &mut self.partitions {
            if let Place::AwaitingCommitted { requested } = &mut p.place {
                if !*requested {
                    *requested = true;
                    out.push((tp.clone(), p.generation));
                }
            }
        }
        out
    }

    /// Resets waiting for ListOffsets, marked as asked.
    pub(crate) fn take_reset_requests(&mut self) -> Vec<(TopicPartition, ResetTo, u64)> {
        let mut out = Vec::new();
        for (tp, p) in &mut self.partitions {
            if let Place::AwaitingReset { to, requested } = &mut p.place {
                if !*requested {
                    *requested = true;
                    out.push((tp.clone(), *to, p.generation));
                }
            }
        }
        out
    }

    /// Stops `tp` with `error` (metadata says it does not exist): `poll`
    /// raises it, after the records already buffered, until a seek.
    pub(crate) fn fail(&mut self, tp: &TopicPartition, error: PartitionError) {
        if let Some(p) = self.partitions.get_mut(tp) {
            let at = match &p.place {
                Place::At(at) | Place::Failed { at, .. } => *at,
                _ => Position::at(-1),
            };
            p.place = Place::Failed { error, at };
        }
    }

    /// Whether some partition's buffer is at its bound (so it is not being
    /// fetched): a drain that takes from it must wake the poller.
    pub(crate) fn any_full(&self) -> bool {
        self.partitions
            .values()
            .any(|p| p.buffered_bytes >= self.prefetch_bytes)
    }

    /// Whether a partition waits for an OffsetFetch not yet asked.
    pub(crate) fn awaits_committed(&self) -> bool {
        self.partitions
            .values()
            .any(|p| matches!(p.place, Place::AwaitingCommitted { requested: false }))
    }

    /// Partitions to fetch now (see the module docs), in order.
    pub(crate) fn fetchable(&self) -> Vec<Fetchable> {
        self.partitions
            .iter()
            .filter(|(_, p)| !p.paused && !p.fetching && p.buffered_bytes < self.prefetch_bytes)
            .filter_map(|(tp, p)| match p.place {
                Place::At(position) => Some(Fetchable {
                    partition: tp.clone(),
                    position,
                    generation: p.generation,
                }),
                _ => None,
            })
            .collect()
    }

    /// Partitions that would be fetched but for a full buffer: `poll`
    /// drains them soon (and wakes the poller when it does).
    pub(crate) fn held_back(&self) -> impl Iterator<Item = &TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, p)| !p.paused && !p.fetching && p.buffered_bytes >= self.prefetch_bytes)
            .filter(|(_, p)| matches!(p.place, Place::At(_)))
            .map(|(tp, _)| tp)
    }

    /// Whether the last fetch of `fetched` at its position, under its
    /// generation, brought nothing new (it reached the end of its log).
    pub(crate) fn caught_up(&self, fetched: &Fetchable) -> bool {
        self.partitions
            .get(&fetched.partition)
            .is_some_and(|p| p.idle_at == Some((fetched.generation, fetched.position.offset)))
    }

    /// A fetch for `tp` is in flight; it is not fetched again until its
    /// answer is applied.
    pub(crate) fn mark_fetching(&mut self, tp: &TopicPartition) {
        if let Some(p) = self.partitions.get_mut(tp) {
            p.fetching = true;
        }
    }

    /// What `poll` hands out: up to `max.poll.records` buffered records of
    /// unpaused partitions, taking turns; or, when none are buffered, the
    /// first failed partition's error (which stays until a seek).
    pub(crate) fn drain(&mut self) -> Result<Vec<ConsumerRecord>, PartitionError> {
        let mut out = Vec::new();
        let mut partitions: Vec<&mut Partition> = self.partitions.values_mut().collect();
        let count = partitions.len();
        let start = self.drain_from % count.max(1);
        let mut error = None;
        for i in (start..count).chain(0..start) {
            let p = &mut partitions[i];
            if p.paused {
                continue;
            }
            let take = (self.max_poll_records - out.len()).min(p.buffer.len());
            for record in p.buffer.drain(..take) {
                p.buffered_bytes -= record.payload_len();
                out.push(record);
            }
            if let (true, Place::Failed { error: e, .. }) = (p.buffer.is_empty(), &p.place) {
                error.get_or_insert_with(|| e.clone());
            }
            if out.len() == self.max_poll_records {
                // The next poll starts with the partition after this one.
                self.drain_from = i + 1;
                break;
            }
        }
        match error {
            Some(error) if out.is_empty() => Err(error),
            _ => Ok(out),
        }
    }
}

//! What the application's threads and the consumer's poller share: the
//! partitions' [`Positions`] behind one lock, and the condition variable
//! `poll` sleeps on.
//!
//! ```text
//!  poller: records buffered / partition failed / position known ─► notify
//!  wakeup(): flag set under the lock ─────────────────────────────► notify
//!  poll():   lock ─► flag? Wakeup : drain ─► nothing? wait (deadline)
//! ```
//!
//! The flag is set and read under the same lock the waiter holds between
//! its check and its wait, so a `wakeup` can never fall between the two
//! and be lost (the loom model in `loom_tests.rs` checks this).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::consumer_error::ConsumerError;
use super::fetch::FetchVerdict;
use super::positions::{Fetchable, FollowUp, Positions};
use super::record::ConsumerRecord;
use crate::config::ConsumerConfig;
use crate::record::TopicPartition;
use crate::sync::{AtomicU64, Condvar, Mutex};

/// The state behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) positions: Positions,
    /// `wakeup()` was called and no `poll` has returned `Wakeup` since.
    pub(crate) wakeup: bool,
    /// `close()` began: every later call fails with `Closed`.
    pub(crate) closed: bool,
    /// Why the consumer cannot go on, once it cannot.
    pub(crate) fatal: Option<String>,
    /// The assignment changed since the poller last read it.
    pub(crate) assignment_changed: bool,
    /// The consumer group's side of the handoff (`subscribe`).
    pub(crate) group: GroupState,
}

/// What `subscribe` asked for.
#[derive(Debug, Clone)]
pub(crate) enum Subscription {
    /// These topics.
    Topics(BTreeSet<String>),
    /// Every topic whose whole name matches (checked on each metadata).
    Pattern(regex::Regex),
}

/// A rebalance step the application's `poll` runs (the listener's
/// callbacks, on the application's thread as Java runs them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RebalanceEvent {
    /// Commit (with auto-commit), call `on_partitions_revoked`, drop the
    /// partitions, then ack `ticket` to the poller.
    Revoke {
        partitions: Vec<TopicPartition>,
        ticket: u64,
    },
    /// Call `on_partitions_assigned` (the partitions are in `Positions`).
    Assigned(Vec<TopicPartition>),
    /// Call `on_partitions_lost` (the partitions are gone already).
    Lost(Vec<TopicPartition>),
}

/// The group membership's shared state: the application writes the
/// subscription and its polls, the poller the rebalance steps.
#[derive(Debug)]
pub(crate) struct GroupState {
    pub(crate) subscription: Option<Subscription>,
    /// The subscription changed since the poller last read it.
    pub(crate) subscription_changed: bool,
    /// Steps for the application's next `poll`, oldest first.
    pub(crate) events: VecDeque<RebalanceEvent>,
    /// Revocations the application finished, for the poller.
    pub(crate) revoked: Vec<u64>,
    /// When a `poll` last began or ended.
    pub(crate) last_poll: Instant,
    /// `poll` calls under way.
    pub(crate) in_poll: usize,
    /// The poller left the group because `poll` was not called within
    /// `max.poll.interval.ms`; the next `poll` says so.
    pub(crate) poll_expired: bool,
}

impl GroupState {
    fn new() -> GroupState {
        GroupState {
            subscription: None,
            subscription_changed: false,
            events: VecDeque::new(),
            revoked: Vec::new(),
            last_poll: Instant::now(),
            in_poll: 0,
            poll_expired: false,
        }
    }
}

/// Counters the poller keeps and `Consumer::stats` reads.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) fetch_requests: AtomicU64,
    pub(crate) records_fetched: AtomicU64,
    pub(crate) bytes_fetched: AtomicU64,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ConsumerConfig,
    pub(crate) state: Mutex<State>,
    /// Notified whenever `poll` or `position` may have something new.
    pub(crate) changed: Condvar,
    pub(crate) counters: Counters,
}

/// What one `poll` took.
#[derive(Debug)]
pub(crate) struct Drained {
    pub(crate) records: Vec<ConsumerRecord>,
    /// A partition's buffer was at its bound before the drain: the poller
    /// must be woken to fetch it again.
    pub(crate) refill: bool,
}

impl Shared {
    pub(crate) fn new(config: ConsumerConfig) -> Shared {
        Shared {
            state: Mutex::new(State {
                positions: Positions::new(&config),
                wakeup: false,
                closed: false,
                fatal: None,
                assignment_changed: false,
                group: GroupState::new(),
            }),
            changed: Condvar::new(),
            counters: Counters::default(),
            config,
        }
    }

    /// `wakeup()`: the blocked or the next `poll` returns `Wakeup`.
    pub(crate) fn wakeup(&self) {
        self.state.lock().wakeup = true;
        self.changed.notify_all();
    }

    /// The poller changed something `poll` or `position` waits for.
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    /// The poller's side of the handoff: Fetch verdicts (decoded before,
    /// off the lock) moved into the partitions' buffers under the lock,
    /// and `poll` notified when records or an error arrived for it.
    pub(crate) fn apply_fetch(
        &self,
        sent: &[Fetchable],
        verdicts: Vec<FetchVerdict>,
    ) -> Vec<FollowUp> {
        let (mut records, mut bytes, mut news) = (0u64, 0u64, false);
        let follows: Vec<FollowUp> = {
            let mut state = self.state.lock();
            let follows: Vec<FollowUp> = sent
                .iter()
                .zip(verdicts)
                .map(|(fetched, verdict)| {
                    match &verdict {
                        FetchVerdict::Records { decoded, .. } => {
                            records += decoded.records.len() as u64;
                            bytes += decoded
                                .records
                                .iter()
                                .map(|r| r.payload_len() as u64)
                                .sum::<u64>();
                            news |= !decoded.records.is_empty() || decoded.corrupt.is_some();
                        }
                        FetchVerdict::Fatal(_) | FetchVerdict::OffsetOutOfRange => news = true,
                        FetchVerdict::RefreshMetadata(why) | FetchVerdict::Retry(why) => {
                            tracing::debug!(tp = %fetched.partition, why, "fetched again later");
                        }
                    }
                    state.positions.apply_fetch(fetched, verdict)
                })
                .collect();
            // Counted under the lock, before `poll` can see the records, so
            // a `stats` snapshot (taken under the lock too) never shows
            // records buffered or handed out that were not counted.
            let counters = &self.counters;
            counters
                .records_fetched
                .fetch_add(records, Ordering::Relaxed);
            counters.bytes_fetched.fetch_add(bytes, Ordering::Relaxed);
            follows
        };
        if news {
            self.notify();
        }
        follows
    }

    /// The poller's side of a rebalance: `change` (rebalance steps queued,
    /// partitions in or out of `Positions`) under the lock, then `poll`
    /// notified, so a `poll` blocked on empty buffers runs the steps at
    /// once (`loom_tests.rs` checks none is missed).
    pub(crate) fn rebalance(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock());
        self.notify();
    }

    /// Refusals every call makes once the consumer is closed or failed.
    pub(crate) fn check_open(state: &State) -> Result<(), ConsumerError> {
        if state.closed {
            return Err(ConsumerError::Closed);
        }
        if let Some(fatal) = &state.fatal {
            return Err(ConsumerError::Fatal(fatal.clone()));
        }
        Ok(())
    }

    /// `poll`'s wait: records as soon as any are buffered, `Wakeup` as soon
    /// as it is asked for, a partition's error, or nothing at `deadline`.
    pub(crate) fn wait_for_records(&self, deadline: Instant) -> Result<Drained, ConsumerError> {
        let mut state = self.state.lock();
        loop {
            if state.wakeup {
                state.wakeup = false;
                return Err(ConsumerError::Wakeup);
            }
            Shared::check_open(&state)?;
            if !state.group.events.is_empty() {
                // the listener runs first, off the lock
                return Ok(Drained {
                    records: Vec::new(),
                    refill: false,
                });
            }
            let subscribed = state.group.subscription.is_some();
            if !subscribed && state.positions.assignment().next().is_none() {
                return Err(ConsumerError::NoAssignment);
            }
            let refill = state.positions.any_full();
            let records = state.positions.drain()?;
            if !records.is_empty() {
                return Ok(Drained { records, refill });
            }
            if Instant::now() >= deadline {
                return Ok(Drained {
                    records,
                    refill: false,
                });
            }
            self.changed.wait_until(&mut state, deadline);
        }
    }

    /// Waits until `ready` gives an answer or `deadline` passes (`None`).
    pub(crate) fn wait_until<T>(
        &self,
        deadline: Instant,
        mut ready: impl FnMut(&mut State) -> Option<Result<T, ConsumerError>>,
    ) -> Option<Result<T, ConsumerError>> {
        let mut state = self.state.lock();
        loop {
            if let Err(error) = Shared::check_open(&state) {
                return Some(Err(error));
            }
            if let Some(answer) = ready(&mut state) {
                return Some(answer);
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.changed.wait_until(&mut state, deadline);
        }
    }
}

#[cfg(all(test, loom))]
#[path = "loom_tests.rs"]
mod loom_tests;

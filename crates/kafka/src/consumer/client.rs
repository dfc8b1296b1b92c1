//! [`Consumer`]: the handle the application calls, and the poller thread
//! (`rouse-kafka-consumer`) it starts; see docs/consumer.md.
//!
//! ```text
//!  app thread ─ poll ─► lock, drain buffers ─► none? wait on the condvar ◄─ notify ─┐
//!      │ seek / pause / resume / assign: change Positions ─┐                         │
//!      │ commit / committed / close: Command on a channel ─┤                         │
//!      └── wakeup(): flag + notify (any thread)            └─ Handle::wake ─► poller ┘
//! ```

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use rouse_reactor::Handle;

use super::auto_commit::AutoCommit;
use super::consumer_error::ConsumerError;
use super::listener::ConsumerRebalanceListener;
use super::poller::{spawn_poller, Command, ConsumerPoller};
use super::positions::{Position, Positions, ResetTo};
use super::record::ConsumerRecord;
use super::shared::Shared;
use super::stats::ConsumerStats;
use crate::config::ConsumerConfig;
use crate::record::TopicPartition;

/// A Kafka consumer, with manual assignment (`assign`) or as a member of
/// a consumer group (`subscribe`, docs/consumer-groups.md): one background
/// poller thread owns the broker connections, heartbeats the group and
/// keeps fetches in flight, so `poll` usually returns from memory.
///
/// Every method takes `&self`; share it between threads (e.g. in an
/// `Arc`) to call [`wakeup`](Consumer::wakeup) from another one. Dropping
/// it closes it.
///
/// ```no_run
/// use std::time::Duration;
/// use rouse_kafka::{Consumer, ConsumerConfig, TopicPartition};
///
/// let consumer = Consumer::new(ConsumerConfig::from_pairs([
///     ("bootstrap.servers", "127.0.0.1:9092"),
///     ("auto.offset.reset", "earliest"),
/// ])?)?;
/// consumer.assign([TopicPartition::new("orders", 0)])?;
/// for record in consumer.poll(Duration::from_secs(1))? {
///     println!("{}@{}", record.partition, record.offset);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Consumer {
    pub(super) shared: Arc<Shared>,
    pub(super) commands: Sender<Command>,
    pub(super) handle: Handle<ConsumerPoller>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The rebalance listener; held while rebalance steps run, so that
    /// two threads polling at once run them one at a time, in order.
    pub(super) listener: Mutex<Box<dyn ConsumerRebalanceListener>>,
    /// `enable.auto.commit`: committed at the start of `poll`.
    pub(super) auto_commit: Option<AutoCommit>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The positions a commit sends: the next record `poll` hands out, for
/// every partition whose position is known.
pub(crate) fn positions_to_commit(positions: &Positions) -> Vec<(TopicPartition, Position)> {
    positions
        .assignment()
        .filter_map(|tp| {
            let offset = positions.position(tp).ok()??;
            Some((tp.clone(), Position::at(offset)))
        })
        .collect()
}

impl Consumer {
    /// Starts the poller thread. Connecting happens in the background: an
    /// unreachable broker shows up as a `poll` that returns nothing and
    /// calls that time out, not as an error here.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Start`] if the event loop or thread cannot be made.
    pub fn new(config: ConsumerConfig) -> Result<Consumer, ConsumerError> {
        let auto_commit = AutoCommit::new(&config, Instant::now());
        let shared = Arc::new(Shared::new(config));
        let (commands, receiver) = crossbeam_channel::unbounded();
        let (handle, thread) = spawn_poller(Arc::clone(&shared), receiver)?;
        Ok(Consumer {
            shared,
            commands,
            handle,
            thread: Mutex::new(Some(thread)),
            listener: Mutex::new(Box::new(())),
            auto_commit,
        })
    }

    /// Changes `Positions` under the lock, then wakes the poller at once.
    pub(super) fn change<T>(
        &self,
        f: impl FnOnce(&mut super::shared::State) -> Result<T, ConsumerError>,
    ) -> Result<T, ConsumerError> {
        let answer = {
            let mut state = self.shared.state.lock();
            Shared::check_open(&state)?;
            f(&mut state)?
        };
        self.handle.wake();
        Ok(answer)
    }

    /// Replaces the assignment with `partitions`. Partitions kept keep
    /// their position and buffered records; new ones start from the
    /// group's committed offset (with a `group.id`) or `auto.offset.reset`.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Closed`] after `close`;
    /// [`ConsumerError::SubscriptionConflict`] while subscribed.
    pub fn assign(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), ConsumerError> {
        let partitions: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        self.change(|state| {
            if state.group.subscription.is_some() {
                return Err(ConsumerError::SubscriptionConflict(
                    "assign() cannot be used while subscribed: the group chooses the \
                     partitions; call unsubscribe() first",
                ));
            }
            state.positions.assign(partitions);
            state.assignment_changed = true;
            Ok(())
        })
    }

    /// The assigned partitions, in order: those given to `assign`, or,
    /// when subscribed, those the group gave this member.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared
            .state
            .lock()
            .positions
            .assignment()
            .cloned()
            .collect()
    }

    /// Up to `max.poll.records` records, taking turns across partitions:
    /// at once if some are buffered, else as soon as the poller has any,
    /// else none at `timeout`.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Wakeup`] if [`wakeup`](Consumer::wakeup) was called
    /// (before or during the poll); [`ConsumerError::Partition`] when no
    /// records are buffered and a partition stopped (it names it);
    /// [`ConsumerError::NoAssignment`], [`ConsumerError::Closed`],
    /// [`ConsumerError::Fatal`]; when subscribed,
    /// [`ConsumerError::PollIntervalExceeded`] once after the consumer
    /// left its group for not polling in time.
    ///
    /// When subscribed, the rebalance listener's callbacks run here,
    /// before records are handed out.
    pub fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        let deadline = deadline_after(timeout);
        let _polling = self.start_poll()?;
        loop {
            // Before anything is handed out: the positions of the records
            // of earlier polls, which the application has finished with.
            self.auto_commit_if_due()?;
            self.run_rebalance_events()?;
            let drained = self.shared.wait_for_records(deadline)?;
            if drained.refill {
                self.handle.wake();
            }
            // Empty before the deadline: rebalance steps arrived; run them.
            if !drained.records.is_empty() || Instant::now() >= deadline {
                return Ok(drained.records);
            }
        }
    }

    /// Makes the blocked `poll` (or, if none is blocked, the next one)
    /// return [`ConsumerError::Wakeup`] at once. Safe from any thread.
    pub fn wakeup(&self) {
        self.shared.wakeup();
    }

    /// The next record of `partition` handed out will be at `offset`;
    /// buffered records of it are dropped, and a fetch in flight for it is
    /// ignored when it answers.
    ///
    /// # Errors
    ///
    /// [`ConsumerError::NotAssigned`], [`ConsumerError::Closed`].
    pub fn seek(&self, partition: &TopicPartition, offset: i64) -> Result<(), ConsumerError> {
        self.change(|state| Ok(state.positions.seek(partition, offset)?))
    }

    /// Seeks each partition to its first offset (asked of its leader).
    ///
    /// # Errors
    ///
    /// As [`seek`](Consumer::seek).
    pub fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.seek_to(partitions, ResetTo::Earliest)
    }

    /// Seeks each partition to its end (the next offset written).
    ///
    /// # Errors
    ///
    /// As [`seek`](Consumer::seek).
    pub fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.seek_to(partitions, ResetTo::Latest)
    }

    fn seek_to(&self, partitions: &[TopicPartition], to: ResetTo) -> Result<(), ConsumerError> {
        self.change(|state| {
            partitions
                .iter()
                .try_for_each(|tp| state.positions.seek_to(tp, to))
                .map_err(Into::into)
        })
    }

    /// The offset of the next record `poll` will hand out for
    /// `partition`, waiting up to `timeout` for it to be known (a new
    /// partition's committed offset or reset).
    ///
    /// # Errors
    ///
    /// [`ConsumerError::Timeout`], [`ConsumerError::NotAssigned`],
    /// [`ConsumerError::Partition`] if it stopped before a position was known.
    pub fn position(
        &self,
        partition: &TopicPartition,
        timeout: Duration,
    ) -> Result<i64, ConsumerError> {
        self.handle.wake();
        let answer = self.shared.wait_until(deadline_after(timeout), |state| {
            match state.positions.position(partition) {
                Err(e) => Some(Err(e.into())),
                Ok(Some(offset)) => Some(Ok(offset)),
                Ok(None) => None,
            }
        });
        answer.unwrap_or(Err(ConsumerError::Timeout {
            what: "the partition's position",
            waited: timeout,
        }))
    }

    /// Stops fetching `partitions` and handing out their records; what is
    /// buffered is kept for [`resume`](Consumer::resume).
    ///
    /// # Errors
    ///
    /// As [`seek`](Consumer::seek).
    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.set_paused(partitions, true)
    }

    /// Fetches and hands out `partitions` again.
    ///
    /// # Errors
    ///
    /// As [`seek`](Consumer::seek).
    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.set_paused(partitions, false)
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) -> Result<(), ConsumerError> {
        self.change(|state| {
            partitions
                .iter()
                .try_for_each(|tp| state.positions.set_paused(tp, paused))
                .map_err(Into::into)
        })
    }

    pub(super) fn send(&self, command: Command) -> Result<(), ConsumerError> {
        Shared::check_open(&self.shared.state.lock())?;
        self.commands
            .send(command)
            .map_err(|_| ConsumerError::Closed)?;
        self.handle.wake();
        Ok(())
    }

    /// Counters: records and bytes fetched, fetch requests, the records
    /// and bytes buffered, each assigned partition's position, high
    /// watermark, lag and buffer, and the poller waker's wakes and syscalls.
    pub fn stats(&self) -> ConsumerStats {
        let counters = &self.shared.counters;
        // The poller counts fetched records under the same lock.
        let state = self.shared.state.lock();
        let partitions = state.positions.partition_stats();
        let (records_fetched, bytes_fetched) = (
            counters.records_fetched.load(Ordering::Relaxed),
            counters.bytes_fetched.load(Ordering::Relaxed),
        );
        drop(state);
        ConsumerStats {
            records_fetched,
            bytes_fetched,
            fetch_requests: counters.fetch_requests.load(Ordering::Relaxed),
            buffered_records: partitions.iter().map(|p| p.buffered_records).sum(),
            buffered_bytes: partitions.iter().map(|p| p.buffered_bytes).sum(),
            partitions,
            waker: self.handle.waker_stats(),
        }
    }

    /// The lag of `partition`: its high watermark minus its position, once
    /// both are known.
    pub fn lag(&self, partition: &TopicPartition) -> Option<i64> {
        self.shared.state.lock().positions.lag(partition)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ConsumerConfig {
        &self.shared.config
    }

    /// Commits the positions first if `enable.auto.commit` (waiting up to
    /// `timeout`), then stops the poller thread. Every later call fails
    /// with [`ConsumerError::Closed`]; a blocked `poll` returns it. Later
    /// calls to `close` return at once.
    ///
    /// # Errors
    ///
    /// The final auto-commit's error; the consumer is closed regardless.
    pub fn close(&self, timeout: Duration) -> Result<(), ConsumerError> {
        let Some(thread) = self.thread.lock().take() else {
            return Ok(());
        };
        let committed = if self.shared.config.enable_auto_commit() {
            self.commit_sync(timeout)
        } else {
            Ok(())
        };
        // A member hands its partitions back (listener, LeaveGroup) so the
        // group rebalances at once rather than after session.timeout.ms.
        self.leave_group(timeout);
        self.shared.state.lock().closed = true;
        self.shared.notify();
        let _ = self.commands.send(Command::Close);
        self.handle.wake();
        let _ = thread.join();
        committed
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.close(Duration::from_secs(5));
    }
}

/// `now + timeout`, or far away for a timeout too large to add.
pub(super) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// The poller's answer, or a timeout.
pub(super) fn wait_reply<T>(
    answer: &Receiver<Result<T, ConsumerError>>,
    timeout: Duration,
    what: &'static str,
) -> Result<T, ConsumerError> {
    match answer.recv_timeout(timeout) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err(ConsumerError::Timeout {
            what,
            waited: timeout,
        }),
        // The poller gave it up at its deadline, or stopped.
        Err(RecvTimeoutError::Disconnected) => Err(ConsumerError::Timeout {
            what,
            waited: timeout,
        }),
    }
}

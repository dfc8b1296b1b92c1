//! [`ClusterHandle`]: the shared cluster, served by loop threads and driven
//! by the test thread.
//!
//! Every method takes one short lock on the state, so a test may inject
//! faults and inspect while brokers serve clients on other threads. Faults
//! take effect from the next request; see each method for the exact
//! semantics. Every fault is logged at `info` level under this crate's
//! target.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;

use crate::config::ClusterConfig;
use crate::dispatch;
use crate::error::ClusterError;
use crate::outcome::{Deferred, Outcome};
use crate::record::StoredRecord;
use crate::state::ClusterState;

/// A broker as the network layer and tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Broker id, from 1.
    pub id: i32,
    /// Host advertised in Metadata.
    pub host: String,
    /// Port advertised in Metadata (0 until the network layer sets it).
    pub port: u16,
    /// `false` while stopped by [`ClusterHandle::stop_broker`].
    pub up: bool,
}

/// Offsets of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// The first offset in the log (always 0: the mock deletes nothing).
    pub log_start: i64,
    /// The offset the next record gets; equals the record count.
    pub high_watermark: i64,
}

/// A cheap, cloneable handle on one mock cluster's state.
///
/// The network layer calls [`handle`](Self::handle) for every frame; tests
/// call the fault and inspection methods.
#[derive(Debug, Clone)]
pub struct ClusterHandle {
    pub(crate) state: Arc<Mutex<ClusterState>>,
}

impl ClusterHandle {
    /// Builds a cluster with no topics.
    ///
    /// # Errors
    ///
    /// [`ClusterError::BrokerCount`] or
    /// [`ClusterError::InvalidPartitionCount`] for a bad config.
    pub fn new(config: ClusterConfig) -> Result<Self, ClusterError> {
        Ok(Self {
            state: Arc::new(Mutex::new(ClusterState::new(config)?)),
        })
    }

    /// Serves one request `frame` (the payload after the 4-byte length
    /// prefix) that arrived at broker `broker_id`. Never panics, whatever the
    /// bytes.
    pub fn handle(&self, broker_id: i32, frame: Bytes) -> Outcome {
        dispatch::handle(&mut self.state.lock(), broker_id, frame)
    }

    /// The outcome of a [`Outcome::Deferred`] request once the group
    /// coordinator has answered it, or a parked Fetch has its `min_bytes`
    /// or has waited out its `max_wait_ms`; `None` while it still waits:
    /// poll again a few milliseconds later, and at once after a Produce
    /// (a parked Fetch is then answered as soon as the records are there;
    /// [`Deferred::fetch_deadline`] says when it must be asked at the
    /// latest).
    pub fn resume(&self, deferred: &Deferred) -> Option<Outcome> {
        dispatch::resume(&mut self.state.lock(), deferred)
    }

    /// The configuration the cluster was built with.
    pub fn config(&self) -> ClusterConfig {
        self.state.lock().config.clone()
    }

    /// The largest request frame to accept; give it to
    /// [`FrameDecoder::new`](crate::frame::FrameDecoder::new).
    pub fn max_request_size(&self) -> usize {
        self.state.lock().config.max_request_size()
    }

    /// All brokers, by id.
    pub fn brokers(&self) -> Vec<BrokerInfo> {
        let state = self.state.lock();
        state
            .brokers
            .iter()
            .map(|(&id, b)| BrokerInfo {
                id,
                host: b.host.clone(),
                port: u16::try_from(b.port).unwrap_or(0),
                up: b.up,
            })
            .collect()
    }

    /// Sets the address Metadata advertises for a broker; the network layer
    /// calls it once it has bound the broker's listener.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`].
    pub fn set_broker_address(
        &self,
        broker_id: i32,
        host: &str,
        port: u16,
    ) -> Result<(), ClusterError> {
        let mut state = self.state.lock();
        let broker = state.broker_mut(broker_id)?;
        broker.host = host.to_owned();
        broker.port = i32::from(port);
        Ok(())
    }

    /// Creates a topic with `partitions` partitions, leaders spread over the
    /// running brokers.
    ///
    /// # Errors
    ///
    /// [`ClusterError::InvalidTopicName`], [`ClusterError::TopicExists`] or
    /// [`ClusterError::InvalidPartitionCount`].
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), ClusterError> {
        self.state.lock().create_topic(name, partitions)
    }

    /// Deletes `topic`, its records and the groups' committed offsets of
    /// it (Kafka's DeleteTopics); clients see it gone at their next
    /// Metadata.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownTopic`].
    pub fn delete_topic(&self, topic: &str) -> Result<(), ClusterError> {
        self.state.lock().delete_topic(topic)
    }

    /// Adds partitions to `topic` until it has `total` (Kafka's
    /// CreatePartitions); clients see them at their next Metadata.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownTopic`], or
    /// [`ClusterError::PartitionsNotGrown`] when `total` is not above the
    /// current count.
    pub fn create_partitions(&self, topic: &str, total: i32) -> Result<(), ClusterError> {
        self.state.lock().create_partitions(topic, total)
    }

    /// Topic names, sorted.
    pub fn topics(&self) -> Vec<String> {
        self.state.lock().topics.keys().cloned().collect()
    }

    /// The leader of each partition of `topic`, in partition order.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownTopic`].
    pub fn leaders(&self, topic: &str) -> Result<Vec<i32>, ClusterError> {
        let state = self.state.lock();
        let t = state
            .topics
            .get(topic)
            .ok_or_else(|| ClusterError::UnknownTopic(topic.to_owned()))?;
        Ok(t.partitions.iter().map(|p| p.leader).collect())
    }

    // ---- faults -------------------------------------------------------

    /// Stops a broker: every request reaching it closes its connection, and
    /// Metadata leaves it out, its partitions showing `LEADER_NOT_AVAILABLE`.
    /// The network layer should also close its listener and connections.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`].
    pub fn stop_broker(&self, broker_id: i32) -> Result<(), ClusterError> {
        self.state.lock().broker_mut(broker_id)?.up = false;
        tracing::info!(broker = broker_id, "fault: broker stopped");
        Ok(())
    }

    /// Restarts a stopped broker, with the records it led intact. With
    /// [`ClusterConfig::with_forget_producers_on_restart`] (or
    /// [`set_forget_producers_on_restart`](Self::set_forget_producers_on_restart))
    /// it also forgets the idempotent-producer state of the partitions it
    /// leads, as [`forget_producers`](Self::forget_producers) does; a broker
    /// that is running is left alone.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`].
    pub fn restart_broker(&self, broker_id: i32) -> Result<(), ClusterError> {
        let mut state = self.state.lock();
        let broker = state.broker_mut(broker_id)?;
        if broker.up {
            return Ok(());
        }
        broker.up = true;
        let forgotten = if state.config.forget_producers_on_restart() {
            Some(state.forget_producers(broker_id))
        } else {
            None
        };
        tracing::info!(
            broker = broker_id,
            producer_entries_forgotten = ?forgotten,
            "fault: broker restarted"
        );
        Ok(())
    }

    /// Makes `broker_id` forget the idempotent-producer state (producer
    /// ids, epochs, recent sequence numbers) of every partition it leads
    /// now, as a broker that lost its producer snapshots or expired them
    /// (`transactional.id.expiration.ms`): the next batch of such a
    /// producer is judged as from an unknown one (see
    /// [`set_strict_unknown_producer`](Self::set_strict_unknown_producer)),
    /// and a retried batch is no longer recognised as a duplicate. Records
    /// stay. Returns how many (partition, producer) entries were forgotten.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`].
    pub fn forget_producers(&self, broker_id: i32) -> Result<usize, ClusterError> {
        let mut state = self.state.lock();
        state.broker(broker_id)?;
        let forgotten = state.forget_producers(broker_id);
        tracing::info!(
            broker = broker_id,
            entries = forgotten,
            "fault: producer state forgotten"
        );
        Ok(forgotten)
    }

    /// Turns [`ClusterConfig::with_forget_producers_on_restart`] on or off
    /// from now.
    pub fn set_forget_producers_on_restart(&self, on: bool) {
        self.state.lock().config.set_forget_producers_on_restart(on);
        tracing::info!(on, "fault: forget producer state on restart");
    }

    /// Turns [`ClusterConfig::with_strict_unknown_producer`] on or off from
    /// now: when on, a batch from a producer id a partition does not know
    /// must start at sequence 0, or is refused with `UNKNOWN_PRODUCER_ID`
    /// (59).
    pub fn set_strict_unknown_producer(&self, on: bool) {
        self.state.lock().config.set_strict_unknown_producer(on);
        tracing::info!(on, "fault: strict unknown-producer check");
    }

    /// Whether a broker is running (`None` if there is no such broker).
    pub fn is_broker_up(&self, broker_id: i32) -> Option<bool> {
        self.state.lock().brokers.get(&broker_id).map(|b| b.up)
    }

    /// Makes `broker_id` the leader of a partition and bumps its leader
    /// epoch; the old leader answers `NOT_LEADER_OR_FOLLOWER` from now on.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`], [`ClusterError::UnknownTopic`] or
    /// [`ClusterError::UnknownPartition`].
    pub fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        broker_id: i32,
    ) -> Result<(), ClusterError> {
        let mut state = self.state.lock();
        state.broker(broker_id)?;
        let p = state.partition_mut(topic, partition)?;
        let from = p.leader;
        p.leader = broker_id;
        p.leader_epoch += 1;
        tracing::info!(
            topic,
            partition,
            from,
            to = broker_id,
            epoch = p.leader_epoch,
            "fault: leader moved"
        );
        Ok(())
    }

    /// Makes the next `count` requests of `api` (on `broker`, or on any
    /// broker for `None`) fail with `error` in every error field of the
    /// response, without touching the cluster. Rules queue up in the order
    /// armed. Any error code works, e.g. `ResponseError::UnknownProducerId`
    /// or `ResponseError::OutOfOrderSequenceNumber` on
    /// [`ApiKey::Produce`]: every partition of the request gets it and
    /// nothing is stored.
    pub fn fail_next(&self, api: ApiKey, broker: Option<i32>, error: ResponseError, count: u32) {
        self.state
            .lock()
            .faults
            .add_failure(api, broker, error, count);
        tracing::info!(?api, ?broker, %error, count, "fault: failures armed");
    }

    /// Holds every response of `api` (on `broker`, or on any broker for
    /// `None`) back by `delay` until changed; `Duration::ZERO` removes the
    /// rule. A broker-specific delay wins over a cluster-wide one.
    pub fn delay_responses(&self, api: ApiKey, broker: Option<i32>, delay: Duration) {
        self.state.lock().faults.set_delay(api, broker, delay);
        tracing::info!(?api, ?broker, ?delay, "fault: response delay set");
    }

    /// Lets `requests` more requests through (on `broker`, or on any broker
    /// for `None`), then closes the connection carrying the next one without
    /// answering it. Fires once.
    pub fn drop_connection_after(&self, broker: Option<i32>, requests: u32) {
        self.state.lock().faults.add_drop(broker, requests);
        tracing::info!(?broker, requests, "fault: connection drop armed");
    }

    /// Serves the stored batch holding `offset` of `topic`/`partition` with
    /// one bit flipped in every Fetch answer from now until
    /// [`clear_faults`](Self::clear_faults): its CRC no longer matches, as
    /// after bit rot on a broker's disk. The stored records stay intact.
    pub fn corrupt_batch(&self, topic: &str, partition: i32, offset: i64) {
        let mut state = self.state.lock();
        state.faults.add_corrupt_batch(topic, partition, offset);
        tracing::info!(topic, partition, offset, "fault: batch served corrupt");
    }

    /// Disarms every failure, delay, drop and corrupt batch (stopped
    /// brokers and moved leaders stay as they are).
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
        tracing::info!("fault: all cleared");
    }

    // ---- inspection ---------------------------------------------------

    /// Every record stored in a partition, in offset order.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownTopic`] or [`ClusterError::UnknownPartition`].
    pub fn records(&self, topic: &str, partition: i32) -> Result<Vec<StoredRecord>, ClusterError> {
        let state = self.state.lock();
        Ok(state
            .partition(topic, partition)?
            .log
            .records()
            .cloned()
            .collect())
    }

    /// A partition's log start and high watermark.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownTopic`] or [`ClusterError::UnknownPartition`].
    pub fn offsets(&self, topic: &str, partition: i32) -> Result<PartitionOffsets, ClusterError> {
        let state = self.state.lock();
        let log = &state.partition(topic, partition)?.log;
        Ok(PartitionOffsets {
            log_start: log.log_start(),
            high_watermark: log.high_watermark(),
        })
    }

    /// The offset `group` committed for a partition (OffsetCommit), if any.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        let state = self.state.lock();
        state.offsets.get(group, topic, partition).map(|c| c.offset)
    }

    /// The broker coordinating `group` now (FindCoordinator's answer), or
    /// `None` when no broker runs.
    pub fn coordinator(&self, group: &str) -> Option<i32> {
        self.state.lock().coordinator(group)
    }

    /// Requests of `api` received so far by `broker` (or by all brokers for
    /// `None`), counting those that failed or closed their connection, but
    /// not those refused because the broker was stopped.
    pub fn request_count(&self, broker: Option<i32>, api: ApiKey) -> u64 {
        let state = self.state.lock();
        state
            .counters
            .iter()
            .filter(|((b, key), _)| *key == api as i16 && broker.map_or(true, |want| want == *b))
            .map(|(_, count)| count)
            .sum()
    }

    /// Every rack id a Fetch request has named so far (Fetch v11+'s
    /// `rack_id`, a consumer's `client.rack`), sorted.
    pub fn fetch_rack_ids(&self) -> Vec<String> {
        self.state.lock().fetch_racks.iter().cloned().collect()
    }

    /// Every non-zero request count as `(broker, api, count)`, by broker then
    /// API key.
    pub fn request_counts(&self) -> Vec<(i32, ApiKey, u64)> {
        let state = self.state.lock();
        state
            .counters
            .iter()
            .filter_map(|(&(broker, key), &count)| {
                Some((broker, ApiKey::try_from(key).ok()?, count))
            })
            .collect()
    }
}

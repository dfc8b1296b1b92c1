//! The cluster as the producer last heard it: brokers, and each topic's
//! partitions and leaders. Senders read it (to partition a record) and may
//! wait for a topic to appear; the poller writes it from Metadata
//! responses.
//!
//! Reads are a shared `RwLock` read, cheap beside the append that follows.
//! A sender that finds its topic unknown adds it to the wanted set, wakes
//! the poller and waits on a condvar (no I/O, no lock held) until the topic
//! appears, the brokers say it does not exist, or `max.block.ms` runs out.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::BrokerId;
use kafka_protocol::messages::MetadataResponse;
use kafka_protocol::ResponseError;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::fast_map::FastMap;
use crate::record::TopicPartition;

/// One topic's layout.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicLayout {
    /// Partition count.
    pub(crate) partitions: i32,
    /// Partitions with a leader now.
    pub(crate) available: Vec<i32>,
    /// Leader per partition, where known.
    leaders: HashMap<i32, BrokerId>,
}

/// What a sender learns about its topic.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Known: partition with this.
    Known(Arc<TopicLayout>),
    /// The brokers answered that the topic cannot be used (error code).
    Refused(i16),
    /// No answer within the wait (how long the sender waited).
    TimedOut(Duration),
    /// The producer closed (or failed fatally) while the sender waited.
    Closed,
}

#[derive(Debug, Default)]
struct State {
    brokers: HashMap<BrokerId, (String, u16)>,
    topics: FastMap<Arc<str>, Arc<TopicLayout>>,
    refused: HashMap<String, i16>,
    wanted: BTreeSet<String>,
    refreshed: Option<Instant>,
    stale: bool,
    /// Why no broker can be reached, while none can.
    unreachable: Option<String>,
    /// The producer is closing: waiting senders give up at once.
    closed: bool,
}

/// Shared between senders and the poller.
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    state: RwLock<State>,
    waiters: Mutex<()>,
    changed: Condvar,
}

impl Metadata {
    /// The topic's layout; if unknown, registers interest, calls `wake`
    /// once, and waits up to `max_block`.
    pub(crate) fn lookup(&self, topic: &str, max_block: Duration, wake: impl Fn()) -> Lookup {
        if let Some(layout) = self.state.read().topics.get(topic) {
            return Lookup::Known(Arc::clone(layout));
        }
        {
            let mut state = self.state.write();
            state.refused.remove(topic);
            state.wanted.insert(topic.to_owned());
        }
        wake();
        // Only a sender that must wait reads the clock.
        let started = Instant::now();
        let deadline = started + max_block;
        let mut guard = self.waiters.lock();
        loop {
            {
                let state = self.state.read();
                if let Some(layout) = state.topics.get(topic) {
                    return Lookup::Known(Arc::clone(layout));
                }
                if let Some(&code) = state.refused.get(topic) {
                    return Lookup::Refused(code);
                }
                if state.closed {
                    return Lookup::Closed;
                }
            }
            if self.changed.wait_until(&mut guard, deadline).timed_out() {
                return Lookup::TimedOut(started.elapsed());
            }
        }
    }

    /// Topics to ask the brokers about.
    pub(crate) fn wanted(&self) -> Vec<String> {
        self.state.read().wanted.iter().cloned().collect()
    }

    /// The leader of a partition, if known.
    pub(crate) fn leader(&self, tp: &TopicPartition) -> Option<BrokerId> {
        let state = self.state.read();
        state
            .topics
            .get(&tp.topic)?
            .leaders
            .get(&tp.partition)
            .copied()
    }

    /// A broker's address, if known.
    pub(crate) fn broker(&self, id: BrokerId) -> Option<(String, u16)> {
        self.state.read().brokers.get(&id).cloned()
    }

    /// Every known broker: id, host, port.
    pub(crate) fn brokers(&self) -> Vec<(BrokerId, String, u16)> {
        let state = self.state.read();
        state
            .brokers
            .iter()
            .map(|(id, (h, p))| (*id, h.clone(), *p))
            .collect()
    }

    /// Notes why no broker could be reached (`None` once one answers), for
    /// the error of a sender whose wait runs out.
    pub(crate) fn set_unreachable(&self, cause: Option<String>) {
        let mut state = self.state.write();
        if state.unreachable != cause {
            state.unreachable = cause;
        }
    }

    /// Why no broker can be reached, if none can.
    pub(crate) fn unreachable(&self) -> Option<String> {
        self.state.read().unreachable.clone()
    }

    /// Asks for a refresh (a leader error, a lost connection).
    pub(crate) fn mark_stale(&self) {
        self.state.write().stale = true;
    }

    /// Whether a refresh is due: asked for, a wanted topic is unknown, or
    /// the last one is older than `max_age`.
    pub(crate) fn needs_refresh(&self, now: Instant, max_age: Duration) -> bool {
        let state = self.state.read();
        state.stale
            || state
                .wanted
                .iter()
                .any(|t| !state.topics.contains_key(t.as_str()) && !state.refused.contains_key(t))
            || state
                .refreshed
                .map_or(true, |at| now.duration_since(at) >= max_age)
    }

    /// When the next age-based refresh is due.
    pub(crate) fn next_refresh(&self, max_age: Duration) -> Option<Instant> {
        self.state
            .read()
            .refreshed
            .and_then(|at| at.checked_add(max_age))
    }

    /// Takes in a Metadata response and wakes waiting senders.
    pub(crate) fn update(&self, response: &MetadataResponse, now: Instant) {
        let mut state = self.state.write();
        state.brokers = response
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok()?;
                Some((BrokerId(b.node_id.0), (b.host.to_string(), port)))
            })
            .collect();
        for topic in &response.topics {
            let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            if topic.error_code != 0 {
                // A missing topic may yet be created: senders keep waiting for it
                // until max.block.ms, as with Java. Other errors end the wait.
                let keep_waiting =
                    ResponseError::try_from_code(topic.error_code).is_some_and(|e| {
                        e.is_retriable() || e == ResponseError::UnknownTopicOrPartition
                    });
                if !keep_waiting {
                    state.topics.remove(name.as_str());
                    state.refused.insert(name, topic.error_code);
                }
                continue;
            }
            let mut layout = TopicLayout {
                partitions: topic.partitions.len() as i32,
                ..TopicLayout::default()
            };
            for p in &topic.partitions {
                let leader = BrokerId(p.leader_id.0);
                if leader.0 >= 0 && state.brokers.contains_key(&leader) {
                    layout.leaders.insert(p.partition_index, leader);
                    layout.available.push(p.partition_index);
                }
            }
            layout.available.sort_unstable();
            state.refused.remove(&name);
            state
                .topics
                .insert(Arc::from(name.as_str()), Arc::new(layout));
        }
        state.refreshed = Some(now);
        state.stale = false;
        state.unreachable = None;
        drop(state);
        let _guard = self.waiters.lock();
        self.changed.notify_all();
    }

    /// The producer is closing (or failed fatally): every sender waiting
    /// for a topic gives up now, and later lookups of unknown topics too.
    pub(crate) fn close(&self) {
        self.state.write().closed = true;
        // Taken after the flag is set: a sender between its check and its
        // wait holds this lock, so it cannot miss the notification.
        let _guard = self.waiters.lock();
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::StrBytes;

    fn response(topic_error: i16) -> MetadataResponse {
        let partition = |i: i32, leader: i32| {
            MetadataResponsePartition::default()
                .with_partition_index(i)
                .with_leader_id(kafka_protocol::messages::BrokerId(leader))
        };
        MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(kafka_protocol::messages::BrokerId(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9092)])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_error_code(topic_error)
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(vec![partition(0, 1), partition(1, -1)])])
    }

    #[test]
    fn leaderless_partitions_are_counted_but_not_available() {
        let metadata = Metadata::default();
        metadata.update(&response(0), Instant::now());
        let Lookup::Known(layout) = metadata.lookup("t", Duration::ZERO, || {}) else {
            panic!("known");
        };
        assert_eq!((layout.partitions, layout.available.clone()), (2, vec![0]));
        assert_eq!(
            metadata.leader(&TopicPartition::new("t", 0)),
            Some(BrokerId(1))
        );
        assert_eq!(metadata.leader(&TopicPartition::new("t", 1)), None);
    }

    #[test]
    fn a_waiting_sender_learns_of_a_refused_topic_or_times_out() {
        let metadata = Arc::new(Metadata::default());
        let writer = Arc::clone(&metadata);
        let answer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            writer.update(
                &response(ResponseError::TopicAuthorizationFailed.code()),
                Instant::now(),
            );
        });
        let looked = metadata.lookup("t", Duration::from_secs(5), || {});
        answer.join().unwrap();
        assert!(matches!(looked, Lookup::Refused(29)), "{looked:?}");
        assert!(matches!(
            metadata.lookup("other", Duration::from_millis(10), || {}),
            Lookup::TimedOut(waited) if waited >= Duration::from_millis(10)
        ));
        assert!(
            metadata.needs_refresh(Instant::now(), Duration::from_secs(300)),
            "other is wanted"
        );
    }
}

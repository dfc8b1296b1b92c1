//! The consumer core driven the way its poller will drive it, over any
//! transport (the mock in process, or a socket to a real broker): Metadata
//! for leaders and epochs, ListOffsets for resets, Fetch, the verdicts
//! applied to `Positions`, `drain` as `poll`.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::{Decodable, HeaderVersion, Request, StrBytes};

use super::error::PartitionError;
use super::fetch::{fetch_verdicts, plan_fetches, Leader};
use super::group::{
    coordinator_verdict, find_coordinator, offset_commit, offset_commit_verdicts, offset_fetch,
    offset_fetch_verdicts, CoordinatorVerdict, GroupVerdict,
};
use super::list_offsets::{list_offsets_verdicts, plan_list_offsets};
use super::positions::{FollowUp, Position, Positions};
use super::record::ConsumerRecord;
use super::versions::{negotiate, ConsumerVersions};
use crate::config::ConsumerConfig;
use crate::net::wire;
use crate::record::{BrokerId, TopicPartition};

/// Sends one request frame (without its length prefix) to a broker and
/// returns the response frame (without its length prefix).
pub(crate) type Transport = Box<dyn FnMut(i32, Bytes) -> Bytes>;

/// One request of `body` at `version` through `transport`.
pub(crate) fn call<R: Request>(
    transport: &mut Transport,
    broker: i32,
    version: i16,
    body: &R,
) -> R::Response
where
    R::Response: Decodable + HeaderVersion,
{
    let frame = wire::request(version, 1, "rouse-test", body).expect("encodes");
    let answer = transport(broker, frame.slice(4..));
    let api = ApiKey::try_from(R::KEY).expect("known api");
    wire::response(api, version, answer).expect("decodes")
}

/// The core and what it needs from the brokers.
pub(crate) struct Driver {
    transport: Transport,
    bootstrap_broker: i32,
    topic: String,
    pub(crate) config: ConsumerConfig,
    pub(crate) positions: Positions,
    versions: ConsumerVersions,
    metadata_version: i16,
    leaders: HashMap<TopicPartition, Leader>,
    coordinator: Option<i32>,
    pub(crate) metadata_refreshes: usize,
    pub(crate) coordinator_lookups: usize,
}

impl Driver {
    /// Negotiates versions with `bootstrap_broker`, assigns every partition
    /// of `topic` and reads its leaders.
    pub(crate) fn new(
        mut transport: Transport,
        bootstrap_broker: i32,
        topic: &str,
        config: ConsumerConfig,
    ) -> Driver {
        let offered = call(
            &mut transport,
            bootstrap_broker,
            0,
            &ApiVersionsRequest::default(),
        );
        assert_eq!(offered.error_code, 0, "ApiVersions");
        let versions = negotiate(&offered.api_keys).expect("the broker serves the consumer");
        let metadata_version = offered
            .api_keys
            .iter()
            .find(|k| k.api_key == ApiKey::Metadata as i16)
            .map_or(1, |k| k.max_version.min(12));
        let positions = Positions::new(&config);
        let mut driver = Driver {
            transport,
            bootstrap_broker,
            topic: topic.to_owned(),
            config,
            positions,
            versions,
            metadata_version,
            leaders: HashMap::new(),
            coordinator: None,
            metadata_refreshes: 0,
            coordinator_lookups: 0,
        };
        driver.refresh_leaders();
        let partitions: Vec<TopicPartition> = driver.leaders.keys().cloned().collect();
        driver.positions.assign(partitions);
        driver
    }

    /// Leaders and epochs from a Metadata answer.
    fn refresh_leaders(&mut self) {
        let request =
            MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(self.topic.clone()))))]));
        let version = self.metadata_version;
        let response = call(
            &mut self.transport,
            self.bootstrap_broker,
            version,
            &request,
        );
        self.leaders = response.topics[0]
            .partitions
            .iter()
            .filter(|p| p.leader_id.0 >= 0)
            .map(|p| {
                let leader = Leader {
                    broker: BrokerId(p.leader_id.0),
                    epoch: (version >= 7 && p.leader_epoch >= 0).then_some(p.leader_epoch),
                };
                (
                    TopicPartition::new(self.topic.as_str(), p.partition_index),
                    leader,
                )
            })
            .collect();
    }

    fn follow(&mut self, follow: FollowUp) {
        match follow {
            FollowUp::RefreshMetadata => {
                self.metadata_refreshes += 1;
                self.refresh_leaders();
            }
            FollowUp::FindCoordinator => self.coordinator = None,
            FollowUp::Nothing | FollowUp::Backoff => {}
        }
    }

    fn group(&self) -> String {
        self.config.group_id().expect("a group.id").to_owned()
    }

    /// The group's coordinator, found first if unknown.
    fn coordinator(&mut self) -> i32 {
        if let Some(id) = self.coordinator {
            return id;
        }
        self.coordinator_lookups += 1;
        let version = self
            .versions
            .find_coordinator
            .expect("FindCoordinator served");
        let request = find_coordinator(&self.group(), version);
        let response = call(
            &mut self.transport,
            self.bootstrap_broker,
            version,
            &request,
        );
        match coordinator_verdict(&response, version) {
            CoordinatorVerdict::Found { broker, .. } => {
                self.coordinator = Some(broker.0);
                broker.0
            }
            other => panic!("no coordinator: {other:?}"),
        }
    }

    /// `commit_sync` of every position: what the group will resume from.
    pub(crate) fn commit(&mut self) -> Vec<GroupVerdict<()>> {
        let offsets: Vec<(TopicPartition, Position)> = self
            .leaders
            .keys()
            .filter_map(|tp| {
                let offset = self.positions.position(tp).ok()??;
                Some((tp.clone(), Position::at(offset)))
            })
            .collect();
        let version = self.versions.offset_commit.expect("OffsetCommit served");
        let request = offset_commit(&self.group(), &offsets, version);
        let coordinator = self.coordinator();
        let response = call(&mut self.transport, coordinator, version, &request);
        let verdicts = offset_commit_verdicts(&response, &offsets);
        if verdicts
            .iter()
            .any(|v| matches!(v, GroupVerdict::FindCoordinator(_)))
        {
            self.coordinator = None;
        }
        verdicts
    }

    /// OffsetFetch for the partitions waiting for their committed offset.
    fn fetch_committed(&mut self) {
        let asked = self.positions.take_committed_requests();
        if asked.is_empty() {
            return;
        }
        let partitions: Vec<TopicPartition> = asked.iter().map(|(tp, _)| tp.clone()).collect();
        let version = self.versions.offset_fetch.expect("OffsetFetch served");
        let coordinator = self.coordinator();
        let request = offset_fetch(&self.group(), &partitions);
        let response = call(&mut self.transport, coordinator, version, &request);
        let verdicts = offset_fetch_verdicts(&response, &partitions);
        for ((tp, generation), verdict) in asked.iter().zip(verdicts) {
            let follow = self.positions.apply_committed(tp, *generation, verdict);
            self.follow(follow);
        }
    }

    /// One turn of the poller to come: resets, fetches, verdicts; then what
    /// `poll` would return.
    pub(crate) fn turn(&mut self) -> Result<Vec<ConsumerRecord>, PartitionError> {
        if self.config.group_id().is_some() {
            self.fetch_committed();
        }
        let iso = self.config.isolation_level();
        let version = self.versions.list_offsets;
        let plan = plan_list_offsets(&mut self.positions, &self.leaders, iso, |_| version);
        for planned in plan.requests {
            let response = call(
                &mut self.transport,
                planned.broker.0,
                version,
                &planned.request,
            );
            let verdicts = list_offsets_verdicts(&response, &planned.sent);
            for (reset, verdict) in planned.sent.iter().zip(verdicts) {
                let follow =
                    self.positions
                        .apply_reset(&reset.partition, reset.generation, verdict);
                self.follow(follow);
            }
        }
        let version = self.versions.fetch;
        let plan = plan_fetches(&mut self.positions, &self.leaders, &self.config, |_| {
            version
        });
        for planned in plan.fetches {
            let response = call(
                &mut self.transport,
                planned.broker.0,
                version,
                &planned.request,
            );
            let verdicts = fetch_verdicts(response, &planned.sent, &self.config);
            for (fetched, verdict) in planned.sent.iter().zip(verdicts) {
                let follow = self.positions.apply_fetch(fetched, verdict);
                self.follow(follow);
            }
        }
        self.positions.drain()
    }

    /// Turns until `want` records came (or `turns` turns passed).
    pub(crate) fn consume(&mut self, want: usize, turns: usize) -> Vec<ConsumerRecord> {
        let mut got = Vec::new();
        for _ in 0..turns {
            if got.len() >= want {
                break;
            }
            got.extend(self.turn().expect("no partition error"));
        }
        got
    }
}

/// Records as `partition → [(offset, value as text)]`, in the order given.
pub(crate) fn by_partition(records: &[ConsumerRecord]) -> BTreeMap<i32, Vec<(i64, String)>> {
    let mut out: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for r in records {
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        out.entry(r.partition).or_default().push((r.offset, value));
    }
    out
}

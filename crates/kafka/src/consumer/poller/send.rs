//! Planning and sending what the partitions' state asks for: ListOffsets
//! for the resets due, and one Fetch per leader over every fetchable
//! partition (the core's `plan_list_offsets` / `plan_fetches`), only to
//! leaders whose connection is ready. A leader still connecting is dialled
//! and its partitions wait for that connection's I/O to bring the pump
//! round again, not for a timer.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use kafka_protocol::messages::ApiKey;
use rouse_reactor::SourceKey;

use super::{ConsumerPoller, Link, Loop, Purpose};
use crate::consumer::fetch::{plan_fetches, Leader};
use crate::consumer::list_offsets::{plan_list_offsets, ListOffsetsVerdict};
use crate::consumer::versions::ConsumerVersions;
use crate::net::{sync_interest, Connections, Serve};
use crate::record::{BrokerId, TopicPartition};

impl ConsumerPoller {
    pub(super) fn send_resets_and_fetches(&mut self, el: &mut Loop, now: Instant) {
        if now < self.fetch_not_before {
            return;
        }
        let mut conns: HashMap<BrokerId, Option<(SourceKey, ConsumerVersions)>> = HashMap::new();
        let mut ready: HashMap<TopicPartition, Leader> = HashMap::new();
        for (tp, leader) in &self.leaders {
            let conn = *conns.entry(leader.broker).or_insert_with(|| {
                let key = self.ready_conn(el, Some(leader.broker))?;
                let versions = ConsumerVersions::of(&el.source::<Link>(key)?.conn.versions);
                Some((key, versions))
            });
            if conn.is_some() {
                ready.insert(tp.clone(), *leader);
            }
        }
        for (broker, conn) in &conns {
            if conn.is_none() {
                self.connect(el, Some(*broker), now);
            }
        }
        let config = &self.shared.config;
        let versions = |b: BrokerId| conns[&b].expect("planned for ready leaders only").1;
        let (resets, fetches, unled) = {
            let mut state = self.shared.state.lock();
            let positions = &mut state.positions;
            let iso = config.isolation_level();
            let resets = plan_list_offsets(positions, &ready, iso, |b| versions(b).list_offsets);
            // Resets whose leader is not ready are asked again later.
            for reset in &resets.without_leader {
                let verdict = ListOffsetsVerdict::Retry("no ready leader".into());
                positions.apply_reset(&reset.partition, reset.generation, verdict);
            }
            let fetches = plan_fetches(positions, &ready, config, |b| versions(b).fetch);
            let unled = resets
                .without_leader
                .iter()
                .map(|r| &r.partition)
                .chain(&fetches.without_leader)
                .any(|tp| !self.leaders.contains_key(tp));
            (resets.requests, fetches.fetches, unled)
        };
        if unled {
            self.metadata_stale = true;
        }
        for planned in resets {
            let (key, v) = conns[&planned.broker].expect("ready");
            let purpose = Purpose::ListOffsets(planned.sent);
            let sent = self.send_on(
                el,
                key,
                ApiKey::ListOffsets,
                v.list_offsets,
                &planned.request,
                purpose,
                now,
                true,
            );
            self.sent(el, key, sent, now);
        }
        for planned in fetches {
            let (key, v) = conns[&planned.broker].expect("ready");
            self.shared
                .counters
                .fetch_requests
                .fetch_add(1, Ordering::Relaxed);
            let purpose = Purpose::Fetch(planned.sent);
            let sent = self.send_on(
                el,
                key,
                ApiKey::Fetch,
                v.fetch,
                &planned.request,
                purpose,
                now,
                true,
            );
            self.sent(el, key, sent, now);
        }
    }

    /// After `send_on`: a failed write closes the connection (what was in
    /// flight on it comes back unanswered); bytes the socket did not take
    /// wait for WRITE readiness.
    pub(super) fn sent(
        &mut self,
        el: &mut Loop,
        key: SourceKey,
        sent: Result<(), String>,
        now: Instant,
    ) {
        match sent {
            Err(reason) => self.close(el, key, &reason, now),
            Ok(()) => {
                if let Some(link) = el.source::<Link>(key) {
                    sync_interest(el, key, link.conn.wants_write());
                }
            }
        }
    }
}

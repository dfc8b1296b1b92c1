//! The group coordinator's requests for manual assignment: FindCoordinator,
//! OffsetFetch for the offsets new partitions start from, and the
//! application's commits and `committed` lookups, each retried (after
//! finding the coordinator again when it moved) until its deadline, then
//! given up with the application told.

use std::time::Instant;

use kafka_protocol::messages::{ApiKey, FindCoordinatorResponse};
use kafka_protocol::ResponseError;

use super::{Commit, Committed, ConsumerPoller, GroupOp, Link, Loop, Purpose};
use crate::consumer::consumer_error::ConsumerError;
use crate::consumer::group::{
    coordinator_verdict, find_coordinator, in_generation, offset_commit, offset_fetch,
    CoordinatorVerdict, GroupVerdict,
};
use crate::consumer::positions::Position;
use crate::consumer::versions::ConsumerVersions;
use crate::net::{Connections, Serve};
use crate::record::TopicPartition;

/// A broker's error code by name.
fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(e) => format!("{e} (error code {code})"),
        None => format!("unknown error code {code}"),
    }
}

impl ConsumerPoller {
    /// Sends what waits for the coordinator, finding it first.
    pub(super) fn group_work(&mut self, el: &mut Loop, now: Instant) {
        self.expire_group_ops(now);
        if now < self.coordinator_not_before {
            return; // a retry's backoff (the timer brings the pump back)
        }
        let Some(group) = self.shared.config.group_id().map(str::to_owned) else {
            return; // the application refuses group calls without a group.id
        };
        let wants_start = self.shared.state.lock().positions.awaits_committed();
        if self.member_wants_coordinator() && self.coordinator.is_none() {
            self.find_coordinator(el, &group, now);
        }
        if self.group_queue.is_empty() && !wants_start {
            return;
        }
        let Some(coordinator) = self.coordinator else {
            self.find_coordinator(el, &group, now);
            return;
        };
        let Some(key) = self.ready_coordinator(el, coordinator) else {
            self.connect_coordinator(el, coordinator, now);
            return;
        };
        let Some(link) = el.source::<Link>(key) else {
            return;
        };
        let versions = ConsumerVersions::of(&link.conn.versions);
        let (Some(commit_v), Some(fetch_v)) = (versions.offset_commit, versions.offset_fetch)
        else {
            self.fail_group("the group coordinator serves no usable OffsetCommit/OffsetFetch version (Kafka 0.11 or later is needed)");
            return;
        };
        if wants_start {
            let asked = self.shared.state.lock().positions.take_committed_requests();
            let partitions: Vec<TopicPartition> = asked.iter().map(|(tp, _)| tp.clone()).collect();
            let body = offset_fetch(&group, &partitions);
            let purpose = Purpose::StartOffsets(asked);
            let sent = self.send_on(
                el,
                key,
                ApiKey::OffsetFetch,
                fetch_v,
                &body,
                purpose,
                now,
                true,
            );
            if sent.is_err() {
                return self.sent(el, key, sent, now);
            }
        }
        while let Some(op) = self.group_queue.pop_front() {
            let sent = match op {
                GroupOp::Commit(commit) => {
                    let mut body = offset_commit(&group, &commit.offsets, commit_v);
                    if let Some((generation, member_id)) =
                        self.member.as_ref().and_then(|m| m.commit_identity())
                    {
                        let instance = self.shared.config.group_instance_id();
                        body = in_generation(body, generation, member_id, instance, commit_v);
                    }
                    let purpose = Purpose::Commit(commit);
                    self.send_on(
                        el,
                        key,
                        ApiKey::OffsetCommit,
                        commit_v,
                        &body,
                        purpose,
                        now,
                        true,
                    )
                }
                GroupOp::Committed(ask) => {
                    let body = offset_fetch(&group, &ask.partitions);
                    let purpose = Purpose::Committed(ask);
                    self.send_on(
                        el,
                        key,
                        ApiKey::OffsetFetch,
                        fetch_v,
                        &body,
                        purpose,
                        now,
                        true,
                    )
                }
            };
            if sent.is_err() {
                // The op came back to the queue's front: stop, or it loops.
                return self.sent(el, key, sent, now);
            }
        }
        self.sent(el, key, Ok(()), now);
    }

    fn find_coordinator(&mut self, el: &mut Loop, group: &str, now: Instant) {
        if self.coordinator_in_flight || now < self.coordinator_not_before {
            return;
        }
        let Some(key) = self.ready_conn(el, None) else {
            self.connect(el, None, now);
            return;
        };
        let Some(link) = el.source::<Link>(key) else {
            return;
        };
        let Some(version) = ConsumerVersions::of(&link.conn.versions).find_coordinator else {
            self.fail_group("the broker serves no usable FindCoordinator version (Kafka 0.11 or later is needed)");
            return;
        };
        let body = find_coordinator(group, version);
        let purpose = Purpose::FindCoordinator;
        let sent = self.send_on(
            el,
            key,
            ApiKey::FindCoordinator,
            version,
            &body,
            purpose,
            now,
            true,
        );
        self.coordinator_in_flight = sent.is_ok();
        self.sent(el, key, sent, now);
    }

    pub(super) fn apply_coordinator(
        &mut self,
        response: &FindCoordinatorResponse,
        version: i16,
        now: Instant,
    ) {
        match coordinator_verdict(response, version) {
            CoordinatorVerdict::Found { broker, host, port } => {
                tracing::debug!(broker = broker.0, "group coordinator found");
                self.coordinator = Some(broker);
                if !self.brokers.iter().any(|(id, _, _)| *id == broker) {
                    self.brokers.push((broker, host, port as u16));
                }
            }
            CoordinatorVerdict::Retry(why) => {
                tracing::debug!(why, "no group coordinator yet");
                self.coordinator_not_before = now + self.shared.config.retry_backoff();
            }
            CoordinatorVerdict::Fatal(code) => {
                self.coordinator_not_before = now + self.shared.config.retry_backoff();
                self.fail_group(&format!("FindCoordinator failed: {}", error_name(code)));
            }
        }
    }

    /// The group cannot be used: every queued group call fails with
    /// `why`, and partitions waiting for their committed offset stop.
    fn fail_group(&mut self, why: &str) {
        tracing::error!(why, "group calls fail");
        for op in std::mem::take(&mut self.group_queue) {
            let error = |tp: Option<&TopicPartition>, what| ConsumerError::Group {
                what,
                partition: tp.cloned().unwrap_or_else(|| TopicPartition::new("", -1)),
                message: why.to_owned(),
            };
            match op {
                GroupOp::Commit(c) => {
                    if let Some(reply) = c.reply {
                        let _ =
                            reply.send(Err(error(c.offsets.first().map(|o| &o.0), "the commit")));
                    }
                }
                GroupOp::Committed(c) => {
                    let _ = c
                        .reply
                        .send(Err(error(c.partitions.first(), "the committed offset")));
                }
            }
        }
        let mut state = self.shared.state.lock();
        for (tp, generation) in state.positions.take_committed_requests() {
            let verdict = GroupVerdict::Fatal(ResponseError::UnsupportedVersion.code());
            state.positions.apply_committed(&tp, generation, verdict);
        }
        drop(state);
        self.shared.notify();
    }

    /// Drops group calls past their deadline; the application's wait has
    /// ended with a timeout by then.
    fn expire_group_ops(&mut self, now: Instant) {
        self.group_queue.retain(|op| {
            let keep = op.deadline() > now;
            if !keep {
                if let GroupOp::Commit(Commit { reply: None, offsets, .. }) = op {
                    tracing::warn!(partitions = offsets.len(), "an asynchronous commit was given up: the coordinator did not take it in time");
                }
            }
            keep
        });
    }

    /// Settles a commit by its partitions' verdicts: done, failed (the
    /// first refusal, by name), or queued again.
    pub(super) fn commit_answered(
        &mut self,
        commit: Commit,
        verdicts: Vec<GroupVerdict<()>>,
        now: Instant,
    ) {
        let mut again = false;
        let mut error = None;
        for ((tp, _), verdict) in commit.offsets.iter().zip(verdicts) {
            match verdict {
                GroupVerdict::Done(()) => {}
                GroupVerdict::FindCoordinator(_) => {
                    self.coordinator = None;
                    again = true;
                }
                GroupVerdict::Retry(_) => again = true,
                GroupVerdict::Fatal(code) => {
                    error.get_or_insert(ConsumerError::Group {
                        what: "the commit",
                        partition: tp.clone(),
                        message: error_name(code),
                    });
                }
            }
        }
        match (error, again) {
            (Some(error), _) => match commit.reply {
                Some(reply) => {
                    let _ = reply.send(Err(error));
                }
                None => tracing::warn!(%error, "an asynchronous commit failed"),
            },
            (None, true) => {
                self.coordinator_not_before = now + self.shared.config.retry_backoff();
                self.group_queue.push_back(GroupOp::Commit(commit));
            }
            (None, false) => {
                if let Some(reply) = commit.reply {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    /// Settles a `committed` lookup by its partitions' verdicts.
    pub(super) fn committed_answered(
        &mut self,
        ask: Committed,
        verdicts: Vec<GroupVerdict<Option<Position>>>,
        now: Instant,
    ) {
        let mut found = Vec::with_capacity(ask.partitions.len());
        let mut again = false;
        for (tp, verdict) in ask.partitions.iter().zip(verdicts) {
            match verdict {
                GroupVerdict::Done(position) => {
                    found.push((tp.clone(), position.map(|p| p.offset)))
                }
                GroupVerdict::FindCoordinator(_) => {
                    self.coordinator = None;
                    again = true;
                }
                GroupVerdict::Retry(_) => again = true,
                GroupVerdict::Fatal(code) => {
                    let _ = ask.reply.send(Err(ConsumerError::Group {
                        what: "the committed offset",
                        partition: tp.clone(),
                        message: error_name(code),
                    }));
                    return;
                }
            }
        }
        if again {
            self.coordinator_not_before = now + self.shared.config.retry_backoff();
            self.group_queue.push_back(GroupOp::Committed(ask));
        } else {
            let _ = ask.reply.send(Ok(found));
        }
    }
}

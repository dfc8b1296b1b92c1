//! Where answers take effect: each decoded, turned into verdicts by the
//! I/O-free core (`fetch`, `list_offsets`, `group`), applied to `Positions`
//! under the shared lock, and `poll` notified. Decoding happens before the
//! lock is taken, so `poll` waits only while records move into buffers.
//! An answer that cannot be decoded closes its connection and its request
//! goes back as unanswered (asked again), never dropped.

use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, FetchResponse, FindCoordinatorResponse, HeartbeatResponse, JoinGroupResponse,
    LeaveGroupResponse, ListOffsetsResponse, MetadataResponse, OffsetCommitResponse,
    OffsetFetchResponse, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, HeaderVersion};
use rouse_reactor::SourceKey;

use super::{ConsumerPoller, Link, Purpose};
use crate::consumer::assignor::decode_assignment;
use crate::consumer::fetch::{fetch_verdicts, FetchVerdict};
use crate::consumer::group::{offset_commit_verdicts, offset_fetch_verdicts};
use crate::consumer::list_offsets::list_offsets_verdicts;
use crate::consumer::membership::error_name;
use crate::consumer::positions::{Fetchable, FollowUp};
use crate::net::{wire, Answered, Client, Connections, Lost};
use crate::record::TopicPartition;

impl ConsumerPoller {
    /// Applies the answer to `request` on connection `key`; an error
    /// closes the connection (its other requests come back unanswered).
    pub(super) fn apply(
        &mut self,
        key: SourceKey,
        link: &mut Link,
        request: Answered<Purpose>,
        payload: Bytes,
        now: Instant,
    ) -> Result<(), String> {
        let (api, version, purpose) = (request.api, request.version, request.purpose);
        match purpose {
            Purpose::Metadata => {
                self.metadata_in_flight = false;
                self.metadata_not_before = now + self.shared.config.retry_backoff();
                let response: MetadataResponse =
                    wire::response(api, version, payload).map_err(|e| e.to_string())?;
                self.apply_metadata(&response, now);
                self.adopt_bootstrap_connection(key, link);
            }
            Purpose::FindCoordinator => {
                self.coordinator_in_flight = false;
                let response: FindCoordinatorResponse =
                    wire::response(api, version, payload).map_err(|e| e.to_string())?;
                self.apply_coordinator(&response, version, now);
            }
            Purpose::Fetch(sent) => {
                let response = self.decode::<FetchResponse>(api, version, payload, now, || {
                    Purpose::Fetch(sent.clone())
                })?;
                let verdicts = fetch_verdicts(response, &sent, &self.shared.config);
                self.apply_fetch(&sent, verdicts, now);
            }
            Purpose::ListOffsets(sent) => {
                let response =
                    self.decode::<ListOffsetsResponse>(api, version, payload, now, || {
                        Purpose::ListOffsets(sent.clone())
                    })?;
                let verdicts = list_offsets_verdicts(&response, &sent);
                let follows: Vec<FollowUp> = {
                    let mut state = self.shared.state.lock();
                    sent.iter()
                        .zip(verdicts)
                        .map(|(reset, verdict)| {
                            let (tp, generation) = (&reset.partition, reset.generation);
                            state.positions.apply_reset(tp, generation, verdict)
                        })
                        .collect()
                };
                self.shared.notify(); // position() may wait for it
                self.forget_moved_leaders(sent.iter().map(|r| &r.partition), &follows);
                self.follow_all(follows, now);
            }
            Purpose::StartOffsets(asked) => {
                let response =
                    self.decode::<OffsetFetchResponse>(api, version, payload, now, || {
                        Purpose::StartOffsets(asked.clone())
                    })?;
                let partitions: Vec<TopicPartition> =
                    asked.iter().map(|(tp, _)| tp.clone()).collect();
                let verdicts = offset_fetch_verdicts(&response, &partitions);
                let follows: Vec<FollowUp> = {
                    let mut state = self.shared.state.lock();
                    asked
                        .iter()
                        .zip(verdicts)
                        .map(|((tp, generation), verdict)| {
                            state.positions.apply_committed(tp, *generation, verdict)
                        })
                        .collect()
                };
                self.shared.notify();
                self.follow_all(follows, now);
            }
            Purpose::Commit(commit) => {
                match wire::response::<OffsetCommitResponse>(api, version, payload) {
                    Ok(response) => {
                        let verdicts = offset_commit_verdicts(&response, &commit.offsets);
                        self.commit_answered(commit, verdicts, now);
                    }
                    Err(e) => {
                        let why = e.to_string();
                        self.on_unanswered(
                            Purpose::Commit(commit),
                            Lost::Encoding(why.clone()),
                            now,
                        );
                        return Err(why);
                    }
                }
            }
            Purpose::Committed(ask) => {
                match wire::response::<OffsetFetchResponse>(api, version, payload) {
                    Ok(response) => {
                        let verdicts = offset_fetch_verdicts(&response, &ask.partitions);
                        self.committed_answered(ask, verdicts, now);
                    }
                    Err(e) => {
                        let why = e.to_string();
                        let purpose = Purpose::Committed(ask);
                        self.on_unanswered(purpose, Lost::Encoding(why.clone()), now);
                        return Err(why);
                    }
                }
            }
            Purpose::Join(epoch) => {
                let response =
                    self.decode::<JoinGroupResponse>(api, version, payload, now, || {
                        Purpose::Join(epoch)
                    })?;
                tracing::debug!(
                    epoch,
                    error = error_name(response.error_code),
                    generation = response.generation_id,
                    "JoinGroup answered"
                );
                if let Some(member) = self.member.as_mut() {
                    member.on_join(epoch, &response, now);
                }
            }
            Purpose::Sync(epoch) => {
                let response =
                    self.decode::<SyncGroupResponse>(api, version, payload, now, || {
                        Purpose::Sync(epoch)
                    })?;
                tracing::debug!(
                    epoch,
                    error = error_name(response.error_code),
                    "SyncGroup answered"
                );
                self.apply_sync(epoch, &response, now);
            }
            Purpose::Heartbeat(epoch) => {
                let response =
                    self.decode::<HeartbeatResponse>(api, version, payload, now, || {
                        Purpose::Heartbeat(epoch)
                    })?;
                tracing::trace!(
                    epoch,
                    error = error_name(response.error_code),
                    "Heartbeat answered"
                );
                if let Some(member) = self.member.as_mut() {
                    member.on_heartbeat(epoch, response.error_code, now);
                }
            }
            Purpose::Leave(replies) => {
                match wire::response::<LeaveGroupResponse>(api, version, payload) {
                    Ok(r) if r.error_code != 0 => {
                        tracing::info!(error = error_name(r.error_code), "LeaveGroup refused; the coordinator drops the member after session.timeout.ms")
                    }
                    Ok(_) => tracing::debug!("left the group"),
                    Err(e) => tracing::debug!(error = %e, "LeaveGroup's answer cannot be read"),
                }
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
            }
        }
        Ok(())
    }

    /// This member's partitions from a SyncGroup answer (an empty
    /// assignment is none), or its error; an assignment that cannot be
    /// read fails the member, naming why.
    fn apply_sync(&mut self, epoch: u64, response: &SyncGroupResponse, now: Instant) {
        let Some(member) = self.member.as_mut() else {
            return;
        };
        if response.error_code != 0 {
            return member.on_sync(epoch, Err(response.error_code), now);
        }
        if response.assignment.is_empty() {
            return member.on_sync(epoch, Ok(Vec::new()), now);
        }
        match decode_assignment(&response.assignment) {
            Ok(assignment) => member.on_sync(epoch, Ok(assignment.partitions), now),
            Err(e) => member.fail(format!(
                "the group leader's assignment for this member cannot be read: {e}"
            )),
        }
    }

    /// The answer decoded, or (after handing `purpose()` back as
    /// unanswered) the error that closes the connection.
    fn decode<R: Decodable + HeaderVersion>(
        &mut self,
        api: ApiKey,
        version: i16,
        payload: Bytes,
        now: Instant,
        purpose: impl FnOnce() -> Purpose,
    ) -> Result<R, String> {
        match wire::response::<R>(api, version, payload) {
            Ok(response) => Ok(response),
            Err(e) => {
                let why = e.to_string();
                self.on_unanswered(purpose(), Lost::Encoding(why.clone()), now);
                Err(why)
            }
        }
    }

    /// A partition whose leader may have moved is not sent to the old one
    /// again (answering NOT_LEADER as fast as it is asked) but waits for
    /// the metadata its follow-up asks for.
    fn forget_moved_leaders<'a>(
        &mut self,
        partitions: impl Iterator<Item = &'a TopicPartition>,
        follows: &[FollowUp],
    ) {
        for (tp, follow) in partitions.zip(follows) {
            if *follow == FollowUp::RefreshMetadata {
                self.leaders.remove(tp);
            }
        }
    }

    fn follow_all(&mut self, follows: Vec<FollowUp>, now: Instant) {
        for follow in follows {
            self.follow(follow, now);
        }
    }

    /// Fetch verdicts into the partitions' buffers (`poll` is notified),
    /// then their follow-ups.
    fn apply_fetch(&mut self, sent: &[Fetchable], verdicts: Vec<FetchVerdict>, now: Instant) {
        let follows = self.shared.apply_fetch(sent, verdicts);
        self.forget_moved_leaders(sent.iter().map(|f| &f.partition), &follows);
        self.follow_all(follows, now);
    }
}

//! The consumer's poller as a client of the connection layer
//! (`crate::net`): where answers, lost requests and security failures land.
//! Every lost request is put back where it came from, so nothing is
//! skipped: a fetch is fetched again from the same position, a reset or an
//! OffsetFetch is asked again, a commit is queued again until its deadline.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rouse_reactor::SourceKey;

use super::{lost_committed, lost_fetch, lost_reset, ConsumerPoller, GroupOp, Link, Purpose};
use crate::consumer::membership::join_timeout;
use crate::net::{Answered, Client, Lost, Net, SecurityFailure};
use crate::BrokerId;

impl Client for ConsumerPoller {
    type Purpose = Purpose;

    fn net(&self) -> &Net {
        &self.net
    }

    fn net_mut(&mut self) -> &mut Net {
        &mut self.net
    }

    fn on_response(
        &mut self,
        key: SourceKey,
        link: &mut Link,
        request: Answered<Purpose>,
        payload: Bytes,
        now: Instant,
    ) -> Result<(), String> {
        self.apply(key, link, request, payload, now)
    }

    fn on_unanswered(&mut self, purpose: Purpose, lost: Lost, now: Instant) {
        let why = match &lost {
            Lost::Network(why) | Lost::Encoding(why) => why.as_str(),
        };
        tracing::debug!(why, "a consumer request got no answer");
        match purpose {
            Purpose::Metadata => {
                self.metadata_in_flight = false;
                self.metadata_not_before = now + self.shared.config.retry_backoff();
            }
            Purpose::FindCoordinator => {
                self.coordinator_in_flight = false;
                self.coordinator_not_before = now + self.shared.config.retry_backoff();
            }
            Purpose::Fetch(sent) => {
                let mut state = self.shared.state.lock();
                for fetched in &sent {
                    state.positions.apply_fetch(fetched, lost_fetch(why));
                }
                // A lost connection may be a leader that moved.
                self.metadata_stale = true;
            }
            Purpose::ListOffsets(sent) => {
                let mut state = self.shared.state.lock();
                for reset in &sent {
                    let verdict = lost_reset(why);
                    state
                        .positions
                        .apply_reset(&reset.partition, reset.generation, verdict);
                }
                self.metadata_stale = true;
            }
            Purpose::StartOffsets(asked) => {
                let mut state = self.shared.state.lock();
                for (tp, generation) in &asked {
                    state
                        .positions
                        .apply_committed(tp, *generation, lost_committed(why));
                }
                self.coordinator = None;
            }
            Purpose::Commit(commit) => {
                self.coordinator = None;
                self.group_queue.push_front(GroupOp::Commit(commit));
            }
            Purpose::Committed(ask) => {
                self.coordinator = None;
                self.group_queue.push_front(GroupOp::Committed(ask));
            }
            Purpose::Join(epoch) | Purpose::Sync(epoch) | Purpose::Heartbeat(epoch) => {
                if let Some(member) = self.member.as_mut() {
                    member.on_lost(epoch, now);
                }
            }
            Purpose::Leave(replies) => {
                // The coordinator drops the member after session.timeout.ms.
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    fn request_timeout(&self, purpose: &Purpose) -> Option<Duration> {
        let config = &self.shared.config;
        matches!(purpose, Purpose::Join(_))
            .then(|| join_timeout(config.request_timeout(), config.max_poll_interval()))
    }

    fn on_written(&mut self, _purpose: Purpose) {
        // Every consumer request expects an answer.
    }

    fn broker_address(&self, broker: BrokerId) -> Option<(String, u16)> {
        self.brokers
            .iter()
            .find(|(id, _, _)| *id == broker)
            .map(|(_, host, port)| (host.clone(), *port))
    }

    fn brokers(&self) -> Vec<(BrokerId, String, u16)> {
        self.brokers.clone()
    }

    fn reachable(&mut self, unreachable: Option<String>) {
        if let Some(why) = unreachable {
            tracing::warn!(why, "no broker of bootstrap.servers can be reached");
        }
    }

    fn metadata_stale(&mut self) {
        self.metadata_stale = true;
    }

    fn failed(&mut self, failure: SecurityFailure) {
        let reason = match failure {
            SecurityFailure::Tls(reason) => format!("TLS failed: {reason}"),
            SecurityFailure::Authentication(reason) => {
                format!("authentication failed: {reason}")
            }
        };
        tracing::error!(reason, "cannot connect securely: the consumer stops; fix the security settings and create a new consumer");
        self.shared.state.lock().fatal.get_or_insert(reason);
        self.shared.notify();
    }
}

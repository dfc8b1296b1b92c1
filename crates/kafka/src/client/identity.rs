//! The idempotent producer's identity over its life: getting one, renewing
//! it when a partition's sequence stream breaks (KIP-360), and the cases
//! that end in a fatal error instead of a retry loop.
//!
//! ```text
//!            ┌───────────── retriable error (after retry.backoff.ms) ─────┐
//!            ▼                                                            │
//!   Wanted ──InitProducerId──► Asked ──granted──► Known ──renew──► Wanted ┘
//!     │                          │                                 (at most
//!     │                          ├─ refused, first time, default ─► Off     MAX_RENEWALS
//!     │                          │                                  without an ack)
//!     └─ broker lacks the API ───┴─ refused otherwise ───────────► fatal
//! ```
//!
//! A renewal first asks with the current id and epoch (InitProducerId v3+,
//! KIP-360): a broker may bump the epoch or hand out a new id, either is
//! fine. One that answers with the same identity, or refuses the bump, is
//! asked once more for a fresh id (-1, -1); the same identity again is
//! fatal, because sequences restarted at 0 under it would be refused.

use std::time::{Duration, Instant};

use crate::batch::ProducerIdentity;

/// Renewals in a row without a single acknowledged batch before the
/// producer gives up: a broker that refuses every fresh identity's first
/// batch would otherwise be retried forever.
pub(crate) const MAX_RENEWALS: u32 = 3;

/// What an InitProducerId answer means; made by `responses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Granted {
    /// A usable id and epoch.
    Identity(ProducerIdentity),
    /// A transient error: ask again after `retry.backoff.ms`.
    Retry(String),
    /// The broker will not bump this id and epoch: ask for a fresh id.
    AskFresh(String),
    /// The broker refuses to give this producer an id.
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Idempotence is off: batches go unstamped.
    Off,
    /// An id must be asked for, not before `not_before`.
    Wanted { not_before: Instant },
    /// InitProducerId is in flight.
    Asked,
    /// In use.
    Known(ProducerIdentity),
    /// A fatal error was raised; nothing more is asked.
    Failed,
}

/// The producer-wide identity; owned by the poller thread.
#[derive(Debug)]
pub(crate) struct Identity {
    state: State,
    /// The identity being renewed, if this is a renewal.
    previous: Option<ProducerIdentity>,
    /// Ask for a fresh id even where a bump is possible.
    fresh: bool,
    /// Whether `enable.idempotence=true` was set (not just the default).
    explicit: bool,
    renewals_without_ack: u32,
}

impl Identity {
    /// Idempotent (`on`) or not; `explicit` if the user set it.
    pub(crate) fn new(on: bool, explicit: bool, now: Instant) -> Identity {
        Identity {
            state: if on {
                State::Wanted { not_before: now }
            } else {
                State::Off
            },
            previous: None,
            fresh: false,
            explicit,
            renewals_without_ack: 0,
        }
    }

    /// Whether batches are stamped at all.
    pub(crate) fn is_off(&self) -> bool {
        self.state == State::Off
    }

    /// The identity to stamp new batches with, once known.
    pub(crate) fn current(&self) -> Option<ProducerIdentity> {
        match self.state {
            State::Known(identity) => Some(identity),
            _ => None,
        }
    }

    /// Whether sending may start: off, or an identity is known.
    pub(crate) fn is_ready(&self) -> bool {
        matches!(self.state, State::Off | State::Known(_))
    }

    /// When an InitProducerId should go, if one should.
    pub(crate) fn wanted_at(&self) -> Option<Instant> {
        match self.state {
            State::Wanted { not_before } => Some(not_before),
            _ => None,
        }
    }

    /// The id and epoch to put in the request, for a broker serving
    /// InitProducerId at `version`: the current ones for a bump (v3+),
    /// otherwise -1 / -1 for a fresh id.
    pub(crate) fn request_fields(&self, version: i16) -> (i64, i16) {
        match self.previous {
            Some(p) if version >= 3 && !self.fresh => (p.id, p.epoch),
            _ => (-1, -1),
        }
    }

    /// The request went out.
    pub(crate) fn asked(&mut self) {
        debug_assert!(matches!(self.state, State::Wanted { .. }));
        self.state = State::Asked;
    }

    /// The request got no answer (its connection died): ask again.
    pub(crate) fn unanswered(&mut self, now: Instant) {
        if self.state == State::Asked {
            self.state = State::Wanted { not_before: now };
        }
    }

    /// A batch was acknowledged: the identity works.
    pub(crate) fn acked(&mut self) {
        self.renewals_without_ack = 0;
    }

    /// A partition needs a new identity. `Err` with the reason when that
    /// has failed too often to try again.
    pub(crate) fn renew(&mut self, now: Instant) -> Result<(), String> {
        let State::Known(current) = self.state else {
            return Ok(()); // already renewing (or off, or failed)
        };
        self.renewals_without_ack += 1;
        if self.renewals_without_ack > MAX_RENEWALS {
            return Err(format!(
                "the brokers refused the first batch under {MAX_RENEWALS} new producer ids in a row \
                 (OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID); they cannot keep this \
                 producer's idempotence state"
            ));
        }
        tracing::warn!(%current, "a partition's sequence numbers have a gap; renewing the producer id (KIP-360)");
        self.previous = Some(current);
        self.fresh = false;
        self.state = State::Wanted { not_before: now };
        Ok(())
    }

    /// The broker does not serve InitProducerId at all.
    pub(crate) fn unsupported(&mut self) -> Result<(), String> {
        self.refused("the broker does not support InitProducerId".into())
    }

    /// Takes in an InitProducerId answer. `Err` with the reason for a fatal
    /// error.
    pub(crate) fn granted(
        &mut self,
        answer: Granted,
        now: Instant,
        backoff: Duration,
    ) -> Result<(), String> {
        match answer {
            Granted::Identity(identity) if Some(identity) == self.previous => {
                if self.fresh {
                    return Err(format!(
                        "the broker handed back the same {identity} when asked for a new one"
                    ));
                }
                tracing::warn!(%identity, "the broker did not bump the producer epoch; asking for a fresh producer id");
                self.fresh = true;
                self.state = State::Wanted { not_before: now };
            }
            Granted::Identity(identity) => {
                tracing::info!(%identity, renewed = ?self.previous, "idempotent producer id");
                self.state = State::Known(identity);
                self.fresh = false;
            }
            Granted::Retry(reason) => {
                tracing::debug!(%reason, "InitProducerId will be retried");
                self.state = State::Wanted {
                    not_before: now + backoff,
                };
            }
            // A broker that cannot bump (or fails trying) may still hand out
            // a fresh id: ask once before giving up.
            Granted::AskFresh(reason) | Granted::Refused(reason)
                if !self.fresh && self.previous.is_some() =>
            {
                tracing::warn!(%reason, "the broker did not bump the producer epoch; asking for a fresh producer id");
                self.fresh = true;
                self.state = State::Wanted { not_before: now };
            }
            Granted::AskFresh(reason) | Granted::Refused(reason) => return self.refused(reason),
        }
        Ok(())
    }

    fn refused(&mut self, reason: String) -> Result<(), String> {
        if self.previous.is_none() && !self.explicit {
            tracing::warn!(
                %reason,
                "the broker gives no idempotent producer id: sending without idempotence \
                 (a retry may write a record twice); set enable.idempotence=false to silence this"
            );
            self.state = State::Off;
            return Ok(());
        }
        self.state = State::Failed;
        Err(if self.previous.is_none() {
            format!("enable.idempotence=true, but {reason}; set enable.idempotence=false or use a broker that supports idempotent producers")
        } else {
            format!("the producer id could not be renewed after a sequence gap: {reason}")
        })
    }

    /// A fatal error was raised elsewhere: stop asking.
    pub(crate) fn fail(&mut self) {
        self.state = State::Failed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ProducerIdentity = ProducerIdentity { id: 1, epoch: 0 };
    const A1: ProducerIdentity = ProducerIdentity { id: 1, epoch: 1 };

    fn known(explicit: bool) -> (Identity, Instant) {
        let now = Instant::now();
        let mut identity = Identity::new(true, explicit, now);
        assert_eq!(identity.wanted_at(), Some(now));
        assert_eq!(identity.request_fields(4), (-1, -1));
        identity.asked();
        identity
            .granted(Granted::Identity(A), now, Duration::ZERO)
            .unwrap();
        assert_eq!(identity.current(), Some(A));
        (identity, now)
    }

    #[test]
    fn a_renewal_asks_for_a_bump_then_for_a_fresh_id() {
        let (mut identity, now) = known(false);
        identity.renew(now).unwrap();
        assert_eq!(identity.current(), None);
        assert_eq!(identity.request_fields(4), (1, 0), "KIP-360 bump");
        assert_eq!(identity.request_fields(2), (-1, -1), "no bump before v3");
        identity.asked();
        identity
            .granted(Granted::AskFresh("fenced".into()), now, Duration::ZERO)
            .unwrap();
        assert_eq!(identity.request_fields(4), (-1, -1));
        identity.asked();
        identity
            .granted(Granted::Identity(A1), now, Duration::ZERO)
            .unwrap();
        assert_eq!(identity.current(), Some(A1));
    }

    #[test]
    fn the_same_identity_twice_is_fatal() {
        let (mut identity, now) = known(false);
        identity.renew(now).unwrap();
        identity.asked();
        identity
            .granted(Granted::Identity(A), now, Duration::ZERO)
            .unwrap();
        assert_eq!(identity.request_fields(4), (-1, -1));
        identity.asked();
        let fatal = identity.granted(Granted::Identity(A), now, Duration::ZERO);
        assert!(fatal.unwrap_err().contains("same producer id 1 epoch 0"));
    }

    #[test]
    fn renewals_without_an_ack_are_bounded() {
        let (mut identity, now) = known(false);
        for epoch in 1..=MAX_RENEWALS as i16 {
            identity.renew(now).unwrap();
            identity.asked();
            let next = ProducerIdentity { id: 1, epoch };
            identity
                .granted(Granted::Identity(next), now, Duration::ZERO)
                .unwrap();
        }
        assert!(identity.renew(now).is_err());
        let (mut identity, now) = known(false);
        for epoch in 1..=10 {
            identity.renew(now).unwrap();
            identity.asked();
            let next = ProducerIdentity { id: 1, epoch };
            identity
                .granted(Granted::Identity(next), now, Duration::ZERO)
                .unwrap();
            identity.acked();
        }
    }

    #[test]
    fn a_refusal_falls_back_only_for_the_default_and_only_at_first() {
        let now = Instant::now();
        let mut default = Identity::new(true, false, now);
        default.asked();
        default
            .granted(Granted::Refused("no".into()), now, Duration::ZERO)
            .unwrap();
        assert!(default.is_off() && default.is_ready());

        let mut explicit = Identity::new(true, true, now);
        assert!(explicit
            .unsupported()
            .unwrap_err()
            .contains("enable.idempotence=true"));

        let (mut renewing, now) = known(false);
        renewing.renew(now).unwrap();
        renewing.asked();
        renewing
            .granted(Granted::Refused("no bump".into()), now, Duration::ZERO)
            .unwrap();
        assert_eq!(renewing.request_fields(4), (-1, -1), "asks for a fresh id");
        renewing.asked();
        let fatal = renewing.granted(Granted::Refused("no".into()), now, Duration::ZERO);
        assert!(fatal.unwrap_err().contains("could not be renewed"));
    }

    #[test]
    fn a_transient_error_waits_for_the_backoff() {
        let now = Instant::now();
        let mut identity = Identity::new(true, false, now);
        identity.asked();
        identity
            .granted(
                Granted::Retry("loading".into()),
                now,
                Duration::from_millis(100),
            )
            .unwrap();
        assert_eq!(identity.wanted_at(), Some(now + Duration::from_millis(100)));
        identity.asked();
        identity.unanswered(now);
        assert_eq!(identity.wanted_at(), Some(now));
    }
}

//! The producer as a client of the connection layer (`crate::net`): where
//! answers, lost requests and security failures land in the poller.

use std::time::Instant;

use bytes::Bytes;
use rouse_reactor::SourceKey;

use super::apply::lost_answer;
use super::{Link, Poller};
use crate::client::requests::Purpose;
use crate::client::Failure;
use crate::delivery::DeliveryError;
use crate::net::{Answered, Client, Lost, Net, SecurityFailure};
use crate::BrokerId;

impl Client for Poller {
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

    /// Batches are retried or failed, flags cleared: nothing is dropped
    /// without an outcome.
    fn on_unanswered(&mut self, purpose: Purpose, lost: Lost, now: Instant) {
        let error = match lost {
            Lost::Network(reason) => DeliveryError::network(&reason),
            Lost::Encoding(reason) => DeliveryError::encoding(&reason),
        };
        match purpose {
            Purpose::Produce(batches) => {
                for batch in batches {
                    self.settle(batch, lost_answer(&error), now);
                }
            }
            Purpose::Metadata => self.metadata_in_flight = false,
            Purpose::InitProducerId => self.identity.unanswered(now),
        }
    }

    fn on_written(&mut self, purpose: Purpose) {
        self.written_unanswered(purpose);
    }

    fn broker_address(&self, broker: BrokerId) -> Option<(String, u16)> {
        self.shared.metadata.broker(broker)
    }

    fn brokers(&self) -> Vec<(BrokerId, String, u16)> {
        self.shared.metadata.brokers()
    }

    fn reachable(&mut self, unreachable: Option<String>) {
        self.shared.metadata.set_unreachable(unreachable);
    }

    fn metadata_stale(&mut self) {
        self.shared.metadata.mark_stale();
    }

    fn failed(&mut self, failure: SecurityFailure) {
        let failure = match failure {
            SecurityFailure::Tls(reason) => Failure::tls(reason),
            SecurityFailure::Authentication(reason) => Failure::authentication(reason),
        };
        self.pending_fatal.get_or_insert(failure);
    }
}

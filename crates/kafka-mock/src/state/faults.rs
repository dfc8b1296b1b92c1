//! Armed faults, consulted on every request.
//!
//! Rules with a broker of `None` match every broker. Failures and drops are
//! consumed as they fire; delays stay until replaced or cleared.

use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;

#[derive(Debug)]
struct FailRule {
    api: ApiKey,
    broker: Option<i32>,
    error: ResponseError,
    remaining: u32,
}

#[derive(Debug)]
struct DelayRule {
    api: ApiKey,
    broker: Option<i32>,
    delay: Duration,
}

#[derive(Debug)]
struct DropRule {
    broker: Option<i32>,
    spare: u32,
}

/// Every fault currently armed.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    failures: Vec<FailRule>,
    delays: Vec<DelayRule>,
    drops: Vec<DropRule>,
}

fn matches(rule: Option<i32>, broker: i32) -> bool {
    rule.map_or(true, |b| b == broker)
}

impl Faults {
    pub(crate) fn add_failure(
        &mut self,
        api: ApiKey,
        broker: Option<i32>,
        error: ResponseError,
        count: u32,
    ) {
        if count > 0 {
            self.failures.push(FailRule {
                api,
                broker,
                error,
                remaining: count,
            });
        }
    }

    /// Sets (or with `Duration::ZERO` removes) the delay for `api` on
    /// `broker`.
    pub(crate) fn set_delay(&mut self, api: ApiKey, broker: Option<i32>, delay: Duration) {
        self.delays
            .retain(|d| !(d.api == api && d.broker == broker));
        if !delay.is_zero() {
            self.delays.push(DelayRule { api, broker, delay });
        }
    }

    pub(crate) fn add_drop(&mut self, broker: Option<i32>, spare: u32) {
        self.drops.push(DropRule { broker, spare });
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Whether this request's connection must be dropped; counts the request
    /// against every matching drop rule.
    pub(crate) fn take_drop(&mut self, broker: i32) -> bool {
        let mut fire = false;
        self.drops.retain_mut(|rule| {
            if !matches(rule.broker, broker) || fire {
                return true;
            }
            if rule.spare == 0 {
                fire = true;
                return false;
            }
            rule.spare -= 1;
            true
        });
        fire
    }

    /// The error this request must fail with, if a rule is armed for it.
    pub(crate) fn take_failure(&mut self, api: ApiKey, broker: i32) -> Option<ResponseError> {
        let index = self
            .failures
            .iter()
            .position(|r| r.api == api && matches(r.broker, broker))?;
        let rule = &mut self.failures[index];
        let error = rule.error;
        rule.remaining -= 1;
        if rule.remaining == 0 {
            self.failures.remove(index);
        }
        Some(error)
    }

    /// The delay for `api` on `broker`; a broker-specific rule wins over a
    /// cluster-wide one.
    pub(crate) fn delay(&self, api: ApiKey, broker: i32) -> Option<Duration> {
        let mut candidates = self
            .delays
            .iter()
            .filter(|d| d.api == api && matches(d.broker, broker));
        let first = candidates.next()?;
        Some(
            candidates
                .chain(std::iter::once(first))
                .find(|d| d.broker.is_some())
                .unwrap_or(first)
                .delay,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_fire_count_times_on_matching_broker() {
        let mut faults = Faults::default();
        faults.add_failure(
            ApiKey::Produce,
            Some(2),
            ResponseError::NotLeaderOrFollower,
            2,
        );
        assert_eq!(faults.take_failure(ApiKey::Produce, 1), None);
        assert_eq!(faults.take_failure(ApiKey::Fetch, 2), None);
        assert_eq!(
            faults.take_failure(ApiKey::Produce, 2),
            Some(ResponseError::NotLeaderOrFollower)
        );
        assert_eq!(
            faults.take_failure(ApiKey::Produce, 2),
            Some(ResponseError::NotLeaderOrFollower)
        );
        assert_eq!(faults.take_failure(ApiKey::Produce, 2), None);
    }

    #[test]
    fn drop_spares_then_fires_once() {
        let mut faults = Faults::default();
        faults.add_drop(None, 2);
        assert!(!faults.take_drop(1));
        assert!(!faults.take_drop(3));
        assert!(faults.take_drop(1));
        assert!(!faults.take_drop(1));
    }

    #[test]
    fn broker_specific_delay_wins_and_zero_clears() {
        let mut faults = Faults::default();
        faults.set_delay(ApiKey::Fetch, None, Duration::from_millis(5));
        faults.set_delay(ApiKey::Fetch, Some(2), Duration::from_millis(50));
        assert_eq!(
            faults.delay(ApiKey::Fetch, 1),
            Some(Duration::from_millis(5))
        );
        assert_eq!(
            faults.delay(ApiKey::Fetch, 2),
            Some(Duration::from_millis(50))
        );
        assert_eq!(faults.delay(ApiKey::Produce, 2), None);
        faults.set_delay(ApiKey::Fetch, None, Duration::ZERO);
        assert_eq!(faults.delay(ApiKey::Fetch, 1), None);
    }
}

//! Armed faults, consulted on every request.
//!
//! Rules with a broker of `None` match every broker. Failures and drops are
//! consumed as they fire; delays and corrupt batches stay until replaced or
//! cleared.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
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

/// The stored batch holding `offset` is served with a bit flipped.
#[derive(Debug)]
struct CorruptRule {
    topic: String,
    partition: i32,
    offset: i64,
}

/// Every fault currently armed.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    failures: Vec<FailRule>,
    delays: Vec<DelayRule>,
    drops: Vec<DropRule>,
    corrupt: Vec<CorruptRule>,
}

/// Where a v2 record batch keeps what the walk needs: its length (after
/// the 12-byte offset and length prefix) and its last offset delta; a
/// batch is at least its 61-byte header.
const LENGTH_AT: usize = 8;
const LAST_OFFSET_DELTA_AT: usize = 23;
const HEADER_LEN: usize = 61;

fn be_i64(bytes: &[u8], at: usize) -> i64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    i64::from_be_bytes(word)
}

fn be_i32(bytes: &[u8], at: usize) -> i32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    i32::from_be_bytes(word)
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

    /// Arms a corrupt batch: every Fetch answer carrying the batch that
    /// holds `offset` of `topic`/`partition` carries it with its last byte's
    /// low bit flipped.
    pub(crate) fn add_corrupt_batch(&mut self, topic: &str, partition: i32, offset: i64) {
        self.corrupt.push(CorruptRule {
            topic: topic.to_owned(),
            partition,
            offset,
        });
    }

    /// `records` (whole v2 batches as a Fetch answer carries them, maybe
    /// cut short at the end) with every batch an armed rule names flipped:
    /// its CRC no longer matches, as after bit rot on a broker's disk. The
    /// stored log is not touched.
    pub(crate) fn corrupt_fetched(&self, topic: &str, partition: i32, records: Bytes) -> Bytes {
        let offsets: Vec<i64> = self
            .corrupt
            .iter()
            .filter(|r| r.topic == topic && r.partition == partition)
            .map(|r| r.offset)
            .collect();
        if offsets.is_empty() {
            return records;
        }
        let mut out = BytesMut::from(&records[..]);
        let mut at = 0;
        while at + HEADER_LEN <= out.len() {
            let base = be_i64(&out, at);
            let length = usize::try_from(be_i32(&out, at + LENGTH_AT)).unwrap_or(0);
            let end = at + 12 + length;
            if length < HEADER_LEN - 12 || end > out.len() {
                break; // cut short by the fetch's byte limit: nothing whole left
            }
            let last = base + i64::from(be_i32(&out, at + LAST_OFFSET_DELTA_AT));
            if offsets.iter().any(|o| (base..=last).contains(o)) {
                out[end - 1] ^= 1;
            }
            at = end;
        }
        out.freeze()
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

    /// A v2-shaped batch: header fields the walk reads, zero elsewhere.
    fn batch(base: i64, records: i32, body: usize) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN + body];
        b[..8].copy_from_slice(&base.to_be_bytes());
        let length = (b.len() - 12) as i32;
        b[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&length.to_be_bytes());
        let delta = records - 1;
        b[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&delta.to_be_bytes());
        b
    }

    #[test]
    fn only_the_batch_holding_the_armed_offset_is_flipped() {
        let (first, second) = (batch(0, 10, 5), batch(10, 10, 7));
        let whole = [first.clone(), second.clone()].concat();
        // Cut short: the partial third batch is left as it is.
        let served = [whole.clone(), batch(20, 5, 9)[..30].to_vec()].concat();
        let mut faults = Faults::default();
        let untouched = faults.corrupt_fetched("t", 0, Bytes::from(served.clone()));
        assert_eq!(&untouched[..], &served[..], "nothing armed");
        faults.add_corrupt_batch("t", 0, 15);
        faults.add_corrupt_batch("t", 0, 22);
        let out = faults.corrupt_fetched("t", 0, Bytes::from(served.clone()));
        assert_eq!(&out[..first.len()], &first[..]);
        let mut flipped = second.clone();
        *flipped.last_mut().expect("bytes") ^= 1;
        assert_eq!(&out[first.len()..whole.len()], &flipped[..]);
        assert_eq!(&out[whole.len()..], &served[whole.len()..]);
        let other = faults.corrupt_fetched("t", 1, Bytes::from(served.clone()));
        assert_eq!(&other[..], &served[..], "another partition");
        faults.clear();
        let cleared = faults.corrupt_fetched("t", 0, Bytes::from(served.clone()));
        assert_eq!(&cleared[..], &served[..]);
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

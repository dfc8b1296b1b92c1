//! loom models of the `poll` handoff, run on the production code
//! (`Shared`, with `crate::sync` giving it loom's lock and condvar): a
//! `wakeup` from another thread, and records the poller applies, each
//! reach a `poll` already waiting, and neither is lost when they race.
//! Under loom a timed wait waits until notified, so a lost notification
//! is a deadlock loom reports.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p rouse-kafka --lib --release loom`
//! (`cargo xtask ci` runs them in target/loom).

use std::time::{Duration, Instant};

use loom::sync::Arc;
use loom::thread;

use super::Shared;
use crate::config::{Compression, ConsumerConfig};
use crate::consumer::consumer_error::ConsumerError;
use crate::consumer::decode::{self, DecodeOptions};
use crate::consumer::fetch::FetchVerdict;
use crate::consumer::positions::Fetchable;
use crate::consumer::test_batches::{at, produced, records};
use crate::record::TopicPartition;

/// A consumer's shared state with one partition at offset 0, its fetch in
/// flight.
fn shared() -> (Shared, Fetchable) {
    let config = ConsumerConfig::from_pairs([("bootstrap.servers", "127.0.0.1:9092")]).unwrap();
    let shared = Shared::new(config);
    let tp = TopicPartition::new("t", 0);
    let fetched = {
        let mut state = shared.state.lock();
        state.positions.assign([tp.clone()]);
        state.positions.seek(&tp, 0).unwrap();
        let fetched = state.positions.fetchable().remove(0);
        state.positions.mark_fetching(&tp);
        fetched
    };
    (shared, fetched)
}

/// The answer to `fetched` with two records.
fn two_records(fetched: &Fetchable) -> FetchVerdict {
    let data = at(0, &produced(&records(2), Compression::None));
    let options = DecodeOptions {
        check_crcs: true,
        read_committed: false,
    };
    FetchVerdict::Records {
        decoded: decode::decode_partition(&fetched.partition, 0, data, &[], options),
        high_watermark: 2,
        limit: 1 << 20,
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

#[test]
fn loom_wakeup_reaches_a_waiting_poll() {
    loom::model(|| {
        let (shared, _) = shared();
        let shared = Arc::new(shared);
        let waker = Arc::clone(&shared);
        let other = thread::spawn(move || waker.wakeup());
        let polled = shared.wait_for_records(far());
        assert!(matches!(polled, Err(ConsumerError::Wakeup)), "{polled:?}");
        other.join().unwrap();
        assert!(
            !shared.state.lock().wakeup,
            "the flag is cleared once raised"
        );
    });
}

#[test]
fn loom_applied_records_reach_a_waiting_poll() {
    loom::model(|| {
        let (shared, fetched) = shared();
        let shared = Arc::new(shared);
        let poller = Arc::clone(&shared);
        let other = thread::spawn(move || {
            let verdict = two_records(&fetched);
            poller.apply_fetch(std::slice::from_ref(&fetched), vec![verdict]);
        });
        let polled = shared.wait_for_records(far()).unwrap();
        assert_eq!(polled.records.len(), 2);
        other.join().unwrap();
    });
}

#[test]
fn loom_a_wakeup_racing_records_loses_neither() {
    loom::model(|| {
        let (shared, fetched) = shared();
        let shared = Arc::new(shared);
        let waker = Arc::clone(&shared);
        let woken = thread::spawn(move || waker.wakeup());
        let poller = Arc::clone(&shared);
        let applied = thread::spawn(move || {
            let verdict = two_records(&fetched);
            poller.apply_fetch(std::slice::from_ref(&fetched), vec![verdict]);
        });
        let first = shared.wait_for_records(far());
        woken.join().unwrap();
        applied.join().unwrap();
        // Whichever came first, the other is there for the next poll at once.
        let second = shared.wait_for_records(far());
        let (records, wakeups) = [first, second]
            .into_iter()
            .fold((0, 0), |(r, w), p| match p {
                Ok(drained) => (r + drained.records.len(), w),
                Err(ConsumerError::Wakeup) => (r, w + 1),
                Err(other) => panic!("{other:?}"),
            });
        assert_eq!((records, wakeups), (2, 1));
    });
}

#[test]
fn loom_a_rebalance_step_reaches_a_waiting_poll() {
    use crate::consumer::shared::{RebalanceEvent, Subscription};
    loom::model(|| {
        let (shared, _) = shared();
        {
            let mut state = shared.state.lock();
            state.positions.assign([]);
            let topics = std::iter::once("t".to_owned()).collect();
            state.group.subscription = Some(Subscription::Topics(topics));
        }
        let shared = Arc::new(shared);
        let poller = Arc::clone(&shared);
        let other = thread::spawn(move || {
            poller.rebalance(|state| {
                let tp = TopicPartition::new("t", 0);
                state.positions.assign([tp.clone()]);
                state
                    .group
                    .events
                    .push_back(RebalanceEvent::Assigned(vec![tp]));
            });
        });
        // Blocked on empty buffers, the poll returns for the step at once
        // (under loom a missed notification is a deadlock).
        let polled = shared.wait_for_records(far()).unwrap();
        assert!(polled.records.is_empty());
        assert_eq!(shared.state.lock().group.events.len(), 1);
        other.join().unwrap();
    });
}

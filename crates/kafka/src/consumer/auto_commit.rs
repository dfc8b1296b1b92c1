//! `enable.auto.commit`, committed from `poll` as Java's consumer does.
//!
//! A position moves when `poll` hands records out. Committing on a timer
//! of the poller thread could therefore cover records the application has
//! been given but has not yet processed: a crash right then would lose
//! them for the group. Committing at the start of `poll`, before it hands
//! anything out, commits the positions as of the previous `poll`, whose
//! records the application has finished with when it polls again: an
//! application that processes each batch before its next `poll` gets
//! at-least-once delivery. An application that stops polling stops
//! committing (and leaves the group after `max.poll.interval.ms`).
//! Revocation and `close` commit as well (`subscribe.rs`, `client.rs`).

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::ConsumerConfig;

/// When the next automatic commit is due, if the consumer makes them.
#[derive(Debug)]
pub(super) struct AutoCommit {
    interval: Duration,
    next: Mutex<Instant>,
}

impl AutoCommit {
    /// `None` unless `enable.auto.commit` is on and there is a `group.id`
    /// to commit to; the first commit is due one interval from `now`.
    pub(super) fn new(config: &ConsumerConfig, now: Instant) -> Option<AutoCommit> {
        (config.enable_auto_commit() && config.group_id().is_some()).then(|| AutoCommit {
            interval: config.auto_commit_interval(),
            next: Mutex::new(now + config.auto_commit_interval()),
        })
    }

    /// Whether a commit is due at `now`; if so, the next one is due an
    /// interval later (a commit that fails is not retried early: the next
    /// one carries newer positions anyway).
    pub(super) fn take_due(&self, now: Instant) -> bool {
        let mut next = self.next.lock();
        if now < *next {
            return false;
        }
        *next = now + self.interval;
        true
    }

    /// How long an automatic commit may take before it is given up: the
    /// next one replaces it.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConsumerConfig {
        let mut all = vec![("bootstrap.servers", "127.0.0.1:9092")];
        all.extend_from_slice(pairs);
        ConsumerConfig::from_pairs(all).expect("valid")
    }

    #[test]
    fn due_once_per_interval() {
        let now = Instant::now();
        let auto = AutoCommit::new(
            &config(&[("group.id", "g"), ("auto.commit.interval.ms", "100")]),
            now,
        )
        .expect("on by default with a group");
        assert!(!auto.take_due(now), "not before the first interval");
        let later = now + Duration::from_millis(100);
        assert!(auto.take_due(later));
        assert!(!auto.take_due(later + Duration::from_millis(99)));
        assert!(auto.take_due(later + Duration::from_millis(100)));
    }

    #[test]
    fn off_without_a_group_or_when_disabled() {
        let now = Instant::now();
        assert!(AutoCommit::new(&config(&[]), now).is_none());
        let off = config(&[("group.id", "g"), ("enable.auto.commit", "false")]);
        assert!(AutoCommit::new(&off, now).is_none());
    }
}

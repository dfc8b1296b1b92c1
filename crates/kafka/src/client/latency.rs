//! Produce request latency per broker over the last requests, for
//! [`Producer::broker_latency`](super::Producer::broker_latency).

use std::collections::VecDeque;
use std::time::Duration;

use crate::BrokerId;

/// How many recent requests the percentiles cover.
const WINDOW: usize = 1024;

/// Recent Produce round trips to one broker.
#[derive(Debug, Default)]
pub(crate) struct LatencyWindow {
    samples: VecDeque<Duration>,
    total: u64,
}

impl LatencyWindow {
    pub(crate) fn record(&mut self, latency: Duration) {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(latency);
        self.total += 1;
    }

    pub(crate) fn summary(&self, broker: BrokerId) -> BrokerLatency {
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
            sorted.get(i).copied().unwrap_or_default()
        };
        BrokerLatency {
            broker: broker.0,
            requests: self.total,
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// Produce request latency to one broker (send to response), over its last
/// 1024 requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerLatency {
    /// The broker's node id.
    pub broker: i32,
    /// Produce requests answered since the start.
    pub requests: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_cover_the_recent_window() {
        let mut window = LatencyWindow::default();
        for ms in 1..=100 {
            window.record(Duration::from_millis(ms));
        }
        let s = window.summary(BrokerId(3));
        assert_eq!((s.broker, s.requests), (3, 100));
        assert_eq!(s.p50, Duration::from_millis(51));
        assert_eq!(s.p99, Duration::from_millis(100));
        for _ in 0..WINDOW {
            window.record(Duration::from_millis(7));
        }
        assert_eq!(
            window.summary(BrokerId(3)).p99,
            Duration::from_millis(7),
            "old samples left the window"
        );
    }
}

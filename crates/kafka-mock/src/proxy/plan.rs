//! [`FaultPlan`]: what a [`FaultProxy`](super::FaultProxy) does to the
//! traffic, fixed before it starts and reproducible from its seed.

use std::io;
use std::time::Duration;

use super::rng::{SplitMix64, STREAM_SCHEDULE};

/// How the proxy refuses new connections during a refusal spell (or the
/// refusal half of an outage).
///
/// Clients see the two differently, and both happen with real brokers:
///
/// * [`Refusal::ClosePort`] (the default) closes the listening sockets for
///   the spell, so the kernel answers each SYN with a reset and `connect()`
///   fails with `ECONNREFUSED`, exactly as for a broker process that is
///   down. The port is bound again when the spell ends (the proxy retries
///   every 50 ms, with a warning, in the unlikely case another process took
///   it meanwhile). The proxy never sees these attempts, so
///   [`ProxyStats::refused`](super::ProxyStats::refused) stays 0.
/// * [`Refusal::AcceptAndClose`] keeps listening but closes every accepted
///   connection at once, before reading anything: `connect()` succeeds and
///   the client's first read sees end-of-stream, as behind a load balancer
///   whose backend is down. Each one is counted in `refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refusal {
    /// Close the listeners: `connect()` fails with "connection refused".
    #[default]
    ClosePort,
    /// Accept, then close at once: the client sees end-of-stream.
    AcceptAndClose,
}

/// One fault on the proxy's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Close every live connection, both sides (a FIN to each).
    Cut,
    /// Refuse new connections for this long; live ones are left alone.
    Refuse(Duration),
    /// A cut, then refusal for this long: a broker that goes away and
    /// comes back.
    Outage(Duration),
}

/// A fault at an offset from the proxy's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFault {
    /// When, counted from [`FaultProxy::start`](super::FaultProxy::start).
    pub at: Duration,
    /// What.
    pub kind: FaultKind,
}

/// Everything a proxy does to the traffic, built from a seed.
///
/// A plan with no `with_*` calls forwards bytes untouched. Scheduled
/// faults are offsets from the proxy's start; random ones (cuts every ~N
/// ms, per-chunk delays, split sizes) are drawn from generators seeded by
/// [`seed`](Self::seed), one per purpose and per connection direction, so
/// the same seed gives the same [`timeline`](Self::timeline) and, for the
/// k-th chunk read on the n-th accepted connection in one direction, the
/// same delay and the same split.
///
/// ```
/// use std::time::Duration;
/// use rouse_kafka_mock::proxy::{FaultKind, FaultPlan};
///
/// // The issue-12 outage: delays of 0-150 ms, everything cut at t=3 s and
/// // refused for 6 s.
/// let plan = FaultPlan::new(42)
///     .with_delay(Duration::ZERO, Duration::from_millis(150))
///     .with_outage_at(Duration::from_secs(3), Duration::from_secs(6));
/// let timeline = plan.timeline(Duration::from_secs(60));
/// assert_eq!(timeline.len(), 1);
/// assert_eq!(timeline[0].kind, FaultKind::Outage(Duration::from_secs(6)));
///
/// // Random faults: a cut every ~500 ms (250-750 ms apart), seeded.
/// let chaos = FaultPlan::random(7, Duration::from_millis(500));
/// assert_eq!(chaos.timeline(Duration::from_secs(5)), FaultPlan::random(7, Duration::from_millis(500)).timeline(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone)]
pub struct FaultPlan {
    seed: u64,
    delay: Option<(Duration, Duration)>,
    split_max: Option<usize>,
    split_pause: Duration,
    scheduled: Vec<PlannedFault>,
    cut_every: Option<Duration>,
    refusal: Refusal,
    connect_timeout: Duration,
}

impl FaultPlan {
    /// A plan that forwards bytes untouched; add faults with the `with_*`
    /// methods. `seed` drives every random choice.
    pub fn new(seed: u64) -> FaultPlan {
        FaultPlan {
            seed,
            delay: None,
            split_max: None,
            split_pause: Duration::ZERO,
            scheduled: Vec::new(),
            cut_every: None,
            refusal: Refusal::default(),
            connect_timeout: Duration::from_secs(2),
        }
    }

    /// The random-fault preset: cuts every ~`cut_every` (jittered to
    /// 0.5-1.5 times it), each chunk delayed 0-20 ms, and writes split into
    /// pieces of 1-512 bytes. Change any part with the `with_*` methods.
    pub fn random(seed: u64, cut_every: Duration) -> FaultPlan {
        FaultPlan::new(seed)
            .with_cuts_every(cut_every)
            .with_delay(Duration::ZERO, Duration::from_millis(20))
            .with_split_writes(512)
    }

    /// Holds each chunk read from either side for a time drawn uniformly
    /// from `min..=max` before writing it on. Order is kept per direction:
    /// a chunk never overtakes the one before it, so a short delay after a
    /// long one waits for it.
    pub fn with_delay(mut self, min: Duration, max: Duration) -> FaultPlan {
        self.delay = (!max.is_zero()).then_some((min, max));
        self
    }

    /// Writes each chunk in pieces of 1 to `max_piece` bytes (drawn per
    /// piece), each with its own `write` call on a `TCP_NODELAY` socket, so
    /// the receiver sees frames arrive in fragments. `0` turns it off.
    pub fn with_split_writes(mut self, max_piece: usize) -> FaultPlan {
        self.split_max = (max_piece > 0).then_some(max_piece);
        self
    }

    /// Waits this long between the pieces of a split write, so they reach
    /// the receiver in separate reads (default none). Later chunks wait too.
    pub fn with_split_pause(mut self, pause: Duration) -> FaultPlan {
        self.split_pause = pause;
        self
    }

    /// Cuts every live connection at `at` after the start.
    pub fn with_cut_at(self, at: Duration) -> FaultPlan {
        self.with_fault(at, FaultKind::Cut)
    }

    /// Refuses new connections from `at` for `duration`.
    pub fn with_refusal_at(self, at: Duration, duration: Duration) -> FaultPlan {
        self.with_fault(at, FaultKind::Refuse(duration))
    }

    /// Cuts every live connection at `at`, then refuses new ones for
    /// `duration`.
    pub fn with_outage_at(self, at: Duration, duration: Duration) -> FaultPlan {
        self.with_fault(at, FaultKind::Outage(duration))
    }

    /// Adds one fault to the schedule.
    pub fn with_fault(mut self, at: Duration, kind: FaultKind) -> FaultPlan {
        let index = self.scheduled.partition_point(|f| f.at <= at);
        self.scheduled.insert(index, PlannedFault { at, kind });
        self
    }

    /// Cuts every live connection about every `every`: each gap is drawn
    /// uniformly from 0.5 to 1.5 times it, from the seed. `Duration::ZERO`
    /// turns it off; gaps under 1 ms are raised to 1 ms.
    pub fn with_cuts_every(mut self, every: Duration) -> FaultPlan {
        self.cut_every = (!every.is_zero()).then(|| every.max(Duration::from_millis(1)));
        self
    }

    /// How refusal spells refuse (default [`Refusal::ClosePort`]).
    pub fn with_refusal(mut self, refusal: Refusal) -> FaultPlan {
        self.refusal = refusal;
        self
    }

    /// How long the proxy tries to reach the upstream for each accepted
    /// connection before closing it (default 2 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> FaultPlan {
        self.connect_timeout = timeout;
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The per-chunk delay range, if any.
    pub fn delay(&self) -> Option<(Duration, Duration)> {
        self.delay
    }

    /// The largest piece of a split write, if writes are split.
    pub fn split_writes(&self) -> Option<usize> {
        self.split_max
    }

    /// The pause between the pieces of a split write.
    pub fn split_pause(&self) -> Duration {
        self.split_pause
    }

    /// The mean gap between random cuts, if any.
    pub fn cuts_every(&self) -> Option<Duration> {
        self.cut_every
    }

    /// How refusal spells refuse.
    pub fn refusal(&self) -> Refusal {
        self.refusal
    }

    /// The upstream connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Every scheduled and random fault up to `horizon` after the start, in
    /// time order (a scheduled fault before a random one at the same
    /// offset). With random cuts the list grows with the horizon: keep it
    /// to the length of a test. A pure function of the plan: the proxy
    /// fires exactly these,
    /// and [`FaultProxy::events`](super::FaultProxy::events) records each
    /// with its planned offset.
    pub fn timeline(&self, horizon: Duration) -> Vec<PlannedFault> {
        self.faults().take_while(|f| f.at <= horizon).collect()
    }

    /// The timeline as an endless iterator.
    pub(crate) fn faults(&self) -> Timeline {
        Timeline {
            scheduled: self.scheduled.clone(),
            next_scheduled: 0,
            cut_every: self.cut_every,
            rng: SplitMix64::new(self.seed, STREAM_SCHEDULE),
            next_random: None,
        }
    }

    pub(crate) fn validate(&self) -> io::Result<()> {
        if let Some((min, max)) = self.delay {
            if min > max {
                return Err(invalid(format!(
                    "delay range {min:?}..={max:?} is empty: min must not exceed max"
                )));
            }
        }
        if self.connect_timeout.is_zero() {
            return Err(invalid("the upstream connect timeout must be above zero"));
        }
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.into())
}

/// The merged schedule: explicit faults, then random cuts, in time order.
#[derive(Debug)]
pub(crate) struct Timeline {
    scheduled: Vec<PlannedFault>,
    next_scheduled: usize,
    cut_every: Option<Duration>,
    rng: SplitMix64,
    next_random: Option<Duration>,
}

impl Iterator for Timeline {
    type Item = PlannedFault;

    fn next(&mut self) -> Option<PlannedFault> {
        if self.next_random.is_none() {
            self.next_random = self
                .cut_every
                .and_then(|every| self.gap(every, Duration::ZERO));
        }
        let scheduled = self.scheduled.get(self.next_scheduled).copied();
        match (scheduled, self.next_random) {
            (Some(s), Some(r)) if r < s.at => Some(self.take_random(r)),
            (Some(s), _) => {
                self.next_scheduled += 1;
                Some(s)
            }
            (None, Some(r)) => Some(self.take_random(r)),
            (None, None) => None,
        }
    }
}

impl Timeline {
    fn take_random(&mut self, at: Duration) -> PlannedFault {
        self.next_random = self.cut_every.and_then(|every| self.gap(every, at));
        if self.next_random.is_none() {
            self.cut_every = None; // past the end of time: no more random cuts
        }
        PlannedFault {
            at,
            kind: FaultKind::Cut,
        }
    }

    /// The next random cut after `after`; `None` once offsets no longer
    /// fit a `Duration`.
    fn gap(&mut self, every: Duration, after: Duration) -> Option<Duration> {
        let gap = self
            .rng
            .duration(every / 2, every.saturating_add(every / 2));
        after.checked_add(gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn scheduled_faults_come_in_time_order() {
        let plan = FaultPlan::new(1)
            .with_outage_at(ms(300), ms(50))
            .with_cut_at(ms(100))
            .with_refusal_at(ms(200), ms(10));
        let at: Vec<Duration> = plan.timeline(ms(1000)).iter().map(|f| f.at).collect();
        assert_eq!(at, [ms(100), ms(200), ms(300)]);
        assert_eq!(plan.timeline(ms(250)).len(), 2);
    }

    #[test]
    fn random_cuts_are_jittered_around_the_mean_and_seeded() {
        let plan = FaultPlan::new(9).with_cuts_every(ms(100));
        let cuts = plan.timeline(Duration::from_secs(10));
        assert!((67..=200).contains(&cuts.len()), "{} cuts", cuts.len());
        let mut previous = Duration::ZERO;
        for cut in &cuts {
            assert_eq!(cut.kind, FaultKind::Cut);
            assert!((ms(50)..=ms(150)).contains(&(cut.at - previous)));
            previous = cut.at;
        }
        assert_eq!(cuts, plan.clone().timeline(Duration::from_secs(10)));
        assert_ne!(
            cuts,
            FaultPlan::new(10)
                .with_cuts_every(ms(100))
                .timeline(Duration::from_secs(10))
        );
    }

    #[test]
    fn scheduled_and_random_merge() {
        let plan = FaultPlan::new(3)
            .with_cuts_every(ms(100))
            .with_outage_at(ms(500), ms(100));
        let timeline = plan.timeline(ms(1000));
        assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(
            timeline
                .iter()
                .filter(|f| matches!(f.kind, FaultKind::Outage(_)))
                .count(),
            1
        );
    }

    #[test]
    fn huge_offsets_neither_panic_nor_loop() {
        let plan = FaultPlan::new(1)
            .with_cuts_every(Duration::MAX)
            .with_outage_at(Duration::MAX, Duration::MAX);
        assert!(plan.timeline(Duration::from_secs(3600)).is_empty());
        let far: Vec<PlannedFault> = plan.faults().take(3).collect();
        assert_eq!(far.len(), 3);
        assert!(far.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn validation() {
        assert!(FaultPlan::new(0)
            .with_delay(ms(5), ms(1))
            .validate()
            .is_err());
        assert!(FaultPlan::new(0)
            .with_connect_timeout(Duration::ZERO)
            .validate()
            .is_err());
        assert!(FaultPlan::random(0, ms(10)).validate().is_ok());
    }
}

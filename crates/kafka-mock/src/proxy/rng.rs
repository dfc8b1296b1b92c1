//! SplitMix64: a tiny seeded generator, enough for fault schedules.
//!
//! Not for cryptography. Every random choice the proxy makes comes from one
//! of these, seeded from [`FaultPlan::seed`](super::FaultPlan::seed) and a
//! stream number, so one seed always gives the same choices in the same
//! order on each stream.

use std::time::{Duration, Instant};

/// `now + d`, or a far-off instant (about 30 years away) when that does
/// not fit: the caller waits "forever" instead of panicking.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    now.checked_add(d.min(FAR))
        .or_else(|| now.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(now)
}

/// Stream numbers: each consumer of randomness gets its own generator so
/// that traffic on one connection does not shift the choices of another.
pub(crate) const STREAM_SCHEDULE: u64 = 0;

/// SplitMix64 (Steele, Lea and Flood, 2014), as in `java.util.SplittableRandom`.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    /// A generator for `stream` of `seed`; distinct streams are independent
    /// for all practical purposes.
    pub(crate) fn new(seed: u64, stream: u64) -> SplitMix64 {
        let mut mixer = SplitMix64 {
            state: seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03),
        };
        SplitMix64 {
            state: mixer.next_u64(),
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi <= lo`).
    pub(crate) fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        // Multiply-shift: unbiased enough for test schedules.
        lo + ((u128::from(self.next_u64()) * u128::from(span + 1)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`, to the microsecond.
    pub(crate) fn duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.range_u64(micros(lo), micros(hi)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_streams_differ() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(7, 1);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix64::new(7, 1);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = SplitMix64::new(7, 2);
            (0..5).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ranges_stay_inside_and_reach_both_ends() {
        let mut r = SplitMix64::new(1, 0);
        let draws: Vec<u64> = (0..1000).map(|_| r.range_u64(3, 6)).collect();
        assert!(draws.iter().all(|d| (3..=6).contains(d)));
        assert!(draws.contains(&3) && draws.contains(&6));
        assert_eq!(r.range_u64(5, 5), 5);
        assert_eq!(r.range_u64(9, 2), 9);
        let d = r.duration(Duration::from_millis(1), Duration::from_millis(2));
        assert!((Duration::from_millis(1)..=Duration::from_millis(2)).contains(&d));
    }
}

//! Exponential backoff with jitter, as the Java client computes it for
//! `retry.backoff.ms` and `reconnect.backoff.ms`: `initial * 2^(n-1)`,
//! capped, then spread by ±20% so clients that failed together do not
//! retry in lockstep.

use std::time::Duration;

/// The wait before attempt `attempt + 1` (attempt 1 is the first retry):
/// `initial * 2^(attempt - 1)`, at most `max`, before jitter.
pub(crate) fn exponential(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    initial.checked_mul(factor).map_or(max, |d| d.min(max))
}

/// `wait` times a factor in [0.8, 1.2) drawn from `random`.
pub(crate) fn jittered(wait: Duration, random: u64) -> Duration {
    let thousandths = 800 + (random % 400) as u32;
    wait.mul_f64(f64::from(thousandths) / 1000.0)
}

/// A random value for jitter: std's per-process random hash keys over a
/// counter. Backoffs are rare, so its cost does not matter.
pub(crate) fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_jitter_stays_within_a_fifth() {
        let (initial, max) = (Duration::from_millis(50), Duration::from_secs(1));
        let waits: Vec<u128> = (1..=7)
            .map(|n| exponential(initial, max, n).as_millis())
            .collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(exponential(initial, max, u32::MAX), max);
        for _ in 0..1000 {
            let j = jittered(Duration::from_millis(1000), random()).as_millis();
            assert!((800..1200).contains(&j), "{j}");
        }
    }
}

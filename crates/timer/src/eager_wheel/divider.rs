//! Division by the tick without a `div` instruction.
//!
//! Every insert turns a deadline in nanoseconds into a tick number. A 64-bit
//! hardware division costs 25-90 cycles, more than the rest of an insert, so
//! the wheel divides by multiplying with a precomputed reciprocal and then
//! corrects the estimate, which is exact for every input.

/// Exact `n / d` for a fixed `d`, by reciprocal multiplication.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Divider {
    d: u64,
    /// `floor((2^64 - 1) / d)`.
    reciprocal: u64,
}

impl Divider {
    /// A divider for `d`, which must not be zero (the wheel checks its tick).
    pub(crate) fn new(d: u64) -> Self {
        let d = d.max(1);
        Self {
            d,
            reciprocal: u64::MAX / d,
        }
    }

    pub(crate) fn divisor(&self) -> u64 {
        self.d
    }

    /// `n / d`, exactly.
    #[inline]
    pub(crate) fn divide(&self, n: u64) -> u64 {
        // With r = floor((2^64 - 1) / d), 2^64 - r*d <= d, so the product
        // n*r / 2^64 lies in (n/d - 1, n/d]: its floor is the true quotient
        // or one less, never more. One correction step is enough.
        let q = ((u128::from(n) * u128::from(self.reciprocal)) >> 64) as u64;
        if n - q * self.d >= self.d {
            q + 1
        } else {
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hardware_division() {
        let divisors = [
            1,
            2,
            3,
            7,
            1000,
            37_000,
            1_000_000,
            999_999_937,
            u64::MAX / 3,
            u64::MAX,
        ];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for &d in &divisors {
            let div = Divider::new(d);
            assert_eq!(div.divisor(), d);
            for n in [
                0,
                1,
                d - 1,
                d,
                d.wrapping_add(1),
                u64::MAX,
                u64::MAX - 1,
                u64::MAX / 2,
            ] {
                assert_eq!(div.divide(n), n / d, "{n} / {d}");
            }
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                assert_eq!(div.divide(x), x / d, "{x} / {d}");
                let small = x >> (x % 60);
                assert_eq!(div.divide(small), small / d, "{small} / {d}");
            }
        }
    }
}

//! Which partition a record goes to.
//!
//! [`DefaultPartitioner`] does what the Java client does, so a Rust and a Java
//! producer put the same key in the same partition:
//!
//! * a record with a key (even an empty one) goes to
//!   `(murmur2(key) & 0x7fffffff) % partition_count`, over **all** partitions,
//!   available or not, so a key never moves while a leader is down;
//! * a record with a null key is *sticky* (KIP-480): every such record of a
//!   topic goes to one partition until the batch there is full or sent, and
//!   only then does the partitioner switch, to a random available partition
//!   other than the last one. Batches fill up instead of one record going to
//!   each partition in turn, which is what made round-robin slow.
//!
//! The switch is driven by the accumulator calling
//! [`Partitioner::on_new_batch`] when a null-key record would open a new batch
//! ([`Accumulator::append`](crate::Accumulator::append) does this for you).
//!
//! Pitfall: Java's hash works on *signed* bytes but masks each with `0xff`
//! before shifting, so there is no sign extension; [`murmur2`] reads the bytes
//! as unsigned, which is the same thing. Ports that sign-extend disagree with
//! Java for any byte above 0x7f.

use crate::fast_map::FastMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

use parking_lot::Mutex;

/// The partitions of a topic a partitioner may choose from.
#[derive(Clone, Copy, Debug)]
pub struct Partitions<'a> {
    /// How many partitions the topic has (at least 1).
    pub count: i32,
    /// The partitions whose leader is known, in any order; empty when unknown,
    /// in which case every partition is a candidate.
    pub available: &'a [i32],
}

impl<'a> Partitions<'a> {
    /// `count` partitions, all of them candidates.
    pub fn all(count: i32) -> Partitions<'a> {
        Partitions {
            count,
            available: &[],
        }
    }
}

/// Chooses a partition for each record. Implement it to replace the default.
///
/// It is called on the sending thread with no lock held, so it may be slow,
/// but it must be cheap to call from many threads at once. A returned
/// partition outside `0..partitions.count` makes `send` fail with
/// [`ProducerError::InvalidPartition`](crate::ProducerError::InvalidPartition).
pub trait Partitioner: Send + Sync + fmt::Debug {
    /// The partition for a record of `topic` with this key and value.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: Partitions<'_>,
    ) -> i32;

    /// A record that went to `previous` needs a new batch there: the batch was
    /// full or already sent. Sticky partitioners switch partition here; the
    /// record is then partitioned again. The default does nothing.
    fn on_new_batch(&self, topic: &str, previous: i32, partitions: Partitions<'_>) {
        let _ = (topic, previous, partitions);
    }
}

/// Java's 32-bit murmur2 hash with Kafka's seed (`0x9747b28c`), as in
/// `org.apache.kafka.common.utils.Utils.murmur2`.
///
/// ```
/// assert_eq!(rouse_kafka::batching::murmur2(b"21"), -973932308);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java's int arithmetic wraps and `>>>` is a logical shift: u32 does both.
    let mut h = SEED ^ data.len() as u32;
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        let mut k = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        // Java's switch falls through from case 3 to case 1.
        for (i, &byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows
/// on `i32::MIN`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Java's default partitioner gives a key among `count`
/// partitions.
pub fn partition_for_key(key: &[u8], count: i32) -> i32 {
    to_positive(murmur2(key)) % count.max(1)
}

/// Java-compatible default: murmur2 for keys, sticky for null keys.
#[derive(Debug)]
pub struct DefaultPartitioner {
    state: Mutex<Sticky>,
}

#[derive(Debug)]
struct Sticky {
    /// The current sticky partition of each topic.
    current: FastMap<String, i32>,
    /// xorshift64* state; the choice only needs to spread, not be secret.
    rng: u64,
}

impl Default for DefaultPartitioner {
    fn default() -> DefaultPartitioner {
        DefaultPartitioner::new()
    }
}

impl DefaultPartitioner {
    /// A partitioner seeded from the process's random hash keys.
    pub fn new() -> DefaultPartitioner {
        let seed = RandomState::new().build_hasher().finish();
        DefaultPartitioner::with_seed(seed)
    }

    /// A partitioner whose sticky choices are reproducible (tests, demos).
    pub fn with_seed(seed: u64) -> DefaultPartitioner {
        DefaultPartitioner {
            state: Mutex::new(Sticky {
                current: FastMap::default(),
                // xorshift must not start at zero.
                rng: seed | 1,
            }),
        }
    }

    /// The partition null-key records of `topic` currently stick to.
    fn sticky_partition(&self, topic: &str, partitions: Partitions<'_>) -> i32 {
        let mut state = self.state.lock();
        if let Some(&p) = state.current.get(topic) {
            if p < partitions.count {
                return p;
            }
        }
        let p = state.choose(None, partitions);
        state.current.insert(topic.to_owned(), p);
        p
    }
}

impl Sticky {
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A random candidate partition, avoiding `avoid` when there is a choice.
    fn choose(&mut self, avoid: Option<i32>, partitions: Partitions<'_>) -> i32 {
        let count = partitions.count.max(1);
        let candidates = partitions.available.len();
        if candidates == 1 {
            return partitions.available[0];
        }
        let pool = if candidates == 0 {
            count as usize
        } else {
            candidates
        };
        if pool == 1 {
            return 0;
        }
        loop {
            let i = (self.next_random() % pool as u64) as usize;
            let p = if candidates == 0 {
                i as i32
            } else {
                partitions.available[i]
            };
            if Some(p) != avoid {
                return p;
            }
        }
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: Partitions<'_>,
    ) -> i32 {
        match key {
            Some(key) => partition_for_key(key, partitions.count),
            None => self.sticky_partition(topic, partitions),
        }
    }

    fn on_new_batch(&self, topic: &str, previous: i32, partitions: Partitions<'_>) {
        let mut state = self.state.lock();
        // Only the first thread to see the full batch switches; the others
        // find the sticky partition already moved on and keep the new one.
        if state.current.get(topic).is_some_and(|&p| p != previous) {
            return;
        }
        let next = state.choose(Some(previous), partitions);
        tracing::trace!(topic, previous, next, "sticky partition switched");
        state.current.insert(topic.to_owned(), next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `UtilsTest.testMurmur2` in the Java client (clients/src/test/java/
    /// org/apache/kafka/common/utils/UtilsTest.java).
    #[test]
    fn murmur2_matches_java_utils_test() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for &(key, want) in cases {
            assert_eq!(murmur2(key), want, "key {:?}", String::from_utf8_lossy(key));
        }
    }

    /// librdkafka's `unittest_murmur2` (src/rdmurmur2.c), whose expected
    /// values it labels `java_murmur2_results`: covers every tail length.
    #[test]
    fn murmur2_matches_librdkafka_java_results() {
        let unaligned = b"PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: &[(&[u8], u32)] = &[
            (b"kafka", 0xd067_cf64),
            (b"giberish123456789", 0x8f55_2b0c),
            (b"1234", 0x9fc9_7b14),
            (b"234", 0xe7c0_09ca),
            (b"34", 0x8739_30da),
            (b"4", 0x5a4b_5ca1),
            (unaligned, 0x7842_4f1c),
            (&unaligned[1..], 0x4a62_b377),
            (&unaligned[2..], 0xe0e4_e09e),
            (&unaligned[3..], 0x62b8_b43f),
            (b"", 0x106e_08d9),
        ];
        for &(key, want) in cases {
            assert_eq!(
                murmur2(key) as u32,
                want,
                "key {:?}",
                String::from_utf8_lossy(key)
            );
        }
    }

    /// Bytes above 0x7f, where a port that sign-extends Java's signed bytes
    /// goes wrong. Expected values computed by running Kafka's
    /// `Utils.murmur2` algorithm on a JVM (OpenJDK), every tail length.
    #[test]
    fn murmur2_matches_java_for_high_bytes() {
        let cases: &[(&[u8], i32)] = &[
            (&[0xff], -311467685),
            (&[0x80, 0x81], 1642145146),
            (&[0xa4, 0xb5, 0xc6], 1553519561),
            (&[0xde, 0xad, 0xbe, 0xef], 833564499),
            (&[0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed, 0xfa], -2144328318),
            ("héllo wörld".as_bytes(), 439213890),
        ];
        for &(key, want) in cases {
            assert_eq!(murmur2(key), want, "key {key:02x?}");
        }
    }

    /// kafka-python's `test_murmur2_java_compatibility` ("compare with output
    /// from Kafka's Partitioner"): partitions among 1000.
    #[test]
    fn keyed_partition_matches_java_default_partitioner() {
        let p = DefaultPartitioner::with_seed(1);
        let cases: &[(&[u8], i32)] = &[
            (b"", 681),
            (b"a", 524),
            (b"ab", 434),
            (b"abc", 107),
            (b"123456789", 566),
            (b"\x00 ", 742),
        ];
        for &(key, want) in cases {
            assert_eq!(
                p.partition("t", Some(key), None, Partitions::all(1000)),
                want
            );
        }
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn keyed_records_ignore_availability() {
        let p = DefaultPartitioner::with_seed(7);
        let parts = Partitions {
            count: 10,
            available: &[1],
        };
        let want = partition_for_key(b"some-key", 10);
        assert_eq!(p.partition("t", Some(b"some-key"), None, parts), want);
    }

    #[test]
    fn null_keys_stick_until_a_new_batch() {
        let p = DefaultPartitioner::with_seed(42);
        let parts = Partitions::all(8);
        let first = p.partition("t", None, None, parts);
        for _ in 0..100 {
            assert_eq!(p.partition("t", None, None, parts), first);
        }
        p.on_new_batch("t", first, parts);
        let second = p.partition("t", None, None, parts);
        assert_ne!(second, first, "a new batch must move the sticky partition");
        assert!((0..8).contains(&second));
        // A stale notification (another thread already switched) is ignored.
        p.on_new_batch("t", first, parts);
        assert_eq!(p.partition("t", None, None, parts), second);
    }

    #[test]
    fn sticky_choice_stays_within_available_partitions() {
        let p = DefaultPartitioner::with_seed(3);
        let available = [2, 5, 7];
        let parts = Partitions {
            count: 9,
            available: &available,
        };
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let current = p.partition("t", None, None, parts);
            assert!(available.contains(&current), "{current} is not available");
            seen.insert(current);
            p.on_new_batch("t", current, parts);
        }
        assert_eq!(
            seen.len(),
            3,
            "the sticky partition should visit every candidate"
        );
    }

    #[test]
    fn sticky_with_one_partition_never_spins() {
        let p = DefaultPartitioner::with_seed(9);
        let parts = Partitions::all(1);
        p.on_new_batch("t", 0, parts);
        assert_eq!(p.partition("t", None, None, parts), 0);
        let one = Partitions {
            count: 4,
            available: &[3],
        };
        p.on_new_batch("u", 3, one);
        assert_eq!(p.partition("u", None, None, one), 3);
    }

    #[test]
    fn topics_stick_independently_and_shrinking_counts_reselect() {
        let p = DefaultPartitioner::with_seed(11);
        let a = p.partition("a", None, None, Partitions::all(100));
        let _ = p.partition("b", None, None, Partitions::all(100));
        assert_eq!(p.partition("a", None, None, Partitions::all(100)), a);
        // If the topic now reports fewer partitions, the old choice is invalid.
        let small = p.partition("a", None, None, Partitions::all(1));
        assert_eq!(small, 0);
    }
}

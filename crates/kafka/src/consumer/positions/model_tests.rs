//! A model check of `Positions`: under any interleaving of fetches sent,
//! answered (records or a retry) in any order, seeks, pauses and drains,
//! `drain` hands out each partition's records with consecutive offsets from
//! the last seek on: none skipped, none twice, none from before a seek.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::config::Compression;
use crate::consumer::decode::{self, DecodeOptions};
use crate::consumer::fetch::FetchVerdict;
use crate::consumer::test_batches::{at, produced, records};

#[derive(Debug, Clone)]
enum Op {
    /// Send a fetch for every fetchable partition.
    StartFetches,
    /// Answer the `i`-th fetch in flight (modulo their count) with `n`
    /// records, or with a retriable error when `n == 0`.
    Answer(usize, usize),
    Seek(i32, i64),
    Pause(i32, bool),
    Drain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::StartFetches),
        4 => (any::<usize>(), 0usize..6).prop_map(|(i, n)| Op::Answer(i, n)),
        1 => (0i32..2, 0i64..40).prop_map(|(p, o)| Op::Seek(p, o)),
        1 => (0i32..2, any::<bool>()).prop_map(|(p, on)| Op::Pause(p, on)),
        3 => Just(Op::Drain),
    ]
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("t", partition)
}

/// A log where every offset holds a record: `n` records from the fetch
/// offset.
fn answer(f: &Fetchable, n: usize) -> FetchVerdict {
    if n == 0 {
        return FetchVerdict::Retry("injected".into());
    }
    let data = at(f.position.offset, &produced(&records(n), Compression::None));
    let options = DecodeOptions {
        check_crcs: true,
        read_committed: false,
    };
    FetchVerdict::Records {
        decoded: decode::decode_partition(&f.partition, f.position.offset, data, &[], options),
        high_watermark: f.position.offset + n as i64,
        limit: 1 << 20,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn drained_offsets_are_consecutive_from_the_last_seek(ops in proptest::collection::vec(op(), 1..80)) {
        let config = ConsumerConfig::from_pairs([
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("max.poll.records", "4"),
            ("queued.max.messages.kbytes", "1"),
        ])
        .unwrap();
        let mut positions = Positions::new(&config);
        positions.assign([tp(0), tp(1)]);
        let mut next: HashMap<i32, i64> = HashMap::new();
        for p in 0..2 {
            positions.seek(&tp(p), 0).unwrap();
            next.insert(p, 0);
        }
        let mut in_flight: Vec<Fetchable> = Vec::new();
        for op in ops {
            match op {
                Op::StartFetches => {
                    for f in positions.fetchable() {
                        positions.mark_fetching(&f.partition);
                        in_flight.push(f);
                    }
                }
                Op::Answer(i, n) => {
                    if !in_flight.is_empty() {
                        let f = in_flight.remove(i % in_flight.len());
                        positions.apply_fetch(&f, answer(&f, n));
                    }
                }
                Op::Seek(p, offset) => {
                    positions.seek(&tp(p), offset).unwrap();
                    next.insert(p, offset);
                }
                Op::Pause(p, on) => positions.set_paused(&tp(p), on).unwrap(),
                Op::Drain => {
                    let drained = positions.drain().unwrap();
                    prop_assert!(drained.len() <= 4, "max.poll.records");
                    for r in drained {
                        let want = next[&r.partition];
                        prop_assert_eq!(r.offset, want, "partition {}", r.partition);
                        next.insert(r.partition, want + 1);
                    }
                }
            }
            for p in 0..2 {
                prop_assert_eq!(positions.position(&tp(p)), Ok(Some(next[&p])));
            }
        }
    }
}

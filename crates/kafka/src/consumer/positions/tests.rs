//! Every transition of a partition's state, and the buffer `poll` drains.

use super::*;
use crate::config::Compression;
use crate::consumer::decode::{self, DecodeOptions, Decoded};
use crate::consumer::fetch::FetchVerdict;
use crate::consumer::group::GroupVerdict;
use crate::consumer::list_offsets::ListOffsetsVerdict;
use crate::consumer::test_batches::{at, produced, records};

fn config(extra: &[(&str, &str)]) -> ConsumerConfig {
    let base = [("bootstrap.servers", "127.0.0.1:9092")];
    ConsumerConfig::from_pairs(base.iter().chain(extra).copied()).unwrap()
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("t", partition)
}

/// A fetch answer for `f` holding `n` records from its offset.
fn records_at(f: &Fetchable, n: usize, high_watermark: i64) -> FetchVerdict {
    let data = at(f.position.offset, &produced(&records(n), Compression::None));
    let options = DecodeOptions {
        check_crcs: true,
        read_committed: false,
    };
    FetchVerdict::Records {
        decoded: decode::decode_partition(&f.partition, f.position.offset, data, &[], options),
        high_watermark,
        limit: 1 << 20,
    }
}

fn fetch_one(positions: &mut Positions, partition: &TopicPartition) -> Fetchable {
    let f = positions
        .fetchable()
        .into_iter()
        .find(|f| &f.partition == partition)
        .expect("fetchable");
    positions.mark_fetching(partition);
    f
}

fn offsets(records: &[ConsumerRecord]) -> Vec<(i32, i64)> {
    records.iter().map(|r| (r.partition, r.offset)).collect()
}

#[test]
fn without_a_group_a_new_partition_resets_by_auto_offset_reset() {
    let mut positions = Positions::new(&config(&[("auto.offset.reset", "earliest")]));
    positions.assign([tp(0)]);
    assert!(positions.fetchable().is_empty());
    assert_eq!(positions.position(&tp(0)), Ok(None));
    let asked = positions.take_reset_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].0.clone(), asked[0].1), (tp(0), ResetTo::Earliest));
    assert!(positions.take_reset_requests().is_empty(), "asked once");
    let follow = positions.apply_reset(
        &tp(0),
        asked[0].2,
        ListOffsetsVerdict::Offset(Position::at(4)),
    );
    assert_eq!(follow, FollowUp::Nothing);
    assert_eq!(positions.position(&tp(0)), Ok(Some(4)));
    assert_eq!(positions.fetchable()[0].position, Position::at(4));
}

#[test]
fn reset_retries_put_the_request_back_and_a_refusal_fails_the_partition() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    let (_, to, generation) = positions.take_reset_requests().remove(0);
    assert_eq!(to, ResetTo::Latest, "Java's default");
    let follow = positions.apply_reset(&tp(0), generation, ListOffsetsVerdict::Retry("x".into()));
    assert_eq!(follow, FollowUp::Backoff);
    let (_, _, generation) = positions.take_reset_requests().remove(0);
    let follow = positions.apply_reset(
        &tp(0),
        generation,
        ListOffsetsVerdict::RefreshMetadata("x".into()),
    );
    assert_eq!(follow, FollowUp::RefreshMetadata);
    let (_, _, generation) = positions.take_reset_requests().remove(0);
    positions.apply_reset(&tp(0), generation, ListOffsetsVerdict::Fatal(29));
    let err = positions.drain().unwrap_err();
    assert!(matches!(err, PartitionError::Broker { .. }) && err.to_string().contains("t-0"));
}

#[test]
fn a_stale_reset_answer_is_dropped() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    let (_, _, old) = positions.take_reset_requests().remove(0);
    positions.seek_to(&tp(0), ResetTo::Earliest).unwrap();
    positions.apply_reset(&tp(0), old, ListOffsetsVerdict::Offset(Position::at(99)));
    assert_eq!(positions.position(&tp(0)), Ok(None));
    let (_, to, _) = positions.take_reset_requests().remove(0);
    assert_eq!(to, ResetTo::Earliest);
}

#[test]
fn with_a_group_the_committed_offset_comes_first() {
    let mut positions = Positions::new(&config(&[("group.id", "g")]));
    positions.assign([tp(0), tp(1), tp(2)]);
    assert!(positions.take_reset_requests().is_empty());
    let asked = positions.take_committed_requests();
    assert_eq!(asked.len(), 3);
    assert!(positions.take_committed_requests().is_empty());
    let done = GroupVerdict::Done(Some(Position::at(8)));
    assert_eq!(
        positions.apply_committed(&tp(0), asked[0].1, done),
        FollowUp::Nothing
    );
    positions.apply_committed(&tp(1), asked[1].1, GroupVerdict::Done(None));
    let moved = GroupVerdict::FindCoordinator("NOT_COORDINATOR".into());
    let follow = positions.apply_committed(&tp(2), asked[2].1, moved);
    assert_eq!(follow, FollowUp::FindCoordinator);
    assert_eq!(positions.position(&tp(0)), Ok(Some(8)));
    assert_eq!(
        positions.take_reset_requests()[0].0,
        tp(1),
        "nothing committed: reset"
    );
    let again = positions.take_committed_requests();
    assert_eq!(again[0].0, tp(2), "asked again");
    let follow = positions.apply_committed(&tp(2), again[0].1, GroupVerdict::Retry("x".into()));
    assert_eq!(follow, FollowUp::Backoff);
    let again = positions.take_committed_requests();
    positions.apply_committed(&tp(2), again[0].1, GroupVerdict::Fatal(30));
    let err = positions.drain().unwrap_err();
    assert!(err.to_string().contains("t-2"), "refused: t-2 fails: {err}");
    // An answer from before a seek changes nothing.
    positions.seek(&tp(2), 1).unwrap();
    let stale = positions.apply_committed(&tp(2), again[0].1, GroupVerdict::Done(None));
    assert_eq!(
        (stale, positions.position(&tp(2))),
        (FollowUp::Nothing, Ok(Some(1)))
    );
}

#[test]
fn reset_none_without_a_committed_offset_is_an_error_for_poll() {
    let mut positions =
        Positions::new(&config(&[("group.id", "g"), ("auto.offset.reset", "none")]));
    positions.assign([tp(0)]);
    let (_, generation) = positions.take_committed_requests().remove(0);
    positions.apply_committed(&tp(0), generation, GroupVerdict::Done(None));
    let err = positions.drain().unwrap_err();
    assert_eq!(err, PartitionError::NoOffset { partition: tp(0) });
    assert!(positions.drain().is_err(), "until a seek");
    positions.seek(&tp(0), 3).unwrap();
    assert_eq!(positions.drain(), Ok(vec![]));
}

#[test]
fn fetched_records_are_buffered_and_the_position_moves_on() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 10).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    assert!(
        positions.fetchable().is_empty(),
        "one fetch in flight per partition"
    );
    positions.apply_fetch(&f, records_at(&f, 3, 20));
    assert_eq!(
        positions.position(&tp(0)),
        Ok(Some(10)),
        "the next record handed out"
    );
    assert_eq!(positions.lag(&tp(0)), Some(10));
    assert!(positions.buffered_bytes() > 0);
    let next = positions.fetchable().remove(0);
    assert_eq!(
        next.position.offset, 13,
        "prefetch continues after the buffer"
    );
    assert_eq!(
        offsets(&positions.drain().unwrap()),
        [(0, 10), (0, 11), (0, 12)]
    );
    assert_eq!(positions.position(&tp(0)), Ok(Some(13)));
    assert_eq!(positions.lag(&tp(0)), Some(7));
    assert_eq!(positions.buffered_bytes(), 0);
}

#[test]
fn an_answer_to_a_fetch_sent_before_a_seek_is_dropped() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 10).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    positions.seek(&tp(0), 50).unwrap();
    positions.apply_fetch(&f, records_at(&f, 3, 20));
    assert_eq!(positions.drain(), Ok(vec![]));
    assert_eq!(positions.position(&tp(0)), Ok(Some(50)));
    assert_eq!(
        positions.fetchable()[0].position.offset,
        50,
        "the fetch ended"
    );
}

#[test]
fn drain_hands_out_at_most_max_poll_records_taking_turns() {
    let mut positions = Positions::new(&config(&[("max.poll.records", "4")]));
    positions.assign([tp(0), tp(1)]);
    for p in [tp(0), tp(1)] {
        positions.seek(&p, 0).unwrap();
        let f = fetch_one(&mut positions, &p);
        positions.apply_fetch(&f, records_at(&f, 3, 3));
    }
    assert_eq!(
        offsets(&positions.drain().unwrap()),
        [(0, 0), (0, 1), (0, 2), (1, 0)]
    );
    // The next poll starts with partition 1, where the last one stopped.
    assert_eq!(offsets(&positions.drain().unwrap()), [(1, 1), (1, 2)]);
}

#[test]
fn paused_partitions_are_neither_fetched_nor_drained() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 0).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    positions.apply_fetch(&f, records_at(&f, 2, 2));
    positions.set_paused(&tp(0), true).unwrap();
    assert!(positions.fetchable().is_empty());
    assert_eq!(positions.drain(), Ok(vec![]));
    positions.set_paused(&tp(0), false).unwrap();
    assert_eq!(positions.drain().unwrap().len(), 2, "the buffer was kept");
}

#[test]
fn a_full_buffer_stops_prefetching_until_drained() {
    let mut positions = Positions::new(&config(&[("queued.max.messages.kbytes", "1")]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 0).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    positions.apply_fetch(&f, records_at(&f, 100, 100));
    assert!(positions.buffered_bytes() >= 1024);
    assert!(positions.fetchable().is_empty(), "full");
    positions.drain().unwrap();
    positions.drain().unwrap();
    assert_eq!(positions.fetchable().len(), 1);
}

#[test]
fn offset_out_of_range_resets_or_fails_by_policy() {
    let mut positions = Positions::new(&config(&[("auto.offset.reset", "earliest")]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 500).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    positions.apply_fetch(&f, FetchVerdict::OffsetOutOfRange);
    assert_eq!(positions.take_reset_requests()[0].1, ResetTo::Earliest);

    let mut positions = Positions::new(&config(&[("auto.offset.reset", "none")]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 0).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    positions.apply_fetch(&f, records_at(&f, 2, 2));
    let f = fetch_one(&mut positions, &tp(0));
    positions.apply_fetch(&f, FetchVerdict::OffsetOutOfRange);
    assert_eq!(
        positions.drain().unwrap().len(),
        2,
        "records before it come first"
    );
    let err = positions.drain().unwrap_err();
    assert_eq!(
        err,
        PartitionError::OffsetOutOfRange {
            partition: tp(0),
            offset: 2
        }
    );
    assert_eq!(positions.position(&tp(0)), Ok(Some(2)));
}

#[test]
fn a_corrupt_batch_fails_the_partition_after_the_records_before_it() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 0).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    let mut decoded = match records_at(&f, 2, 9) {
        FetchVerdict::Records { decoded, .. } => decoded,
        other => panic!("{other:?}"),
    };
    decoded.corrupt = Some(decode::CorruptBatch {
        partition: tp(0),
        offset: 2,
        reason: "CRC".into(),
    });
    positions.apply_fetch(
        &f,
        FetchVerdict::Records {
            decoded,
            high_watermark: 9,
            limit: 1,
        },
    );
    assert!(positions.fetchable().is_empty(), "stopped");
    assert_eq!(positions.drain().unwrap().len(), 2);
    let err = positions.drain().unwrap_err();
    assert!(matches!(err, PartitionError::Corrupt(ref c) if c.offset == 2));
    assert_eq!(positions.position(&tp(0)), Ok(Some(2)));
    positions.seek(&tp(0), 3).unwrap();
    assert_eq!(positions.fetchable()[0].position.offset, 3);
}

#[test]
fn a_batch_larger_than_the_fetch_limit_is_named() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 0).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    let decoded = Decoded {
        next_offset: 0,
        partial: true,
        ..Decoded::default()
    };
    positions.apply_fetch(
        &f,
        FetchVerdict::Records {
            decoded,
            high_watermark: 9,
            limit: 64,
        },
    );
    let err = positions.drain().unwrap_err();
    assert!(
        err.to_string()
            .contains("max.partition.fetch.bytes (64 bytes)"),
        "{err}"
    );
}

#[test]
fn retriable_verdicts_leave_the_position_and_ask_for_a_follow_up() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0)]);
    positions.seek(&tp(0), 7).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    let follow = positions.apply_fetch(&f, FetchVerdict::RefreshMetadata("NOT_LEADER".into()));
    assert_eq!(follow, FollowUp::RefreshMetadata);
    let f = fetch_one(&mut positions, &tp(0));
    assert_eq!(f.position.offset, 7);
    assert_eq!(
        positions.apply_fetch(&f, FetchVerdict::Retry("timeout".into())),
        FollowUp::Backoff
    );
    let f = fetch_one(&mut positions, &tp(0));
    positions.apply_fetch(&f, FetchVerdict::Fatal(29));
    assert!(positions.drain().unwrap_err().to_string().contains("t-0"));
}

#[test]
fn reassignment_keeps_kept_partitions_and_unknown_ones_are_refused() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0), tp(1)]);
    positions.seek(&tp(0), 0).unwrap();
    let f = fetch_one(&mut positions, &tp(0));
    positions.apply_fetch(&f, records_at(&f, 2, 2));
    positions.assign([tp(0), tp(2)]);
    let assigned: Vec<_> = positions.assignment().cloned().collect();
    assert_eq!(assigned, [tp(0), tp(2)]);
    assert_eq!(positions.drain().unwrap().len(), 2, "t-0's buffer kept");
    assert_eq!(positions.seek(&tp(1), 0), Err(NotAssigned(tp(1))));
    assert!(positions.position(&tp(1)).is_err());
    assert!(positions
        .set_paused(&tp(9), true)
        .unwrap_err()
        .to_string()
        .contains("t-9"));
}

#[test]
fn a_partition_metadata_says_does_not_exist_fails_by_name() {
    let mut positions = Positions::new(&config(&[]));
    positions.assign([tp(0), tp(7)]);
    positions.seek(&tp(7), 3).unwrap();
    let error = PartitionError::UnknownPartition {
        partition: tp(7),
        partitions: Some(1),
    };
    positions.fail(&tp(7), error.clone());
    assert!(positions.fetchable().is_empty());
    assert_eq!(positions.drain(), Err(error));
    assert_eq!(positions.position(&tp(7)), Ok(Some(3)));
    positions.seek(&tp(7), 0).unwrap();
    assert_eq!(positions.drain(), Ok(vec![]));
}

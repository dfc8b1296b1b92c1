//! Java's RangeAssignorTest cases, re-expressed with their expected results.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::range::RangeAssignor;
use super::test_support::{assigned, expect, member, static_member, topics};
use super::{AssignError, Assignor};

fn run(partitions: &[(&str, i32)], members: &[super::Member]) -> BTreeMap<String, Vec<String>> {
    assigned(RangeAssignor.assign(&topics(partitions), members).unwrap())
}

#[test]
fn one_consumer_no_topic_or_nonexistent_topic_gets_nothing() {
    assert_eq!(run(&[], &[member("c", &[])]), expect(&[("c", &[])]));
    assert_eq!(run(&[], &[member("c", &["topic"])]), expect(&[("c", &[])]));
}

#[test]
fn one_consumer_gets_every_partition_of_its_topics_only() {
    let got = run(&[("topic", 3), ("other", 3)], &[member("c", &["topic"])]);
    assert_eq!(got, expect(&[("c", &["topic-0", "topic-1", "topic-2"])]));
    let got = run(
        &[("topic1", 1), ("topic2", 2)],
        &[member("c", &["topic1", "topic2"])],
    );
    assert_eq!(got, expect(&[("c", &["topic1-0", "topic2-0", "topic2-1"])]));
}

#[test]
fn two_consumers_one_topic() {
    let both = [member("c1", &["topic"]), member("c2", &["topic"])];
    assert_eq!(
        run(&[("topic", 1)], &both),
        expect(&[("c1", &["topic-0"]), ("c2", &[])])
    );
    assert_eq!(
        run(&[("topic", 2)], &both),
        expect(&[("c1", &["topic-0"]), ("c2", &["topic-1"])])
    );
}

#[test]
fn multiple_consumers_mixed_topics() {
    let members = [
        member("consumer1", &["topic1"]),
        member("consumer2", &["topic1", "topic2"]),
        member("consumer3", &["topic1"]),
    ];
    assert_eq!(
        run(&[("topic1", 3), ("topic2", 2)], &members),
        expect(&[
            ("consumer1", &["topic1-0"]),
            ("consumer2", &["topic1-1", "topic2-0", "topic2-1"]),
            ("consumer3", &["topic1-2"]),
        ])
    );
}

#[test]
fn two_consumers_two_topics_six_partitions_first_gets_the_remainder() {
    let members = [
        member("consumer1", &["topic1", "topic2"]),
        member("consumer2", &["topic1", "topic2"]),
    ];
    let want = expect(&[
        (
            "consumer1",
            &["topic1-0", "topic1-1", "topic2-0", "topic2-1"],
        ),
        ("consumer2", &["topic1-2", "topic2-2"]),
    ]);
    assert_eq!(run(&[("topic1", 3), ("topic2", 3)], &members), want);
}

#[test]
fn static_members_sort_by_instance_id_and_before_dynamic_ones() {
    let t = &["topic1", "topic2"][..];
    // Member ids in the opposite order to instance ids: instance ids decide.
    let statics = [
        static_member("consumer-b", "instance1", t),
        static_member("consumer-a", "instance2", t),
    ];
    assert_eq!(
        run(&[("topic1", 3), ("topic2", 3)], &statics),
        expect(&[
            ("consumer-a", &["topic1-2", "topic2-2"]),
            (
                "consumer-b",
                &["topic1-0", "topic1-1", "topic2-0", "topic2-1"]
            ),
        ])
    );
    // A static member sorts before a dynamic one whatever the member ids.
    let mixed = [
        member("consumer-a", t),
        static_member("consumer-b", "instance1", t),
    ];
    assert_eq!(
        run(&[("topic1", 3), ("topic2", 3)], &mixed),
        expect(&[
            ("consumer-a", &["topic1-2", "topic2-2"]),
            (
                "consumer-b",
                &["topic1-0", "topic1-1", "topic2-0", "topic2-1"]
            ),
        ])
    );
}

#[test]
fn static_assignment_persists_when_member_ids_change() {
    // Java's testStaticMemberRangeAssignmentPersistentAfterMemberIdChanges:
    // the same instance ids with new member ids get the same partitions.
    let t = &["topic1", "topic2"][..];
    let parts = [("topic1", 5), ("topic2", 5)];
    let before = run(
        &parts,
        &[
            static_member("m1", "instance1", t),
            static_member("m2", "instance2", t),
            static_member("m3", "instance3", t),
        ],
    );
    let after = run(
        &parts,
        &[
            static_member("z1", "instance1", t),
            static_member("y2", "instance2", t),
            static_member("x3", "instance3", t),
        ],
    );
    let by_instance = |m: &BTreeMap<String, Vec<String>>, ids: [&str; 3]| -> Vec<Vec<String>> {
        ids.iter().map(|id| m[*id].clone()).collect()
    };
    assert_eq!(
        by_instance(&before, ["m1", "m2", "m3"]),
        by_instance(&after, ["z1", "y2", "x3"])
    );
}

#[test]
fn bad_input_is_an_error_naming_it() {
    let dup = [member("c", &["t"]), member("c", &["t"])];
    assert_eq!(
        RangeAssignor.assign(&topics(&[("t", 1)]), &dup),
        Err(AssignError::DuplicateMember {
            member_id: "c".into()
        })
    );
    let err = RangeAssignor
        .assign(&topics(&[("t", -3)]), &[member("c", &["t"])])
        .unwrap_err();
    assert_eq!(
        err,
        AssignError::NegativePartitionCount {
            topic: Arc::from("t"),
            count: -3
        }
    );
    assert!(err.to_string().contains("\"t\" has -3 partitions"));
}

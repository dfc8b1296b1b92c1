//! Java's RoundRobinAssignorTest cases, re-expressed with their expected
//! results.

use std::collections::BTreeMap;

use super::round_robin::RoundRobinAssignor;
use super::test_support::{assigned, expect, member, static_member, topics};
use super::{Assignor, Member};

fn run(partitions: &[(&str, i32)], members: &[Member]) -> BTreeMap<String, Vec<String>> {
    assigned(
        RoundRobinAssignor
            .assign(&topics(partitions), members)
            .unwrap(),
    )
}

#[test]
fn one_consumer_cases() {
    assert_eq!(run(&[], &[member("c", &[])]), expect(&[("c", &[])]));
    assert_eq!(run(&[], &[member("c", &["topic"])]), expect(&[("c", &[])]));
    assert_eq!(
        run(&[("topic", 3), ("other", 3)], &[member("c", &["topic"])]),
        expect(&[("c", &["topic-0", "topic-1", "topic-2"])])
    );
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
fn two_consumers_two_topics_six_partitions_alternate() {
    let members = [
        member("consumer1", &["topic1", "topic2"]),
        member("consumer2", &["topic1", "topic2"]),
    ];
    assert_eq!(
        run(&[("topic1", 3), ("topic2", 3)], &members),
        expect(&[
            ("consumer1", &["topic1-0", "topic1-2", "topic2-1"]),
            ("consumer2", &["topic1-1", "topic2-0", "topic2-2"]),
        ])
    );
}

#[test]
fn static_members_keep_their_partitions_when_member_ids_change() {
    // Java's testStaticMemberRoundRobinAssignmentPersistent: instance ids,
    // not member ids, order static members.
    let t = &["topic1", "topic2"][..];
    let parts = [("topic1", 3), ("topic2", 3)];
    let before = run(
        &parts,
        &[
            static_member("a", "instance1", t),
            static_member("b", "instance2", t),
            member("c", t),
        ],
    );
    let after = run(
        &parts,
        &[
            static_member("z", "instance1", t),
            static_member("y", "instance2", t),
            member("c", t),
        ],
    );
    assert_eq!(before["a"], after["z"]);
    assert_eq!(before["b"], after["y"]);
    assert_eq!(before["c"], after["c"]);
    assert_eq!(before["a"], ["topic1-0", "topic2-0"]);
}

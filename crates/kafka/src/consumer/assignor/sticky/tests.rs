//! Java's AbstractStickyAssignorTest and CooperativeStickyAssignorTest
//! cases, re-expressed with their expected results.

use std::collections::BTreeMap;

use super::CooperativeStickyAssignor;
use crate::consumer::assignor::test_support::{assigned, expect, member, owning, topics};
use crate::consumer::assignor::{Assignor, Member};

fn run(partitions: &[(&str, i32)], members: &[Member]) -> BTreeMap<String, Vec<String>> {
    assigned(
        CooperativeStickyAssignor
            .assign(&topics(partitions), members)
            .unwrap(),
    )
}

const T12: &[&str] = &["topic1", "topic2"];

#[test]
fn simple_cases_without_owned_partitions() {
    assert_eq!(run(&[], &[member("c", &[])]), expect(&[("c", &[])]));
    assert_eq!(run(&[], &[member("c", &["topic"])]), expect(&[("c", &[])]));
    assert_eq!(
        run(&[("topic", 3), ("other", 3)], &[member("c", &["topic"])]),
        expect(&[("c", &["topic-0", "topic-1", "topic-2"])])
    );
    let both = [
        member("consumer1", &["topic"]),
        member("consumer2", &["topic"]),
    ];
    assert_eq!(
        run(&[("topic", 2)], &both),
        expect(&[("consumer1", &["topic-0"]), ("consumer2", &["topic-1"])])
    );
    // testTwoConsumersTwoTopicsSixPartitions: round-robin over topic order.
    let both = [member("consumer1", T12), member("consumer2", T12)];
    assert_eq!(
        run(&[("topic1", 3), ("topic2", 3)], &both),
        expect(&[
            ("consumer1", &["topic1-0", "topic1-2", "topic2-1"]),
            ("consumer2", &["topic1-1", "topic2-0", "topic2-2"]),
        ])
    );
}

#[test]
fn consumer_owning_min_quota_gets_the_extra_partition() {
    // testConsumerOwningMinQuotaExpectedMaxQuota
    let members = [
        owning(member("consumer1", T12), &[("topic1", 0), ("topic2", 1)], 1),
        owning(member("consumer2", T12), &[("topic1", 1), ("topic2", 2)], 1),
    ];
    assert_eq!(
        run(&[("topic1", 2), ("topic2", 3)], &members),
        expect(&[
            ("consumer1", &["topic1-0", "topic2-0", "topic2-1"]),
            ("consumer2", &["topic1-1", "topic2-2"]),
        ])
    );
}

#[test]
fn more_max_quota_owners_than_allowed_revoke_first() {
    // testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers: topic2-0
    // moves from consumer1 to consumer3, so this round it is left out.
    let members = [
        owning(member("consumer1", T12), &[("topic1", 0), ("topic2", 0)], 1),
        owning(member("consumer2", T12), &[("topic1", 1), ("topic2", 1)], 1),
        owning(member("consumer3", T12), &[], 1),
    ];
    assert_eq!(
        run(&[("topic1", 2), ("topic2", 2)], &members),
        expect(&[
            ("consumer1", &["topic1-0"]),
            ("consumer2", &["topic1-1", "topic2-1"]),
            ("consumer3", &[]),
        ])
    );
}

#[test]
fn all_consumers_under_min_quota() {
    let members = [
        owning(member("consumer1", T12), &[("topic1", 0)], 1),
        owning(member("consumer2", T12), &[("topic1", 1)], 1),
        owning(member("consumer3", T12), &[], 1),
    ];
    assert_eq!(
        run(&[("topic1", 2), ("topic2", 3)], &members),
        expect(&[
            ("consumer1", &["topic1-0", "topic2-1"]),
            ("consumer2", &["topic1-1", "topic2-2"]),
            ("consumer3", &["topic2-0"]),
        ])
    );
}

#[test]
fn all_consumers_reach_expected_quota() {
    let members = [
        owning(
            member("consumer1", &["topic"]),
            &[("topic", 0), ("topic", 1)],
            1,
        ),
        owning(member("consumer2", &["topic"]), &[("topic", 2)], 1),
        owning(member("consumer3", &["topic"]), &[], 1),
    ];
    assert_eq!(
        run(&[("topic", 4)], &members),
        expect(&[
            ("consumer1", &["topic-0", "topic-1"]),
            ("consumer2", &["topic-2"]),
            ("consumer3", &["topic-3"]),
        ])
    );
}

#[test]
fn partition_claimed_twice_in_one_generation_waits_until_both_revoke() {
    // CooperativeStickyAssignorTest ...SameGenerationWithEqual/Unequal...
    let claims = |n| {
        let members = [
            owning(
                member("consumer1", &["topic"]),
                &[("topic", 0), ("topic", 1)],
                1,
            ),
            owning(
                member("consumer2", &["topic"]),
                &[("topic", 0), ("topic", 2)],
                1,
            ),
            owning(member("consumer3", &["topic"]), &[], 1),
        ];
        run(&[("topic", n)], &members)
    };
    assert_eq!(
        claims(3),
        expect(&[
            ("consumer1", &["topic-1"]),
            ("consumer2", &["topic-2"]),
            ("consumer3", &[])
        ])
    );
    assert_eq!(
        claims(4),
        expect(&[
            ("consumer1", &["topic-1", "topic-3"]),
            ("consumer2", &["topic-2"]),
            ("consumer3", &[]),
        ])
    );
}

#[test]
fn stale_or_missing_generation_loses_its_claims() {
    // testOwnedPartitionsAreInvalidatedForConsumerWith{Stale,No}Generation
    for stale in [9, -1] {
        let mine = [("topic", 0), ("topic", 2), ("topic2", 1)];
        let members = [
            owning(member("consumer1", &["topic", "topic2"]), &mine, 10),
            owning(member("consumer2", &["topic", "topic2"]), &mine, stale),
        ];
        assert_eq!(
            run(&[("topic", 3), ("topic2", 3)], &members),
            expect(&[
                ("consumer1", &["topic-0", "topic-2", "topic2-1"]),
                ("consumer2", &["topic-1", "topic2-0", "topic2-2"]),
            ]),
            "stale generation {stale}"
        );
    }
}

#[test]
fn partitions_go_to_the_highest_generation() {
    // testEnsurePartitionsAssignedToHighestGeneration
    let all = &["topic", "topic2", "topic3"][..];
    let members = [
        owning(
            member("consumer1", all),
            &[("topic", 0), ("topic2", 0), ("topic3", 0)],
            10,
        ),
        owning(
            member("consumer2", all),
            &[("topic", 1), ("topic2", 1), ("topic3", 1)],
            9,
        ),
        owning(
            member("consumer3", all),
            &[("topic2", 1), ("topic3", 0), ("topic3", 2)],
            8,
        ),
    ];
    assert_eq!(
        run(&[("topic", 3), ("topic2", 3), ("topic3", 3)], &members),
        expect(&[
            ("consumer1", &["topic-0", "topic2-0", "topic3-0"]),
            ("consumer2", &["topic-1", "topic2-1", "topic3-1"]),
            ("consumer3", &["topic-2", "topic2-2", "topic3-2"]),
        ])
    );
}

#[test]
fn old_version_subscriptions_carry_the_generation_in_user_data() {
    // testAssignorWithOldVersionSubscriptions: v1 members (no generation
    // field) send it as user data.
    let v1 = |id: &str, p: i32| {
        let mut m = owning(member(id, &["topic1"]), &[("topic1", p)], -1);
        m.subscription.user_data = CooperativeStickyAssignor.subscription_user_data(&[], 1);
        m
    };
    let members = [
        v1("consumer1", 0),
        v1("consumer2", 1),
        owning(member("consumer3", &["topic1"]), &[], 1),
    ];
    assert_eq!(
        run(&[("topic1", 3)], &members),
        expect(&[
            ("consumer1", &["topic1-0"]),
            ("consumer2", &["topic1-1"]),
            ("consumer3", &["topic1-2"]),
        ])
    );
    assert_eq!(
        CooperativeStickyAssignor
            .subscription_user_data(&[], 0x0102_0304)
            .as_deref(),
        Some(&[1u8, 2, 3, 4][..])
    );
}

#[test]
fn general_case_keeps_owned_partitions_and_balances() {
    // Members with different subscriptions: consumer2 alone takes topic2,
    // and topic1 is balanced counting it.
    let members = [
        owning(
            member("consumer1", &["topic1"]),
            &[("topic1", 0), ("topic1", 1), ("topic1", 2)],
            3,
        ),
        owning(member("consumer2", T12), &[("topic2", 0)], 3),
        owning(member("consumer3", &["topic1"]), &[], 3),
    ];
    let got = run(&[("topic1", 4), ("topic2", 1)], &members);
    // consumer1 keeps two; topic1-3 (new) and the one it gives up are left
    // for consumer3, the moved one out of this round.
    assert_eq!(got["consumer2"], ["topic2-0"]);
    assert_eq!(got["consumer1"].len(), 2);
    assert!(got["consumer1"]
        .iter()
        .all(|p| ["topic1-0", "topic1-1", "topic1-2"].contains(&p.as_str())));
    assert_eq!(got["consumer3"], ["topic1-3"]);
}

//! The subscription and assignment bytes: Java's ConsumerProtocolTest cases
//! re-expressed, golden bytes, and a proptest over arbitrary input.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::codec::{AssignorDecodeError, AssignorEncodeError};
use super::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription, Assignment,
    Subscription,
};
use crate::record::TopicPartition;

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn full_subscription() -> Subscription {
    Subscription {
        topics: vec![Arc::from("foo"), Arc::from("bar")],
        user_data: Some(Bytes::from_static(b"hello")),
        owned: vec![tp("foo", 0), tp("bar", 0), tp("foo", 1)],
        generation: 7,
        rack: Some("rack-a".into()),
    }
}

#[test]
fn subscription_round_trips_at_every_version_dropping_what_it_lacks() {
    let s = full_subscription();
    let grouped = vec![tp("foo", 0), tp("foo", 1), tp("bar", 0)];
    for version in 0..=3 {
        let got = decode_subscription(&encode_subscription(&s, version).unwrap()).unwrap();
        assert_eq!(got.topics, s.topics, "v{version}");
        assert_eq!(got.user_data, s.user_data, "v{version}");
        let owned = if version >= 1 {
            grouped.clone()
        } else {
            vec![]
        };
        assert_eq!(got.owned, owned, "v{version}");
        assert_eq!(
            got.generation,
            if version >= 2 { 7 } else { -1 },
            "v{version}"
        );
        assert_eq!(
            got.rack,
            (version >= 3).then(|| "rack-a".to_owned()),
            "v{version}"
        );
    }
}

#[test]
fn subscription_v0_golden_bytes_as_old_clients_send_them() {
    // version 0, one topic "t", null user data: what kafka-python sends.
    let bytes = [0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
    let s = Subscription {
        topics: vec![Arc::from("t")],
        generation: -1,
        ..Subscription::default()
    };
    assert_eq!(
        encode_subscription(&s, 0).unwrap(),
        Bytes::copy_from_slice(&bytes)
    );
    assert_eq!(decode_subscription(&bytes).unwrap(), s);
}

#[test]
fn subscription_v3_golden_bytes() {
    let s = Subscription {
        topics: vec![Arc::from("t")],
        user_data: None,
        owned: vec![tp("t", 2)],
        generation: 5,
        rack: None,
    };
    let bytes: &[u8] = &[
        0, 3, // version
        0, 0, 0, 1, 0, 1, b't', // topics
        0xff, 0xff, 0xff, 0xff, // user data: null
        0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 2, // owned: t [2]
        0, 0, 0, 5, // generation
        0xff, 0xff, // rack: null
    ];
    assert_eq!(&encode_subscription(&s, 3).unwrap()[..], bytes);
    assert_eq!(decode_subscription(bytes).unwrap(), s);
}

#[test]
fn future_versions_decode_as_the_newest_known_ignoring_appended_fields() {
    // Java's deserializeFutureSubscriptionVersion / ...AssignmentVersion.
    let mut sub = encode_subscription(&full_subscription(), 3)
        .unwrap()
        .to_vec();
    sub[..2].copy_from_slice(&100i16.to_be_bytes());
    sub.extend_from_slice(b"a field from version 100");
    let got = decode_subscription(&sub).unwrap();
    assert_eq!(got.rack.as_deref(), Some("rack-a"));
    assert_eq!(got.generation, 7);

    let a = Assignment {
        partitions: vec![tp("foo", 0)],
        user_data: None,
    };
    let mut bytes = encode_assignment(&a, 3).unwrap().to_vec();
    bytes[..2].copy_from_slice(&100i16.to_be_bytes());
    bytes.extend_from_slice(&[1, 2, 3]);
    assert_eq!(decode_assignment(&bytes).unwrap(), a);
}

#[test]
fn assignment_round_trips_grouped_by_topic_at_every_version() {
    let a = Assignment {
        partitions: vec![tp("foo", 0), tp("bar", 2), tp("foo", 1)],
        user_data: Some(Bytes::from_static(&[0, 0, 0, 9])),
    };
    for version in 0..=3 {
        let got = decode_assignment(&encode_assignment(&a, version).unwrap()).unwrap();
        assert_eq!(got.partitions, [tp("foo", 0), tp("foo", 1), tp("bar", 2)]);
        assert_eq!(got.user_data, a.user_data);
    }
}

#[test]
fn assignment_v0_golden_bytes() {
    // version 0, "t": [0, 1], null user data.
    let bytes = [
        0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff,
    ];
    let a = decode_assignment(&bytes).unwrap();
    assert_eq!(a.partitions, [tp("t", 0), tp("t", 1)]);
    assert_eq!(a.user_data, None);
    assert_eq!(&encode_assignment(&a, 0).unwrap()[..], &bytes);
}

#[test]
fn bad_bytes_are_errors_that_say_what_was_wrong() {
    assert_eq!(
        decode_subscription(&[0]),
        Err(AssignorDecodeError::BadVersion {
            what: "subscription",
            version: -1
        })
    );
    assert_eq!(
        decode_assignment(&[0xff, 0xfe]),
        Err(AssignorDecodeError::BadVersion {
            what: "assignment",
            version: -2
        })
    );
    // A count of two billion topics in 4 bytes: rejected before any
    // allocation, not an abort.
    let huge = [0, 0, 0x7f, 0xff, 0xff, 0xff];
    let err = decode_subscription(&huge).unwrap_err();
    assert!(
        err.to_string().contains("topics claims 2147483647 entries"),
        "{err}"
    );
    let huge = [0, 3, 0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff];
    let err = decode_assignment(&huge).unwrap_err();
    assert!(err.to_string().contains("partition list claims"), "{err}");
    // Truncated in the middle of a field.
    let whole = encode_subscription(&full_subscription(), 3).unwrap();
    let err = decode_subscription(&whole[..whole.len() - 3]).unwrap_err();
    assert!(err.to_string().contains("rack id needs"), "{err}");
}

#[test]
fn encoding_rejects_unknown_versions_and_oversized_strings() {
    let s = full_subscription();
    assert_eq!(
        encode_subscription(&s, 4),
        Err(AssignorEncodeError::UnknownVersion {
            what: "subscription",
            version: 4
        })
    );
    let long = Subscription {
        topics: vec![Arc::from("x".repeat(40_000))],
        ..Subscription::default()
    };
    let err = encode_subscription(&long, 3).unwrap_err();
    assert!(matches!(err, AssignorEncodeError::TooLarge { .. }), "{err}");
}

fn arb_tp() -> impl Strategy<Value = TopicPartition> {
    ("[a-c]{1,3}", 0..50i32).prop_map(|(t, p)| TopicPartition::new(t, p))
}

fn arb_subscription() -> impl Strategy<Value = Subscription> {
    (
        proptest::collection::vec("[a-z._-]{1,12}", 0..5),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        proptest::collection::vec(arb_tp(), 0..12),
        any::<i32>(),
        proptest::option::of("[a-z0-9]{0,8}"),
    )
        .prop_map(
            |(topics, user_data, owned, generation, rack)| Subscription {
                topics: topics.into_iter().map(Arc::from).collect(),
                user_data: user_data.map(Bytes::from),
                owned,
                generation,
                rack,
            },
        )
}

proptest! {
    /// Any bytes decode to a value or an error: never a panic, abort or hang.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_subscription(&bytes);
        let _ = decode_assignment(&bytes);
    }

    /// Every prefix and every one-byte change of a valid encoding decodes or
    /// fails cleanly, and the whole encoding round-trips (owned partitions
    /// regrouped by topic, as the wire format groups them).
    #[test]
    fn mutations_of_valid_encodings_never_panic(
        s in arb_subscription(), at in any::<prop::sample::Index>(), byte in any::<u8>()
    ) {
        let bytes = encode_subscription(&s, 3).unwrap();
        let back = decode_subscription(&bytes).unwrap();
        prop_assert_eq!(&back.topics, &s.topics);
        prop_assert_eq!(back.generation, s.generation);
        let mut owned_back = back.owned.clone();
        let mut owned = s.owned.clone();
        owned_back.sort();
        owned.sort();
        prop_assert_eq!(owned_back, owned);
        for end in 0..bytes.len() {
            let _ = decode_subscription(&bytes[..end]);
        }
        let mut changed = bytes.to_vec();
        let i = at.index(changed.len());
        changed[i] = byte;
        let _ = decode_subscription(&changed);
        let _ = decode_assignment(&changed);
    }
}

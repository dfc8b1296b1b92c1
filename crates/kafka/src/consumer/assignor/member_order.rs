//! The order Java's assignors put members in.
//!
//! Range and round-robin give the first members in this order the extra
//! partitions, so a member of a mixed group must sort exactly as Java does:
//! static members (with a `group.instance.id`) first, by instance id, then
//! the others by member id; strings compared as Java's `String.compareTo`,
//! by UTF-16 code units (which differs from Rust's byte order for characters
//! above U+FFFF against U+E000..U+FFFF).

use std::cmp::Ordering;

use super::Member;

/// Java's `String.compareTo`: lexicographic over UTF-16 code units.
pub(super) fn java_str_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's `MemberInfo.compareTo` (AbstractPartitionAssignor).
pub(super) fn java_member_cmp(a: &Member, b: &Member) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => java_str_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_str_cmp(&a.member_id, &b.member_id),
    }
}

/// The indexes of `members`, sorted as Java sorts the members.
pub(super) fn sorted_members(members: &[Member]) -> Vec<usize> {
    let mut sorted: Vec<usize> = (0..members.len()).collect();
    sorted.sort_by(|&a, &b| java_member_cmp(&members[a], &members[b]));
    sorted
}

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16
/// code units, wrapping.
pub(super) fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The order a `java.util.HashMap` keyed by member id, filled in the order
/// of `members`, iterates in: by bucket (the spread hash masked by the table
/// size, which starts at 16 and doubles past a 0.75 load), then by
/// insertion within a bucket. Java's sticky assignor walks such maps where
/// the order decides who keeps which partitions, so following it gives
/// Java's results, not only results as good as Java's.
pub(super) fn java_hash_map_order(members: &[Member]) -> Vec<usize> {
    let mut capacity = 16usize;
    while members.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |m: &Member| {
        let h = java_string_hash(&m.member_id) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| (bucket(&members[i]), i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::assignor::Subscription;

    fn member(id: &str, instance: Option<&str>) -> Member {
        Member {
            member_id: id.to_owned(),
            group_instance_id: instance.map(str::to_owned),
            subscription: Subscription::default(),
        }
    }

    #[test]
    fn static_members_first_by_instance_id_then_by_member_id() {
        let members = [
            member("a", None),
            member("z", Some("i2")),
            member("b", Some("i1")),
            member("0", None),
        ];
        let order: Vec<&str> = sorted_members(&members)
            .into_iter()
            .map(|i| members[i].member_id.as_str())
            .collect();
        assert_eq!(order, ["b", "z", "0", "a"]);
    }

    #[test]
    fn java_hash_and_hash_map_order() {
        // Values Java prints for "consumer1".hashCode() and "".hashCode().
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("consumer1"), -421_004_549);
        // "consumer1" and "consumer2" hash one apart, but the spread hash
        // puts them in buckets 12 and 11: Java iterates consumer2 first.
        let members = [member("consumer1", None), member("consumer2", None)];
        assert_eq!(java_hash_map_order(&members), [1, 0]);
    }

    #[test]
    fn strings_compare_by_utf16_code_units_as_java_does() {
        // U+FF61 is one UTF-16 unit 0xFF61; U+1F600 is the surrogate pair
        // 0xD83D 0xDE00, so Java puts the emoji first; UTF-8 bytes would not.
        assert_eq!(java_str_cmp("\u{1F600}", "\u{FF61}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF61}"), Ordering::Greater);
        assert_eq!(java_str_cmp("a", "ab"), Ordering::Less);
    }
}

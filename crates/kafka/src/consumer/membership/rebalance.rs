//! What an assignment changes for a member that owned `owned`: the
//! partitions it must revoke and those it gains. Under the eager protocol
//! `owned` is empty by the time an assignment arrives (everything was
//! revoked before joining), so everything is gained; under the cooperative
//! one (KIP-429) only partitions that move are revoked.

use std::collections::BTreeSet;

use crate::record::TopicPartition;

/// See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) revoked: Vec<TopicPartition>,
    pub(crate) added: Vec<TopicPartition>,
}

pub(crate) fn change(owned: &BTreeSet<TopicPartition>, new: &BTreeSet<TopicPartition>) -> Change {
    Change {
        revoked: owned.difference(new).cloned().collect(),
        added: new.difference(owned).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ps: &[i32]) -> BTreeSet<TopicPartition> {
        ps.iter().map(|p| TopicPartition::new("t", *p)).collect()
    }

    #[test]
    fn only_what_moves_is_revoked() {
        let c = change(&set(&[0, 1, 2]), &set(&[1, 2, 3]));
        assert_eq!(c.revoked, vec![TopicPartition::new("t", 0)]);
        assert_eq!(c.added, vec![TopicPartition::new("t", 3)]);
        let eager = change(&set(&[]), &set(&[4, 5]));
        assert!(eager.revoked.is_empty());
        assert_eq!(eager.added.len(), 2);
    }
}

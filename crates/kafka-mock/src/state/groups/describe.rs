//! What DescribeGroups, ListGroups and the test handle report about
//! groups, as Kafka's `GroupMetadata.summary` and `overview` do: member
//! metadata and assignments only while the group is Stable.

use std::time::Instant;

use bytes::Bytes;

use super::group::Phase;
use super::Groups;

/// One group as DescribeGroups and
/// [`ClusterHandle::group`](crate::ClusterHandle::group) show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// Kafka's state name: `Empty`, `PreparingRebalance`,
    /// `CompletingRebalance`, `Stable`, or `Dead` for a group the
    /// coordinator does not know.
    pub state: &'static str,
    /// The current generation (0 before the first join phase ends).
    pub generation: i32,
    /// The members' protocol type (`consumer` for consumers), or empty.
    pub protocol_type: String,
    /// The assignor chosen for this generation; empty unless Stable.
    pub protocol: String,
    /// The leader's member id, if there are members.
    pub leader: Option<String>,
    /// The members, in the order they joined.
    pub members: Vec<MemberSnapshot>,
}

/// One member of a [`GroupSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSnapshot {
    /// Its member id.
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub instance_id: Option<String>,
    /// The client id it joined with.
    pub client_id: String,
    /// Its subscription for the chosen assignor (empty unless Stable).
    pub metadata: Bytes,
    /// The assignment the leader gave it (empty unless Stable).
    pub assignment: Bytes,
}

/// One line of ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupOverview {
    pub(crate) group: String,
    pub(crate) protocol_type: String,
    pub(crate) state: &'static str,
}

impl Groups {
    /// `group` as DescribeGroups reports it (`Dead` when unknown).
    pub(crate) fn describe(&mut self, group: &str, now: Instant) -> GroupSnapshot {
        self.tick(now);
        let Some(g) = self.groups.get(group) else {
            return GroupSnapshot {
                state: "Dead",
                generation: -1,
                protocol_type: String::new(),
                protocol: String::new(),
                leader: None,
                members: Vec::new(),
            };
        };
        let stable = g.phase == Phase::Stable;
        let protocol = g.protocol.clone().filter(|_| stable).unwrap_or_default();
        let mut members: Vec<_> = g.members.values().collect();
        members.sort_by_key(|m| m.order);
        GroupSnapshot {
            state: g.phase.name(),
            generation: g.generation,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            leader: g.leader.clone(),
            members: members
                .into_iter()
                .map(|m| MemberSnapshot {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        }
    }

    /// Every group `coordinates` says is this broker's.
    pub(crate) fn list(
        &mut self,
        now: Instant,
        coordinates: impl Fn(&str) -> bool,
    ) -> Vec<GroupOverview> {
        self.tick(now);
        self.groups
            .values()
            .filter(|g| coordinates(&g.id))
            .map(|g| GroupOverview {
                group: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.phase.name(),
            })
            .collect()
    }
}

impl Groups {
    /// Every group's name.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }
}

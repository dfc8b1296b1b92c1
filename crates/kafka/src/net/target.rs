//! What a connection is dialled for: a bootstrap server, a broker, or a
//! group coordinator on a connection of its own.
//!
//! A broker answers the requests of one connection strictly in order, one
//! at a time, and a group coordinator holds a JoinGroup until the whole
//! group has joined (seconds, up to the rebalance timeout) and a
//! follower's SyncGroup until the leader has synced. On a shared
//! connection every Fetch behind such a request would wait too, so a
//! member that keeps its partitions through a cooperative rebalance would
//! still stop reading, and a Heartbeat would queue behind a long-polling
//! Fetch. The Java client dials the coordinator separately for this reason
//! (under the node id `Integer.MAX_VALUE - id`); here the coordinator's
//! connection is a [`Target`] of its own, never used for anything but the
//! group's requests, and never picked to carry Metadata.

use crate::BrokerId;

/// Whom a connection is to, and so which requests it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// A `bootstrap.servers` address, before metadata names its broker.
    Bootstrap,
    /// A broker, for everything but a consumer group's requests.
    Broker(BrokerId),
    /// The group coordinator (this broker), for the group's requests only.
    Coordinator(BrokerId),
}

impl Target {
    /// A broker's connection, or a bootstrap one for `None`.
    pub(crate) fn broker_or_bootstrap(broker: Option<BrokerId>) -> Target {
        broker.map_or(Target::Bootstrap, Target::Broker)
    }

    /// The broker behind the connection, once known.
    pub(crate) fn broker(self) -> Option<BrokerId> {
        match self {
            Target::Bootstrap => None,
            Target::Broker(b) | Target::Coordinator(b) => Some(b),
        }
    }

    /// Whether the connection may carry any request (Metadata, a
    /// FindCoordinator): a bootstrap or broker connection may, a
    /// coordinator's is kept for the group.
    pub(crate) fn is_general(self) -> bool {
        !matches!(self, Target::Coordinator(_))
    }

    /// What the connection is to, for messages.
    pub(crate) fn role(self) -> String {
        match self {
            Target::Bootstrap => "bootstrap server".to_owned(),
            Target::Broker(b) => format!("broker {}", b.0),
            Target::Coordinator(b) => format!("group coordinator (broker {})", b.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coordinator_connection_is_kept_for_the_group() {
        let coordinator = Target::Coordinator(BrokerId(3));
        assert_eq!(coordinator.broker(), Some(BrokerId(3)));
        assert!(!coordinator.is_general());
        assert_ne!(coordinator, Target::Broker(BrokerId(3)));
        assert!(Target::Broker(BrokerId(3)).is_general());
        assert_eq!(Target::broker_or_bootstrap(None), Target::Bootstrap);
        assert_eq!(Target::Bootstrap.broker(), None);
        assert_eq!(coordinator.role(), "group coordinator (broker 3)");
    }
}

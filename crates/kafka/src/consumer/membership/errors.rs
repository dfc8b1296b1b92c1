//! What a group API's error code asks of the member, as Java's
//! `AbstractCoordinator` handles each (JoinGroup, SyncGroup, Heartbeat).
//!
//! | error | reaction |
//! | --- | --- |
//! | NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE | find the coordinator again, then retry |
//! | COORDINATOR_LOAD_IN_PROGRESS | retry after the backoff |
//! | REBALANCE_IN_PROGRESS | (re)join the group, keeping member id and generation |
//! | UNKNOWN_MEMBER_ID | forget the member id and generation: partitions lost, rejoin |
//! | ILLEGAL_GENERATION | forget the generation (keep the member id): partitions lost, rejoin |
//! | MEMBER_ID_REQUIRED (JoinGroup, KIP-394) | join again at once with the id the answer gave |
//! | FENCED_INSTANCE_ID | fatal: another member runs with this `group.instance.id` |
//! | anything else | fatal, by name (authorization, inconsistent protocol, group full, …) |

use kafka_protocol::ResponseError;

/// The member's reaction to an error code (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// No error.
    Fine,
    /// The coordinator moved or is gone.
    Rediscover(String),
    /// Retry the same request after the backoff.
    Retry(String),
    /// The group is rebalancing: join it.
    Rejoin(String),
    /// This member is not known any more: forget its id and generation.
    ResetMember(String),
    /// This generation is over: forget it, keep the member id.
    ResetGeneration(String),
    /// KIP-394: the coordinator gave the member id to join with.
    MemberIdRequired,
    /// The consumer cannot stay in the group; why, for the application.
    Fatal(String),
}

/// An error code by name and number.
pub(crate) fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(e) => format!("{e:?} (error code {code})"),
        None => format!("unknown error code {code}"),
    }
}

/// How to react to `code` in an answer to `api` ("JoinGroup", …).
pub(crate) fn reaction(api: &str, code: i16) -> Reaction {
    if code == 0 {
        return Reaction::Fine;
    }
    let why = format!("{api}: {}", error_name(code));
    match ResponseError::try_from_code(code) {
        Some(ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable) => {
            Reaction::Rediscover(why)
        }
        Some(ResponseError::CoordinatorLoadInProgress) => Reaction::Retry(why),
        Some(ResponseError::RebalanceInProgress) => Reaction::Rejoin(why),
        Some(ResponseError::UnknownMemberId) => Reaction::ResetMember(why),
        Some(ResponseError::IllegalGeneration) => Reaction::ResetGeneration(why),
        Some(ResponseError::MemberIdRequired) => Reaction::MemberIdRequired,
        Some(ResponseError::FencedInstanceId) => Reaction::Fatal(format!(
            "{why}: another consumer joined with the same group.instance.id; give each \
             member its own group.instance.id"
        )),
        Some(e) if e.is_retriable() => Reaction::Retry(why),
        _ => Reaction::Fatal(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_as_java_handles_it() {
        let code = |e: ResponseError| e.code();
        assert_eq!(reaction("Heartbeat", 0), Reaction::Fine);
        assert!(matches!(
            reaction("JoinGroup", code(ResponseError::NotCoordinator)),
            Reaction::Rediscover(_)
        ));
        assert!(matches!(
            reaction("JoinGroup", code(ResponseError::CoordinatorNotAvailable)),
            Reaction::Rediscover(_)
        ));
        assert!(matches!(
            reaction("JoinGroup", code(ResponseError::CoordinatorLoadInProgress)),
            Reaction::Retry(_)
        ));
        assert!(matches!(
            reaction("Heartbeat", code(ResponseError::RebalanceInProgress)),
            Reaction::Rejoin(_)
        ));
        assert!(matches!(
            reaction("SyncGroup", code(ResponseError::UnknownMemberId)),
            Reaction::ResetMember(_)
        ));
        assert!(matches!(
            reaction("Heartbeat", code(ResponseError::IllegalGeneration)),
            Reaction::ResetGeneration(_)
        ));
        assert_eq!(
            reaction("JoinGroup", code(ResponseError::MemberIdRequired)),
            Reaction::MemberIdRequired
        );
        let Reaction::Fatal(why) = reaction("Heartbeat", code(ResponseError::FencedInstanceId))
        else {
            panic!("fenced must be fatal");
        };
        assert!(
            why.contains("group.instance.id") && why.contains("FencedInstanceId"),
            "{why}"
        );
        let Reaction::Fatal(why) =
            reaction("JoinGroup", code(ResponseError::GroupAuthorizationFailed))
        else {
            panic!("authorization must be fatal");
        };
        assert!(why.contains("JoinGroup"), "{why}");
    }
}

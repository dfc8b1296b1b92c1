//! Whether an OffsetCommit may be stored, as Kafka's `doCommitOffsets`
//! decides: commits from outside group management (generation -1) go to a
//! group with no members; a member's commit must name a member of the
//! current generation, and is refused while the group waits for its
//! leader's assignment.

use std::time::Instant;

use kafka_protocol::ResponseError;

use super::group::Phase;
use super::Groups;

impl Groups {
    /// `Ok` when the commit may be stored, else the error every partition
    /// of it gets.
    pub(crate) fn check_commit(
        &mut self,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        self.tick(now);
        let Some(g) = self.groups.get_mut(group) else {
            // No group: a consumer with manual assignment, or a commit from
            // a generation the coordinator no longer knows.
            return if generation < 0 {
                Ok(())
            } else {
                Err(ResponseError::IllegalGeneration)
            };
        };
        if g.is_fenced(member_id, instance_id) {
            return Err(ResponseError::FencedInstanceId);
        }
        if generation < 0 && g.phase == Phase::Empty {
            return Ok(());
        }
        let Some(member) = g.members.get_mut(member_id) else {
            return Err(ResponseError::UnknownMemberId);
        };
        if generation != g.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        match g.phase {
            Phase::CompletingRebalance => Err(ResponseError::RebalanceInProgress),
            Phase::Stable | Phase::PreparingRebalance | Phase::Empty => {
                member.last_heartbeat = now;
                Ok(())
            }
        }
    }
}

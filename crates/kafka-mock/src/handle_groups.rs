//! The group coordinator's side of [`ClusterHandle`]: its settings, what a
//! group looks like now, and its faults (coordinator moves, load spells,
//! forced rebalances). Each is logged at `info` level, as other faults.

use std::time::{Duration, Instant};

use crate::error::ClusterError;
use crate::state::groups::{GroupSettings, GroupSnapshot};
use crate::ClusterHandle;

impl ClusterHandle {
    /// The coordinator's timing settings now.
    pub fn group_settings(&self) -> GroupSettings {
        self.state.lock().groups.settings
    }

    /// Replaces the coordinator's timing settings (initial rebalance delay,
    /// session timeout bounds); joins from then on use them.
    ///
    /// # Errors
    ///
    /// [`ClusterError::InvalidGroupSettings`] when the minimum session
    /// timeout exceeds the maximum.
    pub fn set_group_settings(&self, settings: GroupSettings) -> Result<(), ClusterError> {
        if settings.min_session_timeout > settings.max_session_timeout {
            return Err(ClusterError::InvalidGroupSettings(format!(
                "min_session_timeout {:?} exceeds max_session_timeout {:?}",
                settings.min_session_timeout, settings.max_session_timeout
            )));
        }
        self.state.lock().groups.settings = settings;
        Ok(())
    }

    /// `group` as DescribeGroups would show it now (state `Dead` when the
    /// coordinator does not know it).
    pub fn group(&self, group: &str) -> GroupSnapshot {
        self.state.lock().groups.describe(group, Instant::now())
    }

    /// Moves `group`'s coordinator to `broker`: the old coordinator answers
    /// the group's requests with NOT_COORDINATOR and FindCoordinator names
    /// `broker`, while it runs. Members and generation move along.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownBroker`].
    pub fn move_group_coordinator(&self, group: &str, broker: i32) -> Result<(), ClusterError> {
        let mut state = self.state.lock();
        state.broker(broker)?;
        state.groups.move_coordinator(group, broker);
        tracing::info!(group, broker, "fault: group coordinator moved");
        Ok(())
    }

    /// For `duration`, the coordinator answers `group`'s requests as
    /// Kafka's does while it loads the group: COORDINATOR_LOAD_IN_PROGRESS
    /// (FindCoordinator still answers; heartbeats succeed blindly;
    /// SyncGroup gets REBALANCE_IN_PROGRESS).
    pub fn coordinator_loading(&self, group: &str, duration: Duration) {
        let until = Instant::now() + duration;
        self.state.lock().groups.start_loading(group, until);
        tracing::info!(group, ?duration, "fault: coordinator loading the group");
    }

    /// Starts a rebalance of `group` as a changed subscription would: the
    /// members' heartbeats get REBALANCE_IN_PROGRESS, they rejoin, and the
    /// generation goes up. Returns false (nothing done) when the group has
    /// no members or is already preparing a rebalance.
    pub fn force_rebalance(&self, group: &str) -> bool {
        self.state
            .lock()
            .groups
            .force_rebalance(group, Instant::now())
    }
}

//! The FIB writer. (API fixed; bodies to be implemented.)

use crate::{error::DataplaneError, types::*};

pub struct FibWriter {}

impl FibWriter {
    /// Reads routes, groups and tx ports back from the maps.
    pub fn installed(&self) -> Result<InstalledFib, DataplaneError> {
        todo!()
    }

    /// Publishes `members` as group `group_id` with ONE update of a6_groups:
    /// builds the Maglev table over the active members, writes it to fresh
    /// blocks, bumps the generation, publishes, then releases the old
    /// blocks after a grace period. At most `abi::MAX_MEMBERS` members.
    pub fn publish_group(
        &mut self,
        _group_id: u32,
        _members: &[MemberSpec],
    ) -> Result<(), DataplaneError> {
        todo!()
    }

    /// Removes a group (its routes must be removed first).
    pub fn delete_group(&mut self, _group_id: u32) -> Result<(), DataplaneError> {
        todo!()
    }

    pub fn set_route(&mut self, _route: Route, _group_id: u32) -> Result<(), DataplaneError> {
        todo!()
    }

    pub fn delete_route(&mut self, _route: Route) -> Result<(), DataplaneError> {
        todo!()
    }

    pub fn set_tx_port(&mut self, _ifindex: u32) -> Result<(), DataplaneError> {
        todo!()
    }

    pub fn delete_tx_port(&mut self, _ifindex: u32) -> Result<(), DataplaneError> {
        todo!()
    }

    pub fn counters(&self) -> Result<Counters, DataplaneError> {
        todo!()
    }
}

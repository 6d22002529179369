//! A FIB as plain data: what is installed, or what should be.

use std::collections::{BTreeMap, BTreeSet};

use anycast6_dataplane::{InstalledFib, MemberSpec, Route};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FibState {
    pub routes: BTreeMap<Route, u32>,
    /// Group id → members, sorted by member id.
    pub groups: BTreeMap<u32, Vec<MemberSpec>>,
    pub tx_ports: BTreeSet<u32>,
}

impl From<&InstalledFib> for FibState {
    fn from(f: &InstalledFib) -> FibState {
        FibState {
            routes: f.routes.iter().copied().collect(),
            groups: f
                .groups
                .iter()
                .map(|g| {
                    let mut m = g.members.clone();
                    m.sort_by_key(|m| m.member_id);
                    (g.group_id, m)
                })
                .collect(),
            tx_ports: f.tx_ports.iter().copied().collect(),
        }
    }
}

impl FibState {
    /// The installed member of `route` with this unicast address and egress.
    pub fn member(
        &self,
        route: &Route,
        unicast: std::net::Ipv6Addr,
        ifindex: u32,
    ) -> Option<&MemberSpec> {
        let gid = self.routes.get(route)?;
        self.groups
            .get(gid)?
            .iter()
            .find(|m| m.unicast == unicast && m.ifindex == ifindex)
    }
}

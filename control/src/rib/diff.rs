//! The fewest FIB operations from one state to another, in an order that
//! never lets a route point at a group that is not (yet, or any more) there.

use anycast6_dataplane::{MemberSpec, Route};

use super::FibState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibOp {
    SetTxPort(u32),
    /// Publish a whole group (one map update in the dataplane).
    PublishGroup {
        group_id: u32,
        members: Vec<MemberSpec>,
    },
    SetRoute {
        route: Route,
        group_id: u32,
    },
    DeleteRoute(Route),
    DeleteGroup(u32),
    DeleteTxPort(u32),
}

impl std::fmt::Display for FibOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FibOp::SetTxPort(i) => write!(f, "set tx port {i}"),
            FibOp::PublishGroup { group_id, members } => {
                write!(f, "publish group {group_id} ({} members)", members.len())
            }
            FibOp::SetRoute { route, group_id } => {
                write!(f, "set route {route} -> group {group_id}")
            }
            FibOp::DeleteRoute(r) => write!(f, "delete route {r}"),
            FibOp::DeleteGroup(g) => write!(f, "delete group {g}"),
            FibOp::DeleteTxPort(i) => write!(f, "delete tx port {i}"),
        }
    }
}

/// Operations that turn `current` into `target`: new egress ports, then
/// groups whose content changed, then routes, then what is gone (routes
/// before their groups, groups before their ports).
pub fn diff(target: &FibState, current: &FibState) -> Vec<FibOp> {
    let mut ops = Vec::new();
    for p in target.tx_ports.difference(&current.tx_ports) {
        ops.push(FibOp::SetTxPort(*p));
    }
    for (gid, members) in &target.groups {
        if current.groups.get(gid) != Some(members) {
            ops.push(FibOp::PublishGroup {
                group_id: *gid,
                members: members.clone(),
            });
        }
    }
    for (route, gid) in &target.routes {
        if current.routes.get(route) != Some(gid) {
            ops.push(FibOp::SetRoute {
                route: *route,
                group_id: *gid,
            });
        }
    }
    for route in current.routes.keys() {
        if !target.routes.contains_key(route) {
            ops.push(FibOp::DeleteRoute(*route));
        }
    }
    for gid in current.groups.keys() {
        if !target.groups.contains_key(gid) {
            ops.push(FibOp::DeleteGroup(*gid));
        }
    }
    for p in current.tx_ports.difference(&target.tx_ports) {
        ops.push(FibOp::DeleteTxPort(*p));
    }
    ops
}

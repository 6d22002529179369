//! The RIB: what the FIB should hold, and the fewest operations that get it
//! there. Pure (no I/O, no clock): the daemon feeds it candidates it has
//! resolved (interfaces, neighbours, routes) and the FIB as read back from
//! the pinned maps.
//!
//! ```text
//!  config groups ─┐
//!  overlays ──────┼─► effective members ─► Candidate (+ Reach from netlink)
//!                 │                              │
//!                 │                      select: best distance, state
//!  installed FIB ─┴──── ids: route → group id,   │
//!  (FibState)           (group, unicast, ifindex) → member id
//!                                                ▼
//!                                     target FibState ─► diff ─► [FibOp]
//! ```

mod diff;
mod ids;
pub mod learned;
pub mod overlay;
mod select;
mod state;

#[cfg(test)]
mod prop;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use anycast6_dataplane::loader::Capacities;
use anycast6_dataplane::{Action, MemberSpec, Route};

use crate::config::AdminState;

pub use diff::{diff, FibOp};
pub use state::FibState;

/// How the daemon can reach a member right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Egress and L2 next hop known.
    Ready {
        ifindex: u32,
        dmac: [u8; 6],
        smac: [u8; 6],
        mtu: u16,
    },
    /// Egress known, neighbour being resolved by the kernel.
    Pending {
        ifindex: u32,
        smac: [u8; 6],
        mtu: u16,
    },
    /// Neighbour failed, no route, or interface gone.
    Unreachable {
        ifindex: u32,
        smac: [u8; 6],
        mtu: u16,
    },
}

impl Reach {
    pub fn ifindex(&self) -> u32 {
        match *self {
            Reach::Ready { ifindex, .. }
            | Reach::Pending { ifindex, .. }
            | Reach::Unreachable { ifindex, .. } => ifindex,
        }
    }

    /// Reachability of a member with action `local` (handed to this host's stack).
    pub const LOCAL: Reach = Reach::Ready {
        ifindex: 0,
        dmac: [0; 6],
        smac: [0; 6],
        mtu: 0,
    };
}

/// One member of a group as the daemon sees it, before selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub unicast: Ipv6Addr,
    /// Who offered it, and that source's administrative distance: the
    /// smallest administrative distance wins before the metric counts.
    pub source: crate::proto::Source,
    pub admin_distance: u8,
    /// The metric within its source (hops, cost, configured distance).
    pub distance: u32,
    pub weight: u16,
    pub action: Action,
    pub admin: AdminState,
    /// Outer source for `encap` (`::` for other actions).
    pub encap_src: Ipv6Addr,
    pub reach: Reach,
}

/// One anycast route and every member it could have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibGroup {
    pub route: Route,
    /// More host routes to the same group (config `addresses`).
    pub also: std::sync::Arc<[Route]>,
    pub candidates: Vec<Candidate>,
}

/// Where a candidate ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Installed with this member id and state.
    Installed {
        member_id: u32,
        state: anycast6_dataplane::MemberState,
    },
    /// Not at the best usable distance.
    NotBest,
    /// Same (unicast, egress) as an earlier candidate of the group.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedGroup {
    pub route: Route,
    pub group_id: u32,
    /// The administrative distance and metric whose members are
    /// installed (None: no members).
    pub best_admin_distance: Option<u8>,
    pub best_distance: Option<u32>,
    /// One per candidate, in input order.
    pub placements: Vec<Placement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: FibState,
    pub ops: Vec<FibOp>,
    pub groups: Vec<PlannedGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("no free group id below capacities.groups = {0}")]
    GroupIdsExhausted(u32),
    #[error("no free member id below capacities.member_ids = {0}")]
    MemberIdsExhausted(u32),
    #[error("group {route}: {count} members at distance {distance} (administrative distance {admin_distance}), at most {max} fit")]
    GroupTooLarge {
        route: Route,
        admin_distance: u8,
        distance: u32,
        count: usize,
        max: usize,
    },
}

/// Computes the target FIB for `groups` and the operations from `current`.
/// `tx_ports` are the egress ports that must exist besides the members'
/// (the attached interfaces). Ids already in `current` are kept; new ones
/// come from ids `current` does not use, so nothing installed changes
/// meaning while the operations run.
pub fn plan(
    groups: &[RibGroup],
    tx_ports: &BTreeSet<u32>,
    current: &FibState,
    caps: &Capacities,
) -> Result<Plan, RibError> {
    plan_avoiding(groups, tx_ports, current, caps, &BTreeSet::new())
}

/// [`plan`], giving new members ids outside `retired` (ids of members that
/// are gone but still have counters, and possibly affinity entries, in the
/// maps) while other ids are free: a new member must not inherit a removed
/// member's traffic history or its flows.
pub fn plan_avoiding(
    groups: &[RibGroup],
    tx_ports: &BTreeSet<u32>,
    current: &FibState,
    caps: &Capacities,
    retired: &BTreeSet<u32>,
) -> Result<Plan, RibError> {
    let mut alloc = ids::Allocator::new(current, caps, retired);
    let mut target = FibState::default();
    let mut planned = Vec::with_capacity(groups.len());
    for g in groups {
        let group_id = alloc.group_id(&g.route)?;
        let installed = current
            .groups
            .get(&current.routes.get(&g.route).copied().unwrap_or(u32::MAX));
        let sel = select::select(g, installed.map(|v| v.as_slice()))?;
        let mut members: Vec<MemberSpec> = Vec::with_capacity(sel.chosen.len());
        let mut placements = sel.placements;
        for (idx, mut spec) in sel.chosen {
            spec.member_id = alloc.member_id(group_id, spec.unicast, spec.ifindex)?;
            placements[idx] = Placement::Installed {
                member_id: spec.member_id,
                state: spec.state,
            };
            if spec.ifindex != 0 && spec.action != Action::Local {
                target.tx_ports.insert(spec.ifindex);
            }
            members.push(spec);
        }
        members.sort_by_key(|m| m.member_id);
        target.routes.insert(g.route, group_id);
        target.routes.extend(g.also.iter().map(|r| (*r, group_id)));
        target.groups.insert(group_id, members);
        planned.push(PlannedGroup {
            route: g.route,
            group_id,
            best_admin_distance: sel.best.map(|b| b.0),
            best_distance: sel.best.map(|b| b.1),
            placements,
        });
    }
    target.tx_ports.extend(tx_ports.iter().copied());
    let ops = diff(&target, current);
    Ok(Plan {
        target,
        ops,
        groups: planned,
    })
}

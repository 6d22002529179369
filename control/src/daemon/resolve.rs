//! From effective members to RIB candidates: egress interface, L2 next hop
//! and its neighbour state, as the kernel knows them.
//!
//! [`egress`] does the I/O (route lookups for members without an
//! interface); [`resolve`] is pure and reads links and the neighbour table.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;

use anycast6_dataplane::{Action, Route};

use crate::config::{Config, MemberConfig};
use crate::neigh::{LinkInfo, NeighKey, NeighStatus, NeighTable, Netlink};
use crate::rib::overlay::{EffectiveGroup, Source};
use crate::rib::{Candidate, Reach, RibGroup};
use crate::ControlError;

/// Where packets for a member leave, before neighbour resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Egress {
    /// Delivered to this host's stack.
    Local,
    /// Out of `ifindex` to `next_hop`.
    Via { ifindex: u32, next_hop: Ipv6Addr },
    /// The configured interface does not exist (any more).
    NoInterface(String),
    /// No interface configured and the kernel has no route to the member.
    NoRoute,
}

/// How one member resolved (kept for `show members`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub member: MemberConfig,
    pub source: Source,
    pub egress: Egress,
    pub neigh: Option<NeighStatus>,
    pub reach: Reach,
}

impl Resolved {
    pub fn neigh_key(&self) -> Option<NeighKey> {
        match self.egress {
            Egress::Via { ifindex, next_hop } => Some(NeighKey {
                ifindex,
                addr: next_hop,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedGroup {
    pub route: anycast6_dataplane::Route,
    pub members: Vec<Resolved>,
}

/// The egress of each member of each group (route lookups over netlink).
pub async fn egress(
    nl: &Netlink,
    groups: &[EffectiveGroup],
    links: &[LinkInfo],
) -> Result<Vec<Vec<Egress>>, ControlError> {
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut v = Vec::with_capacity(g.members.len());
        for em in &g.members {
            let m = &em.member;
            let e = if m.action == Action::Local {
                Egress::Local
            } else if let Some(name) = &m.interface {
                match links.iter().find(|l| &l.name == name) {
                    Some(l) => Egress::Via {
                        ifindex: l.ifindex,
                        next_hop: m.next_hop.unwrap_or(m.address),
                    },
                    None => Egress::NoInterface(name.clone()),
                }
            } else {
                match nl.route_get(m.address).await? {
                    Some(hop) => Egress::Via {
                        ifindex: hop.oif,
                        next_hop: m.next_hop.or(hop.gateway).unwrap_or(m.address),
                    },
                    None => Egress::NoRoute,
                }
            };
            v.push(e);
        }
        out.push(v);
    }
    Ok(out)
}

/// Neighbours that `egress` needs.
pub fn neigh_keys(egress: &[Vec<Egress>]) -> Vec<NeighKey> {
    egress
        .iter()
        .flatten()
        .filter_map(|e| match e {
            Egress::Via { ifindex, next_hop } => Some(NeighKey {
                ifindex: *ifindex,
                addr: *next_hop,
            }),
            _ => None,
        })
        .collect()
}

/// Candidates for the RIB, from egresses, links and neighbour states.
pub fn resolve(
    groups: &[EffectiveGroup],
    egress: &[Vec<Egress>],
    links: &[LinkInfo],
    neigh: &NeighTable,
) -> Vec<ResolvedGroup> {
    groups
        .iter()
        .zip(egress)
        .map(|(g, eg)| ResolvedGroup {
            route: g.route,
            members: g
                .members
                .iter()
                .zip(eg)
                .map(|(em, e)| {
                    let (reach, st) = reach(e, links, neigh);
                    Resolved {
                        member: em.member.clone(),
                        source: em.source,
                        egress: e.clone(),
                        neigh: st,
                        reach,
                    }
                })
                .collect(),
        })
        .collect()
}

fn reach(e: &Egress, links: &[LinkInfo], neigh: &NeighTable) -> (Reach, Option<NeighStatus>) {
    match e {
        Egress::Local => (Reach::LOCAL, None),
        Egress::NoInterface(_) | Egress::NoRoute => (
            Reach::Unreachable {
                ifindex: 0,
                smac: [0; 6],
                mtu: 0,
            },
            None,
        ),
        Egress::Via { ifindex, next_hop } => {
            let link = links.iter().find(|l| l.ifindex == *ifindex);
            let (smac, mtu, up) = link.map_or(([0; 6], 0, false), |l| {
                (l.mac, l.mtu.min(u16::MAX as u32) as u16, l.up)
            });
            let st = neigh.status(&NeighKey {
                ifindex: *ifindex,
                addr: *next_hop,
            });
            let ifindex = *ifindex;
            let r = match st {
                _ if !up => Reach::Unreachable { ifindex, smac, mtu },
                NeighStatus::Resolved(dmac) => Reach::Ready {
                    ifindex,
                    dmac,
                    smac,
                    mtu,
                },
                NeighStatus::Pending => Reach::Pending { ifindex, smac, mtu },
                NeighStatus::Failed => Reach::Unreachable { ifindex, smac, mtu },
            };
            (r, Some(st))
        }
    }
}

/// RIB input from resolved groups.
pub fn rib_groups(
    cfg: &Config,
    distances: &crate::proto::Distances,
    resolved: &[ResolvedGroup],
) -> Vec<RibGroup> {
    let also: HashMap<Route, &Arc<[Route]>> =
        cfg.groups.iter().map(|g| (g.route, &g.also)).collect();
    resolved
        .iter()
        .map(|g| RibGroup {
            route: g.route,
            also: also
                .get(&g.route)
                .map_or_else(|| Arc::from([]), |a| Arc::clone(a)),
            candidates: g
                .members
                .iter()
                .map(|r| {
                    let m = &r.member;
                    Candidate {
                        unicast: m.address,
                        source: r.source,
                        admin_distance: distances.get(r.source),
                        distance: m.distance,
                        weight: m.weight,
                        action: m.action,
                        admin: m.state,
                        encap_src: match m.action {
                            Action::Encap => m
                                .encap_source
                                .or(cfg.daemon.router_address)
                                .unwrap_or(Ipv6Addr::UNSPECIFIED),
                            _ => Ipv6Addr::UNSPECIFIED,
                        },
                        reach: r.reach,
                    }
                })
                .collect(),
        })
        .collect()
}
